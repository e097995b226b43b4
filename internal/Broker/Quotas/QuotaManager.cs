using System.Collections.Concurrent;
using System.Text;
using KafScale.Broker.Clustering;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Quotas;

/// <summary>
/// Client quotas (docs/operations.md, "Client quotas"): the configured values, mirrored from
/// the metadata store (keys under /kafscale/quotas/, docs/metadata.md) so every broker applies a
/// change as soon as its watch delivers it; and the per-client rate sensors each broker measures
/// on its own, as Kafka's brokers do. A connection resolves its quotas once
/// (<see cref="For"/>) and again only after a change, so produce and fetch pay one comparison.
/// </summary>
internal sealed class QuotaManager : IAsyncDisposable
{
    /// <summary>Kafka's quota.window.num: samples in the measured window.</summary>
    public const int Samples = 11;

    /// <summary>Kafka's quota.window.size.seconds, in ms: the span of one sample.</summary>
    public const int SampleWindowMs = 1000;

    /// <summary>
    /// Kafka bounds the throttle of a request-percentage violation to one sample window, so a
    /// burst of slow requests cannot mute a client for long; byte-rate throttles are unbounded.
    /// </summary>
    public const long MaxRequestThrottleMs = SampleWindowMs;

    private readonly ConcurrentDictionary<(QuotaKey Key, string User, string ClientId), RateSensor> _sensors = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;
    private Dictionary<QuotaEntity, QuotaValues> _configs = [];
    private int _version;
    private long _lastExpiryMs;
    private Task _run = Task.CompletedTask;
    private PrefixMirror? _mirror;

    public QuotaManager(ILogger log)
    {
        _log = log;
    }

    /// <summary>Changes with every applied change of the configured quotas; connections compare it with what they resolved.</summary>
    public int Version => Volatile.Read(ref _version);

    /// <summary>Every configured entity and its values (a snapshot).</summary>
    public IReadOnlyDictionary<QuotaEntity, QuotaValues> Configs => Volatile.Read(ref _configs);

    /// <summary>Starts mirroring the quota keys of the store; completes after the first full read.</summary>
    public Task StartAsync(IMetadataStore store)
    {
        _mirror = new PrefixMirror(store, QuotaEntity.KeyPrefix, _log, Reset, Apply);
        _run = _mirror.RunAsync(_stop.Token);
        return _mirror.Synced;
    }

    private void Reset(IReadOnlyList<KeyValue> kvs, long revision)
    {
        var configs = new Dictionary<QuotaEntity, QuotaValues>();
        foreach (var kv in kvs)
            if (Parse(kv) is { } parsed) configs[parsed.Entity] = parsed.Values;
        Publish(configs);
    }

    private void Apply(WatchEvent e)
    {
        var configs = new Dictionary<QuotaEntity, QuotaValues>(Volatile.Read(ref _configs));
        if (e.Type == WatchEventType.Delete)
        {
            if (!QuotaEntity.TryParseStoreKey(e.Kv.Key, out var entity)) return;
            configs.Remove(entity);
        }
        else if (Parse(e.Kv) is { } parsed)
        {
            configs[parsed.Entity] = parsed.Values;
        }
        else return;
        Publish(configs);
    }

    /// <summary>Installs a new set of values; also the way tests and a single process apply a change at once.</summary>
    internal void Publish(Dictionary<QuotaEntity, QuotaValues> configs)
    {
        Volatile.Write(ref _configs, configs);
        Interlocked.Increment(ref _version);
    }

    private (QuotaEntity Entity, QuotaValues Values)? Parse(KeyValue kv)
    {
        if (!QuotaEntity.TryParseStoreKey(kv.Key, out var entity))
        {
            _log.LogWarning("ignoring metadata key {Key}: not a quota entity key (docs/metadata.md, \"Client quotas\")", kv.Key);
            return null;
        }
        if (!QuotaValues.TryParse(kv.Value, out var values))
        {
            _log.LogWarning("ignoring quota key {Key}: its value is not a JSON object of quota values ({Value}); fix it with kafscale admin quotas alter", kv.Key, Encoding.UTF8.GetString(kv.Value));
            return null;
        }
        return (entity, values);
    }

    /// <summary>
    /// The quotas of a connection: resolved on first use and after each change of the configured
    /// values, otherwise the cached object (no allocation on the produce and fetch paths).
    /// </summary>
    public ClientQuotas For(Network.ClientContext client)
    {
        var cached = client.Quotas;
        int version = Version;
        if (cached is not null && cached.Version == version) return cached;
        var resolved = Resolve(QuotaNames.UserOf(client.Principal), client.ClientId ?? "", version);
        client.Quotas = resolved;
        return resolved;
    }

    /// <summary>
    /// Kafka's precedence: for each key separately, the first entity that sets it, in the order
    /// (user, client-id), (user, default client-id), user, (default user, client-id),
    /// (default user, default client-id), default user, client-id, default client-id. The user is
    /// the connection's principal name (ANONYMOUS until it authenticates).
    /// </summary>
    internal ClientQuotas Resolve(string user, string clientId, int version)
    {
        var configs = Configs;
        ExpireIdleSensors(Environment.TickCount64);
        var result = new ClientQuotas(version);
        if (configs.Count == 0) return result;
        Span<(QuotaEntity Entity, string TagUser, string TagClient)> order =
        [
            (new QuotaEntity(true, user, true, clientId), user, clientId),
            (new QuotaEntity(true, user, true, null), user, clientId),
            (new QuotaEntity(true, user, false, null), user, ""),
            (new QuotaEntity(true, null, true, clientId), user, clientId),
            (new QuotaEntity(true, null, true, null), user, clientId),
            (new QuotaEntity(true, null, false, null), user, ""),
            (new QuotaEntity(false, null, true, clientId), "", clientId),
            (new QuotaEntity(false, null, true, null), "", clientId),
        ];
        for (int k = 0; k < QuotaNames.KeyCount; k++)
        {
            var key = (QuotaKey)k;
            foreach (var (entity, tagUser, tagClient) in order)
            {
                if (!configs.TryGetValue(entity, out var values) || !values.TryGet(key, out double bound)) continue;
                // Clients that share the matched entity's tags share one sensor, as Kafka's metrics do.
                var sensor = _sensors.GetOrAdd((key, tagUser, tagClient), _ => new RateSensor());
                result.Set(key, sensor, bound);
                break;
            }
        }
        return result;
    }

    /// <summary>
    /// Drops sensors unused for an hour (Kafka expires idle quota sensors after an hour too), at
    /// most once a minute, so client ids that come and go under a default quota do not pile up.
    /// </summary>
    private void ExpireIdleSensors(long nowMs)
    {
        long last = Volatile.Read(ref _lastExpiryMs);
        if (nowMs - last < 60_000 || Interlocked.CompareExchange(ref _lastExpiryMs, nowMs, last) != last) return;
        foreach (var entry in _sensors)
            if (nowMs - entry.Value.LastUsedMs > 3_600_000) _sensors.TryRemove(entry);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try { await _run.ConfigureAwait(false); } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}

/// <summary>What one connection is held to: per quota key the shared sensor and the bound, or none.</summary>
internal sealed class ClientQuotas(int version)
{
    private readonly RateSensor?[] _sensors = new RateSensor?[QuotaNames.KeyCount];
    private readonly double[] _bounds = new double[QuotaNames.KeyCount];

    public int Version { get; } = version;

    public bool Any { get; private set; }

    internal void Set(QuotaKey key, RateSensor sensor, double bound)
    {
        _sensors[(int)key] = sensor;
        _bounds[(int)key] = bound;
        Any = true;
    }

    public RateSensor? Sensor(QuotaKey key) => _sensors[(int)key];

    public double Bound(QuotaKey key) => _bounds[(int)key];

    /// <summary>
    /// Records a request's (produce) or response's (fetch) bytes against the byte-rate key and
    /// returns the throttle its answer carries: the longer of that key's and request_percentage's
    /// (which the dispatcher records), with the key that set it.
    /// </summary>
    public long RecordBytes(QuotaKey key, long bytes, long nowMs, out QuotaKey cause)
    {
        long byteThrottle = Record(key, bytes, nowMs);
        long requestThrottle = Record(QuotaKey.RequestPercentage, 0, nowMs);
        cause = byteThrottle >= requestThrottle ? key : QuotaKey.RequestPercentage;
        return Math.Max(byteThrottle, requestThrottle);
    }

    /// <summary>Records and returns the throttle time in ms; 0 without a quota for the key.</summary>
    public long Record(QuotaKey key, double value, long nowMs)
    {
        var sensor = _sensors[(int)key];
        if (sensor is null) return 0;
        long throttle = sensor.Record(value, _bounds[(int)key], nowMs);
        return key == QuotaKey.RequestPercentage ? Math.Min(throttle, QuotaManager.MaxRequestThrottleMs) : throttle;
    }
}
