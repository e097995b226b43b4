using System.Globalization;
using System.Text;
using System.Text.Json;
using KafScale.Broker.Log;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Clustering;

/// <summary>A partition of a topic, as a dictionary key.</summary>
internal readonly record struct PartitionId(string Topic, int Partition);

/// <summary>
/// Partitions as lease-held slots: the key is /kafscale/leaders/&lt;topic&gt;/&lt;p&gt;, a claim bumps
/// the stored leader epoch, opening recovers the partition log from the store, and handing over
/// flushes it first.
/// </summary>
internal sealed class PartitionSlots(IMetadataStore meta, LogManager logs, ILogger log) : ILeaseSlotKind<PartitionId, PartitionLog>
{
    /// <summary>How long a handoff may spend flushing before the rest is refused.</summary>
    public TimeSpan HandoffFlushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public string KeyPrefix => ClusterKeys.LeadersPrefix;

    public bool TryParseKey(string key, out PartitionId slot)
    {
        bool ok = ClusterKeys.TryParseLeader(key, out var topic, out int p);
        slot = new PartitionId(topic, p);
        return ok;
    }

    public string KeyOf(PartitionId slot) => ClusterKeys.Leader(slot.Topic, slot.Partition);

    public string Describe(PartitionId slot) => $"{slot.Topic}-{slot.Partition}";

    public string Describe(PartitionId slot, PartitionLog handle) => $"{slot.Topic}-{slot.Partition} (offsets {handle.LogStartOffset}-{handle.HighWatermark})";

    public int OpenBatch => 1;

    public IEnumerable<PartitionId> Slots()
    {
        foreach (var topic in logs.Topics)
        {
            int count = topic.PartitionCount;
            for (int p = 0; p < count; p++) yield return new PartitionId(topic.Name, p);
        }
    }

    public int Pick(PartitionId slot, int[] brokers) => Rendezvous.Pick(slot.Topic, slot.Partition, brokers);

    /// <summary>
    /// Creates the leader key bound to the lease and bumps the stored leader epoch, in one
    /// transaction that also requires the topic to be the incarnation this broker knows.
    /// </summary>
    public Task<SlotClaim?> ClaimAsync(PartitionId id, int me, long lease, CancellationToken ct) =>
        BumpEpochAsync(id, me, lease, Compare.KeyMissing(ClusterKeys.Leader(id.Topic, id.Partition)), ct);

    /// <summary>
    /// The leader key is still bound to our lease, but the partition was not open: a new epoch all
    /// the same, so a WAL upload of the earlier term that lands after this term recovered is fenced
    /// like a deposed leader's instead of competing with this term's chunks at the same epoch
    /// (docs/architecture.md, "Leadership and fencing").
    /// </summary>
    public Task<SlotClaim?> RetakeAsync(PartitionId id, LeaderInfo holder, int me, long lease, CancellationToken ct) =>
        BumpEpochAsync(id, me, lease, new Compare(ClusterKeys.Leader(id.Topic, id.Partition), CompareTarget.Lease, CompareResult.Equal, lease), ct);

    /// <summary>The stored leader_epoch + 1, written with the leader key in one transaction (so it is never below the holder's epoch).</summary>
    private async Task<SlotClaim?> BumpEpochAsync(PartitionId id, int me, long lease, Compare leaderKeyState, CancellationToken ct)
    {
        if (!logs.TryGetTopic(id.Topic, out var topic) || id.Partition >= topic.PartitionCount) return null;
        string epochKey = MetadataKeys.LeaderEpoch(id.Topic, id.Partition);
        var stored = await meta.GetAsync(epochKey, ct).ConfigureAwait(false);
        int epoch = (stored is null ? 0 : int.Parse(Encoding.ASCII.GetString(stored.Value), CultureInfo.InvariantCulture)) + 1;
        var txn = await meta.TxnAsync(new TxnRequest(
            [
                leaderKeyState,
                Compare.ModRevisionEquals(epochKey, stored?.ModRevision ?? 0),
                new Compare(MetadataKeys.TopicConfig(id.Topic), CompareTarget.CreateRevision, CompareResult.Equal, topic.CreateRevision),
            ],
            [TxnOp.Put(ClusterKeys.Leader(id.Topic, id.Partition), LeaderValue(me, epoch), lease), TxnOp.Put(epochKey, Encoding.ASCII.GetBytes(epoch.ToString(CultureInfo.InvariantCulture)))],
            []), ct).ConfigureAwait(false);
        return txn.Succeeded ? new SlotClaim(new LeaderInfo(me, epoch, lease), txn.Revision) : null;
    }

    internal static byte[] LeaderValue(int broker, int epoch) =>
        JsonSerializer.SerializeToUtf8Bytes(new LeaderRecord { Broker = broker, Epoch = epoch }, ClusterJsonContext.Default.LeaderRecord);

    /// <summary>Recovery from the store; the log accepts writes once activated.</summary>
    public async Task<IReadOnlyList<PartitionLog>> OpenAsync(IReadOnlyList<(PartitionId Slot, LeaderInfo Holder)> batch, CancellationToken ct)
    {
        // Every slot of the batch is won by now: a WAL listing that begins from here on sees all
        // their earlier leaders acknowledged, so the batch's opens may share one.
        long claimedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var topics = new TopicState[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            var id = batch[i].Slot;
            if (!logs.TryGetTopic(id.Topic, out var topic) || id.Partition >= topic.PartitionCount)
                throw new InvalidOperationException($"topic {id.Topic} has no partition {id.Partition} any more");
            topics[i] = topic;
        }
        // Produce requests for these partitions wait for their opens from now on (Activate or
        // Discard ends the wait), instead of sending clients back to their metadata.
        for (int i = 0; i < batch.Count; i++) logs.Registry.BeginOpening(topics[i], batch[i].Slot.Partition);
        var opened = new PartitionLog[batch.Count];
        int done = 0;
        try
        {
            for (; done < batch.Count; done++)
                opened[done] = await logs.Partitions.OpenAsync(topics[done], batch[done].Slot.Partition, batch[done].Holder.Epoch, ct, claimedAt).ConfigureAwait(false);
        }
        catch
        {
            for (int i = 0; i < batch.Count; i++)
            {
                if (i < done) opened[i].Abandon(ErrorCodes.NotLeaderOrFollower);
                logs.Registry.EndOpening(topics[i], batch[i].Slot.Partition);
            }
            throw;
        }
        return opened;
    }

    public bool Activate(PartitionLog handle) => logs.Registry.Publish(handle);

    public void Discard(PartitionLog handle)
    {
        handle.Abandon(ErrorCodes.NotLeaderOrFollower);
        logs.Registry.EndOpening(handle.TopicState, handle.Partition);
    }

    public bool HasEnded(PartitionLog handle) => handle.IsClosed;

    public async Task HandOffAsync(PartitionId id, PartitionLog handle)
    {
        try { await logs.Partitions.CloseAsync(handle, HandoffFlushTimeout).ConfigureAwait(false); }
        catch (Exception ex)
        {
            log.LogWarning("handoff of {Topic}-{Partition} failed while flushing: {Error}", id.Topic, id.Partition, ex.Message);
            logs.Partitions.Drop(handle);
        }
    }

    public void Drop(PartitionId id, PartitionLog? handle, bool open)
    {
        if (handle is not null) logs.Partitions.Drop(handle);
    }
}
