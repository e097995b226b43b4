using System.Diagnostics;
using System.Text.Json;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Clustering;

/// <summary>
/// Cluster membership (docs/architecture.md, "Leadership and fencing"): this broker's lease and its registration
/// /kafscale/brokers/&lt;id&gt; bound to it, kept alive; and the live brokers, from a watch of
/// every registration. The lease deadline (<see cref="Guard"/>) is this broker's own clock:
/// the send time of the last successful keep-alive plus the TTL minus a margin. When it
/// passes, <see cref="LeaseLost"/> tells the leadership layer to drop everything at once;
/// when a keep-alive succeeds again (or a new lease is registered), <see cref="Changed"/>
/// tells it to take leadership up again.
/// </summary>
internal sealed class BrokerRegistry : IClusterMembership, IAsyncDisposable
{
    private readonly IMetadataStore _meta;
    private readonly ILogger _log;
    private readonly BrokerRecord _record;
    private readonly TimeSpan _ttl;
    private readonly TimeSpan _margin;
    private readonly TimeSpan _interval;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<int, BrokerInfo> _brokers = [];
    // When this broker first saw each registration (by lease): the start of its rebalance delay.
    private readonly Dictionary<int, (long Lease, long SeenAt)> _joined = [];
    private readonly long _rebalanceDelayTicks;
    private bool _synced;
    private volatile BrokerInfo[] _live = [];
    private volatile int[] _liveIds = [];
    private long _leaseId;
    private bool _lapsed;
    private volatile bool _registered;
    private bool _allocated;
    private Task _loops = Task.CompletedTask;
    private int _disposed;
    private IncarnationLock? _incarnation;

    private BrokerRegistry(IMetadataStore meta, BrokerRecord record, TimeSpan ttl, TimeSpan rebalanceDelay, ILogger log)
    {
        _meta = meta;
        _rebalanceDelayTicks = (long)(rebalanceDelay.TotalSeconds * Stopwatch.Frequency);
        _record = record;
        _ttl = ttl;
        // A margin of a fifth of the TTL (0.5-2 s) covers clock-rate differences and an upload
        // response arriving just before the deadline is checked.
        _margin = TimeSpan.FromTicks(Math.Clamp(ttl.Ticks / 5, TimeSpan.FromMilliseconds(500).Ticks, TimeSpan.FromSeconds(2).Ticks));
        _interval = TimeSpan.FromTicks(Math.Max(ttl.Ticks / 4, TimeSpan.FromMilliseconds(100).Ticks));
        _log = log;
    }

    public LeaseGuard Guard { get; } = LeaseGuard.Create();
    public int BrokerId { get; private set; } = -1;
    public long LeaseId => Interlocked.Read(ref _leaseId);
    public TimeSpan Ttl => _ttl;

    /// <summary>Live brokers, ascending by id (a snapshot; replaced on every change).</summary>
    public IReadOnlyList<BrokerInfo> Live => _live;

    /// <summary>Ids of the live brokers, ascending.</summary>
    public int[] LiveIds => _liveIds;

    /// <summary>
    /// A registration this broker found when it started counts as settled; one that appeared
    /// later (a broker joined, or came back under a new lease), and this broker's own, settles
    /// the rebalance delay after it was first seen.
    /// </summary>
    public long SettlesAt(int brokerId)
    {
        lock (_lock)
            return _joined.TryGetValue(brokerId, out var j) && j.SeenAt != long.MinValue ? j.SeenAt + _rebalanceDelayTicks : long.MinValue;
    }

    public BrokerInfo? Find(int id)
    {
        foreach (var b in _live) if (b.Id == id) return b;
        return null;
    }

    /// <summary>The live set changed, or the lease is confirmed again after a lapse.</summary>
    public event Action? Changed;

    /// <summary>The lease may have lapsed: stop acting as leader of anything, now.</summary>
    public event Action? LeaseLost;

    /// <summary>
    /// Grants the lease, registers (with the given id, or the lowest free one when requestedId
    /// is -1), and starts keeping alive and watching the other brokers.
    /// </summary>
    public static Task<BrokerRegistry> StartAsync(IMetadataStore meta, int requestedId, string host, int port, TimeSpan ttl, ILogger log, CancellationToken ct) =>
        StartAsync(meta, requestedId, [new BrokerEndpoint(Security.Listeners.Plaintext, host, port)], ttl, TimeSpan.Zero, log, ct);

    /// <summary>Registers with one advertised endpoint per listener (the first also as host and port).</summary>
    /// <param name="incarnation">
    /// This process's hold on its data directory, owned by the registry from here on: with it, a
    /// restart after a crash revokes the lease its dead predecessor left instead of waiting for it
    /// to expire.
    /// </param>
    public static async Task<BrokerRegistry> StartAsync(IMetadataStore meta, int requestedId, IReadOnlyList<BrokerEndpoint> endpoints, TimeSpan ttl, TimeSpan rebalanceDelay, ILogger log, CancellationToken ct,
        IncarnationLock? incarnation = null)
    {
        var record = new BrokerRecord
        {
            Host = endpoints[0].Host,
            Port = endpoints[0].Port,
            StartedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            Incarnation = incarnation?.Token,
            Listeners = [.. endpoints.Select(e => new ListenerRecord { Name = e.Listener, Host = e.Host, Port = e.Port })],
        };
        var registry = new BrokerRegistry(meta, record, ttl, rebalanceDelay, log) { _incarnation = incarnation };
        try
        {
            await registry.GrantAsync(ct).ConfigureAwait(false);
            registry._allocated = requestedId < 0;
            registry.BrokerId = await registry.RegisterAsync(requestedId, again: false, ct).ConfigureAwait(false);
            registry._registered = true;
            var mirror = new PrefixMirror(meta, ClusterKeys.BrokersPrefix, log, registry.ResetBrokers, registry.ApplyBroker);
            var token = registry._stop.Token;
            registry._loops = Task.WhenAll(mirror.RunAsync(token), registry.KeepAliveLoopAsync(token), registry.DeadlineLoopAsync(token));
            await mirror.Synced.WaitAsync(ct).ConfigureAwait(false);
            return registry;
        }
        catch
        {
            await registry.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task GrantAsync(CancellationToken ct)
    {
        long sent = Stopwatch.GetTimestamp();
        long lease = await _meta.GrantLeaseAsync(_ttl, ct).ConfigureAwait(false);
        Interlocked.Exchange(ref _leaseId, lease);
        lock (_lock) Guard.Extend(sent, _ttl, _margin);
    }

    private byte[] RecordBytes(int id)
    {
        _record.NodeId = id;
        return JsonSerializer.SerializeToUtf8Bytes(_record, ClusterJsonContext.Default.BrokerRecord);
    }

    private async Task<int> RegisterAsync(int requestedId, bool again, CancellationToken ct)
    {
        if (requestedId < 0)
        {
            for (int id = 0; ; id++)
            {
                string key = ClusterKeys.Broker(id);
                var txn = await _meta.TxnAsync(new TxnRequest([Compare.KeyMissing(key)], [TxnOp.Put(key, RecordBytes(id), LeaseId)], []), ct).ConfigureAwait(false);
                if (txn.Succeeded)
                {
                    _log.LogInformation("registered as broker {BrokerId} (the lowest free id)", id);
                    return id;
                }
            }
        }
        // The previous incarnation of this broker (killed without revoking its lease) holds the
        // key until its lease expires: wait that long, then give up. Our own lease is kept alive
        // meanwhile, so the deadline still lies a TTL ahead when the wait ends; counted from the
        // grant, it would pass just as the partitions opened.
        string mine = ClusterKeys.Broker(requestedId);
        var giveUp = Stopwatch.GetTimestamp() + (long)((_ttl + TimeSpan.FromSeconds(5)).TotalSeconds * Stopwatch.Frequency);
        long lastKeepAlive = Stopwatch.GetTimestamp();
        bool told = false, revoked = false;
        while (true)
        {
            if (Stopwatch.GetElapsedTime(lastKeepAlive) >= _interval)
            {
                lastKeepAlive = Stopwatch.GetTimestamp();
                var left = await _meta.KeepAliveAsync(LeaseId, ct).ConfigureAwait(false);
                // Gone already (a wait longer than our own TTL): a new lease to register under.
                if (left is null) await GrantAsync(ct).ConfigureAwait(false);
                else lock (_lock) Guard.Extend(lastKeepAlive, left.Value < _ttl ? left.Value : _ttl, _margin);
            }
            var txn = await _meta.TxnAsync(new TxnRequest([Compare.KeyMissing(mine)], [TxnOp.Put(mine, RecordBytes(requestedId), LeaseId)], [TxnOp.Get(mine)]), ct).ConfigureAwait(false);
            if (txn.Succeeded) return requestedId;
            var holder = txn.Gets[0].Count > 0 ? txn.Gets[0][0] : null;
            if (holder is not null && holder.Lease == LeaseId) return requestedId;
            if (holder is not null && holder.Lease != 0 && !revoked && IsDeadPredecessor(holder))
            {
                revoked = true;
                // Kafka fences a broker's old incarnation as soon as the new one registers; the
                // proof here is the data directory's lock (IncarnationLock), so nothing the dead
                // process held needs to wait out its lease.
                _log.LogInformation("broker id {BrokerId}: the process registered under it (lease {Lease:x}) ran on this machine with this data directory and has exited; revoking its lease instead of waiting for it to expire", requestedId, holder.Lease);
                try
                {
                    await _meta.RevokeLeaseAsync(holder.Lease, ct).ConfigureAwait(false);
                    continue;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _log.LogWarning("could not revoke lease {Lease:x} of this broker's previous process ({Error}); waiting for it to expire", holder.Lease, ex.Message);
                }
            }
            if (again && _allocated && holder is not null)
            {
                // Re-registering after the lease expired, and a newcomer took the id meanwhile.
                _log.LogWarning("broker id {BrokerId} was taken while this broker's lease had expired; taking another", requestedId);
                return await RegisterAsync(-1, again: false, ct).ConfigureAwait(false);
            }
            if (Stopwatch.GetTimestamp() > giveUp)
                throw new StartupException($"broker id {requestedId} is registered by a live broker (key {mine}): give each broker its own --broker-id / KAFSCALE_BROKER_ID, or leave it unset to allocate one");
            if (!told)
            {
                _log.LogInformation("broker id {BrokerId} is still registered by an earlier incarnation; waiting for its lease to expire", requestedId);
                told = true;
            }
            await Task.Delay(250, ct).ConfigureAwait(false);
        }
    }

    private bool IsDeadPredecessor(KeyValue holder)
    {
        if (_incarnation?.Previous is not { } previous) return false;
        try { return JsonSerializer.Deserialize(holder.Value, ClusterJsonContext.Default.BrokerRecord)?.Incarnation == previous; }
        catch (JsonException) { return false; }
    }

    private void ResetBrokers(IReadOnlyList<KeyValue> all, long revision)
    {
        lock (_lock)
        {
            _brokers.Clear();
            foreach (var kv in all) AddLocked(kv);
            _synced = true;
            PublishLocked();
        }
        Changed?.Invoke();
    }

    private void ApplyBroker(WatchEvent e)
    {
        if (!ClusterKeys.TryParseBroker(e.Kv.Key, out int id)) return;
        lock (_lock)
        {
            if (e.Type == WatchEventType.Put) AddLocked(e.Kv);
            else _brokers.Remove(id);
            PublishLocked();
        }
        Changed?.Invoke();
    }

    private void AddLocked(KeyValue kv)
    {
        if (!ClusterKeys.TryParseBroker(kv.Key, out int id)) return;
        try
        {
            var r = JsonSerializer.Deserialize(kv.Value, ClusterJsonContext.Default.BrokerRecord);
            if (r is null) return;
            var info = new BrokerInfo(id, r.Host, r.Port, r.Rack, kv.Lease);
            if (!_joined.TryGetValue(id, out var joined) || joined.Lease != kv.Lease)
                _joined[id] = (kv.Lease, _synced || id == BrokerId ? Stopwatch.GetTimestamp() : long.MinValue);
            if (r.Listeners is { Count: > 0 } listeners)
                info = info with { Endpoints = [.. listeners.Select(l => new BrokerEndpoint(l.Name, l.Host, l.Port))] };
            _brokers[id] = info;
        }
        catch (JsonException ex)
        {
            _log.LogWarning("ignoring broker registration {Key}: {Error}", kv.Key, ex.Message);
        }
    }

    private void PublishLocked()
    {
        foreach (int gone in _joined.Keys.Where(id => !_brokers.ContainsKey(id)).ToList()) _joined.Remove(gone);
        var list = _brokers.Values.OrderBy(b => b.Id).ToArray();
        _live = list;
        _liveIds = [.. list.Select(b => b.Id)];
    }

    private async Task KeepAliveLoopAsync(CancellationToken ct)
    {
        bool failing = false;
        while (!ct.IsCancellationRequested)
        {
            bool lapsed;
            lock (_lock) lapsed = _lapsed;
            try { await Task.Delay(lapsed || failing ? TimeSpan.FromMilliseconds(250) : _interval, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            long sent = Stopwatch.GetTimestamp();
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(_ttl);
                var left = await _meta.KeepAliveAsync(LeaseId, timeout.Token).ConfigureAwait(false);
                if (failing) _log.LogInformation("lease keep-alive works again");
                failing = false;
                if (left is null)
                {
                    await RenewAfterLossAsync(ct).ConfigureAwait(false);
                    continue;
                }
                if (!_registered)
                {
                    BrokerId = await RegisterAsync(BrokerId, again: true, ct).ConfigureAwait(false);
                    _registered = true;
                }
                Confirmed(sent, left.Value < _ttl ? left.Value : _ttl);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception ex)
            {
                if (!failing) _log.LogWarning("lease keep-alive failed ({Error}); {Remaining:0.0} s left before this broker stops writing", ex.Message, Guard.Remaining.TotalSeconds);
                failing = true;
            }
        }
    }

    private void Confirmed(long sent, TimeSpan ttl)
    {
        bool recovered = false;
        lock (_lock)
        {
            Guard.Extend(sent, ttl, _margin);
            if (_lapsed && Guard.MayWrite)
            {
                _lapsed = false;
                recovered = true;
            }
        }
        if (recovered)
        {
            _log.LogWarning("lease {Lease:x} confirmed again: taking leadership up again", LeaseId);
            Changed?.Invoke();
        }
    }

    /// <summary>The lease is gone from the store (it expired): a new one, and the same id registered under it.</summary>
    private async Task RenewAfterLossAsync(CancellationToken ct)
    {
        Lapse("the metadata store says the lease has expired");
        _log.LogWarning("registering broker {BrokerId} again under a new lease", BrokerId);
        await GrantAsync(ct).ConfigureAwait(false);
        _registered = false;
        BrokerId = await RegisterAsync(BrokerId, again: true, ct).ConfigureAwait(false);
        _registered = true;
        lock (_lock) _lapsed = !Guard.MayWrite;
        Changed?.Invoke();
    }

    private async Task DeadlineLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
                if (Guard.Expired) Lapse("no keep-alive succeeded before the lease deadline");
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The lease may have lapsed (deadline passed, or the store says it expired): stop writing, drop everything.</summary>
    internal void Lapse(string why)
    {
        lock (_lock)
        {
            if (_lapsed) return;
            _lapsed = true;
            Guard.Lapse();
        }
        _log.LogWarning("lease {Lease:x} may have lapsed ({Why}): this broker stops writing and gives up every partition and coordinator shard", LeaseId, why);
        LeaseLost?.Invoke();
    }

    /// <summary>Graceful shutdown, first step: others stop counting on this broker (its leader keys stay until <see cref="DisposeAsync"/>).</summary>
    public async Task DeregisterAsync(CancellationToken ct)
    {
        string key = ClusterKeys.Broker(BrokerId);
        try
        {
            await _meta.TxnAsync(new TxnRequest([new Compare(key, CompareTarget.Lease, CompareResult.Equal, LeaseId)], [TxnOp.Delete(key)], []), ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _log.LogWarning("could not remove the registration of broker {BrokerId}: {Error}", BrokerId, ex.Message);
        }
    }

    /// <summary>Stops keeping the lease alive and revokes it, which deletes every key bound to it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        try { await _loops.ConfigureAwait(false); } catch { }
        long lease = LeaseId;
        if (lease != 0)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _meta.RevokeLeaseAsync(lease, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _log.LogWarning("could not revoke lease {Lease:x} ({Error}); its keys go when it expires", lease, ex.Message);
            }
        }
        Guard.Lapse();
        _stop.Dispose();
        _incarnation?.Dispose();
    }
}
