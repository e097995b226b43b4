using System.Net;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Groups;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// JoinGroup (11). The response may wait up to the group's rebalance timeout: the join phase
/// ends when every member has rejoined. From v4 a member without an id is first sent one with
/// MEMBER_ID_REQUIRED (KIP-394); from v5 members may be static (KIP-345); from v9 a static
/// leader rejoining a stable group is told to skip the assignment (KIP-814).
/// Needs READ on the group (GROUP_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class JoinGroupHandler(Cluster cluster) : ApiHandler<JoinGroupRequest, JoinGroupResponse>
{
    public override short ApiKey => JoinGroupRequest.ApiKey;
    public override string Name => "JoinGroup";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => JoinGroupRequest.HighestSupportedVersion;

    protected override async ValueTask<JoinGroupResponse?> HandleAsync(RequestContext context, JoinGroupRequest request, short version)
    {
        if (!context.Authorize(AclOperation.Read, AclResourceType.Group, request.GroupId)) return ErrorResponse(request, ErrorCodes.GroupAuthorizationFailed);
        var protocols = new List<GroupProtocol>(request.Protocols.Count);
        foreach (var p in request.Protocols) protocols.Add(new GroupProtocol(p.Name, p.Metadata));
        var input = new JoinGroupInput(
            request.GroupId,
            request.MemberId,
            version >= 5 ? request.GroupInstanceId : null,
            context.Client.ClientId ?? "",
            ClientHost(context.Client.Remote),
            request.SessionTimeoutMs,
            request.RebalanceTimeoutMs,
            request.ProtocolType,
            protocols,
            RequireKnownMemberId: version >= 4,
            SupportsSkipAssignment: version >= 9,
            request.Reason);
        var result = await cluster.Groups.JoinGroupAsync(input).ConfigureAwait(false);

        var response = new JoinGroupResponse
        {
            ErrorCode = (short)result.Error,
            GenerationId = result.GenerationId,
            ProtocolType = result.ProtocolType,
            // Before v7 the protocol name is not nullable: "" stands for none.
            ProtocolName = version >= 7 ? result.ProtocolName : result.ProtocolName ?? "",
            Leader = result.LeaderId,
            SkipAssignment = result.SkipAssignment,
            MemberId = result.MemberId,
        };
        foreach (var m in result.Members)
            response.Members.Add(new JoinGroupResponse.JoinGroupResponseMember { MemberId = m.MemberId, GroupInstanceId = m.GroupInstanceId, Metadata = m.Metadata });
        return response;
    }

    protected override JoinGroupResponse ErrorResponse(JoinGroupRequest request, short errorCode) =>
        new() { ErrorCode = errorCode, GenerationId = -1, ProtocolType = null, ProtocolName = "", Leader = "", MemberId = request.MemberId };

    /// <summary>The client host as Kafka reports it in DescribeGroups: "/" and the address.</summary>
    internal static string ClientHost(string remote)
    {
        if (!IPEndPoint.TryParse(remote, out var endPoint)) return "/" + remote;
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        return "/" + address;
    }
}
