using KafScale.Protocol;
using Microsoft.Extensions.Logging;

namespace KafScale.Groups;

/// <summary>The classic group membership protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup.</summary>
public sealed partial class GroupCoordinator
{
    private static TaskCompletionSource<T> NewWaiter<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// JoinGroup. Answers at once for errors, MEMBER_ID_REQUIRED and rejoins that change
    /// nothing; otherwise the request waits for the join phase to end, which happens when every
    /// known member has rejoined or when the rebalance timeout expires.
    /// </summary>
    public async Task<JoinGroupResult> JoinGroupAsync(JoinGroupInput input, CancellationToken ct = default)
    {
        if (input.GroupId.Length == 0) return JoinGroupResult.Failed(input.MemberId, ErrorCode.InvalidGroupId);
        if (input.SessionTimeoutMs < _options.MinSessionTimeoutMs || input.SessionTimeoutMs > _options.MaxSessionTimeoutMs)
            return JoinGroupResult.Failed(input.MemberId, ErrorCode.InvalidSessionTimeout);
        // v0 had no rebalance timeout: the session timeout served as both.
        if (input.RebalanceTimeoutMs <= 0) input = input with { RebalanceTimeoutMs = input.SessionTimeoutMs };

        bool unknownMember = input.MemberId.Length == 0;
        using var link = Link(ct, out var token);
        var (group, error) = await LockGroupAsync(input.GroupId, create: unknownMember, token).ConfigureAwait(false);
        if (group is null) return JoinGroupResult.Failed(input.MemberId, error == ErrorCode.None ? ErrorCode.UnknownMemberId : error);

        var waiter = NewWaiter<JoinGroupResult>();
        try
        {
            if (!group.SupportsProtocols(input.ProtocolType, input.Protocols))
                waiter.TrySetResult(JoinGroupResult.Failed(input.MemberId, ErrorCode.InconsistentGroupProtocol));
            else if (unknownMember)
                await JoinNewMemberAsync(group, input, waiter).ConfigureAwait(false);
            else
                await JoinKnownMemberAsync(group, input, waiter).ConfigureAwait(false);

            if (group.State == GroupState.PreparingRebalance) await TryCompleteJoinAsync(group).ConfigureAwait(false);
            RemoveIfUnused(group);
            Arm(group);
        }
        finally
        {
            group.Gate.Release();
        }
        return await waiter.Task.ConfigureAwait(false);
    }

    private async Task JoinNewMemberAsync(ClassicGroup group, JoinGroupInput input, TaskCompletionSource<JoinGroupResult> waiter)
    {
        string? oldStaticId = null;
        bool knownInstance = input.GroupInstanceId is { } instance && group.StaticMembers.TryGetValue(instance, out oldStaticId);
        if (!knownInstance && group.Members.Count + group.PendingMembers.Count >= _options.MaxGroupSize)
        {
            waiter.TrySetResult(JoinGroupResult.Failed(input.MemberId, ErrorCode.GroupMaxSizeReached));
            return;
        }
        // Kafka's member id shape: the instance id (static) or client id, a dash, a UUID.
        string memberId = (input.GroupInstanceId ?? input.ClientId) + "-" + Guid.NewGuid().ToString();
        if (knownInstance)
        {
            await UpdateStaticMemberAndRebalanceAsync(group, oldStaticId!, memberId, input, waiter).ConfigureAwait(false);
        }
        else if (input.GroupInstanceId is null && input.RequireKnownMemberId)
        {
            // KIP-394: the member must come back with this id before it counts; a client that
            // never does leaves nothing behind but this entry, which expires with the session timeout.
            group.PendingMembers[memberId] = NowMs() + input.SessionTimeoutMs;
            waiter.TrySetResult(JoinGroupResult.Failed(memberId, ErrorCode.MemberIdRequired));
        }
        else
        {
            await AddMemberAndRebalanceAsync(group, input, memberId, waiter).ConfigureAwait(false);
        }
    }

    private async Task JoinKnownMemberAsync(ClassicGroup group, JoinGroupInput input, TaskCompletionSource<JoinGroupResult> waiter)
    {
        string memberId = input.MemberId;
        if (group.PendingMembers.ContainsKey(memberId))
        {
            await AddMemberAndRebalanceAsync(group, input, memberId, waiter).ConfigureAwait(false);
            return;
        }
        var error = group.ValidateMember(memberId, input.GroupInstanceId);
        if (error != ErrorCode.None)
        {
            waiter.TrySetResult(JoinGroupResult.Failed(memberId, error));
            return;
        }
        var member = group.Members[memberId];
        member.ClientId = input.ClientId;
        member.ClientHost = input.ClientHost;
        switch (group.State)
        {
            case GroupState.PreparingRebalance:
                await UpdateMemberAndRebalanceAsync(group, member, input, waiter).ConfigureAwait(false);
                break;
            case GroupState.CompletingRebalance:
                // Same metadata: it most likely missed the JoinGroup response; repeat it.
                if (member.Matches(input.Protocols))
                {
                    member.DeadlineMs = NowMs() + member.SessionTimeoutMs;
                    waiter.TrySetResult(CurrentGeneration(group, member, withMembers: group.IsLeader(memberId)));
                }
                else await UpdateMemberAndRebalanceAsync(group, member, input, waiter).ConfigureAwait(false);
                break;
            case GroupState.Stable:
                // A leader rejoining, or anyone with new metadata (a new subscription), means a
                // rebalance; a follower with nothing new just gets the current generation.
                if (group.IsLeader(memberId) || !member.Matches(input.Protocols))
                    await UpdateMemberAndRebalanceAsync(group, member, input, waiter).ConfigureAwait(false);
                else
                {
                    member.DeadlineMs = NowMs() + member.SessionTimeoutMs;
                    waiter.TrySetResult(CurrentGeneration(group, member, withMembers: false));
                }
                break;
            default:
                waiter.TrySetResult(JoinGroupResult.Failed(memberId, ErrorCode.UnknownMemberId));
                break;
        }
    }

    private static JoinGroupResult CurrentGeneration(ClassicGroup group, ClassicGroupMember member, bool withMembers) =>
        new(ErrorCode.None, member.MemberId, group.GenerationId, group.ProtocolType, group.ProtocolName, group.LeaderId ?? "", false,
            withMembers ? group.CurrentMemberMetadata() : []);

    private async Task AddMemberAndRebalanceAsync(ClassicGroup group, JoinGroupInput input, string memberId, TaskCompletionSource<JoinGroupResult> waiter)
    {
        var member = new ClassicGroupMember(memberId, input.GroupInstanceId, input.ClientId, input.ClientHost,
            input.RebalanceTimeoutMs, input.SessionTimeoutMs, input.ProtocolType, input.Protocols) { IsNew = true };
        if (group.InInitialDelay) group.NewMemberAdded = true;
        group.Add(member, waiter);
        // A new member cannot heartbeat while its JoinGroup is parked, and its client may have
        // given up and retried with another id: bound how long such a member can hold a rebalance.
        member.DeadlineMs = NowMs() + _options.NewMemberJoinTimeoutMs;
        _log.LogDebug("group {Group}: member {Member} joins (instance {Instance}, reason {Reason})", group.GroupId, memberId, input.GroupInstanceId, input.Reason);
        await MaybePrepareRebalanceAsync(group).ConfigureAwait(false);
    }

    private async Task UpdateMemberAndRebalanceAsync(ClassicGroup group, ClassicGroupMember member, JoinGroupInput input, TaskCompletionSource<JoinGroupResult> waiter)
    {
        group.UpdateMember(member, input.Protocols, input.RebalanceTimeoutMs, input.SessionTimeoutMs, waiter);
        await MaybePrepareRebalanceAsync(group).ConfigureAwait(false);
    }

    /// <summary>
    /// A static member rejoined without its member id (it restarted): it takes a new id and its
    /// old place. In a stable group whose protocol it does not change this is not a rebalance
    /// (KIP-345); a leader is told so and skips assigning (KIP-814, v9+).
    /// </summary>
    private async Task UpdateStaticMemberAndRebalanceAsync(ClassicGroup group, string oldMemberId, string newMemberId, JoinGroupInput input, TaskCompletionSource<JoinGroupResult> waiter)
    {
        string instanceId = input.GroupInstanceId!;
        string? currentLeader = group.LeaderId;
        var member = group.ReplaceStaticMember(instanceId, oldMemberId, newMemberId);
        var oldProtocols = member.Protocols;
        int oldRebalanceTimeout = member.RebalanceTimeoutMs, oldSessionTimeout = member.SessionTimeoutMs;
        member.ClientId = input.ClientId;
        member.ClientHost = input.ClientHost;
        group.UpdateMember(member, input.Protocols, input.RebalanceTimeoutMs, input.SessionTimeoutMs, waiter);
        member.DeadlineMs = NowMs() + member.SessionTimeoutMs;

        switch (group.State)
        {
            case GroupState.Stable:
                if (group.SelectProtocol() != group.ProtocolName)
                {
                    await PrepareRebalanceAsync(group).ConfigureAwait(false);
                    break;
                }
                var stored = await StoreGroupStateAsync(group).ConfigureAwait(false);
                if (stored != ErrorCode.None)
                {
                    // The new id is not durable: put the old one back and let the member retry.
                    group.UpdateMember(member, oldProtocols, oldRebalanceTimeout, oldSessionTimeout, null);
                    group.ReplaceStaticMember(instanceId, newMemberId, oldMemberId);
                    waiter.TrySetResult(new JoinGroupResult(stored, "", group.GenerationId, group.ProtocolType, group.ProtocolName, currentLeader ?? "", false, []));
                    break;
                }
                bool isLeader = group.IsLeader(newMemberId);
                JoinGroupResult result = input.SupportsSkipAssignment
                    ? new(ErrorCode.None, newMemberId, group.GenerationId, group.ProtocolType, group.ProtocolName, group.LeaderId ?? "", isLeader,
                        isLeader ? group.CurrentMemberMetadata() : [])
                    // Older clients are given the old leader id, so a restarted leader does not
                    // assign: a stable group would not hand its new assignments out.
                    : new(ErrorCode.None, newMemberId, group.GenerationId, group.ProtocolType, group.ProtocolName, currentLeader ?? "", false, []);
                group.CompleteJoin(member, result);
                break;
            case GroupState.CompletingRebalance:
                // The leader may be assigning with the old member id: start over.
                await PrepareRebalanceAsync(group).ConfigureAwait(false);
                break;
            default:
                // PreparingRebalance: the member's JoinGroup waits for the join phase like everyone's.
                break;
        }
    }

    private async Task MaybePrepareRebalanceAsync(ClassicGroup group)
    {
        if (group.CanRebalance) await PrepareRebalanceAsync(group).ConfigureAwait(false);
    }

    private async Task PrepareRebalanceAsync(ClassicGroup group)
    {
        // Members waiting for assignments of the generation being abandoned must rejoin.
        if (group.State == GroupState.CompletingRebalance) ResetAndPropagateAssignmentError(group, ErrorCode.RebalanceInProgress);
        group.SyncDeadlineMs = long.MaxValue;
        bool initial = group.State == GroupState.Empty && _options.InitialRebalanceDelayMs > 0;
        group.TransitionTo(GroupState.PreparingRebalance, UtcNow());
        long now = NowMs();
        if (initial)
        {
            group.InInitialDelay = true;
            group.NewMemberAdded = false;
            group.JoinDeadlineMs = now + _options.InitialRebalanceDelayMs;
            group.InitialDelayRemainingMs = Math.Max(group.RebalanceTimeoutMs - _options.InitialRebalanceDelayMs, 0);
        }
        else
        {
            group.InInitialDelay = false;
            group.JoinDeadlineMs = now + group.RebalanceTimeoutMs;
            await TryCompleteJoinAsync(group).ConfigureAwait(false);
        }
    }

    /// <summary>Ends the join phase early once every member has rejoined (not during the initial delay, which always runs its course).</summary>
    private async Task TryCompleteJoinAsync(ClassicGroup group)
    {
        if (group.State == GroupState.PreparingRebalance && !group.InInitialDelay && group.HasAllMembersJoined)
            await CompleteJoinAsync(group).ConfigureAwait(false);
    }

    /// <summary>The join phase's deadline passed: extend the initial delay while members keep arriving, or end the phase.</summary>
    private async Task OnJoinDeadlineAsync(ClassicGroup group)
    {
        if (group.InInitialDelay && group.NewMemberAdded && group.InitialDelayRemainingMs > 0)
        {
            group.NewMemberAdded = false;
            long delay = Math.Min(_options.InitialRebalanceDelayMs, group.InitialDelayRemainingMs);
            group.InitialDelayRemainingMs = Math.Max(group.InitialDelayRemainingMs - delay, 0);
            group.JoinDeadlineMs = NowMs() + delay;
            return;
        }
        await CompleteJoinAsync(group).ConfigureAwait(false);
    }

    /// <summary>
    /// Ends the join phase: dynamic members that did not rejoin are dropped (static ones keep
    /// their place until their session expires), the next generation starts, and every parked
    /// JoinGroup is answered; the leader's answer carries every member's metadata.
    /// </summary>
    private async Task CompleteJoinAsync(ClassicGroup group)
    {
        group.InInitialDelay = false;
        group.JoinDeadlineMs = long.MaxValue;
        foreach (var m in group.Members.Values.ToArray())
        {
            if (m.IsAwaitingJoin || m.IsStatic) continue;
            _log.LogInformation("group {Group}: member {Member} did not rejoin in time and is removed", group.GroupId, m.MemberId);
            ClassicGroup.CompleteSync(m, SyncGroupResult.Failed(ErrorCode.UnknownMemberId));
            group.Remove(m.MemberId);
        }
        if (!group.MaybeElectNewJoinedLeader() && group.Members.Count > 0)
        {
            // Only static members that have not come back remain: wait for them, or for their sessions to end.
            group.JoinDeadlineMs = NowMs() + group.RebalanceTimeoutMs;
            return;
        }
        group.InitNextGeneration(UtcNow());
        if (group.State == GroupState.Empty)
        {
            _log.LogInformation("group {Group} is empty at generation {Generation}", group.GroupId, group.GenerationId);
            var stored = await StoreGroupStateAsync(group).ConfigureAwait(false);
            if (stored != ErrorCode.None)
                _log.LogWarning("group {Group}: could not store its empty generation {Generation} ({Error}); a reload brings back the previous one, whose members then expire",
                    group.GroupId, group.GenerationId, stored);
            return;
        }
        _log.LogInformation("group {Group} generation {Generation}: {Members} members, protocol {Protocol}, leader {Leader}",
            group.GroupId, group.GenerationId, group.Members.Count, group.ProtocolName, group.LeaderId);
        long now = NowMs();
        foreach (var m in group.Members.Values)
        {
            group.CompleteJoin(m, CurrentGeneration(group, m, withMembers: group.IsLeader(m.MemberId)));
            m.DeadlineMs = now + m.SessionTimeoutMs;
            m.IsNew = false;
            group.PendingSyncMembers.Add(m.MemberId);
        }
        group.SyncDeadlineMs = now + group.RebalanceTimeoutMs;
    }

    private static void ResetAndPropagateAssignmentError(ClassicGroup group, ErrorCode error)
    {
        foreach (var m in group.Members.Values)
        {
            m.Assignment = [];
            ClassicGroup.CompleteSync(m, SyncGroupResult.Failed(error));
        }
    }

    private void SetAndPropagateAssignment(ClassicGroup group, IReadOnlyDictionary<string, byte[]> assignments)
    {
        long now = NowMs();
        foreach (var m in group.Members.Values)
        {
            m.Assignment = assignments.GetValueOrDefault(m.MemberId) ?? [];
            if (m.IsAwaitingSync) m.DeadlineMs = now + m.SessionTimeoutMs;
            ClassicGroup.CompleteSync(m, new SyncGroupResult(ErrorCode.None, group.ProtocolType, group.ProtocolName, m.Assignment));
        }
    }

    /// <summary>Removes a member that left or expired, and rebalances the others.</summary>
    private async Task RemoveMemberAndUpdateGroupAsync(ClassicGroup group, ClassicGroupMember member)
    {
        group.CompleteJoin(member, JoinGroupResult.Failed(member.MemberId, ErrorCode.UnknownMemberId));
        ClassicGroup.CompleteSync(member, SyncGroupResult.Failed(ErrorCode.UnknownMemberId));
        group.Remove(member.MemberId);
        switch (group.State)
        {
            case GroupState.Stable or GroupState.CompletingRebalance:
                await PrepareRebalanceAsync(group).ConfigureAwait(false);
                break;
            case GroupState.PreparingRebalance:
                await TryCompleteJoinAsync(group).ConfigureAwait(false);
                break;
        }
    }

    /// <summary>
    /// SyncGroup. Followers wait for the leader's; the leader's assignments are stored with the
    /// generation, then handed to every member and the group is Stable. Members the leader left
    /// out get an empty assignment.
    /// </summary>
    public async Task<SyncGroupResult> SyncGroupAsync(SyncGroupInput input, CancellationToken ct = default)
    {
        if (input.GroupId.Length == 0) return SyncGroupResult.Failed(ErrorCode.InvalidGroupId);
        using var link = Link(ct, out var token);
        var (group, error) = await LockGroupAsync(input.GroupId, create: false, token).ConfigureAwait(false);
        if (group is null) return SyncGroupResult.Failed(error == ErrorCode.None ? ErrorCode.UnknownMemberId : error);

        var waiter = NewWaiter<SyncGroupResult>();
        try
        {
            error = group.ValidateMember(input.MemberId, input.GroupInstanceId);
            if (error == ErrorCode.None && input.GenerationId != group.GenerationId) error = ErrorCode.IllegalGeneration;
            if (error == ErrorCode.None && (Inconsistent(input.ProtocolType, group.ProtocolType) || Inconsistent(input.ProtocolName, group.ProtocolName)))
                error = ErrorCode.InconsistentGroupProtocol;
            if (error != ErrorCode.None) return SyncGroupResult.Failed(error);

            var member = group.Members[input.MemberId];
            switch (group.State)
            {
                case GroupState.PreparingRebalance:
                    return SyncGroupResult.Failed(ErrorCode.RebalanceInProgress);
                case GroupState.Stable:
                    group.PendingSyncMembers.Remove(member.MemberId);
                    member.DeadlineMs = NowMs() + member.SessionTimeoutMs;
                    return new SyncGroupResult(ErrorCode.None, group.ProtocolType, group.ProtocolName, member.Assignment);
                case GroupState.CompletingRebalance:
                    if (member.SyncWaiter is { } previous) previous.TrySetResult(SyncGroupResult.Failed(ErrorCode.RebalanceInProgress));
                    member.SyncWaiter = waiter;
                    group.PendingSyncMembers.Remove(member.MemberId);
                    if (group.IsLeader(member.MemberId)) await CompleteSyncAsync(group, input.Assignments).ConfigureAwait(false);
                    Arm(group);
                    break;
                default:
                    return SyncGroupResult.Failed(ErrorCode.UnknownMemberId);
            }
        }
        finally
        {
            group.Gate.Release();
        }
        return await waiter.Task.ConfigureAwait(false);
    }

    private static bool Inconsistent(string? requested, string? current) => requested is not null && current is not null && requested != current;

    private async Task CompleteSyncAsync(ClassicGroup group, IReadOnlyList<MemberAssignment> leaderAssignments)
    {
        var assignments = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var a in leaderAssignments)
            if (group.Members.ContainsKey(a.MemberId)) assignments[a.MemberId] = a.Assignment;
        int missing = group.Members.Count - assignments.Count;
        if (missing > 0) _log.LogWarning("group {Group} generation {Generation}: the leader gave {Missing} members no assignment; they get an empty one", group.GroupId, group.GenerationId, missing);

        var stored = await StoreGroupStateAsync(group, assignments).ConfigureAwait(false);
        if (stored != ErrorCode.None)
        {
            ResetAndPropagateAssignmentError(group, stored);
            await MaybePrepareRebalanceAsync(group).ConfigureAwait(false);
            return;
        }
        SetAndPropagateAssignment(group, assignments);
        group.TransitionTo(GroupState.Stable, UtcNow());
    }

    /// <summary>Heartbeat: keeps the session alive, and tells members of a rebalance (REBALANCE_IN_PROGRESS) so they rejoin.</summary>
    public async Task<ErrorCode> HeartbeatAsync(string groupId, string memberId, string? groupInstanceId, int generationId, CancellationToken ct = default)
    {
        if (groupId.Length == 0) return ErrorCode.InvalidGroupId;
        using var link = Link(ct, out var token);
        var (group, error) = await LockGroupAsync(groupId, create: false, token).ConfigureAwait(false);
        if (group is null) return error == ErrorCode.None ? ErrorCode.UnknownMemberId : error;
        try
        {
            error = group.ValidateMember(memberId, groupInstanceId);
            if (error != ErrorCode.None) return error;
            if (generationId != group.GenerationId) return ErrorCode.IllegalGeneration;
            var member = group.Members[memberId];
            switch (group.State)
            {
                case GroupState.PreparingRebalance:
                    member.DeadlineMs = NowMs() + member.SessionTimeoutMs;
                    return ErrorCode.RebalanceInProgress;
                case GroupState.CompletingRebalance or GroupState.Stable:
                    member.DeadlineMs = NowMs() + member.SessionTimeoutMs;
                    return ErrorCode.None;
                default:
                    return ErrorCode.UnknownMemberId;
            }
        }
        finally
        {
            group.Gate.Release();
        }
    }

    /// <summary>
    /// LeaveGroup for one or more members (v3+ batches them; an admin may name a static member
    /// by instance id alone). The group rebalances without them.
    /// </summary>
    public async Task<LeaveGroupResult> LeaveGroupAsync(string groupId, IReadOnlyList<LeavingMember> members, CancellationToken ct = default)
    {
        if (groupId.Length == 0) return new LeaveGroupResult(ErrorCode.InvalidGroupId, []);
        using var link = Link(ct, out var token);
        var (group, error) = await LockGroupAsync(groupId, create: false, token).ConfigureAwait(false);
        if (group is null) return new LeaveGroupResult(error == ErrorCode.None ? ErrorCode.UnknownMemberId : error, []);
        try
        {
            var results = new List<LeftMember>(members.Count);
            bool removed = false, pendingRemoved = false;
            foreach (var leaving in members)
            {
                ClassicGroupMember? member = null;
                if (leaving.MemberId.Length == 0)
                {
                    if (leaving.GroupInstanceId is { } instance && group.StaticMembers.TryGetValue(instance, out var id)) member = group.Members[id];
                    else
                    {
                        results.Add(new LeftMember(leaving.MemberId, leaving.GroupInstanceId, ErrorCode.UnknownMemberId));
                        continue;
                    }
                }
                else if (group.PendingMembers.Remove(leaving.MemberId))
                {
                    pendingRemoved = true;
                    results.Add(new LeftMember(leaving.MemberId, leaving.GroupInstanceId, ErrorCode.None));
                    continue;
                }
                else
                {
                    var invalid = group.ValidateMember(leaving.MemberId, leaving.GroupInstanceId);
                    if (invalid != ErrorCode.None)
                    {
                        results.Add(new LeftMember(leaving.MemberId, leaving.GroupInstanceId, invalid));
                        continue;
                    }
                    member = group.Members[leaving.MemberId];
                }
                _log.LogInformation("group {Group}: member {Member} leaves ({Reason})", group.GroupId, member.MemberId, leaving.Reason ?? "no reason given");
                group.CompleteJoin(member, JoinGroupResult.Failed(member.MemberId, ErrorCode.UnknownMemberId));
                ClassicGroup.CompleteSync(member, SyncGroupResult.Failed(ErrorCode.UnknownMemberId));
                group.Remove(member.MemberId);
                removed = true;
                results.Add(new LeftMember(leaving.MemberId, leaving.GroupInstanceId, ErrorCode.None));
            }
            if (removed)
            {
                if (group.CanRebalance) await PrepareRebalanceAsync(group).ConfigureAwait(false);
                else await TryCompleteJoinAsync(group).ConfigureAwait(false);
            }
            else if (pendingRemoved) await TryCompleteJoinAsync(group).ConfigureAwait(false);
            RemoveIfUnused(group);
            if (group.State != GroupState.Dead) Arm(group);
            return new LeaveGroupResult(ErrorCode.None, results);
        }
        finally
        {
            group.Gate.Release();
        }
    }
}
