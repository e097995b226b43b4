using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DescribeGroups (15): state, protocol and members (client id, host, and, while the group is
/// Stable, each member's metadata and assignment). A group that does not exist is reported
/// Dead with no error, as Kafka does up to v5. Needs DESCRIBE on each group
/// (GROUP_AUTHORIZATION_FAILED for that group otherwise); authorized operations (KIP-430) are
/// those of READ, DELETE and DESCRIBE the principal has.
/// </summary>
internal sealed class DescribeGroupsHandler(Cluster cluster) : ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse>
{
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
            if (!context.Authorize(AclOperation.Describe, AclResourceType.Group, groupId))
            {
                response.Groups.Add(new DescribeGroupsResponse.DescribedGroup { ErrorCode = ErrorCodes.GroupAuthorizationFailed, GroupId = groupId, GroupState = "", ProtocolType = "", ProtocolData = "" });
                continue;
            }
            var d = await cluster.Groups.DescribeGroupAsync(groupId).ConfigureAwait(false);
            var group = new DescribeGroupsResponse.DescribedGroup
            {
                ErrorCode = (short)d.Error,
                GroupId = d.GroupId,
                GroupState = d.State,
                ProtocolType = d.ProtocolType,
                ProtocolData = d.ProtocolData,
                AuthorizedOperations = request.IncludeAuthorizedOperations ? context.Authorizer.AuthorizedOperations(context.Client, AclResourceType.Group, groupId) : int.MinValue,
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
