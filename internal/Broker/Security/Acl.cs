using System.Net;

namespace KafScale.Broker.Security;

/// <summary>Kafka's resource types, with Kafka's wire codes (docs/security.md, "ACLs").</summary>
internal enum AclResourceType : sbyte
{
    Unknown = 0,
    Any = 1,
    Topic = 2,
    Group = 3,
    Cluster = 4,
    TransactionalId = 5,
    DelegationToken = 6,
    User = 7,
}

/// <summary>Kafka's pattern types. ANY and MATCH exist only in filters.</summary>
internal enum AclPatternType : sbyte
{
    Unknown = 0,
    Any = 1,
    Match = 2,
    Literal = 3,
    Prefixed = 4,
}

/// <summary>Kafka's ACL operations, with Kafka's wire codes (also the bit positions of authorized-operations fields).</summary>
internal enum AclOperation : sbyte
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
    CreateTokens = 13,
    DescribeTokens = 14,
}

/// <summary>Kafka's permission types. ANY exists only in filters.</summary>
internal enum AclPermission : sbyte
{
    Unknown = 0,
    Any = 1,
    Deny = 2,
    Allow = 3,
}

/// <summary>Names of the ACL model in Kafka's words, and the parsing of them.</summary>
internal static class AclNames
{
    /// <summary>The one name of the CLUSTER resource, as in Kafka.</summary>
    public const string ClusterName = "kafka-cluster";

    /// <summary>A LITERAL resource named this matches every resource of its type.</summary>
    public const string Wildcard = "*";

    /// <summary>The ACL principal that matches every user.</summary>
    public const string AnyUser = "User:*";

    public const string AnyHost = "*";

    public static string Name(AclResourceType type) => type switch
    {
        AclResourceType.Any => "ANY",
        AclResourceType.Topic => "TOPIC",
        AclResourceType.Group => "GROUP",
        AclResourceType.Cluster => "CLUSTER",
        AclResourceType.TransactionalId => "TRANSACTIONAL_ID",
        AclResourceType.DelegationToken => "DELEGATION_TOKEN",
        AclResourceType.User => "USER",
        _ => "UNKNOWN",
    };

    public static string Name(AclPatternType type) => type switch
    {
        AclPatternType.Any => "ANY",
        AclPatternType.Match => "MATCH",
        AclPatternType.Literal => "LITERAL",
        AclPatternType.Prefixed => "PREFIXED",
        _ => "UNKNOWN",
    };

    public static string Name(AclOperation operation) => operation switch
    {
        AclOperation.Any => "ANY",
        AclOperation.All => "ALL",
        AclOperation.Read => "READ",
        AclOperation.Write => "WRITE",
        AclOperation.Create => "CREATE",
        AclOperation.Delete => "DELETE",
        AclOperation.Alter => "ALTER",
        AclOperation.Describe => "DESCRIBE",
        AclOperation.ClusterAction => "CLUSTER_ACTION",
        AclOperation.DescribeConfigs => "DESCRIBE_CONFIGS",
        AclOperation.AlterConfigs => "ALTER_CONFIGS",
        AclOperation.IdempotentWrite => "IDEMPOTENT_WRITE",
        AclOperation.CreateTokens => "CREATE_TOKENS",
        AclOperation.DescribeTokens => "DESCRIBE_TOKENS",
        _ => "UNKNOWN",
    };

    public static string Name(AclPermission permission) => permission switch
    {
        AclPermission.Any => "ANY",
        AclPermission.Deny => "DENY",
        AclPermission.Allow => "ALLOW",
        _ => "UNKNOWN",
    };

    public static bool TryParse(string text, out AclResourceType value) => TryParseEnum(text, Name, out value);
    public static bool TryParse(string text, out AclPatternType value) => TryParseEnum(text, Name, out value);
    public static bool TryParse(string text, out AclOperation value) => TryParseEnum(text, Name, out value);
    public static bool TryParse(string text, out AclPermission value) => TryParseEnum(text, Name, out value);

    private static bool TryParseEnum<T>(string text, Func<T, string> name, out T value) where T : struct, Enum
    {
        foreach (var v in Enum.GetValues<T>())
        {
            if (string.Equals(name(v), text, StringComparison.OrdinalIgnoreCase) && !string.Equals(text, "UNKNOWN", StringComparison.OrdinalIgnoreCase))
            {
                value = v;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>
    /// The operations Kafka lets an ACL name on each resource type; authorized-operations
    /// fields (KIP-430) report a subset of these.
    /// </summary>
    public static ReadOnlySpan<AclOperation> SupportedOperations(AclResourceType type) => type switch
    {
        AclResourceType.Topic => [AclOperation.Read, AclOperation.Write, AclOperation.Create, AclOperation.Describe, AclOperation.Delete, AclOperation.Alter, AclOperation.DescribeConfigs, AclOperation.AlterConfigs],
        AclResourceType.Group => [AclOperation.Read, AclOperation.Describe, AclOperation.Delete],
        AclResourceType.Cluster => [AclOperation.Create, AclOperation.ClusterAction, AclOperation.DescribeConfigs, AclOperation.AlterConfigs, AclOperation.IdempotentWrite, AclOperation.Alter, AclOperation.Describe],
        AclResourceType.TransactionalId => [AclOperation.Describe, AclOperation.Write],
        _ => [],
    };

    /// <summary>
    /// Kafka's implied operations: an ALLOW of READ, WRITE, DELETE or ALTER also allows DESCRIBE,
    /// an ALLOW of ALTER_CONFIGS also allows DESCRIBE_CONFIGS, and ALL allows everything.
    /// </summary>
    public static bool AllowImplies(AclOperation granted, AclOperation requested) =>
        granted == requested || granted == AclOperation.All || requested switch
        {
            AclOperation.Describe => granted is AclOperation.Read or AclOperation.Write or AclOperation.Delete or AclOperation.Alter,
            AclOperation.DescribeConfigs => granted == AclOperation.AlterConfigs,
            _ => false,
        };

    /// <summary>A DENY applies to the operation it names, and ALL to every operation; nothing else is implied.</summary>
    public static bool DenyCovers(AclOperation denied, AclOperation requested) => denied == requested || denied == AclOperation.All;

    /// <summary>
    /// A host of an ACL as stored: "*" or an IP address in its usual text form (IPv4-mapped
    /// IPv6 addresses as IPv4), so a connection's address compares as a plain string.
    /// </summary>
    public static bool TryNormalizeHost(string host, out string normalized)
    {
        if (host == AnyHost)
        {
            normalized = host;
            return true;
        }
        if (IPAddress.TryParse(host, out var address))
        {
            normalized = (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
            return true;
        }
        normalized = host;
        return false;
    }
}

/// <summary>
/// One ACL: a resource pattern (type, name, LITERAL or PREFIXED) and an entry (principal,
/// host, operation, ALLOW or DENY). Value equality; each binding is one key in the metadata store.
/// </summary>
internal sealed record AclBinding(
    AclResourceType ResourceType,
    string ResourceName,
    AclPatternType PatternType,
    string Principal,
    string Host,
    AclOperation Operation,
    AclPermission Permission)
{
    public const string KeyPrefix = "/kafscale/acls/";

    /// <summary>
    /// Kafka's checks of an ACL to create; the message for the first that fails, or null. The
    /// host is normalized in <paramref name="valid"/> (see <see cref="AclNames.TryNormalizeHost"/>).
    /// </summary>
    public static string? Validate(AclBinding binding, out AclBinding valid)
    {
        valid = binding;
        if (binding.ResourceType is not (AclResourceType.Topic or AclResourceType.Group or AclResourceType.Cluster or AclResourceType.TransactionalId))
            return $"Invalid resource type {AclNames.Name(binding.ResourceType)} ({(int)binding.ResourceType}): ACLs here name TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID";
        if (binding.PatternType is not (AclPatternType.Literal or AclPatternType.Prefixed))
            return $"Invalid pattern type {AclNames.Name(binding.PatternType)} ({(int)binding.PatternType}): an ACL is LITERAL or PREFIXED";
        if (binding.Operation is AclOperation.Unknown or AclOperation.Any || (int)binding.Operation > (int)AclOperation.DescribeTokens)
            return $"Invalid operation {AclNames.Name(binding.Operation)} ({(int)binding.Operation})";
        if (binding.Operation != AclOperation.All && !AclNames.SupportedOperations(binding.ResourceType).Contains(binding.Operation))
            return $"Operation {AclNames.Name(binding.Operation)} does not apply to {AclNames.Name(binding.ResourceType)} resources: use one of {string.Join(", ", AclNames.SupportedOperations(binding.ResourceType).ToArray().Select(AclNames.Name))} or ALL";
        if (binding.Permission is not (AclPermission.Allow or AclPermission.Deny))
            return $"Invalid permission type {AclNames.Name(binding.Permission)} ({(int)binding.Permission}): an ACL is ALLOW or DENY";
        if (string.IsNullOrEmpty(binding.ResourceName))
            return "Resource name should not be empty";
        if (binding.ResourceType == AclResourceType.Cluster && (binding.ResourceName != AclNames.ClusterName || binding.PatternType != AclPatternType.Literal))
            return $"The only valid name for the CLUSTER resource is the LITERAL {AclNames.ClusterName}";
        int colon = binding.Principal?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        if (colon <= 0 || colon == binding.Principal!.Length - 1)
            return $"Could not parse principal from '{binding.Principal}': expected TYPE:NAME, such as User:alice or User:*";
        if (binding.Host is null || !AclNames.TryNormalizeHost(binding.Host, out string host))
            return $"Invalid host '{binding.Host}': an ACL's host is * or an IP address";
        valid = binding with { Host = host };
        return null;
    }

    /// <summary>
    /// The metadata-store key: /kafscale/acls/&lt;TYPE&gt;/&lt;PATTERN&gt;/&lt;name&gt;/&lt;principal&gt;/&lt;host&gt;/&lt;OPERATION&gt;/&lt;PERMISSION&gt;,
    /// the free-text parts percent-encoded so '/' cannot collide with the layout. The key is the
    /// whole ACL (docs/metadata.md, "ACLs").
    /// </summary>
    public string StoreKey() =>
        $"{KeyPrefix}{AclNames.Name(ResourceType)}/{AclNames.Name(PatternType)}/{Uri.EscapeDataString(ResourceName)}/{Uri.EscapeDataString(Principal)}/{Uri.EscapeDataString(Host)}/{AclNames.Name(Operation)}/{AclNames.Name(Permission)}";

    public static bool TryParseStoreKey(string key, out AclBinding binding)
    {
        binding = null!;
        if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal)) return false;
        string[] parts = key[KeyPrefix.Length..].Split('/');
        if (parts.Length != 7) return false;
        if (!AclNames.TryParse(parts[0], out AclResourceType type) || !AclNames.TryParse(parts[1], out AclPatternType pattern)
            || !AclNames.TryParse(parts[5], out AclOperation operation) || !AclNames.TryParse(parts[6], out AclPermission permission))
            return false;
        string name, principal, host;
        try
        {
            name = Uri.UnescapeDataString(parts[2]);
            principal = Uri.UnescapeDataString(parts[3]);
            host = Uri.UnescapeDataString(parts[4]);
        }
        catch (UriFormatException) { return false; }
        var parsed = new AclBinding(type, name, pattern, principal, host, operation, permission);
        // Only what CreateAcls could have written is an ACL.
        if (Validate(parsed, out var valid) is not null || valid != parsed) return false;
        binding = parsed;
        return true;
    }

    public override string ToString() =>
        $"(pattern={AclNames.Name(PatternType)} {AclNames.Name(ResourceType)}:{ResourceName}, principal={Principal}, host={Host}, operation={AclNames.Name(Operation)}, permission={AclNames.Name(Permission)})";
}

/// <summary>
/// A DescribeAcls or DeleteAcls filter with Kafka's semantics: a null name, principal or host and
/// the ANY codes match everything; pattern type MATCH with a name matches the ACLs that would
/// apply to a resource of that name (LITERAL equal, LITERAL "*", PREFIXED by a prefix of it).
/// </summary>
internal sealed record AclBindingFilter(
    AclResourceType ResourceType,
    string? ResourceName,
    AclPatternType PatternType,
    string? Principal,
    string? Host,
    AclOperation Operation,
    AclPermission Permission)
{
    /// <summary>A filter with UNKNOWN in it matches nothing Kafka could name; it is refused with this message.</summary>
    public string? Validate()
    {
        if (ResourceType == AclResourceType.Unknown || !Enum.IsDefined(ResourceType)) return $"Invalid resource type filter {(int)ResourceType}";
        if (PatternType == AclPatternType.Unknown || !Enum.IsDefined(PatternType)) return $"Invalid pattern type filter {(int)PatternType}";
        if (Operation == AclOperation.Unknown || !Enum.IsDefined(Operation)) return $"Invalid operation filter {(int)Operation}";
        if (Permission == AclPermission.Unknown || !Enum.IsDefined(Permission)) return $"Invalid permission type filter {(int)Permission}";
        return null;
    }

    public bool Matches(AclBinding acl)
    {
        if (ResourceType != AclResourceType.Any && ResourceType != acl.ResourceType) return false;
        if (PatternType is not (AclPatternType.Any or AclPatternType.Match) && PatternType != acl.PatternType) return false;
        if (ResourceName is not null)
        {
            if (PatternType == AclPatternType.Match)
            {
                bool applies = acl.PatternType == AclPatternType.Literal
                    ? acl.ResourceName == ResourceName || acl.ResourceName == AclNames.Wildcard
                    : ResourceName.StartsWith(acl.ResourceName, StringComparison.Ordinal);
                if (!applies) return false;
            }
            else if (ResourceName != acl.ResourceName) return false;
        }
        if (Principal is not null && Principal != acl.Principal) return false;
        if (Host is not null && Host != acl.Host) return false;
        if (Operation != AclOperation.Any && Operation != acl.Operation) return false;
        if (Permission != AclPermission.Any && Permission != acl.Permission) return false;
        return true;
    }
}
