using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DeleteGroups (42): deletes empty groups with their committed offsets. A group with members
/// gets NON_EMPTY_GROUP; an unknown one GROUP_ID_NOT_FOUND. Needs DELETE on each group
/// (GROUP_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class DeleteGroupsHandler(Cluster cluster) : ApiHandler<DeleteGroupsRequest, DeleteGroupsResponse>
{
    public override short ApiKey => DeleteGroupsRequest.ApiKey;
    public override string Name => "DeleteGroups";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DeleteGroupsRequest.HighestSupportedVersion;

    protected override async ValueTask<DeleteGroupsResponse?> HandleAsync(RequestContext context, DeleteGroupsRequest request, short version)
    {
        var response = new DeleteGroupsResponse();
        foreach (var groupId in request.GroupsNames)
        {
            short error = context.Authorize(AclOperation.Delete, AclResourceType.Group, groupId)
                ? (short)await cluster.Groups.DeleteGroupAsync(groupId).ConfigureAwait(false)
                : ErrorCodes.GroupAuthorizationFailed;
            response.Results.Add(new DeleteGroupsResponse.DeletableGroupResult { GroupId = groupId, ErrorCode = error });
        }
        return response;
    }

    protected override DeleteGroupsResponse ErrorResponse(DeleteGroupsRequest request, short errorCode)
    {
        var response = new DeleteGroupsResponse();
        foreach (var g in request.GroupsNames) response.Results.Add(new DeleteGroupsResponse.DeletableGroupResult { GroupId = g, ErrorCode = errorCode });
        return response;
    }
}
