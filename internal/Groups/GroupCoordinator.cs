using System.Collections.Concurrent;
using System.Text.Json;
using KafScale.Metadata;
using KafScale.Protocol;
using Microsoft.Extensions.Logging;

namespace KafScale.Groups;

/// <summary>
/// The coordinator of one shard of groups: Kafka's classic group protocol (JoinGroup,
/// SyncGroup, Heartbeat, LeaveGroup), committed offsets, and the admin operations on groups.
/// A shard is loaded from the metadata store by the broker that leads it and written back as
/// groups change, so leadership of a shard can move between brokers
/// (<see cref="GroupCoordinatorService"/> routes groups to shards).
/// </summary>
/// <remarks>
/// Each group has a gate (an async lock) held for the whole of an operation, including its
/// metadata-store writes, so a group's state and what is stored change together and in order.
/// JoinGroup and SyncGroup park a waiter on the member and release the gate; the join phase,
/// the leader's SyncGroup, a timeout or the shard's unloading completes the waiter.
/// </remarks>
public sealed partial class GroupCoordinator : IAsyncDisposable
{
    /// <summary>etcd refuses transactions of more than 128 operations by default (--max-txn-ops).</summary>
    private const int MaxOpsPerTxn = 100;

    private readonly ConcurrentDictionary<string, ClassicGroup> _groups = new(StringComparer.Ordinal);
    private readonly IMetadataStore _store;
    private readonly GroupCoordinatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly IReadOnlyList<Compare> _fence;
    private readonly double _msPerTick;
    private readonly CancellationTokenSource _stopping = new();
    private ITimer? _retentionTimer;
    private int _retentionRunning;
    private volatile bool _unloaded;
    private int _disposed;

    /// <param name="fence">Compares added to every write (for example, "this broker still holds the shard's lease key"); a write whose fence fails answers NOT_COORDINATOR.</param>
    internal GroupCoordinator(int shard, IMetadataStore store, GroupCoordinatorOptions options, TimeProvider time, ILogger log, IReadOnlyList<Compare>? fence = null)
    {
        Shard = shard;
        _store = store;
        _options = options;
        _time = time;
        _log = log;
        _fence = fence ?? [];
        _msPerTick = 1000.0 / time.TimestampFrequency;
    }

    public int Shard { get; }

    private long NowMs() => (long)(_time.GetTimestamp() * _msPerTick);

    private DateTimeOffset UtcNow() => _time.GetUtcNow();

    /// <summary>
    /// Waits for the group's gate. Null (with NONE) when the group does not exist and create is
    /// false; NOT_COORDINATOR once the shard is unloading. A group removed while we waited is
    /// looked up again, so a request never acts on a deleted group.
    /// </summary>
    private async ValueTask<(ClassicGroup? Group, ErrorCode Error)> LockGroupAsync(string groupId, bool create, CancellationToken ct)
    {
        while (true)
        {
            if (_unloaded) return (null, ErrorCode.NotCoordinator);
            ClassicGroup? group = create ? _groups.GetOrAdd(groupId, static id => new ClassicGroup(id)) : _groups.GetValueOrDefault(groupId);
            if (group is null) return (null, ErrorCode.None);
            try
            {
                await group.Gate.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return (null, ErrorCode.NotCoordinator);
            }
            if (_unloaded)
            {
                group.Gate.Release();
                return (null, ErrorCode.NotCoordinator);
            }
            if (group.State != GroupState.Dead) return (group, ErrorCode.None);
            group.Gate.Release();
        }
    }

    /// <summary>The token for gate waits: the caller's, and always the shard's unloading.</summary>
    private CancellationTokenSource? Link(CancellationToken ct, out CancellationToken linked)
    {
        if (!ct.CanBeCanceled)
        {
            linked = _stopping.Token;
            return null;
        }
        var cts = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
        linked = cts.Token;
        return cts;
    }

    /// <summary>Removes the group from the shard (it is Dead from now on) and stops its timer.</summary>
    private void RemoveGroup(ClassicGroup group)
    {
        group.TransitionTo(GroupState.Dead, UtcNow());
        _groups.TryRemove(new KeyValuePair<string, ClassicGroup>(group.GroupId, group));
        group.Timer?.Dispose();
        group.Timer = null;
        group.TimerDueMs = long.MaxValue;
    }

    /// <summary>
    /// A group created for a request that came to nothing (a refused join, an expired
    /// MEMBER_ID_REQUIRED id) and that nothing was ever stored for is forgotten at once.
    /// </summary>
    private void RemoveIfUnused(ClassicGroup group)
    {
        if (group.State == GroupState.Empty && group.Members.Count == 0 && group.PendingMembers.Count == 0 && group.Offsets.IsEmpty && !group.HasStoredState)
            RemoveGroup(group);
    }

    // ---- metadata store ----

    private async Task<ErrorCode> WriteAsync(List<TxnOp> ops)
    {
        try
        {
            for (int i = 0; i < ops.Count; i += MaxOpsPerTxn)
            {
                var chunk = ops.GetRange(i, Math.Min(MaxOpsPerTxn, ops.Count - i));
                var result = await _store.TxnAsync(new TxnRequest(_fence, chunk, []), _stopping.Token).ConfigureAwait(false);
                if (!result.Succeeded)
                {
                    _log.LogWarning("group coordinator shard {Shard}: a write was refused by the shard's fence; this broker no longer leads the shard", Shard);
                    return ErrorCode.NotCoordinator;
                }
            }
            return ErrorCode.None;
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return ErrorCode.NotCoordinator;
        }
        catch (Exception ex)
        {
            _log.LogWarning("group coordinator shard {Shard}: metadata store write failed: {Error}", Shard, ex.Message);
            return ErrorCode.CoordinatorNotAvailable;
        }
    }

    /// <summary>Stores the group's generation and members (with the given assignments, or the current ones).</summary>
    private async Task<ErrorCode> StoreGroupStateAsync(ClassicGroup group, IReadOnlyDictionary<string, byte[]>? assignments = null)
    {
        var record = new GroupStateRecord
        {
            ProtocolType = group.ProtocolType,
            Generation = group.GenerationId,
            Protocol = group.ProtocolName,
            Leader = group.LeaderId,
            StateChangedAt = Rfc3339.Format(group.StateChangedAt),
        };
        foreach (var m in group.Members.Values)
        {
            record.Members.Add(new GroupMemberRecord
            {
                MemberId = m.MemberId,
                GroupInstanceId = m.GroupInstanceId,
                ClientId = m.ClientId,
                ClientHost = m.ClientHost,
                SessionTimeoutMs = m.SessionTimeoutMs,
                RebalanceTimeoutMs = m.RebalanceTimeoutMs,
                Subscription = group.ProtocolName is null ? [] : m.MetadataFor(group.ProtocolName) ?? [],
                Assignment = assignments is null ? m.Assignment : assignments.GetValueOrDefault(m.MemberId) ?? [],
            });
        }
        byte[] value = JsonSerializer.SerializeToUtf8Bytes(record, GroupJsonContext.Default.GroupStateRecord);
        var error = await WriteAsync([TxnOp.Put(GroupKeys.State(group.GroupId), value)]).ConfigureAwait(false);
        if (error == ErrorCode.None) group.HasStoredState = true;
        return error;
    }

    private static byte[] OffsetValue(CommittedOffset offset) => JsonSerializer.SerializeToUtf8Bytes(new OffsetRecord
    {
        Offset = offset.Offset,
        Metadata = offset.Metadata,
        CommittedAt = Rfc3339.Format(offset.CommittedAt),
        LeaderEpoch = offset.LeaderEpoch >= 0 ? offset.LeaderEpoch : null,
    }, GroupJsonContext.Default.OffsetRecord);

    /// <summary>Deletes the group's state key and every committed offset; true when it is gone from the store.</summary>
    private async Task<ErrorCode> DeleteStoredGroupAsync(ClassicGroup group)
    {
        var ops = new List<TxnOp>(group.Offsets.Count + 1) { TxnOp.Delete(GroupKeys.State(group.GroupId)) };
        foreach (var tp in group.Offsets.Keys) ops.Add(TxnOp.Delete(GroupKeys.Offset(group.GroupId, tp.Topic, tp.Partition)));
        return await WriteAsync(ops).ConfigureAwait(false);
    }

    // ---- loading ----

    /// <summary>
    /// Builds the shard's groups from stored keys (state keys and offset keys of groups of this
    /// shard). Members of a stored generation come back Stable with fresh sessions: those that
    /// are still alive carry on heartbeating, the others expire and the group rebalances.
    /// </summary>
    internal void Load(IEnumerable<KeyValue> stateKeys, IEnumerable<KeyValue> offsetKeys)
    {
        var now = UtcNow();
        var restored = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var kv in stateKeys)
        {
            if (!GroupKeys.TryParseState(kv.Key, out var groupId)) continue;
            GroupStateRecord? record;
            try { record = JsonSerializer.Deserialize(kv.Value, GroupJsonContext.Default.GroupStateRecord); }
            catch (JsonException ex)
            {
                _log.LogWarning("group coordinator shard {Shard}: ignoring unreadable group state at {Key}: {Error}", Shard, kv.Key, ex.Message);
                continue;
            }
            if (record is null) continue;
            var group = _groups.GetOrAdd(groupId, static id => new ClassicGroup(id));
            group.GenerationId = record.Generation;
            group.ProtocolType = record.ProtocolType;
            group.ProtocolName = record.Protocol;
            group.LeaderId = record.Leader;
            group.HasStoredState = true;
            if (record.Protocol is not null && record.ProtocolType is not null)
            {
                foreach (var m in record.Members)
                {
                    var member = new ClassicGroupMember(m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost, m.RebalanceTimeoutMs, m.SessionTimeoutMs,
                        record.ProtocolType, [new GroupProtocol(record.Protocol, m.Subscription)]) { Assignment = m.Assignment };
                    group.Add(member, null);
                }
            }
            if (group.LeaderId is not null && !group.Members.ContainsKey(group.LeaderId))
            {
                group.LeaderId = null;
                foreach (var id in group.Members.Keys) { group.LeaderId = id; break; }
            }
            restored[groupId] = Rfc3339.Parse(record.StateChangedAt, now);
        }
        foreach (var kv in offsetKeys)
        {
            if (!GroupKeys.TryParseOffset(kv.Key, out var groupId, out var tp)) continue;
            OffsetRecord? record;
            try { record = JsonSerializer.Deserialize(kv.Value, GroupJsonContext.Default.OffsetRecord); }
            catch (JsonException ex)
            {
                _log.LogWarning("group coordinator shard {Shard}: ignoring unreadable committed offset at {Key}: {Error}", Shard, kv.Key, ex.Message);
                continue;
            }
            if (record is null) continue;
            var group = _groups.GetOrAdd(groupId, static id => new ClassicGroup(id));
            group.Offsets[tp] = new CommittedOffset(record.Offset, record.LeaderEpoch ?? -1, record.Metadata ?? "", Rfc3339.Parse(record.CommittedAt, now));
        }
        long nowMs = NowMs();
        foreach (var group in _groups.Values)
        {
            if (group.Members.Count > 0)
            {
                group.Restore(GroupState.Stable, now);
                foreach (var m in group.Members.Values) m.DeadlineMs = nowMs + m.SessionTimeoutMs;
                Arm(group);
            }
            else
            {
                group.ProtocolName = null;
                group.Restore(GroupState.Empty, restored.GetValueOrDefault(group.GroupId, now));
            }
        }
        if (_options.OffsetsRetentionCheckInterval > TimeSpan.Zero)
        {
            using (ExecutionContext.SuppressFlow())
                _retentionTimer = _time.CreateTimer(static s => ((GroupCoordinator)s!).OnRetentionTimer(), this, _options.OffsetsRetentionCheckInterval, _options.OffsetsRetentionCheckInterval);
        }
    }

    // ---- what the service reads across groups ----

    internal IEnumerable<GroupListing> Listings()
    {
        foreach (var g in _groups.Values)
        {
            var state = g.State;
            if (state != GroupState.Dead) yield return new GroupListing(g.GroupId, g.ProtocolType ?? "", state);
        }
    }

    internal IEnumerable<GroupOffset> CommittedOffsets()
    {
        foreach (var g in _groups.Values)
        {
            if (g.State == GroupState.Dead) continue;
            foreach (var (tp, offset) in g.Offsets) yield return new GroupOffset(g.GroupId, tp.Topic, tp.Partition, offset.Offset);
        }
    }

    internal int GroupCount => _groups.Count;

    /// <summary>
    /// Unloads the shard (its leadership moves, or the broker stops): parked JoinGroup and
    /// SyncGroup requests are answered NOT_COORDINATOR so their clients look the coordinator up
    /// again, and every timer stops. What is stored stays for the next leader.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _unloaded = true;
        _retentionTimer?.Dispose();
        foreach (var group in _groups.Values)
        {
            // Let an operation that is writing to the store finish; it then sees the shard unloaded.
            bool held = await group.Gate.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            if (!held)
            {
                _log.LogWarning("group coordinator shard {Shard}: group {Group} is still busy with a metadata store write; unloading without it", Shard, group.GroupId);
                group.Timer?.Dispose();
                continue;
            }
            try
            {
                group.Timer?.Dispose();
                group.Timer = null;
                foreach (var m in group.Members.Values)
                {
                    group.CompleteJoin(m, JoinGroupResult.Failed(m.MemberId, ErrorCode.NotCoordinator));
                    ClassicGroup.CompleteSync(m, SyncGroupResult.Failed(ErrorCode.NotCoordinator));
                }
            }
            finally
            {
                group.Gate.Release();
            }
        }
        // Timer callbacks and requests still waiting for a gate give up.
        _stopping.Cancel();
    }
}
