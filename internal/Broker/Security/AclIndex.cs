namespace KafScale.Broker.Security;

/// <summary>
/// An immutable lookup structure over every ACL, rebuilt on each change (changes are rare,
/// lookups are on every request). Per resource type: LITERAL names in a dictionary (the "*"
/// wildcard kept apart), PREFIXED names in a dictionary probed with the prefixes of the asked name
/// at the lengths that exist. Lookups take spans through the dictionaries' alternate lookup, so
/// a check allocates nothing.
/// </summary>
internal sealed class AclIndex
{
    /// <summary>An entry of one resource pattern, with the principal wildcard worked out once.</summary>
    internal readonly record struct Entry(string Principal, bool AnyUser, string Host, bool AnyHost, AclOperation Operation, AclPermission Permission);

    private sealed class TypeAcls
    {
        public readonly Dictionary<string, Entry[]> Literal = new(StringComparer.Ordinal);
        public readonly Dictionary<string, Entry[]> Prefixed = new(StringComparer.Ordinal);
        public Entry[] Wildcard = [];
        public int[] PrefixLengths = [];
    }

    public static readonly AclIndex Empty = new([]);

    private readonly TypeAcls?[] _byType = new TypeAcls?[8];

    public AclIndex(IEnumerable<AclBinding> bindings)
    {
        var lists = new Dictionary<(AclResourceType, AclPatternType, string), List<Entry>>();
        foreach (var b in bindings)
        {
            var key = (b.ResourceType, b.PatternType, b.ResourceName);
            if (!lists.TryGetValue(key, out var list)) lists[key] = list = [];
            list.Add(new Entry(b.Principal, b.Principal == AclNames.AnyUser, b.Host, b.Host == AclNames.AnyHost, b.Operation, b.Permission));
        }
        foreach (var ((type, pattern, name), list) in lists)
        {
            if ((int)type < 0 || (int)type >= _byType.Length) continue;
            var acls = _byType[(int)type] ??= new TypeAcls();
            var entries = list.ToArray();
            if (pattern == AclPatternType.Prefixed) acls.Prefixed[name] = entries;
            else if (name == AclNames.Wildcard) acls.Wildcard = entries;
            else acls.Literal[name] = entries;
        }
        foreach (var acls in _byType)
            if (acls is not null) acls.PrefixLengths = [.. acls.Prefixed.Keys.Select(k => k.Length).Distinct().Order()];
    }

    /// <summary>
    /// Kafka's decision for one operation on one resource when the principal is not a super user:
    /// denied if any matching DENY covers the operation, else allowed if any matching ALLOW
    /// implies it, else denied (no ACL, no access).
    /// </summary>
    public bool Allows(string principal, string host, AclOperation operation, AclResourceType type, ReadOnlySpan<char> name)
    {
        var acls = (uint)type < (uint)_byType.Length ? _byType[(int)type] : null;
        if (acls is null) return false;
        bool allowed = false;
        if (acls.Literal.Count > 0 && acls.Literal.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name, out var literal)
            && Scan(literal, principal, host, operation, ref allowed)) return false;
        if (Scan(acls.Wildcard, principal, host, operation, ref allowed)) return false;
        if (acls.PrefixLengths.Length > 0)
        {
            var prefixed = acls.Prefixed.GetAlternateLookup<ReadOnlySpan<char>>();
            foreach (int length in acls.PrefixLengths)
            {
                if (length > name.Length) break;
                if (prefixed.TryGetValue(name[..length], out var entries) && Scan(entries, principal, host, operation, ref allowed)) return false;
            }
        }
        return allowed;
    }

    /// <summary>
    /// Kafka's "authorize by resource type": is there some resource of the type the principal may
    /// perform the operation on? True when a matching ALLOW names a resource no matching DENY
    /// covers (a DENY of the LITERAL "*" covers all). InitProducerId asks it for WRITE on topics.
    /// </summary>
    public bool AllowsAny(string principal, string host, AclOperation operation, AclResourceType type)
    {
        var acls = (uint)type < (uint)_byType.Length ? _byType[(int)type] : null;
        if (acls is null) return false;
        bool wildcardAllowed = false;
        if (Scan(acls.Wildcard, principal, host, operation, ref wildcardAllowed)) return false;
        if (wildcardAllowed) return true;
        var deniedLiterals = new HashSet<string>(StringComparer.Ordinal);
        var deniedPrefixes = new List<string>();
        var allowedLiterals = new List<string>();
        var allowedPrefixes = new List<string>();
        foreach (var (name, entries) in acls.Literal)
        {
            bool allowed = false;
            if (Scan(entries, principal, host, operation, ref allowed)) deniedLiterals.Add(name);
            else if (allowed) allowedLiterals.Add(name);
        }
        foreach (var (name, entries) in acls.Prefixed)
        {
            bool allowed = false;
            if (Scan(entries, principal, host, operation, ref allowed)) deniedPrefixes.Add(name);
            else if (allowed) allowedPrefixes.Add(name);
        }
        foreach (var name in allowedLiterals)
            if (!deniedLiterals.Contains(name) && !deniedPrefixes.Exists(d => name.StartsWith(d, StringComparison.Ordinal))) return true;
        foreach (var name in allowedPrefixes)
            if (!deniedPrefixes.Exists(d => name.StartsWith(d, StringComparison.Ordinal))) return true;
        return false;
    }

    /// <summary>Returns true when a DENY matches; sets <paramref name="allowed"/> when an ALLOW does.</summary>
    private static bool Scan(Entry[] entries, string principal, string host, AclOperation operation, ref bool allowed)
    {
        foreach (ref readonly var e in entries.AsSpan())
        {
            if (!e.AnyUser ? !string.Equals(e.Principal, principal, StringComparison.Ordinal) : !principal.StartsWith("User:", StringComparison.Ordinal)) continue;
            if (!e.AnyHost && !string.Equals(e.Host, host, StringComparison.Ordinal)) continue;
            if (e.Permission == AclPermission.Deny)
            {
                if (AclNames.DenyCovers(e.Operation, operation)) return true;
            }
            else if (!allowed && AclNames.AllowImplies(e.Operation, operation))
            {
                allowed = true;
            }
        }
        return false;
    }
}
