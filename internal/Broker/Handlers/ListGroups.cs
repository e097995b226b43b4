using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Groups;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// ListGroups (16): the groups this broker coordinates, filtered by state from v4 (KIP-518)
/// and by type from v5 (KIP-848; every group here is "classic"). Filters compare
/// case-insensitively, as Kafka's do. Lists every group for a principal with DESCRIBE on the
/// cluster, else only the groups it may DESCRIBE.
/// </summary>
internal sealed class ListGroupsHandler(Cluster cluster) : ApiHandler<ListGroupsRequest, ListGroupsResponse>
{
    public override short ApiKey => ListGroupsRequest.ApiKey;
    public override string Name => "ListGroups";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => ListGroupsRequest.HighestSupportedVersion;

    protected override ValueTask<ListGroupsResponse?> HandleAsync(RequestContext context, ListGroupsRequest request, short version)
    {
        var result = cluster.Groups.ListGroups(version >= 4 ? request.StatesFilter : null);
        var response = new ListGroupsResponse { ErrorCode = (short)result.Error };
        bool classicWanted = version < 5 || request.TypesFilter.Count == 0
            || request.TypesFilter.Exists(t => string.Equals(t, GroupListing.ClassicType, StringComparison.OrdinalIgnoreCase));
        var authorizer = context.Authorizer;
        bool all = authorizer.Check(context.Client, AclOperation.Describe, AclResourceType.Cluster, AclNames.ClusterName);
        if (classicWanted)
        {
            foreach (var g in result.Groups)
                if (all || authorizer.Check(context.Client, AclOperation.Describe, AclResourceType.Group, g.GroupId)) response.Groups.Add(new ListGroupsResponse.ListedGroup { GroupId = g.GroupId, ProtocolType = g.ProtocolType, GroupState = g.StateName, GroupType = GroupListing.ClassicType });
        }
        return ValueTask.FromResult<ListGroupsResponse?>(response);
    }

    protected override ListGroupsResponse ErrorResponse(ListGroupsRequest request, short errorCode) => new() { ErrorCode = errorCode };
}
