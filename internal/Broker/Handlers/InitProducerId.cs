using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// InitProducerId (22) for idempotent producers: a fresh producer id with epoch 0, as Kafka
/// gives a producer without a transactional id (a client that wants a new epoch after a
/// sequence error asks again and gets a new id). Transactions are out of scope: a transactional
/// id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat as fatal, so
/// a transactional producer fails at once with a clear error instead of retrying forever.
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
        long id = await producerIds.NextAsync(CancellationToken.None).ConfigureAwait(false);
        return new InitProducerIdResponse { ProducerId = id, ProducerEpoch = 0 };
    }

    protected override InitProducerIdResponse ErrorResponse(InitProducerIdRequest request, short errorCode) =>
        new() { ErrorCode = errorCode, ProducerId = -1, ProducerEpoch = -1 };
}
