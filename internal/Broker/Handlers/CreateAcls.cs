using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// CreateAcls (30): each creation is checked (Kafka's rules, <see cref="AclBinding.Validate"/>)
/// and written as its own metadata-store key, from where every broker's watch applies it
/// (docs/metadata.md, "ACLs"). Creating an ACL that exists succeeds and changes nothing, as in
/// Kafka. The answer waits until this broker applies the change, so the client's next request
/// here already sees it. Needs ALTER on the cluster; SECURITY_DISABLED with --authorizer none.
/// </summary>
internal sealed class CreateAclsHandler(Metadata.IMetadataStore store) : ApiHandler<CreateAclsRequest, CreateAclsResponse>
{
    public override short ApiKey => CreateAclsRequest.ApiKey;
    public override string Name => "CreateAcls";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => CreateAclsRequest.HighestSupportedVersion;

    protected override async ValueTask<CreateAclsResponse?> HandleAsync(RequestContext context, CreateAclsRequest request, short version)
    {
        var authorizer = context.Authorizer;
        if (!authorizer.Enabled)
            return Refuse(request, ErrorCodes.SecurityDisabled, "No authorizer is configured: start the broker with --authorizer acl (docs/security.md, \"ACLs\")");
        if (!context.AuthorizeCluster(AclOperation.Alter))
            return Refuse(request, ErrorCodes.ClusterAuthorizationFailed, "CreateAcls needs ALTER on the cluster");
        var response = new CreateAclsResponse();
        long written = 0;
        foreach (var c in request.Creations)
        {
            var result = new CreateAclsResponse.AclCreationResult { ErrorMessage = null };
            response.Results.Add(result);
            var binding = new AclBinding((AclResourceType)c.ResourceType, c.ResourceName,
                version >= 1 ? (AclPatternType)c.ResourcePatternType : AclPatternType.Literal,
                c.Principal, c.Host, (AclOperation)c.Operation, (AclPermission)c.PermissionType);
            if (AclBinding.Validate(binding, out var valid) is { } problem)
            {
                result.ErrorCode = ErrorCodes.InvalidRequest;
                result.ErrorMessage = problem;
                continue;
            }
            written = Math.Max(written, await store.PutAsync(valid.StoreKey(), [], 0, CancellationToken.None).ConfigureAwait(false));
        }
        if (written > 0) await authorizer.WaitForRevisionAsync(written, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        return response;
    }

    private static CreateAclsResponse Refuse(CreateAclsRequest request, short errorCode, string? message)
    {
        var response = new CreateAclsResponse();
        foreach (var _ in request.Creations) response.Results.Add(new CreateAclsResponse.AclCreationResult { ErrorCode = errorCode, ErrorMessage = message });
        return response;
    }

    protected override CreateAclsResponse ErrorResponse(CreateAclsRequest request, short errorCode) => Refuse(request, errorCode, null);
}
