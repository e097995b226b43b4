using KafScale.Groups;
using KafScale.Metadata;

namespace KafScale.Broker.Clustering;

/// <summary>
/// Consumer-group coordinator shards as lease-held slots: the key is
/// /kafscale/coordinators/&lt;shard&gt; (epoch 0: a shard's writes are fenced by the key's lease,
/// not by an epoch), opening loads the shard's groups (many shards from one read of the store),
/// handing over unloads it.
/// </summary>
internal sealed class CoordinatorShardSlots(IMetadataStore meta, GroupCoordinatorService groups) : ILeaseSlotKind<int, int>
{
    public string KeyPrefix => ClusterKeys.CoordinatorsPrefix;

    public bool TryParseKey(string key, out int slot) =>
        ClusterKeys.TryParseCoordinator(key, out slot) && slot < groups.ShardCount;

    public string KeyOf(int slot) => ClusterKeys.Coordinator(slot);

    public string Describe(int slot) => $"coordinator shard {slot}";

    public string Describe(int slot, int handle) => Describe(slot);

    public int OpenBatch => int.MaxValue;

    public IEnumerable<int> Slots() => Enumerable.Range(0, groups.ShardCount);

    public int Pick(int shard, int[] brokers) => Rendezvous.Pick(Rendezvous.CoordinatorTopic, shard, brokers);

    public async Task<SlotClaim?> ClaimAsync(int shard, int me, long lease, CancellationToken ct)
    {
        string key = ClusterKeys.Coordinator(shard);
        var txn = await meta.TxnAsync(new TxnRequest([Compare.KeyMissing(key)], [TxnOp.Put(key, PartitionSlots.LeaderValue(me, 0), lease)], []), ct).ConfigureAwait(false);
        return txn.Succeeded ? new SlotClaim(new LeaderInfo(me, 0, lease), txn.Revision) : null;
    }

    /// <summary>A shard has no epoch: its writes are fenced by the lease compare alone, so the key is taken up as it is.</summary>
    public Task<SlotClaim?> RetakeAsync(int shard, LeaderInfo holder, int me, long lease, CancellationToken ct) =>
        Task.FromResult<SlotClaim?>(new SlotClaim(holder, 0));

    public async Task<IReadOnlyList<int>> OpenAsync(IReadOnlyList<(int Slot, LeaderInfo Holder)> batch, CancellationToken ct)
    {
        // Every write of a shard's coordinator requires its key to still be bound to the lease it was claimed under.
        await groups.LoadShardsAsync([.. batch.Select(b => (b.Slot, (IReadOnlyList<Compare>?)[new Compare(ClusterKeys.Coordinator(b.Slot), CompareTarget.Lease, CompareResult.Equal, b.Holder.Lease)]))], ct).ConfigureAwait(false);
        return [.. batch.Select(b => b.Slot)];
    }

    public bool Activate(int shard) => true;

    public void Discard(int shard) => _ = groups.UnloadShardAsync(shard);

    public bool HasEnded(int shard) => false;

    public Task HandOffAsync(int shard, int handle) => groups.UnloadShardAsync(shard);

    /// <summary>Also a shard still loading: unloading marks it not led, so the load in progress is thrown away.</summary>
    public void Drop(int shard, int handle, bool open) => _ = groups.UnloadShardAsync(shard);
}
