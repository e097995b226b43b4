using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DescribeGroups (15): state, protocol and members (client id, host, and, while the group is
/// Stable, each member's metadata and assignment). A group that does not exist is reported
/// Dead with no error, as Kafka does up to v5.
/// </summary>
internal sealed class DescribeGroupsHandler(Cluster cluster) : ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse>
{
    /// <summary>KIP-430 operations a principal may have on a group: READ (3), DELETE (6), DESCRIBE (8). There are no ACLs here, so all of them.</summary>
    private const int GroupOperations = (1 << 3) | (1 << 6) | (1 << 8);

    public override short ApiKey => DescribeGroupsRequest.ApiKey;
    public override string Name => "DescribeGroups";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DescribeGroupsRequest.HighestSupportedVersion;

    protected override async ValueTask<DescribeGroupsResponse?> HandleAsync(RequestContext context, DescribeGroupsRequest request, short version)
    {
        var response = new DescribeGroupsResponse();
        foreach (var groupId in request.Groups)
        {
            var d = await cluster.Groups.DescribeGroupAsync(groupId).ConfigureAwait(false);
            var group = new DescribeGroupsResponse.DescribedGroup
            {
                ErrorCode = (short)d.Error,
                GroupId = d.GroupId,
                GroupState = d.State,
                ProtocolType = d.ProtocolType,
                ProtocolData = d.ProtocolData,
                AuthorizedOperations = request.IncludeAuthorizedOperations ? GroupOperations : int.MinValue,
            };
            foreach (var m in d.Members)
            {
                group.Members.Add(new DescribeGroupsResponse.DescribedGroupMember
                {
                    MemberId = m.MemberId,
                    GroupInstanceId = m.GroupInstanceId,
                    ClientId = m.ClientId,
                    ClientHost = m.ClientHost,
                    MemberMetadata = m.Metadata,
                    MemberAssignment = m.Assignment,
                });
            }
            response.Groups.Add(group);
        }
        return response;
    }

    protected override DescribeGroupsResponse ErrorResponse(DescribeGroupsRequest request, short errorCode)
    {
        var response = new DescribeGroupsResponse();
        foreach (var g in request.Groups) response.Groups.Add(new DescribeGroupsResponse.DescribedGroup { ErrorCode = errorCode, GroupId = g });
        return response;
    }
}
