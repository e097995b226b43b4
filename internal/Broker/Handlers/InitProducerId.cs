using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// InitProducerId (22) for idempotent producers: a fresh producer id with epoch 0, as Kafka
/// gives a producer without a transactional id (a client that wants a new epoch after a
/// sequence error asks again and gets a new id). Transactions are out of scope: a transactional
/// id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat as fatal, so
/// a transactional producer fails at once with a clear error instead of retrying forever. An
/// idempotent producer needs IDEMPOTENT_WRITE on the cluster or WRITE on some topic, as in Kafka
/// (CLUSTER_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class InitProducerIdHandler(ProducerIdAllocator producerIds) : ApiHandler<InitProducerIdRequest, InitProducerIdResponse>
{
    public override short ApiKey => InitProducerIdRequest.ApiKey;
    public override string Name => "InitProducerId";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => InitProducerIdRequest.HighestSupportedVersion;

    protected override async ValueTask<InitProducerIdResponse?> HandleAsync(RequestContext context, InitProducerIdRequest request, short version)
    {
        if (request.TransactionalId is not null)
            return ErrorResponse(request, ErrorCodes.TransactionalIdAuthorizationFailed);
        var authorizer = context.Authorizer;
        if (!authorizer.Check(context.Client, AclOperation.IdempotentWrite, AclResourceType.Cluster, AclNames.ClusterName)
            && !authorizer.MayWriteSomeTopic(context.Client))
        {
            context.AuthorizeCluster(AclOperation.IdempotentWrite); // counts the denial
            return ErrorResponse(request, ErrorCodes.ClusterAuthorizationFailed);
        }
        long id = await producerIds.NextAsync(CancellationToken.None).ConfigureAwait(false);
        return new InitProducerIdResponse { ProducerId = id, ProducerEpoch = 0 };
    }

    protected override InitProducerIdResponse ErrorResponse(InitProducerIdRequest request, short errorCode) =>
        new() { ErrorCode = errorCode, ProducerId = -1, ProducerEpoch = -1 };
}
