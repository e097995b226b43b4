using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using KafScale.Broker.Log;
using KafScale.Groups;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Clustering;

/// <summary>A partition of a topic, as a dictionary key.</summary>
internal readonly record struct PartitionId(string Topic, int Partition);

/// <summary>
/// Who leads what (DESIGN.md section 6). Every broker watches the leader keys
/// (/kafscale/leaders/&lt;topic&gt;/&lt;p&gt;, /kafscale/coordinators/&lt;shard&gt;) and runs the same
/// reconciliation: the desired leader of a partition or coordinator shard is the rendezvous
/// winner among the live brokers. The desired leader claims a free key with a transaction
/// (create if absent, bound to its lease, leader epoch bumped and persisted) and only then
/// opens the partition from the store; a leader that is no longer desired hands over (flush,
/// then delete the key); keys of a dead broker vanish with its lease and the next desired
/// leader claims them. When the lease may have lapsed everything is dropped at once.
/// </summary>
internal sealed class PartitionLeadership : IAsyncDisposable
{
    private enum SlotState { Claiming, Opening, Leading, Closing, Failed }

    private sealed class Slot(SlotState state, int generation)
    {
        public SlotState State = state;
        public readonly int Generation = generation;
        public PartitionLog? Log;
        public long RetryAt;
        public int Failures;
        public bool Busy => State is SlotState.Claiming or SlotState.Opening or SlotState.Closing;
    }

    private static readonly LeaderInfo Vacant = new(-1, -1, 0);

    /// <summary>A coordinator key as last seen, with the revision of that change.</summary>
    private sealed record Held(LeaderInfo Info, long Revision);

    private readonly IMetadataStore _meta;
    private readonly BrokerRegistry _registry;
    private readonly LogManager _logs;
    private readonly GroupCoordinatorService _groups;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<PartitionId, (LeaderInfo Info, long Revision)> _leaders = new();
    private readonly Held[] _coordinators;
    private readonly Dictionary<PartitionId, Slot> _slots = [];
    private readonly Slot?[] _shardSlots;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _actions = new(8);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _poked;
    private int _generation;
    private int _running;
    private volatile bool _stopping;
    private Task _loops = Task.CompletedTask;
    private PrefixMirror? _leaderMirror;
    private PrefixMirror? _coordinatorMirror;

    public PartitionLeadership(IMetadataStore meta, BrokerRegistry registry, LogManager logs, GroupCoordinatorService groups, ILogger log)
    {
        _meta = meta;
        _registry = registry;
        _logs = logs;
        _groups = groups;
        _log = log;
        _coordinators = new Held[groups.ShardCount];
        Array.Fill(_coordinators, new Held(Vacant, 0));
        _shardSlots = new Slot?[groups.ShardCount];
    }

    /// <summary>How long a handoff may spend flushing before the rest is refused.</summary>
    public TimeSpan HandoffFlushTimeout { get; init; } = TimeSpan.FromSeconds(10);

    private int Me => _registry.BrokerId;

    /// <summary>Starts watching and reconciling; completes when the first reconciliation has settled (or after timeout).</summary>
    public async Task StartAsync(TimeSpan settleTimeout, CancellationToken ct)
    {
        _leaderMirror = new PrefixMirror(_meta, ClusterKeys.LeadersPrefix, _log, ResetLeaders, ApplyLeader);
        _coordinatorMirror = new PrefixMirror(_meta, ClusterKeys.CoordinatorsPrefix, _log, ResetCoordinators, ApplyCoordinator);
        _registry.Changed += Poke;
        _registry.LeaseLost += DropAll;
        _logs.Registry.TopicsChanged += Poke;
        _logs.Registry.TopicRemoved += OnTopicRemoved;
        _logs.Runtime.Closed += _ => Poke();
        _logs.Admin.WaitForLeaders = WaitForLeadersAsync;
        var token = _stop.Token;
        _loops = Task.WhenAll(_leaderMirror.RunAsync(token), _coordinatorMirror.RunAsync(token), ReconcileLoopAsync(token));
        await Task.WhenAll(_leaderMirror.Synced, _coordinatorMirror.Synced).WaitAsync(ct).ConfigureAwait(false);
        Poke();
        try { await _settled.Task.WaitAsync(settleTimeout, ct).ConfigureAwait(false); }
        catch (TimeoutException) { _log.LogWarning("leadership did not settle within {Timeout}; serving what is ready", settleTimeout); }
    }

    // ---- what every broker knows: the leader keys ----

    /// <summary>The current leader and leader epoch of a partition, or null while it has none.</summary>
    public LeaderInfo? LeaderOf(string topic, int partition) =>
        _leaders.TryGetValue(new PartitionId(topic, partition), out var e) && e.Info.BrokerId >= 0 ? e.Info : null;

    /// <summary>The broker leading a coordinator shard, or -1.</summary>
    /// <summary>How many coordinator shards this broker leads now.</summary>
    public int ShardsLed
    {
        get { lock (_lock) return _shardSlots.Count(s => s is { State: SlotState.Leading }); }
    }

    public int CoordinatorOf(int shard) => shard >= 0 && shard < _coordinators.Length ? Volatile.Read(ref _coordinators[shard]).Info.BrokerId : -1;

    private static LeaderInfo Parse(KeyValue kv)
    {
        try
        {
            var r = JsonSerializer.Deserialize(kv.Value, ClusterJsonContext.Default.LeaderRecord);
            return r is null ? Vacant : new LeaderInfo(r.Broker, r.Epoch, kv.Lease);
        }
        catch (JsonException) { return Vacant; }
    }

    /// <summary>Applies a change unless a newer one is already known (claims and handoffs are written through).</summary>
    private void SetLeader(PartitionId id, LeaderInfo info, long revision)
    {
        while (true)
        {
            if (!_leaders.TryGetValue(id, out var current))
            {
                if (_leaders.TryAdd(id, (info, revision))) return;
                continue;
            }
            if (current.Revision >= revision) return;
            if (_leaders.TryUpdate(id, (info, revision), current)) return;
        }
    }

    private void ResetLeaders(IReadOnlyList<KeyValue> all, long revision)
    {
        var seen = new HashSet<PartitionId>();
        foreach (var kv in all)
        {
            if (!ClusterKeys.TryParseLeader(kv.Key, out var topic, out int p)) continue;
            var id = new PartitionId(topic, p);
            seen.Add(id);
            SetLeader(id, Parse(kv), kv.ModRevision);
        }
        foreach (var (id, entry) in _leaders)
            if (!seen.Contains(id) && entry.Info.BrokerId >= 0) SetLeader(id, Vacant, revision);
        Poke();
    }

    private void ApplyLeader(WatchEvent e)
    {
        if (!ClusterKeys.TryParseLeader(e.Kv.Key, out var topic, out int p)) return;
        SetLeader(new PartitionId(topic, p), e.Type == WatchEventType.Put ? Parse(e.Kv) : Vacant, e.Kv.ModRevision);
        Poke();
    }

    private void SetCoordinator(int shard, LeaderInfo info, long revision)
    {
        if (shard < 0 || shard >= _coordinators.Length) return;
        lock (_lock)
        {
            if (_coordinators[shard].Revision >= revision) return;
            Volatile.Write(ref _coordinators[shard], new Held(info, revision));
        }
    }

    private void ResetCoordinators(IReadOnlyList<KeyValue> all, long revision)
    {
        var seen = new HashSet<int>();
        foreach (var kv in all)
        {
            if (!ClusterKeys.TryParseCoordinator(kv.Key, out int shard)) continue;
            seen.Add(shard);
            SetCoordinator(shard, Parse(kv), kv.ModRevision);
        }
        for (int s = 0; s < _coordinators.Length; s++)
            if (!seen.Contains(s) && _coordinators[s].Info.BrokerId >= 0) SetCoordinator(s, Vacant, revision);
        Poke();
    }

    private void ApplyCoordinator(WatchEvent e)
    {
        if (!ClusterKeys.TryParseCoordinator(e.Kv.Key, out int shard)) return;
        SetCoordinator(shard, e.Type == WatchEventType.Put ? Parse(e.Kv) : Vacant, e.Kv.ModRevision);
        Poke();
    }

    // ---- reconciliation ----

    public void Poke()
    {
        if (Interlocked.Exchange(ref _poked, 1) == 0) _wake.Release();
    }

    private async Task ReconcileLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await _wake.WaitAsync(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            Interlocked.Exchange(ref _poked, 0);
            if (_stopping) continue;
            try
            {
                bool started = Reconcile();
                bool busy;
                lock (_lock) busy = _running > 0;
                if (!started && !busy) _settled.TrySetResult();
            }
            catch (Exception ex) { _log.LogError(ex, "leadership reconciliation failed"); }
        }
    }

    /// <summary>One pass over every partition and coordinator shard; returns whether it started anything.</summary>
    private bool Reconcile()
    {
        int me = Me;
        long myLease = _registry.LeaseId;
        int[] live = _registry.LiveIds;
        bool mayLead = _registry.Guard.MayWrite && Array.IndexOf(live, me) >= 0;
        long now = Stopwatch.GetTimestamp();
        bool started = false;
        var claims = new List<int>();
        var loads = new List<int>();

        foreach (var topic in _logs.Topics)
        {
            int count = topic.PartitionCount;
            for (int p = 0; p < count; p++)
            {
                var id = new PartitionId(topic.Name, p);
                int desired = Rendezvous.Pick(topic.Name, p, live);
                var holder = _leaders.TryGetValue(id, out var e) ? e.Info : Vacant;
                Slot? slot;
                lock (_lock) _slots.TryGetValue(id, out slot);
                if (slot is { Busy: true }) continue;
                if (slot is { State: SlotState.Failed })
                {
                    if (now < slot.RetryAt) continue;
                    lock (_lock) if (_slots.GetValueOrDefault(id) == slot) _slots.Remove(id);
                    slot = null;
                }
                if (slot is { State: SlotState.Leading, Log: { } log })
                {
                    if (holder.BrokerId != me || holder.Lease != myLease || log.IsClosed) started |= Drop(id, slot, holder.BrokerId != me ? "its leader key is gone" : "its log ended");
                    else if (mayLead && desired >= 0 && desired != me) started |= Start(id, slot, SlotState.Closing, () => HandOffAsync(id, log, myLease));
                    continue;
                }
                if (!mayLead) continue;
                if (holder.BrokerId < 0)
                {
                    if (desired == me) started |= Start(id, null, SlotState.Claiming, () => ClaimAsync(id, topic, myLease));
                }
                else if (holder.BrokerId == me && holder.Lease == myLease)
                {
                    // Ours but not open: the lease was confirmed again after a lapse, or opening failed.
                    if (desired == me) started |= Start(id, slot, SlotState.Opening, () => OpenAsync(id, topic, holder.Epoch));
                    else started |= Start(id, slot, SlotState.Closing, () => ReleaseAsync(ClusterKeys.Leader(id.Topic, id.Partition), myLease, id));
                }
            }
        }

        for (int shard = 0; shard < _shardSlots.Length; shard++)
        {
            int desired = Rendezvous.Pick(Rendezvous.CoordinatorTopic, shard, live);
            var holder = Volatile.Read(ref _coordinators[shard]).Info;
            Slot? slot;
            lock (_lock) slot = _shardSlots[shard];
            if (slot is { Busy: true }) continue;
            if (slot is { State: SlotState.Failed })
            {
                if (now < slot.RetryAt) continue;
                lock (_lock) if (_shardSlots[shard] == slot) _shardSlots[shard] = null;
                slot = null;
            }
            if (slot is { State: SlotState.Leading })
            {
                int s = shard;
                if (holder.BrokerId != me || holder.Lease != myLease) started |= DropShard(shard, slot);
                else if (mayLead && desired >= 0 && desired != me) started |= StartShard(shard, slot, SlotState.Closing, () => HandOffShardAsync(s, myLease));
                continue;
            }
            if (!mayLead) continue;
            if (holder.BrokerId < 0 && desired == me) claims.Add(shard);
            else if (holder.BrokerId == me && holder.Lease == myLease)
            {
                if (desired == me) loads.Add(shard);
                else
                {
                    int s = shard;
                    started |= StartShard(shard, slot, SlotState.Closing, () => ReleaseShardAsync(s, myLease));
                }
            }
        }
        if (claims.Count > 0 || loads.Count > 0)
        {
            int[] toClaim = [.. claims], toLoad = [.. loads];
            started = true;
            lock (_lock)
            {
                foreach (int s in toClaim.Concat(toLoad)) _shardSlots[s] = new Slot(SlotState.Claiming, _generation);
                _running++;
            }
            _ = RunActionAsync(() => ClaimShardsAsync(toClaim, toLoad, myLease));
        }
        return started;
    }

    private bool Start(PartitionId id, Slot? existing, SlotState state, Func<Task> action)
    {
        lock (_lock)
        {
            if (existing is not null) existing.State = state;
            else _slots[id] = new Slot(state, _generation);
            _running++;
        }
        _ = RunActionAsync(action);
        return true;
    }

    private bool StartShard(int shard, Slot? existing, SlotState state, Func<Task> action)
    {
        lock (_lock)
        {
            if (existing is not null) existing.State = state;
            else _shardSlots[shard] = new Slot(state, _generation);
            _running++;
        }
        _ = RunActionAsync(action);
        return true;
    }

    private async Task RunActionAsync(Func<Task> action)
    {
        try
        {
            await _actions.WaitAsync(_stop.Token).ConfigureAwait(false);
            try { await action().ConfigureAwait(false); }
            finally { _actions.Release(); }
        }
        catch (OperationCanceledException) { }
        catch (Exception ex) { _log.LogError(ex, "leadership action failed"); }
        finally
        {
            lock (_lock) _running--;
            Poke();
        }
    }

    private static byte[] Ascii(long value) => Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture));

    private static byte[] LeaderValue(int broker, int epoch) =>
        JsonSerializer.SerializeToUtf8Bytes(new LeaderRecord { Broker = broker, Epoch = epoch }, ClusterJsonContext.Default.LeaderRecord);

    /// <summary>
    /// Claims a free partition: creates its leader key bound to our lease and bumps the stored
    /// leader epoch, in one transaction that also requires the topic to be the same incarnation.
    /// </summary>
    private async Task ClaimAsync(PartitionId id, TopicState topic, long lease)
    {
        string epochKey = MetadataKeys.LeaderEpoch(id.Topic, id.Partition);
        string leaderKey = ClusterKeys.Leader(id.Topic, id.Partition);
        try
        {
            var stored = await _meta.GetAsync(epochKey, _stop.Token).ConfigureAwait(false);
            int epoch = (stored is null ? 0 : int.Parse(Encoding.ASCII.GetString(stored.Value), CultureInfo.InvariantCulture)) + 1;
            var txn = await _meta.TxnAsync(new TxnRequest(
                [
                    Compare.KeyMissing(leaderKey),
                    Compare.ModRevisionEquals(epochKey, stored?.ModRevision ?? 0),
                    new Compare(MetadataKeys.TopicConfig(id.Topic), CompareTarget.CreateRevision, CompareResult.Equal, topic.CreateRevision),
                ],
                [TxnOp.Put(leaderKey, LeaderValue(Me, epoch), lease), TxnOp.Put(epochKey, Ascii(epoch))],
                []), _stop.Token).ConfigureAwait(false);
            if (!txn.Succeeded)
            {
                RemoveSlot(id);
                return;
            }
            SetLeader(id, new LeaderInfo(Me, epoch, lease), txn.Revision);
            await OpenAsync(id, topic, epoch).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            _log.LogWarning("could not claim {Topic}-{Partition}: {Error}", id.Topic, id.Partition, ex.Message);
            Failed(id);
        }
    }

    /// <summary>Opens a partition whose key we hold: recovery from the store, then it accepts writes.</summary>
    private async Task OpenAsync(PartitionId id, TopicState topic, int epoch)
    {
        Slot? slot;
        lock (_lock)
        {
            if (!_slots.TryGetValue(id, out slot)) return;
            slot.State = SlotState.Opening;
        }
        long started = Stopwatch.GetTimestamp();
        PartitionLog log;
        try { log = await _logs.Partitions.OpenAsync(topic, id.Partition, epoch, _stop.Token).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            _log.LogWarning("could not open {Topic}-{Partition} (epoch {Epoch}): {Error}; will retry", id.Topic, id.Partition, epoch, ex.Message);
            Failed(id);
            return;
        }
        bool keep;
        lock (_lock)
        {
            keep = _slots.TryGetValue(id, out var now) && now == slot && slot.Generation == _generation && _registry.Guard.MayWrite && !_stopping && _logs.Registry.Publish(log);
            if (keep)
            {
                slot.Log = log;
                slot.State = SlotState.Leading;
                slot.Failures = 0;
            }
            else if (_slots.GetValueOrDefault(id) == slot) _slots.Remove(id);
        }
        if (!keep)
        {
            log.Abandon(ErrorCodes.NotLeaderOrFollower);
            return;
        }
        _log.LogInformation("leading {Topic}-{Partition} at epoch {Epoch}: offsets {Start}-{End}, opened in {Ms} ms",
            id.Topic, id.Partition, epoch, log.LogStartOffset, log.HighWatermark, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private async Task HandOffAsync(PartitionId id, PartitionLog log, long lease)
    {
        try { await _logs.Partitions.CloseAsync(log, HandoffFlushTimeout).ConfigureAwait(false); }
        catch (Exception ex)
        {
            _log.LogWarning("handoff of {Topic}-{Partition} failed while flushing: {Error}", id.Topic, id.Partition, ex.Message);
            _logs.Partitions.Drop(log);
        }
        await ReleaseAsync(ClusterKeys.Leader(id.Topic, id.Partition), lease, id).ConfigureAwait(false);
        _log.LogInformation("handed {Topic}-{Partition} over at offset {End}", id.Topic, id.Partition, log.HighWatermark);
    }

    /// <summary>Deletes a leader key of ours (compare on our lease, so another broker's key is never touched).</summary>
    private async Task ReleaseAsync(string key, long lease, PartitionId id)
    {
        try
        {
            var txn = await _meta.TxnAsync(new TxnRequest([new Compare(key, CompareTarget.Lease, CompareResult.Equal, lease)], [TxnOp.Delete(key)], []), _stop.Token).ConfigureAwait(false);
            if (txn.Succeeded) SetLeader(id, Vacant, txn.Revision);
            RemoveSlot(id);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            _log.LogWarning("could not release {Key}: {Error}; will retry", key, ex.Message);
            Failed(id);
        }
    }

    private bool Drop(PartitionId id, Slot slot, string why)
    {
        lock (_lock) if (_slots.GetValueOrDefault(id) == slot) _slots.Remove(id);
        if (slot.Log is { } log)
        {
            _logs.Partitions.Drop(log);
            _log.LogInformation("stopped leading {Topic}-{Partition}: {Why}", id.Topic, id.Partition, why);
        }
        Poke();
        return false;
    }

    private void RemoveSlot(PartitionId id)
    {
        lock (_lock) _slots.Remove(id);
    }

    private void Failed(PartitionId id)
    {
        lock (_lock)
        {
            if (!_slots.TryGetValue(id, out var slot)) return;
            slot.State = SlotState.Failed;
            slot.Log = null;
            slot.Failures++;
            slot.RetryAt = Stopwatch.GetTimestamp() + (long)(Math.Min(10.0, 0.5 * (1 << Math.Min(slot.Failures, 5))) * Stopwatch.Frequency);
        }
    }

    // ---- coordinator shards ----

    private async Task ClaimShardsAsync(int[] claims, int[] alreadyOurs, long lease)
    {
        var load = new List<(int Shard, IReadOnlyList<Compare>? Fence)>();
        foreach (int shard in claims)
        {
            string key = ClusterKeys.Coordinator(shard);
            try
            {
                var txn = await _meta.TxnAsync(new TxnRequest([Compare.KeyMissing(key)], [TxnOp.Put(key, LeaderValue(Me, 0), lease)], []), _stop.Token).ConfigureAwait(false);
                if (!txn.Succeeded)
                {
                    ClearShard(shard);
                    continue;
                }
                SetCoordinator(shard, new LeaderInfo(Me, 0, lease), txn.Revision);
                load.Add((shard, Fence(key, lease)));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
            {
                _log.LogWarning("could not claim coordinator shard {Shard}: {Error}", shard, ex.Message);
                FailShard(shard);
            }
        }
        foreach (int shard in alreadyOurs) load.Add((shard, Fence(ClusterKeys.Coordinator(shard), lease)));
        if (load.Count == 0) return;
        int generation;
        lock (_lock) generation = _generation;
        try { await _groups.LoadShardsAsync(load, _stop.Token).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            _log.LogWarning("could not load {Count} coordinator shards: {Error}; will retry", load.Count, ex.Message);
            foreach (var (shard, _) in load) FailShard(shard);
            return;
        }
        var dropped = new List<int>();
        lock (_lock)
        {
            foreach (var (shard, _) in load)
            {
                if (generation == _generation && _shardSlots[shard] is { } slot && _registry.Guard.MayWrite) slot.State = SlotState.Leading;
                else dropped.Add(shard);
            }
        }
        foreach (int shard in dropped) await _groups.UnloadShardAsync(shard).ConfigureAwait(false);
        _log.LogDebug("loaded {Count} consumer-group coordinator shards", load.Count - dropped.Count);
    }

    /// <summary>Every write of a shard's coordinator requires its key to still be bound to our lease.</summary>
    private static IReadOnlyList<Compare> Fence(string key, long lease) => [new Compare(key, CompareTarget.Lease, CompareResult.Equal, lease)];

    private async Task HandOffShardAsync(int shard, long lease)
    {
        await _groups.UnloadShardAsync(shard).ConfigureAwait(false);
        await ReleaseShardAsync(shard, lease).ConfigureAwait(false);
    }

    private async Task ReleaseShardAsync(int shard, long lease)
    {
        string key = ClusterKeys.Coordinator(shard);
        try
        {
            var txn = await _meta.TxnAsync(new TxnRequest([new Compare(key, CompareTarget.Lease, CompareResult.Equal, lease)], [TxnOp.Delete(key)], []), _stop.Token).ConfigureAwait(false);
            if (txn.Succeeded) SetCoordinator(shard, Vacant, txn.Revision);
            ClearShard(shard);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            _log.LogWarning("could not release {Key}: {Error}; will retry", key, ex.Message);
            FailShard(shard);
        }
    }

    private bool DropShard(int shard, Slot slot)
    {
        lock (_lock) if (_shardSlots[shard] == slot) _shardSlots[shard] = null;
        _ = _groups.UnloadShardAsync(shard);
        Poke();
        return false;
    }

    private void ClearShard(int shard)
    {
        lock (_lock) _shardSlots[shard] = null;
    }

    private void FailShard(int shard)
    {
        lock (_lock)
        {
            var slot = _shardSlots[shard] ??= new Slot(SlotState.Failed, _generation);
            slot.State = SlotState.Failed;
            slot.Failures++;
            slot.RetryAt = Stopwatch.GetTimestamp() + (long)(Math.Min(10.0, 0.5 * (1 << Math.Min(slot.Failures, 5))) * Stopwatch.Frequency);
        }
    }

    // ---- losing the lease, topics going away, waiting for leaders, shutdown ----

    /// <summary>The lease may have lapsed: every term ends now, before anything else can be acknowledged.</summary>
    private void DropAll()
    {
        List<PartitionLog> logs = [];
        List<int> shards = [];
        lock (_lock)
        {
            _generation++;
            foreach (var slot in _slots.Values) if (slot.Log is { } log) logs.Add(log);
            _slots.Clear();
            for (int s = 0; s < _shardSlots.Length; s++)
            {
                if (_shardSlots[s] is not null) shards.Add(s);
                _shardSlots[s] = null;
            }
        }
        foreach (var log in logs) _logs.Partitions.Drop(log);
        foreach (int s in shards) _ = _groups.UnloadShardAsync(s);
        if (logs.Count > 0 || shards.Count > 0)
            _log.LogWarning("dropped {Partitions} partitions and {Shards} coordinator shards after losing the lease", logs.Count, shards.Count);
    }

    private void OnTopicRemoved(TopicState topic)
    {
        lock (_lock)
        {
            foreach (var id in _slots.Keys.Where(k => k.Topic == topic.Name).ToList())
                if (!_slots[id].Busy) _slots.Remove(id);
        }
        foreach (var id in _leaders.Keys.Where(k => k.Topic == topic.Name).ToList())
            if (_leaders.TryGetValue(id, out var e) && e.Info.BrokerId < 0) _leaders.TryRemove(id, out _);
    }

    /// <summary>Waits (up to a few seconds) until partitions from 'from' on have a leader that has opened them.</summary>
    public async Task WaitForLeadersAsync(TopicState topic, int from)
    {
        Poke();
        long deadline = Environment.TickCount64 + 5000;
        while (Environment.TickCount64 < deadline && !_stop.IsCancellationRequested)
        {
            bool ready = true;
            var logs = topic.Logs;
            for (int p = from; p < logs.Length && ready; p++)
            {
                var leader = LeaderOf(topic.Name, p);
                ready = leader is not null && (leader.BrokerId != Me || logs[p] is not null);
            }
            if (ready) return;
            try { await Task.Delay(10, _stop.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>
    /// Graceful shutdown: stop taking anything new, then hand every partition over (flush,
    /// delete its key) and every coordinator shard (unload, delete its key). The registration
    /// goes first, so the other brokers start wanting what this one leads.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _stopping = true;
        await _registry.DeregisterAsync(CancellationToken.None).ConfigureAwait(false);
        List<(PartitionId Id, PartitionLog Log)> leading = [];
        List<int> shards = [];
        lock (_lock)
        {
            _generation++;
            foreach (var (id, slot) in _slots) if (slot.Log is { } log) leading.Add((id, log));
            _slots.Clear();
            for (int s = 0; s < _shardSlots.Length; s++)
            {
                if (_shardSlots[s] is { State: SlotState.Leading }) shards.Add(s);
                _shardSlots[s] = null;
            }
        }
        long lease = _registry.LeaseId;
        using var cut = new CancellationTokenSource(timeout);
        var work = leading.Select(async l =>
        {
            await _logs.Partitions.CloseAsync(l.Log, timeout).ConfigureAwait(false);
            await ReleaseAsync(ClusterKeys.Leader(l.Id.Topic, l.Id.Partition), lease, l.Id).ConfigureAwait(false);
        }).Concat(shards.Select(s => HandOffShardAsync(s, lease)));
        try { await Task.WhenAll(work).WaitAsync(cut.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { _log.LogWarning("handoff at shutdown did not finish within {Timeout}", timeout); }
        if (leading.Count > 0) _log.LogInformation("handed {Count} partitions over", leading.Count);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _stop.Cancel();
        try { await _loops.ConfigureAwait(false); } catch { }
        List<PartitionLog> logs;
        lock (_lock)
        {
            logs = [.. _slots.Values.Where(s => s.Log is not null).Select(s => s.Log!)];
            _slots.Clear();
        }
        foreach (var log in logs) _logs.Partitions.Drop(log);
    }
}
