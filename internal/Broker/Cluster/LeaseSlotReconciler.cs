using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Clustering;

/// <summary>
/// Keeps the slots of one kind on the brokers rendezvous hashing wants them on (docs/architecture.md,
/// "Leadership and fencing"). Every broker watches the slot keys and runs the same pass: the
/// desired leader of a vacant slot claims its key (bound to its lease) and only then opens the
/// slot; a leader that is no longer desired hands over (then deletes its key); keys of a dead
/// broker vanish with its lease and the next desired leader claims them. When this broker's
/// lease may have lapsed every slot is dropped at once, before anything else is acknowledged.
/// </summary>
internal sealed class LeaseSlotReconciler<TKey, THandle> : IAsyncDisposable where TKey : notnull
{
    private enum SlotState { Claiming, Opening, Leading, Closing, Failed }

    private sealed class Slot(SlotState state)
    {
        public SlotState State = state;
        public THandle? Handle;
        public long RetryAt;
        public int Failures;
        public bool Busy => State is SlotState.Claiming or SlotState.Opening or SlotState.Closing;
    }

    private static readonly LeaderInfo Vacant = new(-1, -1, 0);

    private readonly IMetadataStore _meta;
    private readonly IClusterMembership _members;
    private readonly ILeaseSlotKind<TKey, THandle> _kind;
    private readonly ILogger _log;
    private readonly LogLevel _leadingLevel;
    private readonly ConcurrentDictionary<TKey, (LeaderInfo Info, long Revision)> _holders = new();
    private readonly Dictionary<TKey, Slot> _slots = [];
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly SemaphoreSlim _actions = new(8);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly PrefixMirror _mirror;
    private int _poked;
    private long _nextSettle = long.MaxValue;
    private long _passes;
    private int _running;
    private volatile bool _stopping;
    private Task _loops = Task.CompletedTask;

    /// <param name="leadingLevel">Level of the "now leading" line (one per partition is useful, one per shard is noise).</param>
    public LeaseSlotReconciler(IMetadataStore meta, IClusterMembership members, ILeaseSlotKind<TKey, THandle> kind, ILogger log, LogLevel leadingLevel = LogLevel.Information)
    {
        _meta = meta;
        _members = members;
        _kind = kind;
        _log = log;
        _leadingLevel = leadingLevel;
        _mirror = new PrefixMirror(meta, kind.KeyPrefix, log, Reset, Apply);
    }

    /// <summary>Completes after the first pass that found nothing to do and nothing under way.</summary>
    public Task Settled => _settled.Task;

    /// <summary>Completes once the slot keys have been read (the holders are known).</summary>
    public Task Synced => _mirror.Synced;

    /// <summary>How many slots this broker leads (open and serving) now.</summary>
    public int Leading
    {
        get { lock (_lock) return _slots.Values.Count(s => s.State == SlotState.Leading); }
    }

    /// <summary>Starts watching the slot keys and reconciling. Pokes come from whoever sees a change.</summary>
    public void Start()
    {
        var token = _stop.Token;
        _loops = Task.WhenAll(_mirror.RunAsync(token), ReconcileLoopAsync(token));
    }

    // ---- who holds what, as the watch sees it ----

    /// <summary>The holder of a slot's key, or null while it is vacant.</summary>
    public LeaderInfo? HolderOf(TKey slot) =>
        _holders.TryGetValue(slot, out var e) && e.Info.BrokerId >= 0 ? e.Info : null;

    private static LeaderInfo Parse(KeyValue kv)
    {
        try
        {
            var r = JsonSerializer.Deserialize(kv.Value, ClusterJsonContext.Default.LeaderRecord);
            return r is null ? Vacant : new LeaderInfo(r.Broker, r.Epoch, kv.Lease);
        }
        catch (JsonException) { return Vacant; }
    }

    /// <summary>Applies a change unless a newer one is already known (claims and releases are written through).</summary>
    private void SetHolder(TKey slot, LeaderInfo info, long revision)
    {
        while (true)
        {
            if (!_holders.TryGetValue(slot, out var current))
            {
                if (_holders.TryAdd(slot, (info, revision))) return;
                continue;
            }
            if (current.Revision >= revision) return;
            if (_holders.TryUpdate(slot, (info, revision), current)) return;
        }
    }

    private void Reset(IReadOnlyList<KeyValue> all, long revision)
    {
        var seen = new HashSet<TKey>();
        foreach (var kv in all)
        {
            if (!_kind.TryParseKey(kv.Key, out var slot)) continue;
            seen.Add(slot);
            SetHolder(slot, Parse(kv), kv.ModRevision);
        }
        foreach (var (slot, entry) in _holders)
            if (!seen.Contains(slot) && entry.Info.BrokerId >= 0) SetHolder(slot, Vacant, revision);
        Poke();
    }

    private void Apply(WatchEvent e)
    {
        if (!_kind.TryParseKey(e.Kv.Key, out var slot)) return;
        SetHolder(slot, e.Type == WatchEventType.Put ? Parse(e.Kv) : Vacant, e.Kv.ModRevision);
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
            // A pass also runs when a broker's rebalance delay ends, since that can move slots.
            var wait = TimeSpan.FromSeconds(2);
            long settles = Interlocked.Read(ref _nextSettle);
            if (settles != long.MaxValue)
            {
                var untilSettled = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), settles) + TimeSpan.FromMilliseconds(1);
                if (untilSettled < wait) wait = untilSettled < TimeSpan.Zero ? TimeSpan.Zero : untilSettled;
            }
            try { await _wake.WaitAsync(wait, ct).ConfigureAwait(false); }
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

    /// <summary>Reconciliation passes run so far (tests wait for one).</summary>
    public long Passes => Interlocked.Read(ref _passes);

    /// <summary>One pass over every slot; returns whether it started anything.</summary>
    private bool Reconcile()
    {
        Interlocked.Increment(ref _passes);
        int me = _members.BrokerId;
        long myLease = _members.LeaseId;
        int[] live = _members.LiveIds;
        bool mayLead = _members.Guard.MayWrite && Array.IndexOf(live, me) >= 0;
        long now = Stopwatch.GetTimestamp();
        bool started = false;
        var toOpen = new List<(TKey Key, LeaderInfo Holder, bool Claim)>();

        int[] settled = SettledBrokers(live, now);
        foreach (var key in _kind.Slots())
        {
            int desired = _kind.Pick(key, live);
            int desiredSettled = settled == live ? desired : _kind.Pick(key, settled);
            var holder = _holders.TryGetValue(key, out var e) ? e.Info : Vacant;
            Slot? slot;
            lock (_lock) _slots.TryGetValue(key, out slot);
            if (slot is { Busy: true }) continue;
            if (slot is { State: SlotState.Failed })
            {
                if (now < slot.RetryAt) continue;
                lock (_lock) if (_slots.GetValueOrDefault(key) == slot) _slots.Remove(key);
                slot = null;
            }
            if (slot is { State: SlotState.Leading })
            {
                var handle = slot.Handle!;
                if (holder.BrokerId != me || holder.Lease != myLease || _kind.HasEnded(handle))
                    started |= Drop(key, slot, holder.BrokerId != me ? "its key is gone" : "it ended");
                // Handed over only to its final leader, once that one is settled: never to an
                // interim one while a new broker that will win it waits out its delay.
                else if (mayLead && desired >= 0 && desired != me && desiredSettled == desired)
                    started |= Start(key, SlotState.Closing, mine => HandOffAsync(key, handle, myLease, mine), slot);
                continue;
            }
            if (!mayLead) continue;
            if (holder.BrokerId < 0)
            {
                if (desiredSettled == me) toOpen.Add((key, holder, true));
            }
            else if (holder.BrokerId == me && holder.Lease == myLease)
            {
                // Ours but not open: the lease was confirmed again after a lapse, or opening failed.
                if (desiredSettled == me || desiredSettled != desired) toOpen.Add((key, holder, false));
                else started |= Start(key, SlotState.Closing, mine => ReleaseAsync(key, myLease, mine), slot);
            }
        }

        int batchSize = Math.Max(1, _kind.OpenBatch);
        for (int i = 0; i < toOpen.Count; i += batchSize)
        {
            var batch = new List<(TKey Key, LeaderInfo Holder, bool Claim, Slot State)>();
            lock (_lock)
            {
                foreach (var (key, holder, claim) in toOpen.GetRange(i, Math.Min(batchSize, toOpen.Count - i)))
                {
                    var state = new Slot(SlotState.Claiming);
                    _slots[key] = state;
                    batch.Add((key, holder, claim, state));
                }
                _running++;
            }
            _ = RunActionAsync(() => ClaimAndOpenAsync(batch, myLease));
            started = true;
        }
        return started;
    }

    /// <summary>
    /// The settled live brokers: past their rebalance delay, or holding a slot of this kind
    /// already; every live one when none is settled (a cluster starting). A vacant slot goes to
    /// the winner among these, and a held slot moves only to its overall winner once that one is
    /// settled. So a broker that comes back after a crash does not pull its partitions away from
    /// the brokers that took them over while clients still cannot reach it, and a slot moves once,
    /// straight to its final leader (docs/architecture.md, "Leadership and fencing").
    /// </summary>
    private int[] SettledBrokers(int[] live, long now)
    {
        long next = long.MaxValue;
        HashSet<int>? holding = null;
        var settled = new List<int>(live.Length);
        foreach (int id in live)
        {
            long at = _members.SettlesAt(id);
            if (at <= now || (holding ??= [.. _holders.Values.Select(h => h.Info.BrokerId)]).Contains(id)) settled.Add(id);
            else next = Math.Min(next, at);
        }
        Interlocked.Exchange(ref _nextSettle, next);
        return settled.Count == live.Length || settled.Count == 0 ? live : [.. settled];
    }

    private bool Start(TKey key, SlotState state, Func<Slot, Task> action, Slot? existing)
    {
        Slot mine;
        lock (_lock)
        {
            if (existing is not null) existing.State = state;
            else _slots[key] = existing = new Slot(state);
            mine = existing;
            _running++;
        }
        _ = RunActionAsync(() => action(mine));
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

    private bool Stopped(Exception ex) => ex is OperationCanceledException && _stop.IsCancellationRequested;

    /// <summary>Claims the vacant slots of a batch, then opens everything claimed (and what was already ours) together.</summary>
    private async Task ClaimAndOpenAsync(List<(TKey Key, LeaderInfo Holder, bool Claim, Slot State)> batch, long lease)
    {
        var held = new List<(TKey Slot, LeaderInfo Holder, Slot State)>();
        foreach (var (key, holder, claim, state) in batch)
        {
            try
            {
                var won = claim
                    ? await _kind.ClaimAsync(key, _members.BrokerId, lease, _stop.Token).ConfigureAwait(false)
                    : await _kind.RetakeAsync(key, holder, _members.BrokerId, lease, _stop.Token).ConfigureAwait(false);
                if (won is null)
                {
                    RemoveSlot(key, state);
                    continue;
                }
                SetHolder(key, won.Holder, won.Revision);
                held.Add((key, won.Holder, state));
            }
            catch (Exception ex) when (!Stopped(ex))
            {
                _log.LogWarning("could not claim {Slot}: {Error}", _kind.Describe(key), ex.Message);
                Failed(key, state);
            }
        }

        // Only what is still ours to open: a lapse meanwhile cleared the slots.
        var opening = new List<(TKey Slot, LeaderInfo Holder, Slot State)>();
        lock (_lock)
        {
            foreach (var (key, holder, state) in held)
            {
                // Only the slot this pass created: a lapse meanwhile may have put a newer one there.
                if (_slots.GetValueOrDefault(key) != state) continue;
                state.State = SlotState.Opening;
                opening.Add((key, holder, state));
            }
        }
        if (opening.Count == 0) return;

        long started = Stopwatch.GetTimestamp();
        IReadOnlyList<THandle> handles;
        try { handles = await _kind.OpenAsync([.. opening.Select(o => (o.Slot, o.Holder))], _stop.Token).ConfigureAwait(false); }
        catch (Exception ex) when (!Stopped(ex))
        {
            foreach (var o in opening)
            {
                _log.LogWarning("could not open {Slot} (epoch {Epoch}): {Error}; will retry", _kind.Describe(o.Slot), o.Holder.Epoch, ex.Message);
                Failed(o.Slot, o.State);
            }
            return;
        }

        for (int i = 0; i < opening.Count; i++)
        {
            var (key, holder, slot) = opening[i];
            var handle = handles[i];
            bool keep;
            lock (_lock)
            {
                keep = _slots.GetValueOrDefault(key) == slot && _members.Guard.MayWrite && !_stopping && _kind.Activate(handle);
                if (keep)
                {
                    slot.Handle = handle;
                    slot.State = SlotState.Leading;
                    slot.Failures = 0;
                }
                else if (_slots.GetValueOrDefault(key) == slot) _slots.Remove(key);
            }
            if (!keep)
            {
                _kind.Discard(handle);
                continue;
            }
            _log.Log(_leadingLevel, "leading {Slot} at epoch {Epoch}, opened in {Ms} ms",
                _kind.Describe(key, handle), holder.Epoch, (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    private async Task HandOffAsync(TKey key, THandle handle, long lease, Slot? mine)
    {
        await _kind.HandOffAsync(key, handle).ConfigureAwait(false);
        await ReleaseAsync(key, lease, mine).ConfigureAwait(false);
        _log.Log(_leadingLevel, "handed {Slot} over", _kind.Describe(key));
    }

    /// <summary>Deletes a slot key of ours (compare on our lease, so another broker's key is never touched).</summary>
    private async Task ReleaseAsync(TKey slot, long lease, Slot? mine)
    {
        string key = _kind.KeyOf(slot);
        try
        {
            var txn = await _meta.TxnAsync(new TxnRequest([new Compare(key, CompareTarget.Lease, CompareResult.Equal, lease)], [TxnOp.Delete(key)], []), _stop.Token).ConfigureAwait(false);
            if (txn.Succeeded) SetHolder(slot, Vacant, txn.Revision);
            if (mine is not null) RemoveSlot(slot, mine);
        }
        catch (Exception ex) when (!Stopped(ex))
        {
            _log.LogWarning("could not release {Key}: {Error}; will retry", key, ex.Message);
            if (mine is not null) Failed(slot, mine);
        }
    }

    private bool Drop(TKey key, Slot slot, string why)
    {
        lock (_lock) if (_slots.GetValueOrDefault(key) == slot) _slots.Remove(key);
        _kind.Drop(key, slot.Handle, open: true);
        _log.Log(_leadingLevel, "stopped leading {Slot}: {Why}", _kind.Describe(key), why);
        Poke();
        return false;
    }

    /// <summary>
    /// Removes the slot an action worked on, and only that one: an action that outlived a lapse
    /// must not touch the slot a later pass put under the same key (it may be leading).
    /// </summary>
    private void RemoveSlot(TKey key, Slot mine)
    {
        lock (_lock) if (_slots.GetValueOrDefault(key) == mine) _slots.Remove(key);
    }

    /// <summary>Marks the slot an action worked on as failed (retried later); a newer slot under the key is left alone.</summary>
    private void Failed(TKey key, Slot mine)
    {
        lock (_lock)
        {
            if (_slots.GetValueOrDefault(key) != mine) return;
            var slot = mine;
            slot.State = SlotState.Failed;
            slot.Handle = default;
            slot.Failures++;
            slot.RetryAt = Stopwatch.GetTimestamp() + (long)(Math.Min(10.0, 0.5 * (1 << Math.Min(slot.Failures, 5))) * Stopwatch.Frequency);
        }
    }

    // ---- losing the lease, slots going away, shutdown ----

    /// <summary>The lease may have lapsed: every slot ends now, open or still opening; returns how many.</summary>
    public int DropAll()
    {
        List<(TKey Key, Slot Slot)> all;
        lock (_lock)
        {
            all = [.. _slots.Select(kv => (kv.Key, kv.Value))];
            _slots.Clear();
        }
        foreach (var (key, slot) in all) _kind.Drop(key, slot.Handle, open: slot.State == SlotState.Leading);
        return all.Count(s => s.Slot.State == SlotState.Leading);
    }

    /// <summary>Slots that no longer exist (a deleted topic): forgets those not under way, and their vacant holders.</summary>
    public void Forget(Func<TKey, bool> gone)
    {
        lock (_lock)
        {
            foreach (var key in _slots.Keys.Where(gone).ToList())
                if (!_slots[key].Busy) _slots.Remove(key);
        }
        foreach (var key in _holders.Keys.Where(gone).ToList())
            if (_holders.TryGetValue(key, out var e) && e.Info.BrokerId < 0) _holders.TryRemove(key, out _);
    }

    /// <summary>Graceful shutdown, first step: nothing new is claimed, opened or handed over by the reconcile passes.</summary>
    public void StopTakingNew() => _stopping = true;

    /// <summary>
    /// Graceful shutdown: takes nothing new, hands every open slot over and releases its key.
    /// Returns the handoffs under way (the caller bounds them) and how many there are.
    /// </summary>
    public (Task Done, int Count) HandOverAll()
    {
        _stopping = true;
        List<(TKey Key, THandle Handle)> leading = [];
        lock (_lock)
        {
            foreach (var (key, slot) in _slots)
                if (slot.State == SlotState.Leading) leading.Add((key, slot.Handle!));
            _slots.Clear();
        }
        long lease = _members.LeaseId;
        return (Task.WhenAll(leading.Select(l => HandOffAsync(l.Key, l.Handle, lease, null))), leading.Count);
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _stop.Cancel();
        try { await _loops.ConfigureAwait(false); } catch { }
        List<(TKey Key, THandle Handle)> open;
        lock (_lock)
        {
            open = [.. _slots.Where(kv => kv.Value.State == SlotState.Leading).Select(kv => (kv.Key, kv.Value.Handle!))];
            _slots.Clear();
        }
        foreach (var (key, handle) in open) _kind.Drop(key, handle, open: true);
    }
}
