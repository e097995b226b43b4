using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// Heartbeat (12): keeps a member's session alive. REBALANCE_IN_PROGRESS tells the member to
/// rejoin; a member that stops heartbeating for its session timeout is removed.
/// </summary>
internal sealed class HeartbeatHandler(Cluster cluster) : ApiHandler<HeartbeatRequest, HeartbeatResponse>
{
    public override short ApiKey => HeartbeatRequest.ApiKey;
    public override string Name => "Heartbeat";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => HeartbeatRequest.HighestSupportedVersion;

    protected override async ValueTask<HeartbeatResponse?> HandleAsync(RequestContext context, HeartbeatRequest request, short version)
    {
        var error = await cluster.Groups.HeartbeatAsync(request.GroupId, request.MemberId, version >= 3 ? request.GroupInstanceId : null, request.GenerationId).ConfigureAwait(false);
        return new HeartbeatResponse { ErrorCode = (short)error };
    }

    protected override HeartbeatResponse ErrorResponse(HeartbeatRequest request, short errorCode) => new() { ErrorCode = errorCode };
}
