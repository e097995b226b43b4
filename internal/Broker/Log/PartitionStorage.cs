using System.Buffers.Binary;
using System.Diagnostics;
using KafScale.Records;
using KafScale.Storage;
using KafScale.Storage.Wal;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>Where the time of one partition open went, for the slow-open log line.</summary>
internal sealed class OpenTimes
{
    public double MetadataMs, SegmentsMs, ProducersMs, WalListingMs, WalFootersMs, WalChunksMs;
    public int WalListed, WalObjects, WalFootersUnknown, WalChunks;
}

/// <summary>How an upload ended.</summary>
internal enum UploadOutcome { Durable, Conflict, Cancelled }

/// <summary>
/// The broker's use of the object store: segment upload with retries and the storage-level
/// fence (conditional create), recovery of a partition's chain of segments, reads for Fetch
/// through the segment cache, and deletes. Every request is measured.
/// </summary>
internal sealed class PartitionStorage(IObjectStore store, string ns, LogRuntime runtime, ILogger log)
{
    private readonly SemaphoreSlim _uploadSlots = new(Math.Max(1, Math.Min(runtime.MaxParallelUploads, store.LargeWritesAtOnce ?? int.MaxValue)));
    private readonly CancellationTokenSource _stopping = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, WalFooter?> _walFooters = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task<WalFooter?>> _walFooterReads = new();
    private int _walListingRequests;
    /// <summary>WAL objects already reported torn: each is logged once, not at every open until the sweep deletes it.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _walTornLogged = new();

    /// <summary>WAL footers held now, for tests.</summary>
    internal int CachedWalFooters => _walFooters.Count;

    /// <summary>How many times an open asked for the WAL listing (shared or not), for tests.</summary>
    internal int WalListingRequests => Volatile.Read(ref _walListingRequests);
    private readonly Lock _walListLock = new();
    private Task<List<ObjectInfo>>? _walListing;
    /// <summary>When <see cref="_walListing"/> was asked of the store (a Stopwatch timestamp, taken before it began) and from which key time.</summary>
    private long _walListingStarted, _walListingFrom;
    private Task<List<ObjectInfo>>? _walListingNext;
    private long _walListingNextFrom = long.MaxValue;

    public IObjectStore Store => store;
    public string Namespace => ns;

    /// <summary>Stops retrying failed uploads (shutdown).</summary>
    public void Stop() => _stopping.Cancel();

    private async Task<T> Measure<T>(string op, Func<Task<T>> call)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            var result = await call().ConfigureAwait(false);
            runtime.Metrics.ObjectStore(op, Stopwatch.GetElapsedTime(start).TotalMilliseconds, true);
            return result;
        }
        catch
        {
            runtime.Metrics.ObjectStore(op, Stopwatch.GetElapsedTime(start).TotalMilliseconds, false);
            throw;
        }
    }

    /// <summary>
    /// Seals a segment: .kfs by conditional create, then .index. A failed attempt is
    /// retried with the same key and bytes; a create that finds identical content already
    /// there (an earlier attempt that did land) counts as success. Conflict when the key holds
    /// different data (another writer got there first); Cancelled when the term ends (the
    /// lease may have lapsed, the partition was handed over) or the broker stops. Each attempt
    /// is cut off at the lease deadline, so none of ours can land much later than that.
    /// </summary>
    public async Task<UploadOutcome> UploadAsync(PartitionLog partition, BuiltSegment built, CancellationToken term)
    {
        string kfsKey = SegmentKeys.Segment(ns, partition.Topic, partition.Partition, built.Segment.BaseOffset);
        string indexKey = SegmentKeys.Index(ns, partition.Topic, partition.Partition, built.Segment.BaseOffset);
        int attempt = 0;
        try { await _uploadSlots.WaitAsync(term).ConfigureAwait(false); }
        catch (OperationCanceledException) { return UploadOutcome.Cancelled; }
        try
        {
            while (true)
            {
                if (term.IsCancellationRequested) return UploadOutcome.Cancelled;
                using var cut = CancellationTokenSource.CreateLinkedTokenSource(term, _stopping.Token);
                var remaining = runtime.Lease.Remaining;
                if (remaining != Timeout.InfiniteTimeSpan) cut.CancelAfter(remaining);
                var ct = cut.Token;
                try
                {
                    bool created = await Measure("put", () => built.Parts is { } parts ? store.CreateIfAbsentAsync(kfsKey, parts, ct) : store.CreateIfAbsentAsync(kfsKey, built.Kfs, ct)).ConfigureAwait(false);
                    runtime.Metrics.PutsSeal.Increment();
                    if (!created)
                    {
                        var existing = await Measure("get", () => store.GetAsync(kfsKey, ct)).ConfigureAwait(false);
                        // Taken, then gone: whatever held the key was deleted meanwhile; try again.
                        if (existing is null) throw new IOException($"{kfsKey} was reported taken but could not be read");
                        if (!built.SameBytes(existing))
                        {
                            log.LogWarning("segment {Key} already exists with other content: another writer holds this offset range", kfsKey);
                            return UploadOutcome.Conflict;
                        }
                    }
                    await Measure("put", async () => { await store.PutRebuildableAsync(indexKey, built.Index, ct).ConfigureAwait(false); return true; }).ConfigureAwait(false);
                    runtime.Metrics.PutsIndex.Increment();
                    runtime.Metrics.SegmentsWritten.Increment();
                    runtime.Metrics.SegmentBytesWritten.Add(built.Segment.Size);
                    return UploadOutcome.Durable;
                }
                catch (Exception ex)
                {
                    if (term.IsCancellationRequested || runtime.Lease.Remaining == TimeSpan.Zero) return UploadOutcome.Cancelled;
                    attempt++;
                    if (_stopping.IsCancellationRequested && attempt > 3) return UploadOutcome.Cancelled;
                    int delay = Math.Min(5000, 50 * (1 << Math.Min(attempt, 7))) + Random.Shared.Next(50);
                    log.LogWarning("upload of {Key} failed (attempt {Attempt}): {Error}; retrying in {Delay} ms", kfsKey, attempt, ex.Message, delay);
                    try { await Task.Delay(delay, term).ConfigureAwait(false); }
                    catch (OperationCanceledException) { return UploadOutcome.Cancelled; }
                }
            }
        }
        finally { _uploadSlots.Release(); }
    }

    /// <summary>
    /// Makes a WAL object durable by conditional create under its unique key, retrying with the
    /// same key and bytes; a create that finds identical bytes there (an earlier attempt that did
    /// land) counts as success. False when it could not be done before the lease deadline (or the
    /// broker stops): then nothing in it may be acknowledged, though it may have landed.
    /// </summary>
    public async Task<bool> WriteWalAsync(string key, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        int attempt = 0;
        var term = runtime.Lease.Term;
        while (true)
        {
            if (term.IsCancellationRequested || !runtime.Lease.MayWrite) return false;
            using var cut = CancellationTokenSource.CreateLinkedTokenSource(term, _stopping.Token);
            var remaining = runtime.Lease.Remaining;
            if (remaining != Timeout.InfiniteTimeSpan) cut.CancelAfter(remaining);
            var ct = cut.Token;
            try
            {
                bool created = await Measure("put", () => store.CreateIfAbsentAsync(key, parts, ct)).ConfigureAwait(false);
                runtime.Metrics.PutsWal.Increment();
                if (!created)
                {
                    var existing = await Measure("get", () => store.GetAsync(key, ct)).ConfigureAwait(false);
                    if (existing is null) throw new IOException($"{key} was reported taken but could not be read");
                    if (!SameBytes(existing, parts))
                    {
                        log.LogError("WAL object {Key} already exists with other content: is another broker running with this broker id?", key);
                        return false;
                    }
                }
                return true;
            }
            catch (Exception ex)
            {
                if (term.IsCancellationRequested || runtime.Lease.Remaining == TimeSpan.Zero) return false;
                attempt++;
                if (_stopping.IsCancellationRequested && attempt > 3) return false;
                int delay = Math.Min(5000, 50 * (1 << Math.Min(attempt, 7))) + Random.Shared.Next(50);
                log.LogWarning("upload of {Key} failed (attempt {Attempt}): {Error}; retrying in {Delay} ms", key, attempt, ex.Message, delay);
                try { await Task.Delay(delay, term).ConfigureAwait(false); }
                catch (OperationCanceledException) { return false; }
            }
        }
    }

    private static bool SameBytes(ReadOnlySpan<byte> whole, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        int position = 0;
        foreach (var part in parts)
        {
            if (position + part.Length > whole.Length || !whole.Slice(position, part.Length).SequenceEqual(part.Span)) return false;
            position += part.Length;
        }
        return position == whole.Length;
    }

    /// <summary>Deletes a WAL object whose chunks are all sealed (a failure leaves it to the sweep).</summary>
    public async Task DeleteWalAsync(string key)
    {
        try
        {
            await Measure("delete", async () => { await store.DeleteGarbageAsync(key, CancellationToken.None).ConfigureAwait(false); return true; }).ConfigureAwait(false);
            runtime.Metrics.WalObjectsDeleted.Increment();
            ForgetWal(key);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            log.LogInformation("could not delete sealed WAL object {Key} ({Error}); the sweep will", key, ex.Message);
        }
    }

    /// <summary>
    /// Reads the segment stored at baseOffset for adoption: null when there is none; throws
    /// <see cref="SegmentCorruptException"/> when it is not a whole, valid segment. A missing
    /// .index is written (its writer stopped between the two puts).
    /// </summary>
    public async Task<(SegmentRef Segment, ReadOnlyMemory<byte> Kfs)?> ReadSegmentForAdoptionAsync(PartitionLog partition, long baseOffset, CancellationToken ct)
    {
        string key = SegmentKeys.Segment(ns, partition.Topic, partition.Partition, baseOffset);
        var bytes = await Measure("get", () => store.GetAsync(key, ct)).ConfigureAwait(false);
        if (bytes is null) return null;
        var reader = SegmentReader.Open(bytes);
        if (reader.BaseOffset != baseOffset)
            throw new SegmentCorruptException(SegmentProblem.BaseOffsetMismatch, $"{key} starts at offset {reader.BaseOffset}");
        string indexKey = SegmentKeys.Index(ns, partition.Topic, partition.Partition, baseOffset);
        long? indexSize = await store.GetSizeAsync(indexKey, ct).ConfigureAwait(false);
        // Missing, or cut short by a crash of its writer (an index is written without fsync).
        if (indexSize is not { } size || size < SegmentFormat.IndexSize(1) || (size - SegmentFormat.IndexHeaderSize) % SegmentFormat.IndexEntrySize != 0)
        {
            var rebuilt = SegmentWriter.Build([reader.Body], reader.Header.CreatedAtMs, SegmentFormat.DefaultIndexInterval);
            await Measure("put", async () => { await store.PutAsync(indexKey, rebuilt.Index, ct).ConfigureAwait(false); return true; }).ConfigureAwait(false);
        }
        long maxTimestamp = -1;
        foreach (var batch in RecordBatch.EnumerateBatches(reader.Body.Span)) maxTimestamp = Math.Max(maxTimestamp, new RecordBatchHeader(batch).MaxTimestamp);
        return (new SegmentRef(baseOffset, reader.LastOffset, bytes.Length, maxTimestamp), bytes);
    }

    /// <summary>The partition's objects as a listing shows them: .kfs sizes by base offset, and the bases with a whole .index.</summary>
    private sealed record Listing(SortedDictionary<long, long> Kfs, HashSet<long> Indexes);

    private async Task<Listing> ListAsync(string topic, int partition, long fromBase, long belowBase, CancellationToken ct)
    {
        var kfs = new SortedDictionary<long, long>();
        var indexes = new HashSet<long>();
        string prefix = SegmentKeys.PartitionPrefix(ns, topic, partition);
        // A proper prefix of both keys of the segment at fromBase, so the listing starts with them.
        string? startAfter = fromBase > 0 ? SegmentKeys.Segment(ns, topic, partition, fromBase)[..^SegmentKeys.SegmentSuffix.Length] : null;
        await foreach (var obj in store.ListAsync(prefix, startAfter, ct).ConfigureAwait(false))
        {
            if (!SegmentKeys.TryParse(obj.Key, out var key)) continue;
            if (key.BaseOffset >= belowBase) break;
            if (key.Kind == SegmentObjectKind.Segment) kfs[key.BaseOffset] = obj.Size;
            // An index is written without fsync (it can be rebuilt), so after a crash it may be
            // empty or cut short: only a size of a header plus whole entries counts as present.
            else if (obj.Size >= SegmentFormat.IndexSize(1) && (obj.Size - SegmentFormat.IndexHeaderSize) % SegmentFormat.IndexEntrySize == 0)
                indexes.Add(key.BaseOffset);
        }
        return new Listing(kfs, indexes);
    }

    /// <summary>
    /// The footer of a listed .kfs (null when the object is too short or does not end in a
    /// footer: cut short, or not a segment), with its .index written again when the listing
    /// showed none (its writer stopped between the two puts).
    /// </summary>
    private async Task<SegmentFooter?> ReadCompleteAsync(string topic, int partition, long baseOffset, long size, bool hasIndex, CancellationToken ct)
    {
        if (size < SegmentFormat.MinimumSegmentSize) return null;
        string key = SegmentKeys.Segment(ns, topic, partition, baseOffset);
        var tail = new byte[SegmentFormat.FooterSize];
        int n = await Measure("get", () => store.ReadRangeAsync(key, size - SegmentFormat.FooterSize, tail, ct)).ConfigureAwait(false);
        if (n != tail.Length || BinaryPrimitives.ReadUInt32BigEndian(tail.AsSpan(12)) != SegmentFormat.FooterMagic) return null;
        if (!hasIndex)
        {
            var bytes = await Measure("get", () => store.GetAsync(key, ct)).ConfigureAwait(false);
            if (bytes is null) return null;
            // A .kfs is complete when it appears (written, synced, then linked), so a body that
            // fails its checksum was damaged later: it is dropped like a torn one instead of
            // failing the whole startup.
            SegmentReader reader;
            try { reader = SegmentReader.Open(bytes); }
            catch (SegmentCorruptException) { return null; }
            // Rebuilding from the body with the header's timestamp reproduces the lost index exactly.
            var rebuilt = SegmentWriter.Build([reader.Body], reader.Header.CreatedAtMs, SegmentFormat.DefaultIndexInterval);
            await Measure("put", async () => { await store.PutAsync(SegmentKeys.Index(ns, topic, partition, baseOffset), rebuilt.Index, ct).ConfigureAwait(false); return true; }).ConfigureAwait(false);
            log.LogInformation("rebuilt missing index of {Key}", key);
        }
        return SegmentFooter.Read(tail);
    }

    /// <summary>
    /// The chain of complete segments a listing holds from its first segment: stops at the
    /// first gap or incomplete segment (doomed: it and everything after it); a segment whose
    /// base lies inside one already in the chain is an orphan (a deposed leader's late upload
    /// that the next leader wrote over with its own segmentation).
    /// </summary>
    private async Task<(List<SegmentRef> Chain, List<long> Orphans, List<long> Doomed)> ChainAsync(string topic, int partition, Listing listing, CancellationToken ct)
    {
        var chain = new List<SegmentRef>();
        var orphans = new List<long>();
        var doomed = new List<long>();
        long expected = -1;
        foreach (var (baseOffset, size) in listing.Kfs)
        {
            if (doomed.Count > 0) { doomed.Add(baseOffset); continue; }
            if (expected >= 0 && baseOffset < expected) { orphans.Add(baseOffset); continue; }
            var footer = expected >= 0 && baseOffset != expected ? null
                : await ReadCompleteAsync(topic, partition, baseOffset, size, listing.Indexes.Contains(baseOffset), ct).ConfigureAwait(false);
            if (footer is null) { doomed.Add(baseOffset); continue; }
            chain.Add(new SegmentRef(baseOffset, footer.Value.LastOffset, size, -1));
            expected = footer.Value.LastOffset + 1;
        }
        return (chain, orphans, doomed);
    }

    private async Task DeleteStrayAsync(string topic, int partition, List<long> orphans, List<long> doomed, CancellationToken ct)
    {
        foreach (var baseOffset in orphans)
        {
            log.LogWarning("deleting {Topic}-{Partition} segment at {Base}: it overlaps the chain of segments, so it was never acknowledged", topic, partition, baseOffset);
            await DeleteSegmentAsync(topic, partition, baseOffset, ct).ConfigureAwait(false);
        }
        foreach (var baseOffset in doomed)
        {
            log.LogWarning("deleting {Topic}-{Partition} segment at {Base}: beyond the first gap or incomplete, so never acknowledged", topic, partition, baseOffset);
            await DeleteSegmentAsync(topic, partition, baseOffset, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Rebuilds the newest part of a partition's chain of durable segments from the store
    /// (docs/architecture.md, "Leadership and fencing", takeover). A segment is complete when its
    /// .kfs ends in a valid footer; a missing .index is rebuilt. The chain stops at the first gap
    /// or incomplete segment; anything beyond it was never acknowledged and is deleted so the
    /// next writer cannot trip on it.
    /// <para>
    /// lastSegmentHint is the base of the newest durable segment when the metadata store last
    /// heard of the partition. Everything below it was acknowledged and checked by an earlier
    /// open, so only the segments from it on are listed and checked (a bounded listing, however
    /// long the partition): the result then starts there and <c>OlderBelow</c> is true, and
    /// <see cref="RecoverOlderAsync"/> finds the rest later. When the store does not hold that
    /// segment as the start of a chain (retention deleted it, or no hint was written yet), the
    /// whole partition is listed.
    /// </para>
    /// </summary>
    public async Task<(List<SegmentRef> Chain, bool OlderBelow)> RecoverAsync(string topic, int partition, long lastSegmentHint, CancellationToken ct)
    {
        List<SegmentRef> chain;
        bool olderBelow = false;
        if (lastSegmentHint > 0)
        {
            var tail = await ListAsync(topic, partition, lastSegmentHint, long.MaxValue, ct).ConfigureAwait(false);
            var (fromHint, orphans, doomed) = tail.Kfs.Count > 0 && tail.Kfs.Keys.First() == lastSegmentHint
                ? await ChainAsync(topic, partition, tail, ct).ConfigureAwait(false)
                : ([], [], []);
            if (fromHint.Count > 0)
            {
                await DeleteStrayAsync(topic, partition, orphans, doomed, ct).ConfigureAwait(false);
                chain = fromHint;
                olderBelow = true;
            }
            else
            {
                log.LogInformation("{Topic}-{Partition}: the store holds no complete segment at {Base}, where the metadata store says the newest one starts; listing the whole partition", topic, partition, lastSegmentHint);
                chain = await RecoverWholeAsync(topic, partition, ct).ConfigureAwait(false);
            }
        }
        else chain = await RecoverWholeAsync(topic, partition, ct).ConfigureAwait(false);
        return (chain, olderBelow);
    }

    private async Task<List<SegmentRef>> RecoverWholeAsync(string topic, int partition, CancellationToken ct)
    {
        var listing = await ListAsync(topic, partition, 0, long.MaxValue, ct).ConfigureAwait(false);
        var (chain, orphans, doomed) = await ChainAsync(topic, partition, listing, ct).ConfigureAwait(false);
        await DeleteStrayAsync(topic, partition, orphans, doomed, ct).ConfigureAwait(false);
        return chain;
    }

    /// <summary>
    /// The segments below <paramref name="below"/> (where an open from the hint started): the
    /// chain that ends exactly there, its footers read several at a time. Orphans inside it are
    /// deleted as at open; nothing else is, since all of it was acknowledged once. A chain that
    /// does not reach <paramref name="below"/> is reported and left out: reads below that point
    /// then find nothing rather than the wrong records.
    /// </summary>
    public async Task<List<SegmentRef>> RecoverOlderAsync(string topic, int partition, long below, CancellationToken ct)
    {
        var listing = await ListAsync(topic, partition, 0, below, ct).ConfigureAwait(false);
        var footers = new System.Collections.Concurrent.ConcurrentDictionary<long, SegmentFooter?>();
        await Parallel.ForEachAsync(listing.Kfs, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (kv, token) =>
            footers[kv.Key] = await ReadCompleteAsync(topic, partition, kv.Key, kv.Value, listing.Indexes.Contains(kv.Key), token).ConfigureAwait(false)).ConfigureAwait(false);
        var run = new List<SegmentRef>();
        var orphans = new List<long>();
        long expected = -1;
        foreach (var (baseOffset, size) in listing.Kfs)
        {
            if (expected >= 0 && baseOffset < expected) { orphans.Add(baseOffset); continue; }
            if (footers[baseOffset] is not { } footer)
            {
                log.LogError("{Topic}-{Partition}: acknowledged segment at {Base} is damaged; offsets before the next segment cannot be read", topic, partition, baseOffset);
                run.Clear();
                expected = -1;
                continue;
            }
            if (expected >= 0 && baseOffset != expected)
            {
                log.LogError("{Topic}-{Partition}: the acknowledged segments have a gap at offsets {From}-{To}; offsets before it cannot be read", topic, partition, expected, baseOffset - 1);
                run.Clear();
            }
            run.Add(new SegmentRef(baseOffset, footer.LastOffset, size, -1));
            expected = footer.LastOffset + 1;
        }
        if (expected != below && run.Count > 0)
        {
            log.LogError("{Topic}-{Partition}: the acknowledged segments end at offset {End}, not at {Below} where the newest ones start; older offsets cannot be read", topic, partition, expected, below);
            run.Clear();
        }
        await DeleteStrayAsync(topic, partition, orphans, [], ct).ConfigureAwait(false);
        return run;
    }

    /// <summary>
    /// The WAL chain of a partition beyond its sealed segments (docs/architecture.md, "Leadership
    /// and fencing", takeover): the footers (cached: objects never change) of the WAL objects
    /// <paramref name="writers"/> allows (every object when null), the chunks of this topic
    /// incarnation and partition, chained from <paramref name="from"/> by the chain rule, each
    /// chunk read (from the whole object when it is small, else by a ranged GET) and checked. A
    /// torn or corrupt object is skipped with a log line; a chunk that cannot be read whole ends
    /// the chain there. A store that fails throws: the open is retried rather than cutting the
    /// chain short.
    /// </summary>
    /// <param name="writers">The oldest key time per broker whose objects can matter (<see cref="EpochWriters.Since"/>).</param>
    /// <param name="claimedAt">
    /// A Stopwatch timestamp taken after this broker won the partition (by default, now): a WAL
    /// listing that began since then serves this open (<see cref="ListWalAsync"/>).
    /// </param>
    public async Task<List<SegmentRef>> RecoverWalAsync(Guid topicId, string topic, int partition, long from, int minEpoch, IReadOnlyList<EpochStart>? epochStarts, CancellationToken ct,
        OpenTimes? times = null, IReadOnlyDictionary<int, long>? writers = null, long? claimedAt = null)
    {
        long started = Stopwatch.GetTimestamp();
        long notBefore = claimedAt ?? started;
        for (int attempt = 1; ; attempt++)
        {
            try { return await RecoverWalOnceAsync(topicId, topic, partition, from, minEpoch, epochStarts, ct, times, writers, notBefore, started).ConfigureAwait(false); }
            catch (ObjectNotFoundException gone) when (attempt < MaxWalRelists)
            {
                // A listed object is gone: merged into a newer object by its writer (which wrote
                // that object before deleting this one) or collected. A listing begun now shows
                // whatever holds its chunks (docs/decisions.md, "Merging small WAL objects on S3").
                log.LogInformation("{Topic}-{Partition}: WAL object {Key} was deleted while this open read it; listing again", topic, partition, gone.Key);
                notBefore = Stopwatch.GetTimestamp();
            }
        }
    }

    /// <summary>Listings an open may start when listed objects keep vanishing; after that the open fails and is retried.</summary>
    private const int MaxWalRelists = 5;

    private async Task<List<SegmentRef>> RecoverWalOnceAsync(Guid topicId, string topic, int partition, long from, int minEpoch, IReadOnlyList<EpochStart>? epochStarts, CancellationToken ct,
        OpenTimes? times, IReadOnlyDictionary<int, long>? writers, long notBefore, long started)
    {
        long fromMs = writers is { Count: > 0 } ? writers.Values.Min() : 0;
        var listed = await ListWalAsync(fromMs, notBefore).WaitAsync(ct).ConfigureAwait(false);
        long listedAt = Stopwatch.GetTimestamp();
        // Only the objects of brokers that led an epoch the chain can use, stamped since that
        // epoch began (EpochWriters.Since); without that knowledge, every object.
        var objects = writers is null ? listed : listed.FindAll(o =>
            !WalKeys.TryParse(o.Key, out long createdAt, out _, out int broker)
            || (writers.TryGetValue(broker, out long since) && createdAt >= since));
        var footers = new WalFooter?[objects.Count];
        int unknown = 0;
        foreach (var o in objects) if (!_walFooters.ContainsKey(o.Key)) unknown++;
        await Parallel.ForEachAsync(Enumerable.Range(0, objects.Count), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct },
            async (i, token) => footers[i] = await WalFooterAsync(objects[i], token, whole: true).ConfigureAwait(false)).ConfigureAwait(false);
        long footed = Stopwatch.GetTimestamp();
        if (times is not null)
        {
            times.WalListed = listed.Count;
            times.WalObjects = objects.Count;
            times.WalFootersUnknown = unknown;
            times.WalListingMs = Stopwatch.GetElapsedTime(started, listedAt).TotalMilliseconds;
            times.WalFootersMs = Stopwatch.GetElapsedTime(listedAt, footed).TotalMilliseconds;
        }
        var chunks = new List<WalChunkRef>();
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < objects.Count; i++)
        {
            if (footers[i] is not { } footer) continue;
            foreach (var c in footer.Chunks)
                if (c.TopicId == topicId && c.Partition == partition && c.LastOffset >= from) chunks.Add(new WalChunkRef(objects[i].Key, c));
            sizes[objects[i].Key] = objects[i].Size;
        }
        var result = new List<SegmentRef>();
        if (chunks.Count == 0) return result;
        var links = WalChain.Build(chunks, from, minEpoch, epochStarts);
        // The chunks are read several at a time (each is a ranged GET), then checked in chain order.
        var read = new Task<(byte[] Bytes, int Read)>[links.Count];
        var gate = new SemaphoreSlim(16); // not disposed: reads cut short below may still release it
        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        for (int i = 0; i < links.Count; i++) read[i] = ReadChunkAsync(links[i].Source, sizes[links[i].Source.ObjectKey], gate, done.Token);
        try
        {
            for (int i = 0; i < links.Count; i++)
            {
                var link = links[i];
                var c = link.Source.Chunk;
                byte[] bytes;
                int n;
                // A vanished object (ObjectNotFoundException) is not a gap: the caller lists again.
                (bytes, n) = await read[i].ConfigureAwait(false);
                if (n != c.Length || !WalReader.VerifyChunk(bytes, c))
                {
                    log.LogError("{Topic}-{Partition}: the chunk of WAL object {Key} at offset {Offset} fails its checksum; the WAL chain ends there", topic, partition, link.Source.ObjectKey, link.FromOffset);
                    break;
                }
                // The first link may start inside a batch (a log start offset moved by DeleteRecords):
                // it then starts with that whole batch.
                long fromOffset = result.Count == 0 ? BatchStartAtOrBefore(bytes, link.FromOffset) : link.FromOffset;
                if (WalChain.Slice(bytes, fromOffset, link.ToOffset) is not { } slice)
                {
                    log.LogError("{Topic}-{Partition}: WAL object {Key} does not hold whole batches for offsets {From}-{To}; the WAL chain ends there", topic, partition, link.Source.ObjectKey, link.FromOffset, link.ToOffset - 1);
                    break;
                }
                result.Add(new SegmentRef(fromOffset, link.ToOffset - 1, slice.Length, c.MaxTimestamp) { UnsealedBody = slice, DurableAtMs = runtime.NowMs });
            }
        }
        finally
        {
            // Reads past where the chain ended are not needed: cancelled, their failures observed here.
            done.Cancel();
            foreach (var r in read) _ = r.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        if (times is not null)
        {
            times.WalChunks = result.Count;
            times.WalChunksMs = Stopwatch.GetElapsedTime(footed).TotalMilliseconds;
        }
        return result;
    }

    private async Task<(byte[] Bytes, int Read)> ReadChunkAsync(WalChunkRef source, long objectSize, SemaphoreSlim gate, CancellationToken ct)
    {
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var bytes = new byte[source.Chunk.Length];
            var body = await WalObjectBodyAsync(new ObjectInfo(source.ObjectKey, objectSize)).ConfigureAwait(false);
            return (bytes, await ReadWalRangeAsync(source.ObjectKey, body, source.Chunk.Position, bytes, ct).ConfigureAwait(false));
        }
        finally { gate.Release(); }
    }

    private static long BatchStartAtOrBefore(ReadOnlySpan<byte> batches, long offset)
    {
        foreach (var batch in RecordBatch.EnumerateBatches(batches))
        {
            var h = new RecordBatchHeader(batch);
            if (h.LastOffset >= offset) return Math.Min(h.BaseOffset, offset);
        }
        return offset;
    }

    /// <summary>
    /// The WAL objects in the store stamped at or after <paramref name="fromMs"/> (0: all),
    /// listed by a listing that began at or after <paramref name="notBefore"/> (a Stopwatch
    /// timestamp; keys are time first, so <paramref name="fromMs"/> is S3's StartAfter).
    /// Partitions opened together (a takeover) share listings: a listing under way or done that
    /// began late enough and lists from early enough serves the call; otherwise the call gets
    /// the next one, which starts when the one under way ends and lists from the earliest time
    /// its callers asked for. The list is shared: callers only read it.
    /// </summary>
    /// <remarks>
    /// Why a listing that began before the call may serve it: an open needs every object the
    /// earlier leaders acknowledged, and a leader acknowledges only uploads that completed before
    /// it lost the partition (its lease deadline, or its handoff), which was before this broker
    /// won the partition. So a listing that began after the claim sees them all, and the open
    /// passes the time its batch of claims was done (docs/architecture.md, "Leadership and
    /// fencing").
    /// </remarks>
    private Task<List<ObjectInfo>> ListWalAsync(long fromMs, long notBefore)
    {
        Interlocked.Increment(ref _walListingRequests);
        lock (_walListLock)
        {
            if (_walListing is { } current && _walListingStarted >= notBefore && _walListingFrom <= fromMs && !current.IsFaulted && !current.IsCanceled)
                return current;
            if (_walListing is null || _walListing.IsCompleted) return StartWalListing(fromMs);
            _walListingNextFrom = Math.Min(_walListingNextFrom, fromMs);
            return _walListingNext ??= ListWalAfterAsync(_walListing);
        }
    }

    private Task<List<ObjectInfo>> StartWalListing(long fromMs)
    {
        _walListingStarted = Stopwatch.GetTimestamp();
        _walListingFrom = fromMs;
        return _walListing = ListWalOnceAsync(fromMs);
    }

    private async Task<List<ObjectInfo>> ListWalAfterAsync(Task previous)
    {
        try { await previous.ConfigureAwait(false); } catch { } // its callers saw the failure; this is a new listing
        Task<List<ObjectInfo>> mine;
        lock (_walListLock)
        {
            mine = StartWalListing(_walListingNextFrom);
            _walListingNext = null;
            _walListingNextFrom = long.MaxValue;
        }
        return await mine.ConfigureAwait(false);
    }

    /// <summary>Footers of objects stamped this long before a listing's start are dropped from the cache (read again if ever needed).</summary>
    private static readonly long WalFooterCacheHorizonMs = (long)TimeSpan.FromHours(1).TotalMilliseconds;

    private async Task<List<ObjectInfo>> ListWalOnceAsync(long fromMs)
    {
        await Task.Yield(); // never list under the caller's lock
        var objects = new List<ObjectInfo>();
        string? startAfter = fromMs > 0 ? WalKeys.StartAfter(ns, fromMs) : null;
        await foreach (var o in store.ListAsync(WalKeys.Prefix(ns), startAfter, CancellationToken.None).ConfigureAwait(false)) objects.Add(o);
        // The listing is whole from fromMs on: a footer or a torn verdict of an object it no
        // longer shows belongs to one deleted since (by whichever broker), so the caches hold
        // only what the store holds. Older entries are dropped past the horizon.
        if (!_walFooters.IsEmpty || !_walTornLogged.IsEmpty)
        {
            var present = new HashSet<string>(objects.Count, StringComparer.Ordinal);
            foreach (var o in objects) present.Add(o.Key);
            bool Gone(string key) => !present.Contains(key)
                && (fromMs <= 0 || !WalKeys.TryParse(key, out long createdAt, out _, out _) || createdAt >= fromMs || createdAt < fromMs - WalFooterCacheHorizonMs);
            foreach (var key in _walFooters.Keys) if (Gone(key)) _walFooters.TryRemove(key, out _);
            foreach (var key in _walTornLogged.Keys) if (Gone(key)) _walTornLogged.TryRemove(key, out _);
        }
        return objects;
    }

    /// <summary>
    /// A WAL object's footer, read with one ranged GET (two for a large footer); null when the
    /// object is torn or corrupt; <see cref="ObjectNotFoundException"/> when it is gone. Concurrent opens that want the same footer share one read.
    /// </summary>
    /// <param name="whole">
    /// An open wants the chunks too: a small object is read whole (<see cref="WalObjectBodyAsync"/>),
    /// so one GET gives its footer and every chunk in it.
    /// </param>
    public Task<WalFooter?> WalFooterAsync(ObjectInfo obj, CancellationToken ct, bool whole = false)
    {
        if (_walFooters.TryGetValue(obj.Key, out var known)) return Task.FromResult(known);
        var mine = new TaskCompletionSource<WalFooter?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = _walFooterReads.GetOrAdd(obj.Key, mine.Task);
        if (reading == mine.Task) _ = FillFooterAsync(obj, whole, mine);
        return reading.WaitAsync(ct);
    }

    private async Task FillFooterAsync(ObjectInfo obj, bool whole, TaskCompletionSource<WalFooter?> result)
    {
        try { result.TrySetResult(await ReadWalFooterAsync(obj, whole, CancellationToken.None).ConfigureAwait(false)); }
        catch (Exception ex) { result.TrySetException(ex); }
        finally { _walFooterReads.TryRemove(new KeyValuePair<string, Task<WalFooter?>>(obj.Key, result.Task)); }
    }

    private async Task<WalFooter?> ReadWalFooterAsync(ObjectInfo obj, bool whole, CancellationToken ct)
    {
        if (!WalKeys.TryParse(obj.Key, out long createdAt, out long sequence, out int brokerId)) return null;
        WalFooter? footer = null;
        try
        {
            if (obj.Size < WalFormat.HeaderSize + WalFormat.TrailerSize) throw new WalCorruptException(WalProblem.TooShort, $"{obj.Size} bytes");
            byte[]? body = whole ? await WalObjectBodyAsync(obj).ConfigureAwait(false) : null;
            int tailSize = WalReader.TailReadSize(obj.Size);
            var tail = new byte[tailSize];
            int n = await ReadWalRangeAsync(obj.Key, body, obj.Size - tailSize, tail, ct).ConfigureAwait(false);
            if (n != tailSize) throw new WalCorruptException(WalProblem.TooShort, $"read {n} of the last {tailSize} bytes");
            var (length, crc) = WalReader.ReadTrailer(tail.AsSpan(tailSize - WalFormat.TrailerSize));
            byte[] table;
            if (length + WalFormat.TrailerSize <= tailSize) table = tail.AsSpan(tailSize - WalFormat.TrailerSize - length, length).ToArray();
            else
            {
                if (length + WalFormat.TrailerSize + WalFormat.HeaderSize > obj.Size) throw new WalCorruptException(WalProblem.BadFooter, $"footer of {length} bytes in an object of {obj.Size}");
                table = new byte[length];
                n = await ReadWalRangeAsync(obj.Key, body, obj.Size - WalFormat.TrailerSize - length, table, ct).ConfigureAwait(false);
                if (n != length) throw new WalCorruptException(WalProblem.TooShort, $"read {n} of a {length}-byte footer");
            }
            footer = WalReader.ParseFooter(table, crc, obj.Size, brokerId, createdAt, sequence);
        }
        // Gone is not torn: an open lists again (RecoverWalAsync), the sweep passes it by.
        catch (WalCorruptException ex)
        {
            // Not remembered: a store whose listing can show a PUT still in progress (s3rver lists
            // the object's file while it is being written) would otherwise hide that object from
            // every later open on this broker once it is whole and acknowledged.
            if (_walTornLogged.TryAdd(obj.Key, 0))
                log.LogWarning("skipping WAL object {Key}: {Problem} ({Error}); a torn write that was never acknowledged", obj.Key, ex.Problem, ex.Message);
            return null;
        }
        _walFooters[obj.Key] = footer;
        return footer;
    }

    /// <summary>WAL objects up to this size are read whole by an open (a takeover's objects are small and many).</summary>
    internal const long WholeWalObjectBytes = 1 << 20;

    /// <summary>At most this many bytes of whole WAL objects are held at once; beyond it, reads are ranged.</summary>
    private const long WalObjectBodyBudget = 64L << 20;

    /// <summary>How long a whole WAL object stays held after it was read, for the other opens of a takeover.</summary>
    private static readonly TimeSpan WalObjectBodyHold = TimeSpan.FromSeconds(5);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task<byte[]?>> _walBodies = new();
    private long _walBodyBytes;

    /// <summary>
    /// Bytes of a WAL object at a position: copied from its whole body when one was read, else by
    /// a ranged GET. Returns how many there were (fewer past the end, as a ranged read).
    /// </summary>
    private async Task<int> ReadWalRangeAsync(string key, byte[]? body, long position, byte[] into, CancellationToken ct)
    {
        if (body is null) return await Measure("get", () => store.ReadRangeAsync(key, position, into, ct)).ConfigureAwait(false);
        int n = (int)Math.Clamp(body.Length - position, 0, into.Length);
        body.AsSpan((int)Math.Min(position, body.Length), n).CopyTo(into);
        return n;
    }

    /// <summary>
    /// A small WAL object's bytes exactly as listed, read with one GET that the opens of a
    /// takeover share (each open needs its own partition's chunk of the same objects): held for
    /// <see cref="WalObjectBodyHold"/> after the read, within <see cref="WalObjectBodyBudget"/>.
    /// Null when the object is too big, the budget is spent, it is gone, or it does not have the
    /// listed size (a PUT still in progress on a store that lists those): the caller then reads
    /// ranges, which judge such an object as before.
    /// </summary>
    private async Task<byte[]?> WalObjectBodyAsync(ObjectInfo obj)
    {
        if (obj.Size > WholeWalObjectBytes) return null;
        if (!_walBodies.TryGetValue(obj.Key, out var reading))
        {
            if (Interlocked.Add(ref _walBodyBytes, obj.Size) > WalObjectBodyBudget)
            {
                Interlocked.Add(ref _walBodyBytes, -obj.Size);
                return null;
            }
            var mine = new TaskCompletionSource<byte[]?>(TaskCreationOptions.RunContinuationsAsynchronously);
            reading = _walBodies.GetOrAdd(obj.Key, mine.Task);
            if (reading == mine.Task) _ = FillBodyAsync(obj, mine);
            else Interlocked.Add(ref _walBodyBytes, -obj.Size);
        }
        byte[]? body;
        try { body = await reading.ConfigureAwait(false); }
        catch (ObjectNotFoundException) { return null; }
        return body is not null && body.Length == obj.Size ? body : null;
    }

    private async Task FillBodyAsync(ObjectInfo obj, TaskCompletionSource<byte[]?> result)
    {
        try { result.TrySetResult(await Measure("get", () => store.GetAsync(obj.Key, CancellationToken.None)).ConfigureAwait(false)); }
        catch (Exception ex) { result.TrySetException(ex); }
        try { await Task.Delay(result.Task.IsCompletedSuccessfully ? WalObjectBodyHold : TimeSpan.Zero, _stopping.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        _walBodies.TryRemove(new KeyValuePair<string, Task<byte[]?>>(obj.Key, result.Task));
        Interlocked.Add(ref _walBodyBytes, -obj.Size);
    }

    /// <summary>
    /// The footer of a WAL object this broker has just written: a later open here (a retake
    /// after a lapse) needs no GET for it. Dropped with the object, like a footer read.
    /// </summary>
    public void RememberWalFooter(string key, WalFooter footer) => _walFooters[key] = footer;

    /// <summary>Forgets a deleted WAL object's footer.</summary>
    public void ForgetWal(string key)
    {
        _walFooters.TryRemove(key, out _);
        _walTornLogged.TryRemove(key, out _);
    }

    /// <summary>
    /// The idempotent-producer state of the newest segments of a chain, up to
    /// <see cref="PartitionLifecycle.ProducerStateReplayBytes"/>, replayed in log order.
    /// </summary>
    public async Task<ProducerStateTable> ReplayProducersAsync(PartitionLog partition, IReadOnlyList<SegmentRef> segments, CancellationToken ct)
    {
        var table = new ProducerStateTable();
        int first = segments.Count;
        long bytes = 0;
        while (first > 0 && bytes < PartitionLifecycle.ProducerStateReplayBytes) bytes += segments[--first].Size;
        for (int i = first; i < segments.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var body = await GetBodyAsync(partition, segments[i]).ConfigureAwait(false);
            PartitionLog.ReplayInto(table, body.Span);
        }
        return table;
    }

    /// <summary>The record batches of durable data: unsealed ones from memory, a segment's from the cache or the store.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> GetBodyAsync(PartitionLog partition, SegmentRef segment)
    {
        if (!segment.IsSealed) return segment.UnsealedBody;
        var kfs = await GetSegmentAsync(partition, segment).ConfigureAwait(false);
        return kfs[SegmentFormat.HeaderSize..(kfs.Length - SegmentFormat.FooterSize)];
    }

    /// <summary>The whole .kfs of a segment, from the cache or the store (then cached).</summary>
    public async ValueTask<ReadOnlyMemory<byte>> GetSegmentAsync(PartitionLog partition, SegmentRef segment)
    {
        var cache = runtime.SegmentCache;
        if (cache is not null && cache.TryGet(partition.Topic, partition.Partition, segment.BaseOffset, out var cached)) return cached;
        string key = SegmentKeys.Segment(ns, partition.Topic, partition.Partition, segment.BaseOffset);
        var bytes = await Measure("get", () => store.GetAsync(key, CancellationToken.None)).ConfigureAwait(false)
            ?? throw new ObjectNotFoundException(key);
        runtime.Metrics.ReadBytesFromStore.Add(bytes.Length);
        cache?.Add(partition.Topic, partition.Partition, segment.BaseOffset, bytes);
        return bytes;
    }

    /// <summary>
    /// Appends to slices the whole batches starting with the one that holds fromOffset, up to
    /// maxBytes (but at least one batch when atLeastOne), possibly across segments, and returns
    /// their total length. Slices point into unsealed data and cached segments, or, where the
    /// store's ranged reads are cheap, into buffers read for this call (see
    /// <see cref="ReadSealedRangeAsync"/>): rented ones go to <paramref name="rented"/>, and the
    /// caller returns them to <see cref="BufferPools.Reads"/> once the slices are used.
    /// <paramref name="scratch"/> is a list this call may use for the partition's segments (and
    /// leaves empty), so that a read served from memory allocates nothing.
    /// </summary>
    public async ValueTask<int> ReadAsync(PartitionLog partition, long fromOffset, int maxBytes, bool atLeastOne, List<ReadOnlyMemory<byte>> slices, List<byte[]>? rented = null,
        List<SegmentRef>? scratch = null)
    {
        if (partition.NeedsOlderSegments(fromOffset)) await partition.OlderSegmentsLoaded.ConfigureAwait(false);
        var segments = scratch ?? new List<SegmentRef>(4);
        segments.Clear();
        partition.SegmentsFrom(fromOffset, segments);
        try
        {
            int total = 0;
            foreach (var segment in segments)
            {
                ReadOnlyMemory<byte> body;
                if (!segment.IsSealed) body = segment.UnsealedBody;
                else if (TryCachedBody(partition, segment, out var cached)) body = cached;
                else
                {
                    var (added, next, more) = await ReadSealedRangeAsync(partition, segment, fromOffset, maxBytes - total, atLeastOne && total == 0, slices, rented).ConfigureAwait(false);
                    total += added;
                    if (more) break;
                    fromOffset = next;
                    continue;
                }
                var span = body.Span;
                int startPos = FindBatch(span, fromOffset);
                int endPos = startPos;
                while (endPos < span.Length)
                {
                    int size = RecordBatch.PeekTotalSize(span[endPos..]);
                    if (size <= 0) break;
                    bool firstBatch = total == 0 && endPos == startPos;
                    if ((long)total + (endPos - startPos) + size > maxBytes && !(firstBatch && atLeastOne)) break;
                    endPos += size;
                }
                if (endPos == startPos) break;
                slices.Add(body[startPos..endPos]);
                total += endPos - startPos;
                if (endPos < span.Length) break;
                fromOffset = segment.LastOffset + 1;
            }
            return total;
        }
        finally
        {
            // The list may be the caller's to reuse: keep no segment (or its unsealed bytes) alive through it.
            segments.Clear();
        }
    }

    /// <summary>A sealed segment's batches from the segment cache (counted as a hit or a miss).</summary>
    private bool TryCachedBody(PartitionLog partition, SegmentRef segment, out ReadOnlyMemory<byte> body)
    {
        body = default;
        if (runtime.SegmentCache is not { } cache || !cache.TryGet(partition.Topic, partition.Partition, segment.BaseOffset, out var kfs)) return false;
        body = kfs[SegmentFormat.HeaderSize..(kfs.Length - SegmentFormat.FooterSize)];
        return true;
    }

    /// <summary>Bytes one ranged read of a sealed segment asks for (a batch larger than this is read whole on its own).</summary>
    internal const int ReadWindowBytes = 1024 * 1024;

    /// <summary>
    /// Reads whole batches of a sealed segment from the store with ranged reads of up to
    /// <see cref="ReadWindowBytes"/>, starting at the batch that holds fromOffset (found with the
    /// segment's .index, or where the previous read of it ended), up to maxBytes (at least one
    /// batch when atLeastOne). Unlike a whole-segment read into the cache, this reads each byte
    /// about once however many partitions are consumed at once: a 16 MiB segment per partition
    /// does not fit the cache, and reading it whole for every fetch read it many times
    /// (docs/architecture.md, "The read path"). Returns the bytes added, the next offset to read,
    /// and whether the segment has more that did not fit (the read ends there).
    /// </summary>
    private async ValueTask<(int Added, long Next, bool More)> ReadSealedRangeAsync(PartitionLog partition, SegmentRef segment, long fromOffset, int maxBytes, bool atLeastOne,
        List<ReadOnlyMemory<byte>> slices, List<byte[]>? rented)
    {
        string key = SegmentKeys.Segment(ns, partition.Topic, partition.Partition, segment.BaseOffset);
        long end = SegmentFormat.BodyEnd(segment.Size);
        long position = await StartPositionAsync(partition, segment, fromOffset).ConfigureAwait(false);
        var readAhead = runtime.ReadAhead;
        int added = 0;
        // Set when the window read ahead ends inside the batch at position: the next read goes to the store.
        bool pastWindow = false;
        while (position < end)
        {
            byte[] buffer;
            int offset, n;
            long now = Environment.TickCount64;
            bool fromWindow = false;
            if (!pastWindow && readAhead?.Find(segment, position, now) is { } window)
            {
                buffer = window.Buffer;
                offset = (int)(position - window.Position);
                n = window.Length - offset;
                fromWindow = true;
            }
            else if (readAhead is not null && WindowLength(readAhead, segment, end - position, now) is > 0 and var windowLength)
            {
                buffer = GC.AllocateUninitializedArray<byte>(windowLength);
                offset = 0;
                n = await ReadStoreAsync(key, position, buffer, windowLength).ConfigureAwait(false);
                readAhead.Add(segment, new ReadAheadWindow(position, buffer, n), now);
            }
            else
            {
                int want = (int)Math.Min(ReadWindowBytes, end - position);
                buffer = Rent(want, rented);
                offset = 0;
                n = await ReadStoreAsync(key, position, buffer, want).ConfigureAwait(false);
            }
            pastWindow = false;
            var span = buffer.AsSpan(offset, n);
            // Skip the batches below fromOffset (the index points at or before its batch).
            int start = 0, size;
            while ((size = RecordBatch.PeekTotalSize(span[start..])) > 0 && start + size <= n && new RecordBatchHeader(span[start..]).LastOffset < fromOffset) start += size;
            if (size <= 0 || start + size > n)
            {
                // The window ends inside a batch: read again from that batch.
                if (fromWindow || start > 0) { position += start; pastWindow = fromWindow; continue; }
                if (size <= 0 || size > end - position) throw new SegmentCorruptException(SegmentProblem.BatchFraming, $"{key}: no whole record batch at position {position}");
                // The batch alone is larger than a window: read exactly it.
                if (new RecordBatchHeader(span).LastOffset < fromOffset) { position += size; continue; }
                if ((long)added + size > maxBytes && !(atLeastOne && added == 0)) return (added, fromOffset, true);
                buffer = Rent(size, rented);
                offset = 0;
                n = await ReadStoreAsync(key, position, buffer, size).ConfigureAwait(false);
                span = buffer.AsSpan(0, n);
            }
            int stop = start;
            long last = fromOffset - 1;
            while ((size = RecordBatch.PeekTotalSize(span[stop..])) > 0 && stop + size <= span.Length)
            {
                bool first = added == 0 && stop == start;
                if ((long)added + (stop - start) + size > maxBytes && !(first && atLeastOne)) break;
                last = new RecordBatchHeader(span[stop..]).LastOffset;
                stop += size;
            }
            if (stop > start)
            {
                slices.Add(buffer.AsMemory(offset + start, stop - start));
                added += stop - start;
                fromOffset = last + 1;
            }
            position += stop;
            segment.ReadHint = new SegmentReadHint(fromOffset, position);
            // Stopped by maxBytes with a whole batch still in the window: the read is over.
            if (size > 0 && stop + size <= span.Length) return (added, fromOffset, true);
            // The next batch runs past the window, and its header says it would not fit either:
            // over too, without reading it.
            if (size > 0 && (long)added + size > maxBytes && !(atLeastOne && added == 0)) return (added, fromOffset, true);
            if (stop == 0)
            {
                if (fromWindow) { pastWindow = true; continue; }
                throw new SegmentCorruptException(SegmentProblem.BatchFraming, $"{key}: no whole record batch at position {position}");
            }
        }
        // Read to the end: the segment's window is not needed by this reader again.
        readAhead?.Finished(segment);
        return (added, segment.LastOffset + 1, false);
    }

    /// <summary>
    /// The length of a new read-ahead window the budget admits: <see cref="ReadAheadCache.LargeWindowBytes"/>
    /// when there is room, else <see cref="ReadAheadCache.WindowBytes"/>, else 0 (no window). A window
    /// runs to the segment's end when what would be left is under a quarter window (the tail of a
    /// segment that just passed --segment-bytes), so a sequential reader makes one GET per window.
    /// </summary>
    private static int WindowLength(ReadAheadCache readAhead, SegmentRef segment, long remaining, long now)
    {
        foreach (int size in (ReadOnlySpan<int>)[ReadAheadCache.LargeWindowBytes, ReadAheadCache.WindowBytes])
        {
            int length = (int)(remaining <= size * 5L / 4 ? remaining : size);
            if (readAhead.Admits(segment, length, now)) return length;
        }
        return 0;
    }

    /// <summary>One ranged GET of exactly <paramref name="length"/> bytes at <paramref name="position"/>; a shorter answer is a segment cut short.</summary>
    private async ValueTask<int> ReadStoreAsync(string key, long position, byte[] buffer, int length)
    {
        int n = await Measure("get", () => store.ReadRangeAsync(key, position, buffer.AsMemory(0, length), CancellationToken.None)).ConfigureAwait(false);
        runtime.Metrics.ReadBytesFromStore.Add(n);
        if (n != length) throw new SegmentCorruptException(SegmentProblem.TooShort, $"{key}: read {n} of {length} bytes at position {position}");
        return n;
    }

    /// <summary>A position in the .kfs of a batch at or before the one holding offset.</summary>
    private async ValueTask<long> StartPositionAsync(PartitionLog partition, SegmentRef segment, long offset)
    {
        if (segment.ReadHint is { } hint && hint.NextOffset == offset) return hint.Position;
        // A reader moving on from the previous segment starts at the first batch: no index needed.
        if (offset <= segment.BaseOffset) return SegmentFormat.HeaderSize;
        if (segment.Index?.Value is not { } index)
        {
            string key = SegmentKeys.Index(ns, partition.Topic, partition.Partition, segment.BaseOffset);
            try
            {
                var bytes = await Measure("get", () => store.GetAsync(key, CancellationToken.None)).ConfigureAwait(false);
                // Missing or cut short (an index is written without fsync): read from the first batch.
                if (bytes is null) return SegmentFormat.HeaderSize;
                index = SegmentIndex.Parse(bytes);
                segment.Index = new System.Runtime.CompilerServices.StrongBox<SegmentIndex>(index);
            }
            catch (SegmentCorruptException) { return SegmentFormat.HeaderSize; }
        }
        return index.FindPosition(offset);
    }

    private static byte[] Rent(int length, List<byte[]>? rented)
    {
        if (rented is null) return new byte[length];
        var buffer = BufferPools.Reads.Rent(length);
        rented.Add(buffer);
        return buffer;
    }

    /// <summary>Position in a segment body of the batch that holds offset (or the first after it).</summary>
    private static int FindBatch(ReadOnlySpan<byte> body, long offset)
    {
        int pos = 0;
        while (pos < body.Length)
        {
            var header = new RecordBatchHeader(body[pos..]);
            if (header.BaseOffset + header.LastOffsetDelta >= offset) return pos;
            pos += header.TotalSize;
        }
        return pos;
    }

    /// <summary>Largest batch max-timestamp in a segment (for retention.ms), caching it on the ref.</summary>
    public async Task<long> ReadMaxTimestampAsync(PartitionLog partition, SegmentRef segment, CancellationToken ct)
    {
        var body = await GetBodyAsync(partition, segment).ConfigureAwait(false);
        long max = -1;
        foreach (var batch in RecordBatch.EnumerateBatches(body.Span)) max = Math.Max(max, new RecordBatchHeader(batch).MaxTimestamp);
        segment.MaxTimestamp = max;
        return max;
    }

    public async Task DeleteSegmentAsync(string topic, int partition, long baseOffset, CancellationToken ct)
    {
        await Measure("delete", async () => { await store.DeleteAsync(SegmentKeys.Segment(ns, topic, partition, baseOffset), ct).ConfigureAwait(false); return true; }).ConfigureAwait(false);
        await Measure("delete", async () => { await store.DeleteAsync(SegmentKeys.Index(ns, topic, partition, baseOffset), ct).ConfigureAwait(false); return true; }).ConfigureAwait(false);
    }

    public async Task DeleteTopicAsync(string topic, CancellationToken ct)
    {
        var keys = new List<string>();
        await foreach (var obj in store.ListAsync(SegmentKeys.TopicPrefix(ns, topic), ct).ConfigureAwait(false)) keys.Add(obj.Key);
        foreach (var key in keys) await Measure("delete", async () => { await store.DeleteAsync(key, ct).ConfigureAwait(false); return true; }).ConfigureAwait(false);
    }
}
