using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// FindCoordinator (10): the broker leading a group's coordinator shard (from the shard's
/// leader key, so any broker answers for any group); several keys at once
/// from v4 (KIP-699). Transaction coordinators are "found" here too: transactions are out of
/// scope, and InitProducerId then refuses the transactional id with a fatal error, which fails
/// a transactional producer at once instead of leaving it looking for a coordinator forever.
/// Needs DESCRIBE on the group (GROUP_AUTHORIZATION_FAILED) or on the transactional id
/// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
/// </summary>
internal sealed class FindCoordinatorHandler(Cluster cluster) : ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse>
{
    private const sbyte GroupKey = 0;
    private const sbyte TransactionKey = 1;

    public override short ApiKey => FindCoordinatorRequest.ApiKey;
    public override string Name => "FindCoordinator";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => FindCoordinatorRequest.HighestSupportedVersion;

    protected override ValueTask<FindCoordinatorResponse?> HandleAsync(RequestContext context, FindCoordinatorRequest request, short version)
    {
        var response = new FindCoordinatorResponse();
        if (version < 4)
        {
            var c = Find(context, request.Key, request.KeyType);
            (response.ErrorCode, response.ErrorMessage, response.NodeId, response.Host, response.Port) = (c.ErrorCode, c.ErrorMessage, c.NodeId, c.Host, c.Port);
        }
        else
        {
            foreach (var key in request.CoordinatorKeys) response.Coordinators.Add(Find(context, key, request.KeyType));
        }
        return ValueTask.FromResult<FindCoordinatorResponse?>(response);
    }

    /// <summary>The coordinator's endpoint of the listener the request came in on.</summary>
    private FindCoordinatorResponse.Coordinator Find(RequestContext context, string key, sbyte keyType)
    {
        string listener = context.Client.Listener;
        if (keyType != GroupKey && keyType != TransactionKey)
            return Failed(key, ErrorCodes.InvalidRequest, $"coordinator key type {keyType} is not supported");
        if (keyType == GroupKey && !context.Authorize(AclOperation.Describe, AclResourceType.Group, key))
            return Failed(key, ErrorCodes.GroupAuthorizationFailed, null);
        if (keyType == TransactionKey && !context.Authorize(AclOperation.Describe, AclResourceType.TransactionalId, key))
            return Failed(key, ErrorCodes.TransactionalIdAuthorizationFailed, null);
        // Transactional ids have no coordinator shard: any broker "is" theirs (InitProducerId refuses them).
        int leader = keyType == TransactionKey || cluster.Groups.IsCoordinatorFor(key) ? cluster.BrokerId : cluster.CoordinatorOf(key);
        if (leader < 0 || cluster.Broker(leader) is not { } broker)
            return Failed(key, ErrorCodes.CoordinatorNotAvailable, "no broker leads the group's coordinator shard yet");
        if (broker.EndpointFor(listener) is not { } endpoint)
            return Failed(key, ErrorCodes.CoordinatorNotAvailable, $"the coordinator, broker {broker.Id}, has no {listener} listener");
        return new FindCoordinatorResponse.Coordinator { Key = key, NodeId = broker.Id, Host = endpoint.Host, Port = endpoint.Port, ErrorMessage = null };
    }

    private static FindCoordinatorResponse.Coordinator Failed(string key, short errorCode, string? message) =>
        new() { Key = key, ErrorCode = errorCode, ErrorMessage = message, NodeId = -1, Host = "", Port = -1 };

    protected override FindCoordinatorResponse ErrorResponse(FindCoordinatorRequest request, short errorCode)
    {
        var response = new FindCoordinatorResponse { ErrorCode = errorCode, ErrorMessage = null, NodeId = -1, Host = "", Port = -1 };
        foreach (var key in request.CoordinatorKeys) response.Coordinators.Add(Failed(key, errorCode, null));
        return response;
    }
}
