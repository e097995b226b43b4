using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Groups;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// SyncGroup (14): the leader hands in the assignments it computed, every member gets its own.
/// A follower's request waits for the leader's. From v5 the protocol type and name are checked
/// against the group's (INCONSISTENT_GROUP_PROTOCOL) and echoed back (KIP-559).
/// Needs READ on the group (GROUP_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class SyncGroupHandler(Cluster cluster) : ApiHandler<SyncGroupRequest, SyncGroupResponse>
{
    public override short ApiKey => SyncGroupRequest.ApiKey;
    public override string Name => "SyncGroup";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => SyncGroupRequest.HighestSupportedVersion;

    protected override async ValueTask<SyncGroupResponse?> HandleAsync(RequestContext context, SyncGroupRequest request, short version)
    {
        if (!context.Authorize(AclOperation.Read, AclResourceType.Group, request.GroupId)) return ErrorResponse(request, ErrorCodes.GroupAuthorizationFailed);
        var assignments = new List<MemberAssignment>(request.Assignments.Count);
        foreach (var a in request.Assignments) assignments.Add(new MemberAssignment(a.MemberId, a.Assignment));
        var input = new SyncGroupInput(
            request.GroupId,
            request.GenerationId,
            request.MemberId,
            version >= 3 ? request.GroupInstanceId : null,
            version >= 5 ? request.ProtocolType : null,
            version >= 5 ? request.ProtocolName : null,
            assignments);
        var result = await cluster.Groups.SyncGroupAsync(input).ConfigureAwait(false);
        return new SyncGroupResponse
        {
            ErrorCode = (short)result.Error,
            ProtocolType = result.ProtocolType,
            ProtocolName = result.ProtocolName,
            Assignment = result.Assignment,
        };
    }

    protected override SyncGroupResponse ErrorResponse(SyncGroupRequest request, short errorCode) =>
        new() { ErrorCode = errorCode, Assignment = [] };
}
