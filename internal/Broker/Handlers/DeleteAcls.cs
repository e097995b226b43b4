using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Metadata;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DeleteAcls (31): deletes every ACL matching each filter (Kafka's filter semantics, see
/// <see cref="AclBindingFilter"/>) and reports, per filter, the ACLs it deleted. The ACLs are
/// read from the metadata store itself, not this broker's mirror, so one just created through
/// another broker is found too. Needs ALTER on the cluster; SECURITY_DISABLED with --authorizer none.
/// </summary>
internal sealed class DeleteAclsHandler(IMetadataStore store) : ApiHandler<DeleteAclsRequest, DeleteAclsResponse>
{
    public override short ApiKey => DeleteAclsRequest.ApiKey;
    public override string Name => "DeleteAcls";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DeleteAclsRequest.HighestSupportedVersion;

    protected override async ValueTask<DeleteAclsResponse?> HandleAsync(RequestContext context, DeleteAclsRequest request, short version)
    {
        var authorizer = context.Authorizer;
        if (!authorizer.Enabled)
            return Refuse(request, ErrorCodes.SecurityDisabled, "No authorizer is configured: start the broker with --authorizer acl (docs/security.md, \"ACLs\")");
        if (!context.AuthorizeCluster(AclOperation.Alter))
            return Refuse(request, ErrorCodes.ClusterAuthorizationFailed, "DeleteAcls needs ALTER on the cluster");

        var stored = await store.GetPrefixAsync(AclBinding.KeyPrefix, CancellationToken.None).ConfigureAwait(false);
        var acls = new List<(string Key, AclBinding Binding)>();
        foreach (var kv in stored.Kvs)
            if (AclBinding.TryParseStoreKey(kv.Key, out var b)) acls.Add((kv.Key, b));

        var response = new DeleteAclsResponse();
        var deleted = new HashSet<string>(StringComparer.Ordinal);
        long written = 0;
        foreach (var f in request.Filters)
        {
            var result = new DeleteAclsResponse.DeleteAclsFilterResult { ErrorMessage = null };
            response.FilterResults.Add(result);
            var filter = new AclBindingFilter((AclResourceType)f.ResourceTypeFilter, f.ResourceNameFilter,
                version >= 1 ? (AclPatternType)f.PatternTypeFilter : AclPatternType.Literal,
                f.PrincipalFilter, f.HostFilter, (AclOperation)f.Operation, (AclPermission)f.PermissionType);
            if (filter.Validate() is { } problem)
            {
                result.ErrorCode = ErrorCodes.InvalidRequest;
                result.ErrorMessage = problem;
                continue;
            }
            foreach (var (key, b) in acls)
            {
                if (!filter.Matches(b)) continue;
                // An ACL two filters match is reported by both, as Kafka does; it is deleted once.
                deleted.Add(key);
                result.MatchingAcls.Add(new DeleteAclsResponse.DeleteAclsMatchingAcl
                {
                    ErrorMessage = null,
                    ResourceType = (sbyte)b.ResourceType,
                    ResourceName = b.ResourceName,
                    PatternType = (sbyte)b.PatternType,
                    Principal = b.Principal,
                    Host = b.Host,
                    Operation = (sbyte)b.Operation,
                    PermissionType = (sbyte)b.Permission,
                });
            }
        }
        // etcd caps the operations of one transaction (128 by default), so deletes go in chunks.
        foreach (var chunk in deleted.Chunk(100))
        {
            var txn = await store.TxnAsync(new TxnRequest([], [.. chunk.Select(k => TxnOp.Delete(k))], []), CancellationToken.None).ConfigureAwait(false);
            written = Math.Max(written, txn.Revision);
        }
        if (written > 0) await authorizer.WaitForRevisionAsync(written, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        return response;
    }

    private static DeleteAclsResponse Refuse(DeleteAclsRequest request, short errorCode, string? message)
    {
        var response = new DeleteAclsResponse();
        foreach (var _ in request.Filters) response.FilterResults.Add(new DeleteAclsResponse.DeleteAclsFilterResult { ErrorCode = errorCode, ErrorMessage = message });
        return response;
    }

    protected override DeleteAclsResponse ErrorResponse(DeleteAclsRequest request, short errorCode) => Refuse(request, errorCode, null);
}
