namespace KafScale.Groups;

/// <summary>A member of a classic group. Mutated only under its group's gate.</summary>
internal sealed class ClassicGroupMember(
    string memberId,
    string? groupInstanceId,
    string clientId,
    string clientHost,
    int rebalanceTimeoutMs,
    int sessionTimeoutMs,
    string protocolType,
    IReadOnlyList<GroupProtocol> protocols)
{
    /// <summary>Changes when a static member rejoins without its id and is given a new one (KIP-345).</summary>
    public string MemberId { get; set; } = memberId;
    public string? GroupInstanceId { get; } = groupInstanceId;
    public string ClientId { get; set; } = clientId;
    public string ClientHost { get; set; } = clientHost;
    public int RebalanceTimeoutMs { get; set; } = rebalanceTimeoutMs;
    public int SessionTimeoutMs { get; set; } = sessionTimeoutMs;
    public string ProtocolType { get; } = protocolType;
    public IReadOnlyList<GroupProtocol> Protocols { get; set; } = protocols;
    public byte[] Assignment { get; set; } = [];

    /// <summary>A JoinGroup of this member waiting for the join phase to end.</summary>
    public TaskCompletionSource<JoinGroupResult>? JoinWaiter { get; set; }

    /// <summary>A SyncGroup of this member waiting for the leader's assignments.</summary>
    public TaskCompletionSource<SyncGroupResult>? SyncWaiter { get; set; }

    /// <summary>Joined in the current rebalance without a member id; it cannot heartbeat yet.</summary>
    public bool IsNew { get; set; }

    /// <summary>When the session (or, for a new member, the join) expires, in coordinator milliseconds.</summary>
    public long DeadlineMs { get; set; }

    public bool IsStatic => GroupInstanceId is not null;
    public bool IsAwaitingJoin => JoinWaiter is not null;
    public bool IsAwaitingSync => SyncWaiter is not null;

    /// <summary>
    /// A member with a JoinGroup or SyncGroup parked at the coordinator cannot heartbeat on
    /// that connection; the rebalance's own deadlines bound it instead. Only a brand-new member
    /// still waiting to join can expire (after the new-member join timeout).
    /// </summary>
    public bool KeptAlive => (IsAwaitingJoin && !IsNew) || IsAwaitingSync;

    public byte[]? MetadataFor(string protocol)
    {
        foreach (var p in Protocols)
            if (p.Name == protocol) return p.Metadata;
        return null;
    }

    /// <summary>Same protocols, in the same order, with the same metadata.</summary>
    public bool Matches(IReadOnlyList<GroupProtocol> protocols)
    {
        if (protocols.Count != Protocols.Count) return false;
        for (int i = 0; i < protocols.Count; i++)
        {
            if (protocols[i].Name != Protocols[i].Name) return false;
            if (!protocols[i].Metadata.AsSpan().SequenceEqual(Protocols[i].Metadata)) return false;
        }
        return true;
    }
}
