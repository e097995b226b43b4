using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Groups;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// LeaveGroup (13): members leave and the group rebalances without them. v0-v2 name one
/// member; v3+ carry a batch of members (KIP-345), which an admin may name by instance id
/// alone, with one error per member.
/// Needs READ on the group (GROUP_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class LeaveGroupHandler(Cluster cluster) : ApiHandler<LeaveGroupRequest, LeaveGroupResponse>
{
    public override short ApiKey => LeaveGroupRequest.ApiKey;
    public override string Name => "LeaveGroup";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => LeaveGroupRequest.HighestSupportedVersion;

    protected override async ValueTask<LeaveGroupResponse?> HandleAsync(RequestContext context, LeaveGroupRequest request, short version)
    {
        if (!context.Authorize(AclOperation.Read, AclResourceType.Group, request.GroupId)) return ErrorResponse(request, ErrorCodes.GroupAuthorizationFailed);
        var leaving = new List<LeavingMember>();
        if (version < 3) leaving.Add(new LeavingMember(request.MemberId, null));
        else foreach (var m in request.Members) leaving.Add(new LeavingMember(m.MemberId, m.GroupInstanceId, version >= 5 ? m.Reason : null));

        var result = await cluster.Groups.LeaveGroupAsync(request.GroupId, leaving).ConfigureAwait(false);
        var response = new LeaveGroupResponse { ErrorCode = (short)result.Error };
        if (version < 3)
        {
            // One member: its own error is the request's.
            if (result.Error == ErrorCode.None && result.Members.Count == 1) response.ErrorCode = (short)result.Members[0].Error;
            return response;
        }
        foreach (var m in result.Members)
            response.Members.Add(new LeaveGroupResponse.MemberResponse { MemberId = m.MemberId, GroupInstanceId = m.GroupInstanceId, ErrorCode = (short)m.Error });
        return response;
    }

    protected override LeaveGroupResponse ErrorResponse(LeaveGroupRequest request, short errorCode) => new() { ErrorCode = errorCode };
}
