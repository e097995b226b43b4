using KafScale.Metadata;
using KafScale.Protocol;
using Microsoft.Extensions.Logging;

namespace KafScale.Groups;

/// <summary>
/// Deadlines: sessions, MEMBER_ID_REQUIRED ids, the join phase (rebalance timeout and the
/// initial delay) and SyncGroup. One timer per group, armed for the earliest deadline; when it
/// fires, everything due is handled under the gate and the timer is armed again. Heartbeats
/// only push deadlines later, so they never touch the timer.
/// </summary>
public sealed partial class GroupCoordinator
{
    /// <summary>Arms the group's timer for its earliest deadline, if that is earlier than it is armed for.</summary>
    private void Arm(ClassicGroup group)
    {
        if (group.State == GroupState.Dead || _unloaded) return;
        long next = NextDeadline(group);
        if (next == long.MaxValue || next >= group.TimerDueMs) return;
        if (group.Timer is null)
        {
            // Timers must not carry the request's execution context (and its async locals) along.
            using (ExecutionContext.SuppressFlow())
                group.Timer = _time.CreateTimer(static s => { var (c, g) = ((GroupCoordinator, ClassicGroup))s!; _ = c.OnTimerAsync(g); },
                    (this, group), Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        group.TimerDueMs = next;
        group.Timer.Change(TimeSpan.FromMilliseconds(Math.Max(0, next - NowMs())), Timeout.InfiniteTimeSpan);
    }

    private static long NextDeadline(ClassicGroup group)
    {
        long next = long.MaxValue;
        foreach (var m in group.Members.Values)
            if (!m.KeptAlive) next = Math.Min(next, m.DeadlineMs);
        foreach (var deadline in group.PendingMembers.Values) next = Math.Min(next, deadline);
        if (group.State == GroupState.PreparingRebalance) next = Math.Min(next, group.JoinDeadlineMs);
        if (group.State is GroupState.CompletingRebalance or GroupState.Stable && group.PendingSyncMembers.Count > 0) next = Math.Min(next, group.SyncDeadlineMs);
        return next;
    }

    private async Task OnTimerAsync(ClassicGroup group)
    {
        try
        {
            await group.Gate.WaitAsync(_stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        try
        {
            if (group.State == GroupState.Dead || _unloaded) return;
            group.TimerDueMs = long.MaxValue;
            await ExpireAsync(group).ConfigureAwait(false);
            RemoveIfUnused(group);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "group {Group}: handling a timeout failed", group.GroupId);
        }
        finally
        {
            try { Arm(group); }
            catch (ObjectDisposedException) { }
            group.Gate.Release();
        }
    }

    private async Task ExpireAsync(ClassicGroup group)
    {
        long now = NowMs();

        bool pendingExpired = false;
        foreach (var (memberId, deadline) in group.PendingMembers.ToArray())
        {
            if (now < deadline) continue;
            _log.LogDebug("group {Group}: member id {Member} was never used to rejoin and expires", group.GroupId, memberId);
            group.PendingMembers.Remove(memberId);
            pendingExpired = true;
        }
        if (pendingExpired) await TryCompleteJoinAsync(group).ConfigureAwait(false);

        foreach (var m in group.Members.Values.ToArray())
        {
            if (m.KeptAlive || now < m.DeadlineMs || !group.Members.ContainsKey(m.MemberId)) continue;
            _log.LogInformation("group {Group}: member {Member} ({Client} at {Host}) missed its session timeout of {Timeout} ms and is removed",
                group.GroupId, m.MemberId, m.ClientId, m.ClientHost, m.SessionTimeoutMs);
            await RemoveMemberAndUpdateGroupAsync(group, m).ConfigureAwait(false);
        }

        if (group.State == GroupState.PreparingRebalance && now >= group.JoinDeadlineMs)
            await OnJoinDeadlineAsync(group).ConfigureAwait(false);

        if (group.State is GroupState.CompletingRebalance or GroupState.Stable && group.PendingSyncMembers.Count > 0 && now >= group.SyncDeadlineMs)
        {
            foreach (var memberId in group.PendingSyncMembers.ToArray())
            {
                if (!group.Members.TryGetValue(memberId, out var m)) continue;
                _log.LogInformation("group {Group}: member {Member} did not send SyncGroup within the rebalance timeout and is removed", group.GroupId, memberId);
                group.CompleteJoin(m, JoinGroupResult.Failed(memberId, ErrorCode.UnknownMemberId));
                group.Remove(memberId);
            }
            await PrepareRebalanceAsync(group).ConfigureAwait(false);
        }
    }

    // ---- offsets retention (KIP-211) ----

    private void OnRetentionTimer()
    {
        if (Interlocked.Exchange(ref _retentionRunning, 1) != 0) return;
        _ = RunRetentionAsync();
    }

    private async Task RunRetentionAsync()
    {
        try
        {
            var now = UtcNow();
            foreach (var candidate in _groups.Values.ToArray())
            {
                var (group, _) = await LockGroupAsync(candidate.GroupId, create: false, _stopping.Token).ConfigureAwait(false);
                if (group is null) continue;
                try { await ExpireOffsetsAsync(group, now).ConfigureAwait(false); }
                finally { group.Gate.Release(); }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "group coordinator shard {Shard}: offsets retention check failed", Shard);
        }
        finally
        {
            Volatile.Write(ref _retentionRunning, 0);
        }
    }

    /// <summary>
    /// Drops expired offsets, Kafka's way: an empty group's offsets expire together, the
    /// retention after the group became empty; a group without a protocol (simple commits
    /// only) expires each offset the retention after its last commit; a stable consumer group
    /// expires only offsets of topics it no longer subscribes to. An empty group left without
    /// offsets is deleted.
    /// </summary>
    internal async Task ExpireOffsetsAsync(ClassicGroup group, DateTimeOffset now)
    {
        var retention = _options.OffsetsRetention;
        var expired = new List<TopicPartition>();
        if (group.State == GroupState.Empty)
        {
            bool groupExpired = group.ProtocolType is not null && group.StateChangedAt + retention <= now;
            foreach (var (tp, offset) in group.Offsets)
                if (groupExpired || (group.ProtocolType is null && offset.CommittedAt + retention <= now)) expired.Add(tp);
        }
        else if (group.State == GroupState.Stable && group.SubscribedTopics is { } subscribed)
        {
            foreach (var (tp, offset) in group.Offsets)
                if (!subscribed.Contains(tp.Topic) && offset.CommittedAt + retention <= now) expired.Add(tp);
        }
        if (expired.Count > 0)
        {
            var ops = new List<TxnOp>(expired.Count);
            foreach (var tp in expired) ops.Add(TxnOp.Delete(GroupKeys.Offset(group.GroupId, tp.Topic, tp.Partition)));
            if (await WriteAsync(ops).ConfigureAwait(false) != ErrorCode.None) return;
            foreach (var tp in expired) group.Offsets.TryRemove(tp, out _);
            _log.LogInformation("group {Group}: {Count} committed offsets expired", group.GroupId, expired.Count);
        }
        if (group.State == GroupState.Empty && group.Offsets.IsEmpty && group.Members.Count == 0 && group.PendingMembers.Count == 0)
        {
            if (group.HasStoredState && await DeleteStoredGroupAsync(group).ConfigureAwait(false) != ErrorCode.None) return;
            _log.LogInformation("group {Group} is empty and has no offsets left; it is removed", group.GroupId);
            RemoveGroup(group);
        }
    }
}
