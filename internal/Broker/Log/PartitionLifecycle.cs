using System.Globalization;
using System.Text;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>
/// The term of a partition log on this broker: opened (recovered from the store) when the
/// leadership layer makes this broker the leader, published to requests, closed gracefully on
/// handoff or dropped at once when leadership is lost. Also the moves of the log start offset
/// (DeleteRecords, retention), which only the leader makes.
/// </summary>
internal sealed class PartitionLifecycle(IMetadataStore meta, PartitionStorage storage, LogRuntime runtime, TopicRegistry topics, NextOffsetHints hints, ILogger log)
{
    /// <summary>
    /// How much of a partition's newest data is replayed into the idempotent-producer state at
    /// open. A producer retries for seconds (delivery.timeout.ms defaults to 2 minutes), so the
    /// batches it may retry are in the newest segments.
    /// </summary>
    public static long ProducerStateReplayBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>An open that takes this long logs where its time went.</summary>
    private const double SlowOpenMs = 1000;

    /// <summary>
    /// Opens a partition this broker has just become the leader of: recovers its chain of
    /// segments from the store (the next_offset hint is only a hint), rebuilds the idempotent
    /// producers' state. The log is not yet visible to requests: see <see cref="TopicRegistry.Publish"/>.
    /// </summary>
    /// <param name="claimedAt">
    /// A Stopwatch timestamp taken after this broker won the partition; opens of one takeover pass
    /// the same one, so they can share a WAL listing (<see cref="PartitionStorage.RecoverWalAsync"/>).
    /// By default, when this call began.
    /// </param>
    public async Task<PartitionLog> OpenAsync(TopicState topic, int partition, int epoch, CancellationToken ct, long? claimedAt = null)
    {
        long begun = System.Diagnostics.Stopwatch.GetTimestamp();
        var times = new OpenTimes();
        var keys = await meta.GetPrefixAsync(MetadataKeys.Partition(topic.Name, partition), ct).ConfigureAwait(false);
        long hint = 0, start = 0, lastSegment = 0;
        KeyValue? epochStartsKey = null;
        byte[]? epochWritersValue = null;
        int handoffEpoch = -1;
        long handoffEnd = -1;
        foreach (var kv in keys.Kvs)
        {
            if (kv.Key.EndsWith("/sealed_handoff", StringComparison.Ordinal) && SealedHandoff.TryParse(kv.Value, out int e, out long end))
                (handoffEpoch, handoffEnd) = (e, end);
            if (kv.Key.EndsWith("/next_offset", StringComparison.Ordinal)) hint = ParseLong(kv.Value);
            else if (kv.Key.EndsWith("/log_start_offset", StringComparison.Ordinal)) start = ParseLong(kv.Value);
            else if (kv.Key.EndsWith("/last_segment", StringComparison.Ordinal)) lastSegment = ParseLong(kv.Value);
            else if (kv.Key.EndsWith("/epoch_starts", StringComparison.Ordinal)) epochStartsKey = kv;
            else if (kv.Key.EndsWith("/epoch_writers", StringComparison.Ordinal)) epochWritersValue = kv.Value;
        }
        var epochStarts = EpochStarts.Parse(epochStartsKey?.Value);
        var epochWriters = EpochWriters.Parse(epochWritersValue);
        var opened = new PartitionLog(topic.Name, partition, topic, storage, runtime) { LeaderEpoch = epoch };
        long mark = System.Diagnostics.Stopwatch.GetTimestamp();
        times.MetadataMs = System.Diagnostics.Stopwatch.GetElapsedTime(begun, mark).TotalMilliseconds;
        var (segments, olderBelow) = await storage.RecoverAsync(topic.Name, partition, lastSegment, ct).ConfigureAwait(false);
        times.SegmentsMs = System.Diagnostics.Stopwatch.GetElapsedTime(mark).TotalMilliseconds;
        mark = System.Diagnostics.Stopwatch.GetTimestamp();
        var producers = await storage.ReplayProducersAsync(opened, segments, ct).ConfigureAwait(false);
        // Then the WAL chain beyond the sealed segments: durable data the last leader had not
        // sealed yet, sealed by this one at once (docs/architecture.md, "The write path").
        long sealedEnd = segments.Count > 0 ? segments[^1].LastOffset + 1 : Math.Max(0, start);
        int lastEpoch = segments.Count > 0 ? await LastEpochAsync(opened, segments[^1]).ConfigureAwait(false) : -1;
        // The previous term handed over with everything sealed up to where the chain ends, and
        // no term came between (each claim adds one to the epoch): the WAL holds nothing of this
        // partition that counts, so a takeover by handoff reads no WAL footers.
        bool sealedHandoff = handoffEpoch == epoch - 1 && handoffEnd == Math.Max(sealedEnd, start);
        times.ProducersMs = System.Diagnostics.Stopwatch.GetElapsedTime(mark).TotalMilliseconds;
        var unsealed = sealedHandoff ? []
            : await storage.RecoverWalAsync(topic.Id, topic.Name, partition, sealedEnd, lastEpoch, epochStarts, ct, times,
                EpochWriters.Since(epochStarts, epochWriters, sealedEnd), claimedAt ?? begun).ConfigureAwait(false);
        foreach (var u in unsealed) PartitionLog.ReplayInto(producers, u.UnsealedBody.Span);
        opened.Load(segments, start, olderBelow, unsealed);
        opened.SetProducers(producers);
        // The hint is written after data is durable, so it is never ahead of the sealed segments and the WAL together.
        if (opened.NextOffset < hint)
            log.LogWarning("{Topic}-{Partition}: metadata says next offset {Hint} but the segments and the WAL end at {End}", topic.Name, partition, hint, opened.NextOffset);
        // Before this epoch takes a write: its log begins here, so a deposed leader's upload
        // landing later at or above this offset never counts (docs/storage-format.md, "The chain rule").
        await RecordEpochStartAsync(topic, partition, epoch, opened.NextOffset, epochStartsKey, epochWritersValue, ct).ConfigureAwait(false);
        double total = System.Diagnostics.Stopwatch.GetElapsedTime(begun).TotalMilliseconds;
        if (total >= SlowOpenMs)
            log.LogInformation("{Topic}-{Partition}: open took {Total:0} ms: metadata {Meta:0} ms, sealed segments {Segments:0} ms, producer state {Producers:0} ms, WAL listing {Listing:0} ms ({Listed} objects, {Objects} of writers that matter), {Unknown} footers not held before {Footers:0} ms, {Chunks} chunks {ChunksMs:0} ms",
                topic.Name, partition, total, times.MetadataMs, times.SegmentsMs, times.ProducersMs, times.WalListingMs, times.WalListed, times.WalObjects, times.WalFootersUnknown, times.WalFootersMs, times.WalChunks, times.WalChunksMs);
        if (unsealed.Count > 0)
        {
            log.LogInformation("{Topic}-{Partition}: adopted offsets {From}-{To} from the WAL; sealing them", topic.Name, partition, unsealed[0].BaseOffset, unsealed[^1].LastOffset);
            runtime.ScheduleSeal(opened);
        }
        if (opened.NextOffset != hint || (segments.Count > 0 && segments[^1].BaseOffset != lastSegment)) runtime.ScheduleHintUpdate(opened);
        if (olderBelow) _ = LoadOlderAsync(opened, segments[0].BaseOffset);
        return opened;
    }

    /// <summary>
    /// Adds (epoch, start) to the partition's epoch_starts key (docs/metadata.md) with a
    /// transaction that requires the version read at open; a concurrent change is read again and
    /// merged. A newer epoch already recorded means this broker was deposed while opening.
    /// The same transaction adds (epoch, broker, WAL clock now) to epoch_writers, which lets a
    /// later takeover read only the WAL footers of the brokers that can hold chunks it needs.
    /// </summary>
    private async Task RecordEpochStartAsync(TopicState topic, int partition, int epoch, long startOffset, KeyValue? read, byte[]? writersRead, CancellationToken ct)
    {
        string key = MetadataKeys.EpochStarts(topic.Name, partition);
        string writersKey = MetadataKeys.EpochWriters(topic.Name, partition);
        for (int attempt = 0; ; attempt++)
        {
            var known = EpochStarts.Parse(read?.Value);
            if (known.Exists(e => e.Epoch > epoch))
                throw new InvalidOperationException($"{topic.Name}-{partition}: leader epoch {epoch} is already followed by a newer one");
            // Every claim and retake is a new epoch, so an epoch already here is an open of it that
            // is being retried: the epoch still began where it first did.
            long start = startOffset;
            foreach (var e in known) if (e.Epoch == epoch) start = Math.Min(start, e.StartOffset);
            known.RemoveAll(e => e.Epoch == epoch);
            known.Add(new KafScale.Storage.Wal.EpochStart(epoch, start));
            var compares = new List<Compare>
            {
                new(MetadataKeys.TopicConfig(topic.Name), CompareTarget.CreateRevision, CompareResult.Equal, topic.CreateRevision),
                new(key, CompareTarget.ModRevision, CompareResult.Equal, read?.ModRevision ?? 0),
            };
            var puts = new List<TxnOp> { TxnOp.Put(key, EpochStarts.Format(known)) };
            // Only a broker that writes WAL objects is a writer; both keys change only here, under
            // the compare on epoch_starts, so they move together.
            if (runtime.Wal is { } wal)
            {
                var writers = EpochWriters.Parse(writersRead);
                long since = wal.ClockMs();
                if (writers.TryGetValue(epoch, out var earlier) && earlier.Broker == wal.BrokerId) since = Math.Min(since, earlier.SinceMs);
                writers[epoch] = (wal.BrokerId, since);
                puts.Add(TxnOp.Put(writersKey, EpochWriters.Format(writers)));
            }
            var result = await meta.TxnAsync(new TxnRequest(compares, puts, [TxnOp.Get(key), TxnOp.Get(writersKey)]), ct).ConfigureAwait(false);
            if (result.Succeeded) return;
            if (attempt >= 4) throw new IOException($"{topic.Name}-{partition}: {key} kept changing while leader epoch {epoch} was recorded");
            read = result.Gets.Count > 0 && result.Gets[0].Count > 0 ? result.Gets[0][0] : null;
            writersRead = result.Gets.Count > 1 && result.Gets[1].Count > 0 ? result.Gets[1][0].Value : null;
        }
    }

    /// <summary>The leader epoch of the last batch of a segment: the WAL chain may not go below it.</summary>
    private async Task<int> LastEpochAsync(PartitionLog log, SegmentRef segment)
    {
        var body = await storage.GetBodyAsync(log, segment).ConfigureAwait(false);
        int epoch = -1;
        foreach (var batch in KafScale.Records.RecordBatch.EnumerateBatches(body.Span)) epoch = new KafScale.Records.RecordBatchHeader(batch).PartitionLeaderEpoch;
        return epoch;
    }

    /// <summary>
    /// After an open from the hint: finds the segments below it in the background, retrying
    /// while the store fails, until the term ends. Reads below wait for it; writes never do.
    /// </summary>
    private async Task LoadOlderAsync(PartitionLog partition, long below)
    {
        int attempt = 0;
        while (!partition.IsClosed)
        {
            try
            {
                var older = await storage.RecoverOlderAsync(partition.Topic, partition.Partition, below, partition.Term).ConfigureAwait(false);
                // The idempotent producers of the newest older segments (the same budget as at
                // open), for producers that wrote nothing since the hint.
                var producers = await storage.ReplayProducersAsync(partition, older, partition.Term).ConfigureAwait(false);
                partition.LoadOlder(older, producers);
                return;
            }
            catch (OperationCanceledException) when (partition.Term.IsCancellationRequested) { break; }
            catch (Exception ex)
            {
                attempt++;
                log.LogWarning("{Topic}-{Partition}: listing the segments below offset {Below} failed (attempt {Attempt}): {Error}; retrying", partition.Topic, partition.Partition, below, attempt, ex.Message);
                try { await Task.Delay(Math.Min(5000, 100 << Math.Min(attempt, 6)), partition.Term).ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
        }
        partition.LoadOlder([]);
    }

    /// <summary>
    /// Graceful handoff: new appends are refused, everything appended is flushed, made durable
    /// and sealed (up to timeout), the final hint is written; then the term ends and whatever is
    /// still waiting is answered NOT_LEADER_OR_FOLLOWER (its producers retry on the next leader).
    /// </summary>
    public async Task CloseAsync(PartitionLog partition, TimeSpan timeout)
    {
        partition.BeginHandoff();
        if (!await partition.FlushUntilDurableAsync(timeout).ConfigureAwait(false))
            log.LogWarning("{Topic}-{Partition}: handoff could not flush everything within {Timeout}; the rest is refused", partition.Topic, partition.Partition, timeout);
        await hints.WriteAsync([partition], CancellationToken.None, handoff: true).ConfigureAwait(false);
        partition.Abandon(ErrorCodes.NotLeaderOrFollower);
        topics.Unpublish(partition);
    }

    /// <summary>Ends a term at once (lease lapsed, leader key gone): nothing more is acknowledged.</summary>
    public void Drop(PartitionLog partition)
    {
        partition.Abandon(ErrorCodes.NotLeaderOrFollower);
        topics.Unpublish(partition);
    }

    /// <summary>Flushes everything pending in the open logs and writes their hints (tests and tools; brokers hand off through the leadership layer).</summary>
    public async Task FlushAllAsync(TimeSpan timeout)
    {
        var all = topics.OpenLogs().ToList();
        await Task.WhenAll(all.Select(l => l.FlushUntilDurableAsync(timeout))).ConfigureAwait(false);
        foreach (var p in all) if (p.HasPending) p.Abandon(ErrorCodes.NotLeaderOrFollower);
        await hints.WriteAsync(all, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// Moves the log start offset and deletes the whole segments below it. False when this
    /// broker no longer leads the partition (or the topic is gone).
    /// </summary>
    public async Task<bool> AdvanceLogStartAsync(PartitionLog partition, long offset, CancellationToken ct)
    {
        // Segments below the new start must all be known to be deleted.
        await partition.OlderSegmentsLoaded.ConfigureAwait(false);
        if (partition.IsClosed || !topics.IsCurrent(partition.TopicState)) return false;
        var removed = partition.AdvanceLogStart(offset);
        // Tied to the topic's incarnation: a deleted topic must not get its keys written back.
        var txn = await meta.TxnAsync(new TxnRequest(
            [new Compare(MetadataKeys.TopicConfig(partition.Topic), CompareTarget.CreateRevision, CompareResult.Equal, partition.TopicState.CreateRevision)],
            [TxnOp.Put(MetadataKeys.LogStartOffset(partition.Topic, partition.Partition), NextOffsetHints.Ascii(partition.LogStartOffset))], []), ct).ConfigureAwait(false);
        if (!txn.Succeeded) return false;
        foreach (var segment in removed)
        {
            runtime.SegmentCache?.Remove(new KafScale.Storage.SegmentCacheKey(partition.Topic, partition.Partition, segment.BaseOffset));
            await storage.DeleteSegmentAsync(partition.Topic, partition.Partition, segment.BaseOffset, ct).ConfigureAwait(false);
        }
        return true;
    }

    private static long ParseLong(byte[] value) =>
        long.TryParse(Encoding.ASCII.GetString(value), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? l : 0;
}

/// <summary>
/// The epoch_starts key (docs/metadata.md): "epoch:offset" pairs separated by spaces, in epoch
/// order, the newest <see cref="Kept"/>. An unreadable pair is skipped: the key only narrows
/// which WAL chunks count, so a lost entry weakens the fence for that old epoch and nothing else.
/// </summary>
internal static class EpochStarts
{
    public const int Kept = 32;

    public static List<KafScale.Storage.Wal.EpochStart> Parse(byte[]? value)
    {
        var result = new List<KafScale.Storage.Wal.EpochStart>();
        if (value is null) return result;
        foreach (string pair in Encoding.ASCII.GetString(value).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int colon = pair.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0
                && int.TryParse(pair.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out int epoch)
                && long.TryParse(pair.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long offset))
                result.Add(new KafScale.Storage.Wal.EpochStart(epoch, offset));
        }
        return result;
    }

    public static byte[] Format(List<KafScale.Storage.Wal.EpochStart> starts)
    {
        starts.Sort(static (a, b) => a.Epoch.CompareTo(b.Epoch));
        int skip = Math.Max(0, starts.Count - Kept);
        return Encoding.ASCII.GetBytes(string.Join(' ', starts.Skip(skip).Select(e => string.Create(CultureInfo.InvariantCulture, $"{e.Epoch}:{e.StartOffset}"))));
    }
}

/// <summary>
/// The epoch_writers key (docs/metadata.md): "epoch:broker:ms" triples separated by spaces, in
/// epoch order, the newest <see cref="EpochStarts.Kept"/>: which broker led each epoch and its
/// WAL clock when it recorded the epoch's start, before it wrote anything under it. Written in
/// the same transaction as epoch_starts. An unreadable triple is skipped, and an epoch without
/// one makes <see cref="Since"/> answer "unknown", so a missing entry costs footer reads, never data.
/// </summary>
internal static class EpochWriters
{
    public static Dictionary<int, (int Broker, long SinceMs)> Parse(byte[]? value)
    {
        var result = new Dictionary<int, (int, long)>();
        if (value is null) return result;
        foreach (string triple in Encoding.ASCII.GetString(value).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = triple.Split(':');
            if (parts.Length == 3
                && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int epoch)
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int broker)
                && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out long ms))
                result[epoch] = (broker, ms);
        }
        return result;
    }

    public static byte[] Format(Dictionary<int, (int Broker, long SinceMs)> writers) =>
        Encoding.ASCII.GetBytes(string.Join(' ', writers.OrderBy(w => w.Key).Skip(Math.Max(0, writers.Count - EpochStarts.Kept))
            .Select(w => string.Create(CultureInfo.InvariantCulture, $"{w.Key}:{w.Value.Broker}:{w.Value.SinceMs}"))));

    /// <summary>
    /// The WAL objects that can hold a chunk the chain from <paramref name="from"/> may use, as
    /// the oldest key time per writing broker; null when that cannot be told (then every object
    /// is read). Let e0 be the newest recorded epoch that started at or below <paramref name="from"/>:
    /// a chunk of an older epoch counts only below e0's start (the chain rule's fence), so only
    /// epochs from e0 on matter, and each wrote only after it recorded its start, into objects its
    /// broker stamped no earlier than then. Every such epoch must have its writer recorded.
    /// </summary>
    public static IReadOnlyDictionary<int, long>? Since(IReadOnlyList<KafScale.Storage.Wal.EpochStart> starts, Dictionary<int, (int Broker, long SinceMs)> writers, long from)
    {
        int e0 = -1;
        foreach (var s in starts) if (s.StartOffset <= from && s.Epoch > e0) e0 = s.Epoch;
        if (e0 < 0) return null;
        var result = new Dictionary<int, long>();
        foreach (var s in starts)
        {
            if (s.Epoch < e0) continue;
            if (!writers.TryGetValue(s.Epoch, out var w)) return null;
            result[w.Broker] = result.TryGetValue(w.Broker, out long ms) ? Math.Min(ms, w.SinceMs) : w.SinceMs;
        }
        return result;
    }
}
