using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>Kafka's ACL resource types (wire codes); ANY only in filters.</summary>
public enum AclResourceType : sbyte
{
    Unknown = 0,
    Any = 1,
    Topic = 2,
    Group = 3,
    Cluster = 4,
    TransactionalId = 5,
}

/// <summary>Kafka's ACL pattern types (wire codes); ANY and MATCH only in filters.</summary>
public enum AclPatternType : sbyte
{
    Unknown = 0,
    Any = 1,
    Match = 2,
    Literal = 3,
    Prefixed = 4,
}

/// <summary>Kafka's ACL operations (wire codes); ANY only in filters.</summary>
public enum AclOperation : sbyte
{
    Unknown = 0,
    Any = 1,
    All = 2,
    Read = 3,
    Write = 4,
    Create = 5,
    Delete = 6,
    Alter = 7,
    Describe = 8,
    ClusterAction = 9,
    DescribeConfigs = 10,
    AlterConfigs = 11,
    IdempotentWrite = 12,
}

/// <summary>Kafka's ACL permission types (wire codes); ANY only in filters.</summary>
public enum AclPermissionType : sbyte
{
    Unknown = 0,
    Any = 1,
    Deny = 2,
    Allow = 3,
}

/// <summary>One ACL: a resource pattern and who may (or may not) perform which operation on it from which host.</summary>
public sealed record AclEntry(AclResourceType ResourceType, string ResourceName, AclPatternType PatternType, string Principal, string Host, AclOperation Operation, AclPermissionType Permission);

/// <summary>A filter of DescribeAcls/DeleteAcls: null strings and the ANY codes match everything; MATCH matches the ACLs that apply to a resource name.</summary>
public sealed record AclFilter(AclResourceType ResourceType, string? ResourceName, AclPatternType PatternType, string? Principal, string? Host, AclOperation Operation, AclPermissionType Permission)
{
    /// <summary>Matches every ACL.</summary>
    public static AclFilter All { get; } = new(AclResourceType.Any, null, AclPatternType.Any, null, null, AclOperation.Any, AclPermissionType.Any);
}

public sealed partial class KafkaClient
{
    /// <summary>Creates ACLs (CreateAcls); throws for the first one the broker refused.</summary>
    public async Task CreateAclsAsync(IReadOnlyList<AclEntry> acls, CancellationToken cancellationToken = default)
    {
        var request = new CreateAclsRequest();
        foreach (var a in acls)
        {
            request.Creations.Add(new CreateAclsRequest.AclCreation
            {
                ResourceType = (sbyte)a.ResourceType,
                ResourceName = a.ResourceName,
                ResourcePatternType = (sbyte)a.PatternType,
                Principal = a.Principal,
                Host = a.Host,
                Operation = (sbyte)a.Operation,
                PermissionType = (sbyte)a.Permission,
            });
        }

        var response = await SendToAnyBrokerAsync<CreateAclsResponse>(request, cancellationToken).ConfigureAwait(false);
        for (int i = 0; i < response.Results.Count; i++)
        {
            KafkaException.ThrowIfError(response.Results[i].ErrorCode, i < acls.Count ? $"CreateAcls {acls[i].Principal} {acls[i].Operation} {acls[i].ResourceType}:{acls[i].ResourceName}" : "CreateAcls", response.Results[i].ErrorMessage);
        }
    }

    /// <summary>The ACLs matching a filter (DescribeAcls).</summary>
    public async Task<IReadOnlyList<AclEntry>> DescribeAclsAsync(AclFilter filter, CancellationToken cancellationToken = default)
    {
        var request = new DescribeAclsRequest
        {
            ResourceTypeFilter = (sbyte)filter.ResourceType,
            ResourceNameFilter = filter.ResourceName,
            PatternTypeFilter = (sbyte)filter.PatternType,
            PrincipalFilter = filter.Principal,
            HostFilter = filter.Host,
            Operation = (sbyte)filter.Operation,
            PermissionType = (sbyte)filter.Permission,
        };
        var response = await SendToAnyBrokerAsync<DescribeAclsResponse>(request, cancellationToken).ConfigureAwait(false);
        KafkaException.ThrowIfError(response.ErrorCode, "DescribeAcls", response.ErrorMessage);
        var result = new List<AclEntry>();
        foreach (var r in response.Resources)
        {
            foreach (var a in r.Acls)
            {
                result.Add(new AclEntry((AclResourceType)r.ResourceType, r.ResourceName, (AclPatternType)r.PatternType, a.Principal, a.Host, (AclOperation)a.Operation, (AclPermissionType)a.PermissionType));
            }
        }

        return result;
    }

    /// <summary>Deletes the ACLs matching any of the filters (DeleteAcls) and returns them.</summary>
    public async Task<IReadOnlyList<AclEntry>> DeleteAclsAsync(IReadOnlyList<AclFilter> filters, CancellationToken cancellationToken = default)
    {
        var request = new DeleteAclsRequest();
        foreach (var f in filters)
        {
            request.Filters.Add(new DeleteAclsRequest.DeleteAclsFilter
            {
                ResourceTypeFilter = (sbyte)f.ResourceType,
                ResourceNameFilter = f.ResourceName,
                PatternTypeFilter = (sbyte)f.PatternType,
                PrincipalFilter = f.Principal,
                HostFilter = f.Host,
                Operation = (sbyte)f.Operation,
                PermissionType = (sbyte)f.Permission,
            });
        }

        var response = await SendToAnyBrokerAsync<DeleteAclsResponse>(request, cancellationToken).ConfigureAwait(false);
        var deleted = new List<AclEntry>();
        foreach (var r in response.FilterResults)
        {
            KafkaException.ThrowIfError(r.ErrorCode, "DeleteAcls", r.ErrorMessage);
            foreach (var m in r.MatchingAcls)
            {
                KafkaException.ThrowIfError(m.ErrorCode, "DeleteAcls", m.ErrorMessage);
                var entry = new AclEntry((AclResourceType)m.ResourceType, m.ResourceName, (AclPatternType)m.PatternType, m.Principal, m.Host, (AclOperation)m.Operation, (AclPermissionType)m.PermissionType);
                if (!deleted.Contains(entry))
                {
                    deleted.Add(entry);
                }
            }
        }

        return deleted;
    }
}
