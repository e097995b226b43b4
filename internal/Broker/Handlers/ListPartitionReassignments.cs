using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// ListPartitionReassignments (46): always none in progress. Partitions have one replica and
/// move between brokers by their leases, never by a reassignment (docs/architecture.md,
/// "Leadership and fencing"). Kafka leaves topics it does not know out of the answer, and so
/// does this. Needs DESCRIBE on the cluster.
/// </summary>
internal sealed class ListPartitionReassignmentsHandler : ApiHandler<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse>
{
    public override short ApiKey => ListPartitionReassignmentsRequest.ApiKey;
    public override string Name => "ListPartitionReassignments";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => ListPartitionReassignmentsRequest.HighestSupportedVersion;

    protected override ValueTask<ListPartitionReassignmentsResponse?> HandleAsync(RequestContext context, ListPartitionReassignmentsRequest request, short version) =>
        ValueTask.FromResult<ListPartitionReassignmentsResponse?>(context.AuthorizeCluster(AclOperation.Describe)
            ? new ListPartitionReassignmentsResponse { ErrorCode = ErrorCodes.None, ErrorMessage = null }
            : ErrorResponse(request, ErrorCodes.ClusterAuthorizationFailed));

    protected override ListPartitionReassignmentsResponse ErrorResponse(ListPartitionReassignmentsRequest request, short errorCode) =>
        new() { ErrorCode = errorCode, ErrorMessage = null };
}
