using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DeleteRecords (21): moves the log start offset; whole segments below it are deleted. Needs
/// DELETE on each topic (TOPIC_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class DeleteRecordsHandler(Cluster cluster) : ApiHandler<DeleteRecordsRequest, DeleteRecordsResponse>
{
    public override short ApiKey => DeleteRecordsRequest.ApiKey;
    public override string Name => "DeleteRecords";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DeleteRecordsRequest.HighestSupportedVersion;

    protected override async ValueTask<DeleteRecordsResponse?> HandleAsync(RequestContext context, DeleteRecordsRequest request, short version)
    {
        var response = new DeleteRecordsResponse();
        foreach (var t in request.Topics)
        {
            var tr = new DeleteRecordsResponse.DeleteRecordsTopicResult { Name = t.Name };
            response.Topics.Add(tr);
            bool allowed = context.Authorize(AclOperation.Delete, AclResourceType.Topic, t.Name);
            foreach (var p in t.Partitions)
            {
                var pr = new DeleteRecordsResponse.DeleteRecordsPartitionResult { PartitionIndex = p.PartitionIndex, LowWatermark = -1 };
                tr.Partitions.Add(pr);
                if (!allowed) { pr.ErrorCode = ErrorCodes.TopicAuthorizationFailed; continue; }
                short error = cluster.TryGetPartition(t.Name, p.PartitionIndex, out var log);
                if (error != 0) { pr.ErrorCode = error; continue; }
                (pr.ErrorCode, pr.LowWatermark) = await cluster.Logs.DeleteRecordsAsync(log, p.Offset, CancellationToken.None).ConfigureAwait(false);
            }
        }
        return response;
    }

    protected override DeleteRecordsResponse ErrorResponse(DeleteRecordsRequest request, short errorCode)
    {
        var response = new DeleteRecordsResponse();
        foreach (var t in request.Topics)
        {
            var tr = new DeleteRecordsResponse.DeleteRecordsTopicResult { Name = t.Name };
            foreach (var p in t.Partitions) tr.Partitions.Add(new DeleteRecordsResponse.DeleteRecordsPartitionResult { PartitionIndex = p.PartitionIndex, ErrorCode = errorCode, LowWatermark = -1 });
            response.Topics.Add(tr);
        }
        return response;
    }
}
