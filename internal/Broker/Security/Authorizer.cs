using System.Diagnostics;
using System.Text;
using KafScale.Broker.Clustering;
using KafScale.Broker.Network;
using KafScale.Metadata;
using KafScale.Observability;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Security;

/// <summary>
/// The broker's authorizer (docs/security.md, "ACLs"). Off (<c>--authorizer none</c>) it allows
/// everything. On (<c>--authorizer acl</c>) super users may do anything and everyone else only
/// what an ACL allows: the ACLs are mirrored from the metadata store (keys under /kafscale/acls/,
/// docs/metadata.md) into an <see cref="AclIndex"/> that the watch replaces on each change, so a
/// check is a few dictionary lookups and allocates nothing.
/// </summary>
internal sealed class Authorizer : IAsyncDisposable
{
    /// <summary>The authorizer of a broker started with --authorizer none.</summary>
    public static readonly Authorizer None = new(false, [], NullLogger(), null);

    /// <summary>At most one log line about denials per this many ms; the metric counts every one.</summary>
    private const long DenialLogIntervalMs = 60_000;

    private readonly HashSet<string> _superUsers;
    private readonly ILogger _log;
    private readonly Counter[]? _denied;
    private readonly CancellationTokenSource _stop = new();
    private Task _run = Task.CompletedTask;
    private PrefixMirror? _mirror;
    private Dictionary<string, AclBinding> _bindings = new(StringComparer.Ordinal);
    private AclIndex _index = AclIndex.Empty;
    private long _revision;
    private long _lastDenialLogMs = long.MinValue;
    private long _deniedSinceLog;

    public Authorizer(bool enabled, IEnumerable<string> superUsers, ILogger log, MetricsRegistry? metrics)
    {
        Enabled = enabled;
        _superUsers = new HashSet<string>(superUsers, StringComparer.Ordinal);
        _log = log;
        if (metrics is not null)
        {
            var family = metrics.CounterFamily("kafscale_authorization_denied_total",
                "Authorization checks the authorizer denied, by resource type and operation (docs/security.md, \"ACLs\").", "resource_type", "operation");
            // Every child made up front: a denial then only increments (no label lookup, no allocation).
            _denied = new Counter[8 * 16];
            foreach (var type in new[] { AclResourceType.Topic, AclResourceType.Group, AclResourceType.Cluster, AclResourceType.TransactionalId })
                foreach (var op in Enum.GetValues<AclOperation>())
                    if (op > AclOperation.All && op <= AclOperation.IdempotentWrite)
                        _denied[((int)type * 16) + (int)op] = family.WithLabels(AclNames.Name(type), AclNames.Name(op));
        }
    }

    private static ILogger NullLogger() => Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>True with --authorizer acl.</summary>
    public bool Enabled { get; }

    /// <summary>The ACLs this broker applies now (a snapshot).</summary>
    public IReadOnlyCollection<AclBinding> Bindings => Volatile.Read(ref _bindings).Values;

    /// <summary>The metadata-store revision of the newest change applied.</summary>
    public long Revision => Volatile.Read(ref _revision);

    /// <summary>Starts mirroring the ACL keys of the store; completes after the first full read. Does nothing when off.</summary>
    public Task StartAsync(IMetadataStore store)
    {
        if (!Enabled) return Task.CompletedTask;
        _mirror = new PrefixMirror(store, AclBinding.KeyPrefix, _log, Reset, Apply);
        _run = _mirror.RunAsync(_stop.Token);
        return _mirror.Synced;
    }

    private void Reset(IReadOnlyList<KeyValue> kvs, long revision)
    {
        var bindings = new Dictionary<string, AclBinding>(StringComparer.Ordinal);
        foreach (var kv in kvs)
            if (Parse(kv.Key) is { } b) bindings[kv.Key] = b;
        Publish(bindings, revision);
    }

    private void Apply(WatchEvent e)
    {
        var bindings = new Dictionary<string, AclBinding>(Volatile.Read(ref _bindings), StringComparer.Ordinal);
        if (e.Type == WatchEventType.Delete) bindings.Remove(e.Kv.Key);
        else if (Parse(e.Kv.Key) is { } b) bindings[e.Kv.Key] = b;
        Publish(bindings, e.Kv.ModRevision);
    }

    /// <summary>Installs a new set of ACLs; also the way tests apply a set at once.</summary>
    internal void Publish(Dictionary<string, AclBinding> bindings, long revision)
    {
        var index = new AclIndex(bindings.Values);
        Volatile.Write(ref _bindings, bindings);
        Volatile.Write(ref _index, index);
        if (revision > Volatile.Read(ref _revision)) Volatile.Write(ref _revision, revision);
    }

    private AclBinding? Parse(string key)
    {
        if (AclBinding.TryParseStoreKey(key, out var binding)) return binding;
        _log.LogWarning("ignoring metadata key {Key}: not an ACL key (docs/metadata.md, \"ACLs\"); remove it with etcdctl, or recreate the ACL with kafscale admin acls add", key);
        return null;
    }

    /// <summary>
    /// Waits until this broker applies the store's change at <paramref name="revision"/> (or
    /// later), so a client sees its own CreateAcls/DeleteAcls on its next request here.
    /// </summary>
    public async Task WaitForRevisionAsync(long revision, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (Revision < revision && waited.Elapsed < timeout) await Task.Delay(5).ConfigureAwait(false);
    }

    /// <summary>
    /// May the connection's principal perform <paramref name="operation"/> on the resource?
    /// Counts (and now and then logs) a denial.
    /// </summary>
    public bool Authorize(ClientContext client, AclOperation operation, AclResourceType type, ReadOnlySpan<char> name)
    {
        if (Check(client, operation, type, name)) return true;
        Denied(client, operation, type, name);
        return false;
    }

    /// <summary>As <see cref="Authorize(ClientContext, AclOperation, AclResourceType, ReadOnlySpan{char})"/>, for a UTF-8 name (topic names on the produce path).</summary>
    public bool AuthorizeUtf8(ClientContext client, AclOperation operation, AclResourceType type, ReadOnlySpan<byte> name)
    {
        if (!Enabled) return true;
        // Topic names are at most 249 characters; a longer one is refused as invalid anyway.
        Span<char> chars = stackalloc char[256];
        if (name.Length > chars.Length) return Authorize(client, operation, type, Encoding.UTF8.GetString(name));
        int length = Encoding.UTF8.GetChars(name, chars);
        return Authorize(client, operation, type, chars[..length]);
    }

    /// <summary>The decision without counting a denial: for authorized-operations fields and filtering lists.</summary>
    public bool Check(ClientContext client, AclOperation operation, AclResourceType type, ReadOnlySpan<char> name)
    {
        if (!Enabled) return true;
        string principal = client.Principal;
        if (_superUsers.Contains(principal)) return true;
        return Volatile.Read(ref _index).Allows(principal, client.Host, operation, type, name);
    }

    /// <summary>Whether the principal may WRITE some topic (Kafka's rule for an idempotent producer without IDEMPOTENT_WRITE).</summary>
    public bool MayWriteSomeTopic(ClientContext client)
    {
        if (!Enabled || _superUsers.Contains(client.Principal)) return true;
        return Volatile.Read(ref _index).AllowsAny(client.Principal, client.Host, AclOperation.Write, AclResourceType.Topic);
    }

    public bool AuthorizeCluster(ClientContext client, AclOperation operation) => Authorize(client, operation, AclResourceType.Cluster, AclNames.ClusterName);

    /// <summary>
    /// KIP-430's authorized-operations bit field: bit n set when operation n is allowed on the
    /// resource, over the operations Kafka supports for its type (all of them when the authorizer is off).
    /// </summary>
    public int AuthorizedOperations(ClientContext client, AclResourceType type, string name)
    {
        int bits = 0;
        foreach (var op in AclNames.SupportedOperations(type))
            if (Check(client, op, type, name)) bits |= 1 << (int)op;
        return bits;
    }

    private void Denied(ClientContext client, AclOperation operation, AclResourceType type, ReadOnlySpan<char> name)
    {
        int slot = ((int)type * 16) + (int)operation;
        if (_denied is not null && (uint)slot < (uint)_denied.Length) _denied[slot]?.Increment();
        long denied = Interlocked.Increment(ref _deniedSinceLog);
        // One line a minute at most: a client retrying a denied request would otherwise flood the log.
        long now = Environment.TickCount64;
        long last = Volatile.Read(ref _lastDenialLogMs);
        if (last != long.MinValue && now - last < DenialLogIntervalMs) return;
        if (Interlocked.CompareExchange(ref _lastDenialLogMs, now, last) != last) return;
        Interlocked.Add(ref _deniedSinceLog, -denied);
        _log.LogInformation("authorization denied {Count} request(s) in the last minute (kafscale_authorization_denied_total counts them all); latest: principal {Principal} from {Host} may not {Operation} {Type} '{Name}' (add an ACL with kafscale admin acls add)",
            denied, client.Principal, client.Host, AclNames.Name(operation), AclNames.Name(type), name.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try { await _run.ConfigureAwait(false); } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
