using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// Heartbeat (12): keeps a member's session alive. REBALANCE_IN_PROGRESS tells the member to
/// rejoin; a member that stops heartbeating for its session timeout is removed.
/// Needs READ on the group (GROUP_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class HeartbeatHandler(Cluster cluster) : ApiHandler<HeartbeatRequest, HeartbeatResponse>
{
    public override short ApiKey => HeartbeatRequest.ApiKey;
    public override string Name => "Heartbeat";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => HeartbeatRequest.HighestSupportedVersion;

    protected override async ValueTask<HeartbeatResponse?> HandleAsync(RequestContext context, HeartbeatRequest request, short version)
    {
        if (!context.Authorize(AclOperation.Read, AclResourceType.Group, request.GroupId)) return ErrorResponse(request, ErrorCodes.GroupAuthorizationFailed);
        var error = await cluster.Groups.HeartbeatAsync(request.GroupId, request.MemberId, version >= 3 ? request.GroupInstanceId : null, request.GenerationId).ConfigureAwait(false);
        return new HeartbeatResponse { ErrorCode = (short)error };
    }

    protected override HeartbeatResponse ErrorResponse(HeartbeatRequest request, short errorCode) => new() { ErrorCode = errorCode };
}
