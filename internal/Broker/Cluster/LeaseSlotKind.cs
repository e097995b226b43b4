namespace KafScale.Broker.Clustering;

/// <summary>What the reconciler needs of cluster membership (the <see cref="BrokerRegistry"/>).</summary>
internal interface IClusterMembership
{
    int BrokerId { get; }
    long LeaseId { get; }

    /// <summary>Ids of the live brokers, ascending.</summary>
    int[] LiveIds { get; }

    LeaseGuard Guard { get; }

    /// <summary>
    /// When a live broker's registration counts as settled (a <see cref="System.Diagnostics.Stopwatch"/>
    /// timestamp; <see cref="long.MinValue"/> when it already does): a broker that joined or came
    /// back gets slots moved to it only after --leader-rebalance-delay-ms (docs/architecture.md,
    /// "Leadership and fencing").
    /// </summary>
    long SettlesAt(int brokerId);

    /// <summary>The live set changed, or the lease is confirmed again after a lapse.</summary>
    event Action? Changed;

    /// <summary>The lease may have lapsed: stop acting as leader of anything, now.</summary>
    event Action? LeaseLost;
}

/// <summary>A key claimed by this broker: who holds it now, and the store revision of the claim.</summary>
internal sealed record SlotClaim(LeaderInfo Holder, long Revision);

/// <summary>
/// One kind of slot a broker leads by holding a key bound to its lease: a partition
/// (/kafscale/leaders/&lt;topic&gt;/&lt;p&gt;) or a consumer-group coordinator shard
/// (/kafscale/coordinators/&lt;shard&gt;). It says which slots exist, how a slot's key is
/// claimed, and what opening, handing over and dropping a slot does.
/// </summary>
/// <typeparam name="TKey">Names a slot.</typeparam>
/// <typeparam name="THandle">What an open slot is (a partition log, a loaded shard).</typeparam>
internal interface ILeaseSlotKind<TKey, THandle> where TKey : notnull
{
    /// <summary>The key prefix every slot key of this kind is under (watched).</summary>
    string KeyPrefix { get; }

    bool TryParseKey(string key, out TKey slot);

    string KeyOf(TKey slot);

    /// <summary>For logs: "orders-3", "coordinator shard 7".</summary>
    string Describe(TKey slot);

    /// <summary>For logs, an open slot: what an operator wants to see when it starts being led.</summary>
    string Describe(TKey slot, THandle handle);

    /// <summary>How many claimed slots one open takes at most (shards read the stored groups once for many).</summary>
    int OpenBatch { get; }

    /// <summary>Every slot that exists now.</summary>
    IEnumerable<TKey> Slots();

    /// <summary>The rendezvous winner for the slot among the given brokers (-1 for none).</summary>
    int Pick(TKey slot, int[] brokers);

    /// <summary>Creates the slot's key bound to the lease; null when another broker (or a changed topic) won.</summary>
    Task<SlotClaim?> ClaimAsync(TKey slot, int me, long lease, CancellationToken ct);

    /// <summary>
    /// Takes up again a slot whose key is still bound to our lease but which is not open (the lease
    /// seemed to lapse and was confirmed again, or opening failed). A partition moves to a new
    /// leader epoch here, so whatever the earlier term still had in flight is fenced like a
    /// deposed leader's; null when the key is no longer ours (or the topic changed).
    /// </summary>
    Task<SlotClaim?> RetakeAsync(TKey slot, LeaderInfo holder, int me, long lease, CancellationToken ct);

    /// <summary>Opens claimed slots (all or nothing: an exception fails the whole batch).</summary>
    Task<IReadOnlyList<THandle>> OpenAsync(IReadOnlyList<(TKey Slot, LeaderInfo Holder)> batch, CancellationToken ct);

    /// <summary>Makes an opened slot serve requests; false when it can no longer (its topic changed). Called under the reconciler's lock.</summary>
    bool Activate(THandle handle);

    /// <summary>An opened slot that was not activated (or lost meanwhile) is thrown away.</summary>
    void Discard(THandle handle);

    /// <summary>True when an open slot ended by itself (a partition log whose term ended).</summary>
    bool HasEnded(THandle handle);

    /// <summary>Graceful handoff before the key is released (flush, unload).</summary>
    Task HandOffAsync(TKey slot, THandle handle);

    /// <summary>Ends a slot at once: the lease may have lapsed or the key is gone. handle is default while it was not open yet.</summary>
    void Drop(TKey slot, THandle? handle, bool open);
}
