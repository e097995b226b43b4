using KafScale.Metadata;

namespace KafScale.Snapshot;

/// <summary>The target holds KafScale keys (or live brokers) and the restore was not allowed to replace them.</summary>
public sealed class RestoreRefusedException(string message) : Exception(message);

/// <summary>What a restore did.</summary>
/// <param name="ProducerIdsFrom">The snapshot's next producer-id block, when it had one (raised on restore).</param>
/// <param name="ProducerIdsTo">What it was restored as.</param>
/// <param name="LeaderEpochsMoved">Partitions whose leader epoch was moved on by <see cref="MetadataRestore.LeaderEpochMargin"/>.</param>
public sealed record RestoreResult(long KeysWritten, long KeysReplaced, long Revision, long? ProducerIdsFrom = null, long? ProducerIdsTo = null, long LeaderEpochsMoved = 0);

/// <summary>
/// Writes a snapshot's keys into a metadata store. The target must hold no key under
/// /kafscale/ unless force is given; even with force it refuses while brokers are registered
/// (a running broker would keep writing its own view). Keys go in transactions of at most
/// <see cref="MaxOpsPerTxn"/> puts and about <see cref="MaxBytesPerTxn"/> bytes, inside etcd's
/// default limits (128 operations, 1.5 MiB per request). An interrupted restore leaves a partial
/// copy: run it again with force. Every value is restored as it was, except the producer-id
/// allocator's next block, which moves on by <see cref="ProducerIdMargin"/>, and the partitions'
/// leader epochs, which move on by <see cref="LeaderEpochMargin"/>.
/// </summary>
public static class MetadataRestore
{
    public const int MaxOpsPerTxn = 100;
    public const int MaxBytesPerTxn = 1 << 20;

    public const string BrokersPrefix = "/kafscale/brokers/";

    /// <summary>The producer-id allocator's key: the start of the next block of ids (ASCII decimal).</summary>
    public const string ProducerIdsKey = "/kafscale/producer_ids/next_block";

    /// <summary>
    /// How far the next producer-id block is moved on at restore: ids handed out after the
    /// snapshot was taken must not be handed out again (their batches are in the log, and a
    /// reused id would meet its predecessor's sequence numbers). A million ids is a thousand
    /// blocks of the broker's 1000.
    /// </summary>
    public const long ProducerIdMargin = 1_000_000;

    /// <summary>
    /// How far each partition's leader epoch is moved on at restore. Epochs only grow; clients
    /// that kept running remember the epochs they saw after the snapshot and ignore metadata
    /// with older ones, so the restored epochs must be ahead of anything handed out since.
    /// </summary>
    public const int LeaderEpochMargin = 1000;

    private const string TopicsPrefix = "/kafscale/topics/";
    private const string LeaderEpochSuffix = "/leader_epoch";

    public static async Task<RestoreResult> RestoreAsync(IMetadataStore target, SnapshotContent content, bool force, CancellationToken ct)
    {
        RangeResult existing = await target.GetPrefixAsync(SnapshotFormat.Prefix, ct).ConfigureAwait(false);
        long replaced = 0;
        if (existing.Kvs.Count > 0)
        {
            int brokers = existing.Kvs.Count(kv => kv.Key.StartsWith(BrokersPrefix, StringComparison.Ordinal));
            if (brokers > 0)
                throw new RestoreRefusedException($"{brokers} broker(s) are registered in the target {target.Kind} store (keys under {BrokersPrefix}): stop every broker before restoring (a broker that was killed rather than stopped disappears when its lease expires, within seconds)");
            if (!force)
                throw new RestoreRefusedException($"the target {target.Kind} store is not empty: it holds {existing.Kvs.Count} key(s) under {SnapshotFormat.Prefix}; "
                    + "restore into an empty store, or pass --force to delete them and restore over them");
            replaced = await target.DeletePrefixAsync(SnapshotFormat.Prefix, ct).ConfigureAwait(false);
        }

        var ops = new List<TxnOp>();
        int bytes = 0;
        long written = 0;
        long revision = existing.Revision;
        long? idsFrom = null, idsTo = null;
        long epochsMoved = 0;
        foreach (KeyValuePair<string, byte[]> original in content.Entries)
        {
            KeyValuePair<string, byte[]> entry = original;
            if (!entry.Key.StartsWith(SnapshotFormat.Prefix, StringComparison.Ordinal))
                throw new SnapshotFormatException($"the snapshot holds key '{entry.Key}', outside {SnapshotFormat.Prefix}");
            if (entry.Key == ProducerIdsKey
                && long.TryParse(System.Text.Encoding.ASCII.GetString(entry.Value), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long next)
                && next <= long.MaxValue - ProducerIdMargin)
            {
                idsFrom = next;
                idsTo = next + ProducerIdMargin;
                entry = new(entry.Key, System.Text.Encoding.ASCII.GetBytes(idsTo.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
            else if (entry.Key.StartsWith(TopicsPrefix, StringComparison.Ordinal) && entry.Key.EndsWith(LeaderEpochSuffix, StringComparison.Ordinal)
                && int.TryParse(System.Text.Encoding.ASCII.GetString(entry.Value), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int epoch)
                && epoch <= int.MaxValue - LeaderEpochMargin)
            {
                epochsMoved++;
                entry = new(entry.Key, System.Text.Encoding.ASCII.GetBytes((epoch + LeaderEpochMargin).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            }
            int size = entry.Key.Length * 3 + entry.Value.Length + 16;
            if (ops.Count > 0 && (ops.Count >= MaxOpsPerTxn || bytes + size > MaxBytesPerTxn))
            {
                revision = await CommitAsync(target, ops, ct).ConfigureAwait(false);
                written += ops.Count;
                ops.Clear();
                bytes = 0;
            }
            ops.Add(TxnOp.Put(entry.Key, entry.Value));
            bytes += size;
        }
        if (ops.Count > 0)
        {
            revision = await CommitAsync(target, ops, ct).ConfigureAwait(false);
            written += ops.Count;
        }
        return new RestoreResult(written, replaced, revision, idsFrom, idsTo, epochsMoved);
    }

    private static async Task<long> CommitAsync(IMetadataStore target, List<TxnOp> ops, CancellationToken ct)
    {
        TxnResult r = await target.TxnAsync(new TxnRequest([], [.. ops], []), ct).ConfigureAwait(false);
        return r.Revision;
    }
}
