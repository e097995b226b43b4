using KafScale.Client;

namespace KafScale.Admin;

/// <summary>
/// What an ACL command names, from its flags: a principal, an operation, at most one resource
/// (--topic, --group, --cluster, --transactional-id), --prefixed, --deny and --host. For add the
/// flags are the ACL; for list and remove they are a filter, and a flag not given matches anything.
/// </summary>
public sealed record AclSelection(string? Principal, string? Operation, string? Topic, string? Group, bool Cluster, string? TransactionalId, bool Prefixed, bool Deny, string? Host)
{
    /// <summary>The name of the CLUSTER resource, as Kafka's tools write it.</summary>
    public const string ClusterName = "kafka-cluster";

    private (AclResourceType Type, string? Name) Resource()
    {
        int named = (Topic is null ? 0 : 1) + (Group is null ? 0 : 1) + (Cluster ? 1 : 0) + (TransactionalId is null ? 0 : 1);
        if (named > 1)
        {
            throw new AdminUsageException("name one resource: --topic, --group, --cluster or --transactional-id");
        }

        if (Topic is { Length: 0 } || Group is { Length: 0 } || TransactionalId is { Length: 0 })
        {
            throw new AdminUsageException("an empty resource name names nothing: give a name, or * for every resource of the type");
        }

        if (Cluster && Prefixed)
        {
            throw new AdminUsageException("--prefixed does not apply to --cluster: the cluster resource has one name");
        }

        return Topic is not null ? (AclResourceType.Topic, Topic)
            : Group is not null ? (AclResourceType.Group, Group)
            : Cluster ? (AclResourceType.Cluster, ClusterName)
            : TransactionalId is not null ? (AclResourceType.TransactionalId, TransactionalId)
            : (AclResourceType.Any, null);
    }

    private AclOperation ParsedOperation(AclOperation fallback) => Operation is null ? fallback : AclAdmin.ParseOperation(Operation);

    private void CheckPrincipal()
    {
        if (Principal is not null && (Principal.IndexOf(':', StringComparison.Ordinal) is <= 0 || Principal.EndsWith(':')))
        {
            throw new AdminUsageException($"invalid principal '{Principal}' for --principal: expected TYPE:NAME, for example User:alice or User:*");
        }
    }

    /// <summary>The ACL that add creates; every part must be given except --host (default *).</summary>
    public AclEntry ToEntry()
    {
        var (type, name) = Resource();
        if (type == AclResourceType.Any)
        {
            throw new AdminUsageException("add needs a resource: --topic T, --group G, --cluster or --transactional-id T");
        }

        if (Principal is null)
        {
            throw new AdminUsageException("add needs --principal, for example --principal User:alice (User:* for every user)");
        }

        if (Operation is null)
        {
            throw new AdminUsageException($"add needs --operation: one of {string.Join(", ", AclAdmin.OperationNames)}");
        }

        CheckPrincipal();
        return new AclEntry(type, name!, Prefixed ? AclPatternType.Prefixed : AclPatternType.Literal, Principal, Host ?? "*",
            ParsedOperation(AclOperation.Any), Deny ? AclPermissionType.Deny : AclPermissionType.Allow);
    }

    /// <summary>
    /// The filter of list and remove. A named resource is matched as a LITERAL (PREFIXED with
    /// --prefixed) by remove, as kafka-acls.sh does; list matches it under any pattern type.
    /// </summary>
    public AclFilter ToFilter(bool remove)
    {
        var (type, name) = Resource();
        CheckPrincipal();
        var pattern = Prefixed ? AclPatternType.Prefixed : remove && name is not null ? AclPatternType.Literal : AclPatternType.Any;
        return new AclFilter(type, name, pattern, Principal, Host, ParsedOperation(AclOperation.Any), Deny ? AclPermissionType.Deny : AclPermissionType.Any);
    }

    public bool IsEmptyFilter => Principal is null && Operation is null && Topic is null && Group is null && !Cluster && TransactionalId is null && Host is null && !Prefixed && !Deny;
}

/// <summary><c>kafscale admin acls</c>: list, add and remove ACLs (DescribeAcls, CreateAcls, DeleteAcls).</summary>
public static class AclAdmin
{
    /// <summary>The operations as the command line names them.</summary>
    public static readonly string[] OperationNames =
        ["read", "write", "create", "delete", "alter", "describe", "describe-configs", "alter-configs", "idempotent-write", "cluster-action", "all"];

    public static AclOperation ParseOperation(string text) => text.ToLowerInvariant().Replace('_', '-') switch
    {
        "read" => AclOperation.Read,
        "write" => AclOperation.Write,
        "create" => AclOperation.Create,
        "delete" => AclOperation.Delete,
        "alter" => AclOperation.Alter,
        "describe" => AclOperation.Describe,
        "describe-configs" => AclOperation.DescribeConfigs,
        "alter-configs" => AclOperation.AlterConfigs,
        "idempotent-write" => AclOperation.IdempotentWrite,
        "cluster-action" => AclOperation.ClusterAction,
        "all" => AclOperation.All,
        _ => throw new AdminUsageException($"unknown operation '{text}' for --operation: expected one of {string.Join(", ", OperationNames)}"),
    };

    public static async Task<int> ListAsync(KafkaClient client, AdminOutput output, AclSelection selection, CancellationToken ct)
    {
        var acls = await client.DescribeAclsAsync(selection.ToFilter(remove: false), ct).ConfigureAwait(false);
        Write(output, acls, selection.IsEmptyFilter ? "no ACLs exist" : "no ACLs match");
        return AdminExitCodes.Ok;
    }

    public static async Task<int> AddAsync(KafkaClient client, AdminOutput output, AclSelection selection, CancellationToken ct)
    {
        var entry = selection.ToEntry();
        await client.CreateAclsAsync([entry], ct).ConfigureAwait(false);
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("action", "acl_added");
                w.WritePropertyName("acl");
                WriteAcl(w, entry);
                w.WriteEndObject();
            });
        }
        else
        {
            output.Line($"added ACL: {Describe(entry)}");
        }

        return AdminExitCodes.Ok;
    }

    public static async Task<int> RemoveAsync(KafkaClient client, AdminOutput output, AclSelection selection, CancellationToken ct)
    {
        if (selection.Principal is null && selection.Topic is null && selection.Group is null && !selection.Cluster && selection.TransactionalId is null)
        {
            throw new AdminUsageException("remove needs --principal or a resource (--topic, --group, --cluster, --transactional-id), so it cannot remove every ACL by accident");
        }

        var removed = await client.DeleteAclsAsync([selection.ToFilter(remove: true)], ct).ConfigureAwait(false);
        if (output.Json)
        {
            Write(output, removed, "");
        }
        else
        {
            output.Line($"removed {removed.Count} ACL(s)");
            if (removed.Count > 0)
            {
                Write(output, removed, "");
            }
        }

        return AdminExitCodes.Ok;
    }

    private static void Write(AdminOutput output, IReadOnlyList<AclEntry> acls, string none)
    {
        var sorted = acls.OrderBy(a => a.ResourceType).ThenBy(a => a.ResourceName, StringComparer.Ordinal).ThenBy(a => a.Principal, StringComparer.Ordinal).ThenBy(a => a.Operation).ToList();
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartArray();
                foreach (var a in sorted)
                {
                    WriteAcl(w, a);
                }

                w.WriteEndArray();
            });
            return;
        }

        if (sorted.Count == 0)
        {
            output.Line(none);
            return;
        }

        output.WriteTable(["PRINCIPAL", "HOST", "OPERATION", "PERMISSION", "RESOURCE", "NAME", "PATTERN"], sorted.Select(a => (IReadOnlyList<string>)
        [
            a.Principal, a.Host, Name(a.Operation), Name(a.Permission), Name(a.ResourceType), a.ResourceName, Name(a.PatternType),
        ]));
    }

    private static void WriteAcl(System.Text.Json.Utf8JsonWriter w, AclEntry a)
    {
        w.WriteStartObject();
        w.WriteString("principal", a.Principal);
        w.WriteString("host", a.Host);
        w.WriteString("operation", Name(a.Operation));
        w.WriteString("permission", Name(a.Permission));
        w.WriteString("resource_type", Name(a.ResourceType));
        w.WriteString("resource_name", a.ResourceName);
        w.WriteString("pattern_type", Name(a.PatternType));
        w.WriteEndObject();
    }

    public static string Describe(AclEntry a) =>
        $"{a.Principal} {Name(a.Permission)} {Name(a.Operation)} on {Name(a.ResourceType)} {a.ResourceName} ({Name(a.PatternType)}) from host {a.Host}";

    /// <summary>Kafka's names: READ, DESCRIBE_CONFIGS, TRANSACTIONAL_ID, PREFIXED.</summary>
    public static string Name(AclOperation op) => op switch
    {
        AclOperation.ClusterAction => "CLUSTER_ACTION",
        AclOperation.DescribeConfigs => "DESCRIBE_CONFIGS",
        AclOperation.AlterConfigs => "ALTER_CONFIGS",
        AclOperation.IdempotentWrite => "IDEMPOTENT_WRITE",
        _ => op.ToString().ToUpperInvariant(),
    };

    public static string Name(AclResourceType type) => type == AclResourceType.TransactionalId ? "TRANSACTIONAL_ID" : type.ToString().ToUpperInvariant();

    public static string Name(AclPatternType type) => type.ToString().ToUpperInvariant();

    public static string Name(AclPermissionType type) => type.ToString().ToUpperInvariant();
}
