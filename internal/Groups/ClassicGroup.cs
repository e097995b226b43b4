using System.Collections.Concurrent;
using KafScale.Protocol;

namespace KafScale.Groups;

/// <summary>
/// A group on the classic protocol: members, the generation, the chosen protocol, and the
/// group's committed offsets. Pure bookkeeping; the coordinator drives the state machine and
/// does the I/O. Everything is mutated only while holding <see cref="Gate"/>; the offsets and
/// the fields ListGroups reads are also safe to read without it.
/// </summary>
internal sealed class ClassicGroup(string groupId)
{
    public const string ConsumerProtocolType = "consumer";

    private readonly Dictionary<string, int> _protocolSupport = new(StringComparer.Ordinal);

    public string GroupId { get; } = groupId;

    /// <summary>Serializes everything done to the group, including the metadata-store writes.</summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    public GroupState State { get; private set; } = GroupState.Empty;
    public DateTimeOffset StateChangedAt { get; private set; }
    public int GenerationId { get; set; }
    public string? ProtocolType { get; set; }
    public string? ProtocolName { get; set; }
    public string? LeaderId { get; set; }

    /// <summary>The members by member id (the first to join leads a new group).</summary>
    public Dictionary<string, ClassicGroupMember> Members { get; } = new(StringComparer.Ordinal);

    /// <summary>group.instance.id to member id, for static members (KIP-345).</summary>
    public Dictionary<string, string> StaticMembers { get; } = new(StringComparer.Ordinal);

    /// <summary>Member ids handed out with MEMBER_ID_REQUIRED, and when each stops being honoured (KIP-394).</summary>
    public Dictionary<string, long> PendingMembers { get; } = new(StringComparer.Ordinal);

    /// <summary>Members of the new generation that have not sent SyncGroup yet.</summary>
    public HashSet<string> PendingSyncMembers { get; } = new(StringComparer.Ordinal);

    public int MembersAwaitingJoin { get; private set; }

    /// <summary>The initial delay of an empty group's first rebalance is running (group.initial.rebalance.delay.ms).</summary>
    public bool InInitialDelay { get; set; }
    public bool NewMemberAdded { get; set; }
    public long InitialDelayRemainingMs { get; set; }

    /// <summary>When the join phase ends whoever has rejoined by then (the rebalance timeout).</summary>
    public long JoinDeadlineMs { get; set; } = long.MaxValue;

    /// <summary>When members that have not sent SyncGroup are dropped.</summary>
    public long SyncDeadlineMs { get; set; } = long.MaxValue;

    /// <summary>Topics the members subscribe to, when the group uses the consumer protocol and every subscription parsed.</summary>
    public IReadOnlySet<string>? SubscribedTopics { get; private set; }

    public ConcurrentDictionary<TopicPartition, CommittedOffset> Offsets { get; } = new();

    /// <summary>The group has a state key in the metadata store.</summary>
    public bool HasStoredState { get; set; }

    public ITimer? Timer { get; set; }

    /// <summary>When the timer is due (long.MaxValue: not armed).</summary>
    public long TimerDueMs { get; set; } = long.MaxValue;

    public int RebalanceTimeoutMs
    {
        get
        {
            int max = 0;
            foreach (var m in Members.Values) max = Math.Max(max, m.RebalanceTimeoutMs);
            return max;
        }
    }

    public bool IsLeader(string memberId) => LeaderId == memberId;

    public void TransitionTo(GroupState state, DateTimeOffset now)
    {
        State = state;
        StateChangedAt = now;
    }

    /// <summary>Restores state read from the metadata store.</summary>
    public void Restore(GroupState state, DateTimeOffset changedAt)
    {
        State = state;
        StateChangedAt = changedAt;
        SubscribedTopics = ComputeSubscribedTopics();
    }

    public bool HasAllMembersJoined => Members.Count == MembersAwaitingJoin && PendingMembers.Count == 0;

    public bool CanRebalance => State is GroupState.Stable or GroupState.CompletingRebalance or GroupState.Empty;

    /// <summary>
    /// A member may join when its protocol type matches the group's and it shares at least one
    /// protocol with every current member; an empty group takes any non-empty offer.
    /// </summary>
    public bool SupportsProtocols(string protocolType, IReadOnlyList<GroupProtocol> protocols)
    {
        if (protocolType.Length == 0 || protocols.Count == 0) return false;
        if (Members.Count == 0) return true;
        if (ProtocolType != protocolType) return false;
        foreach (var p in protocols)
            if (_protocolSupport.TryGetValue(p.Name, out int n) && n == Members.Count) return true;
        return false;
    }

    public void Add(ClassicGroupMember member, TaskCompletionSource<JoinGroupResult>? waiter)
    {
        if (Members.Count == 0) ProtocolType = member.ProtocolType;
        if (member.GroupInstanceId is { } instanceId) StaticMembers[instanceId] = member.MemberId;
        LeaderId ??= member.MemberId;
        Members[member.MemberId] = member;
        CountProtocols(member, +1);
        member.JoinWaiter = waiter;
        if (waiter is not null) MembersAwaitingJoin++;
        PendingMembers.Remove(member.MemberId);
    }

    /// <summary>Removes a member (or a pending member id); a leaving leader hands over to any remaining member.</summary>
    public void Remove(string memberId)
    {
        if (Members.Remove(memberId, out var member))
        {
            CountProtocols(member, -1);
            if (member.IsAwaitingJoin) MembersAwaitingJoin--;
            if (member.GroupInstanceId is { } instanceId && StaticMembers.TryGetValue(instanceId, out var current) && current == memberId)
                StaticMembers.Remove(instanceId);
        }
        if (IsLeader(memberId))
        {
            LeaderId = null;
            foreach (var id in Members.Keys) { LeaderId = id; break; }
        }
        PendingMembers.Remove(memberId);
        PendingSyncMembers.Remove(memberId);
    }

    /// <summary>Takes a rejoining member's new protocols and timeouts, and parks its JoinGroup.</summary>
    public void UpdateMember(ClassicGroupMember member, IReadOnlyList<GroupProtocol> protocols, int rebalanceTimeoutMs, int sessionTimeoutMs, TaskCompletionSource<JoinGroupResult>? waiter)
    {
        CountProtocols(member, -1);
        member.Protocols = protocols;
        CountProtocols(member, +1);
        member.RebalanceTimeoutMs = rebalanceTimeoutMs;
        member.SessionTimeoutMs = sessionTimeoutMs;
        var previous = member.JoinWaiter;
        if (waiter is not null && previous is null) MembersAwaitingJoin++;
        else if (waiter is null && previous is not null) MembersAwaitingJoin--;
        member.JoinWaiter = waiter;
        // An earlier JoinGroup of the same member (its client gave up on it) must still end.
        // Detaching (waiter null) leaves answering the previous one to the caller.
        if (previous is not null && waiter is not null && previous != waiter)
            previous.TrySetResult(JoinGroupResult.Failed(member.MemberId, ErrorCode.RebalanceInProgress));
    }

    /// <summary>Answers the member's parked JoinGroup, if any.</summary>
    public void CompleteJoin(ClassicGroupMember member, JoinGroupResult result)
    {
        if (member.JoinWaiter is not { } waiter) return;
        member.JoinWaiter = null;
        MembersAwaitingJoin--;
        waiter.TrySetResult(result);
    }

    /// <summary>Answers the member's parked SyncGroup, if any.</summary>
    public static void CompleteSync(ClassicGroupMember member, SyncGroupResult result)
    {
        if (member.SyncWaiter is not { } waiter) return;
        member.SyncWaiter = null;
        waiter.TrySetResult(result);
    }

    /// <summary>
    /// Gives a static member a new member id (it rejoined without one). Requests parked under
    /// the old id are fenced: they belong to a previous incarnation of the instance.
    /// </summary>
    public ClassicGroupMember ReplaceStaticMember(string instanceId, string oldMemberId, string newMemberId)
    {
        var member = Members[oldMemberId];
        CompleteJoin(member, JoinGroupResult.Failed(oldMemberId, ErrorCode.FencedInstanceId));
        CompleteSync(member, SyncGroupResult.Failed(ErrorCode.FencedInstanceId));
        Members.Remove(oldMemberId);
        member.MemberId = newMemberId;
        Members[newMemberId] = member;
        StaticMembers[instanceId] = newMemberId;
        if (IsLeader(oldMemberId)) LeaderId = newMemberId;
        if (PendingSyncMembers.Remove(oldMemberId)) PendingSyncMembers.Add(newMemberId);
        return member;
    }

    /// <summary>Validates a request's member id and instance id (KIP-345 fencing first).</summary>
    public ErrorCode ValidateMember(string memberId, string? groupInstanceId)
    {
        if (groupInstanceId is not null)
        {
            if (!StaticMembers.TryGetValue(groupInstanceId, out var current)) return ErrorCode.UnknownMemberId;
            if (current != memberId) return ErrorCode.FencedInstanceId;
        }
        return Members.ContainsKey(memberId) ? ErrorCode.None : ErrorCode.UnknownMemberId;
    }

    /// <summary>
    /// The protocol for the next generation: among those every member supports, the one most
    /// members list first. Ties go to the order of the longest-standing member's preferences.
    /// </summary>
    public string SelectProtocol()
    {
        var votes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var m in Members.Values)
        {
            foreach (var p in m.Protocols)
            {
                if (IsCandidate(p.Name))
                {
                    votes[p.Name] = votes.GetValueOrDefault(p.Name) + 1;
                    break;
                }
            }
        }
        string? best = null;
        int bestVotes = -1;
        foreach (var m in Members.Values)
        {
            foreach (var p in m.Protocols)
            {
                if (votes.TryGetValue(p.Name, out int v) && v > bestVotes)
                {
                    best = p.Name;
                    bestVotes = v;
                }
            }
            break;
        }
        return best ?? throw new InvalidOperationException($"group {GroupId} has no protocol common to all members");
    }

    private bool IsCandidate(string protocol) => _protocolSupport.TryGetValue(protocol, out int n) && n == Members.Count;

    /// <summary>
    /// Makes sure the leader is a member that rejoined; false when no member rejoined at all
    /// (only static members that did not come back remain).
    /// </summary>
    public bool MaybeElectNewJoinedLeader()
    {
        if (LeaderId is null) return false;
        if (Members.TryGetValue(LeaderId, out var leader) && leader.IsAwaitingJoin) return true;
        foreach (var m in Members.Values)
        {
            if (m.IsAwaitingJoin)
            {
                LeaderId = m.MemberId;
                return true;
            }
        }
        return false;
    }

    /// <summary>Starts the next generation: CompletingRebalance with a chosen protocol, or Empty.</summary>
    public void InitNextGeneration(DateTimeOffset now)
    {
        GenerationId++;
        if (Members.Count > 0)
        {
            ProtocolName = SelectProtocol();
            TransitionTo(GroupState.CompletingRebalance, now);
        }
        else
        {
            ProtocolName = null;
            TransitionTo(GroupState.Empty, now);
        }
        SubscribedTopics = ComputeSubscribedTopics();
        PendingSyncMembers.Clear();
    }

    /// <summary>The members as the leader sees them in its JoinGroup response.</summary>
    public List<JoinedMember> CurrentMemberMetadata()
    {
        var list = new List<JoinedMember>(Members.Count);
        string protocol = ProtocolName ?? "";
        foreach (var m in Members.Values) list.Add(new JoinedMember(m.MemberId, m.GroupInstanceId, m.MetadataFor(protocol) ?? []));
        return list;
    }

    public bool IsSubscribedTo(string topic) => SubscribedTopics?.Contains(topic) ?? false;

    private HashSet<string>? ComputeSubscribedTopics()
    {
        if (ProtocolType != ConsumerProtocolType || ProtocolName is null || Members.Count == 0) return null;
        var topics = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in Members.Values)
        {
            var parsed = ConsumerProtocol.SubscribedTopics(m.MetadataFor(ProtocolName));
            if (parsed is null) return null;
            topics.UnionWith(parsed);
        }
        return topics;
    }

    private void CountProtocols(ClassicGroupMember member, int delta)
    {
        var protocols = member.Protocols;
        for (int i = 0; i < protocols.Count; i++)
        {
            var p = protocols[i];
            if (ListedBefore(protocols, i)) continue;
            int n = _protocolSupport.GetValueOrDefault(p.Name) + delta;
            if (n <= 0) _protocolSupport.Remove(p.Name);
            else _protocolSupport[p.Name] = n;
        }
    }

    private static bool ListedBefore(IReadOnlyList<GroupProtocol> protocols, int index)
    {
        for (int j = 0; j < index; j++)
            if (protocols[j].Name == protocols[index].Name) return true;
        return false;
    }
}
