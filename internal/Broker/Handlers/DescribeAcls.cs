using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DescribeAcls (29): the ACLs matching one filter (Kafka's filter semantics, see
/// <see cref="AclBindingFilter"/>), from this broker's mirror of the metadata store, grouped by
/// resource pattern. Needs DESCRIBE on the cluster; with --authorizer none it answers
/// SECURITY_DISABLED, as Kafka does without an authorizer.
/// </summary>
internal sealed class DescribeAclsHandler : ApiHandler<DescribeAclsRequest, DescribeAclsResponse>
{
    public override short ApiKey => DescribeAclsRequest.ApiKey;
    public override string Name => "DescribeAcls";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DescribeAclsRequest.HighestSupportedVersion;

    protected override ValueTask<DescribeAclsResponse?> HandleAsync(RequestContext context, DescribeAclsRequest request, short version)
    {
        var authorizer = context.Authorizer;
        if (!authorizer.Enabled)
            return Answer(Failed(ErrorCodes.SecurityDisabled, "No authorizer is configured: start the broker with --authorizer acl (docs/security.md, \"ACLs\")"));
        if (!context.AuthorizeCluster(AclOperation.Describe))
            return Answer(Failed(ErrorCodes.ClusterAuthorizationFailed, "DescribeAcls needs DESCRIBE on the cluster"));
        var filter = new AclBindingFilter((AclResourceType)request.ResourceTypeFilter, request.ResourceNameFilter,
            version >= 1 ? (AclPatternType)request.PatternTypeFilter : AclPatternType.Literal,
            request.PrincipalFilter, request.HostFilter, (AclOperation)request.Operation, (AclPermission)request.PermissionType);
        if (filter.Validate() is { } problem) return Answer(Failed(ErrorCodes.InvalidRequest, problem));

        var response = new DescribeAclsResponse { ErrorMessage = null };
        var matched = authorizer.Bindings.Where(filter.Matches)
            .GroupBy(b => (b.ResourceType, b.PatternType, b.ResourceName))
            .OrderBy(g => g.Key.ResourceType).ThenBy(g => g.Key.PatternType).ThenBy(g => g.Key.ResourceName, StringComparer.Ordinal);
        foreach (var resource in matched)
        {
            var r = new DescribeAclsResponse.DescribeAclsResource
            {
                ResourceType = (sbyte)resource.Key.ResourceType,
                ResourceName = resource.Key.ResourceName,
                PatternType = (sbyte)resource.Key.PatternType,
            };
            foreach (var b in resource.OrderBy(b => b.Principal, StringComparer.Ordinal).ThenBy(b => b.Host, StringComparer.Ordinal).ThenBy(b => b.Operation).ThenBy(b => b.Permission))
                r.Acls.Add(new DescribeAclsResponse.AclDescription { Principal = b.Principal, Host = b.Host, Operation = (sbyte)b.Operation, PermissionType = (sbyte)b.Permission });
            response.Resources.Add(r);
        }
        return Answer(response);
    }

    private static ValueTask<DescribeAclsResponse?> Answer(DescribeAclsResponse response) => ValueTask.FromResult<DescribeAclsResponse?>(response);

    private static DescribeAclsResponse Failed(short errorCode, string? message) => new() { ErrorCode = errorCode, ErrorMessage = message };

    protected override DescribeAclsResponse ErrorResponse(DescribeAclsRequest request, short errorCode) => Failed(errorCode, null);
}
