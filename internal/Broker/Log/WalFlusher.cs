using System.Diagnostics;
using KafScale.Storage.Wal;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>Pending batches of one partition taken for a WAL object, in offset order.</summary>
internal sealed record WalTake(PartitionLog Log, List<PendingBlob> Blobs, long Bytes, int LeaderEpoch, bool MoreLeft);

/// <summary>
/// A WAL object this broker wrote, tracked until every chunk in it is sealed; then it is
/// deleted at once. Chunks of partitions this broker gave up before sealing are sealed by their
/// next leader, and the object is collected by the periodic sweep instead. A merge moves chunks
/// still unsealed into a newer object (docs/decisions.md, "Merging small WAL objects on S3").
/// </summary>
internal sealed class OwnWalObject(string key, int chunks, long sequence = 0, long size = 0, PartitionLog[]? logs = null, int[]? epochs = null)
{
    private int _open = chunks;
    private int _released;

    public string Key { get; } = key;

    /// <summary>The object's sequence number: key order among this process's objects.</summary>
    public long Sequence { get; } = sequence;

    /// <summary>Bytes of the whole object.</summary>
    public long Size { get; } = size;

    /// <summary>The partition of each chunk, and its leader epoch (same order); empty when not tracked.</summary>
    public PartitionLog[] Logs { get; } = logs ?? [];
    private readonly int[] _epochs = epochs ?? [];

    /// <summary>The leader epoch of this object's chunk of <paramref name="log"/> (-1 when it has none).</summary>
    public int EpochOf(PartitionLog log)
    {
        int i = Array.IndexOf(Logs, log);
        return i >= 0 && i < _epochs.Length ? _epochs[i] : -1;
    }

    /// <summary>Some chunk was left to the partition's next leader: the object is not ours to delete.</summary>
    public bool AnyReleased => Volatile.Read(ref _released) != 0;

    /// <summary>Counts one chunk as sealed; true when it was the last one open.</summary>
    public bool ChunkSealed() => Interlocked.Decrement(ref _open) == 0;

    /// <summary>Counts one chunk's data as held by a merged object now; true when it was the last one open.</summary>
    public bool ChunkMoved() => Interlocked.Decrement(ref _open) == 0;

    /// <summary>A merged object: one more chunk's data counts against it.</summary>
    public void ChunkAdded() => Interlocked.Increment(ref _open);

    /// <summary>Counts one chunk as left unsealed when its term ended; true when it was the last one open.</summary>
    public bool ChunkReleased()
    {
        Volatile.Write(ref _released, 1);
        return Interlocked.Decrement(ref _open) == 0;
    }
}

/// <summary>
/// Group commit across partitions (docs/architecture.md, "The write path"): every flush writes
/// ONE object holding the pending batches of every partition this broker leads, so the PUT
/// rate depends on the flush interval, not on the partition count. A flush starts when the
/// oldest pending byte is --flush-interval-ms old (0: as soon as an upload slot is free), or
/// when the pending bytes reach --flush-max-bytes. At most --max-wal-uploads objects are in
/// flight; a partition's high watermark still advances strictly in offset order.
/// </summary>
internal sealed class WalFlusher
{
    private readonly Lock _lock = new();
    private readonly HashSet<PartitionLog> _dirty = [];
    private readonly PartitionStorage _storage;
    private readonly LogRuntime _runtime;
    private readonly int _brokerId;
    private int _inFlight;
    private bool _timerArmed;
    private bool _flushQueued;
    private bool _overdue;
    private long _sequence;

    public WalFlusher(PartitionStorage storage, LogRuntime runtime, int brokerId)
    {
        _storage = storage;
        _runtime = runtime;
        _brokerId = brokerId;
        // Unique across restarts of the same broker id: the clock at start, then a counter.
        _sequence = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
    }

    private long _outstanding;
    private long _clockMs;

    /// <summary>This broker's WAL objects not collected yet, by sequence; kept only where merging is on.</summary>
    private readonly SortedDictionary<long, OwnWalObject> _live = [];
    private bool _merging;

    /// <summary>Runs of this many small objects are merged (0: never): at most one PUT more per that many flushes.</summary>
    private int MergeRun => _runtime.WalMergeObjects;

    /// <summary>The most a merged object holds: the largest WAL object a takeover reads with one GET.</summary>
    public const long MergeMaxBytes = PartitionStorage.WholeWalObjectBytes;

    /// <summary>The broker id in this broker's WAL keys.</summary>
    public int BrokerId => _brokerId;

    /// <summary>
    /// The wall clock in milliseconds as this process stamps its WAL keys, never going back: a
    /// leader epoch's recorded start time (epoch_writers, docs/metadata.md) is at or before the
    /// key time of every WAL object holding that epoch's chunks, even if the system clock steps back.
    /// </summary>
    public long ClockMs()
    {
        while (true)
        {
            long last = Interlocked.Read(ref _clockMs);
            long now = Math.Max(last, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            if (now == last || Interlocked.CompareExchange(ref _clockMs, now, last) == last) return now;
        }
    }

    /// <summary>WAL objects written and not yet collected.</summary>
    public long Outstanding => Interlocked.Read(ref _outstanding);

    /// <summary>WAL uploads in flight now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Depth of <see cref="BeginRequest"/> scopes on this thread.</summary>
    [ThreadStatic] private static int t_requestDepth;

    /// <summary>The flusher whose flush a request on this thread put off until its appends end.</summary>
    [ThreadStatic] private static WalFlusher? t_putOff;

    /// <summary>
    /// Marks the appends of one produce request (synchronous, on this thread): a flush they make
    /// due starts when the scope ends, so the request's partitions share one WAL object instead of
    /// the first partitions leaving in one object while the rest are still being appended
    /// (docs/architecture.md, "The write path").
    /// </summary>
    public static RequestScope BeginRequest()
    {
        t_requestDepth++;
        return default;
    }

    /// <summary>Ends a <see cref="BeginRequest"/> scope: a flush it put off is scheduled now.</summary>
    public readonly struct RequestScope : IDisposable
    {
        public void Dispose()
        {
            if (--t_requestDepth > 0 || t_putOff is not { } flusher) return;
            t_putOff = null;
            flusher.Schedule();
        }
    }

    /// <summary>
    /// A partition appended bytes: a flush is due now, or a timer makes sure one will be. The
    /// flush runs on the thread pool, not in the produce request that appended, and within a
    /// request's scope (<see cref="BeginRequest"/>) only once its appends are done.
    /// </summary>
    public void OnAppend(PartitionLog log)
    {
        if (t_requestDepth > 0)
        {
            lock (_lock) _dirty.Add(log);
            if (t_putOff is { } other && other != this) other.Schedule();
            t_putOff = this;
            return;
        }
        bool queue = false, arm = false;
        lock (_lock)
        {
            _dirty.Add(log);
            if (Due(force: false)) queue = !_flushQueued && (_flushQueued = true);
            else if (!_timerArmed) arm = _timerArmed = true;
        }
        if (queue) ThreadPool.UnsafeQueueUserWorkItem(static f => f.RunQueuedFlush(), this, preferLocal: false);
        else if (arm) _ = FlushLaterAsync();
    }

    /// <summary>What <see cref="OnAppend"/> does after marking its partition, for appends a request scope put off.</summary>
    private void Schedule()
    {
        bool queue = false, arm = false;
        lock (_lock)
        {
            if (_dirty.Count == 0) return;
            if (Due(force: false)) queue = !_flushQueued && (_flushQueued = true);
            else if (!_timerArmed) arm = _timerArmed = true;
        }
        if (queue) ThreadPool.UnsafeQueueUserWorkItem(static f => f.RunQueuedFlush(), this, preferLocal: false);
        else if (arm) _ = FlushLaterAsync();
    }

    private void RunQueuedFlush()
    {
        lock (_lock) _flushQueued = false;
        TryFlush();
    }

    /// <summary>
    /// force: the interval has passed or a caller wants everything out. The pending bytes are the
    /// runtime's, which partitions also lower when they drop what they held (a term ending).
    /// </summary>
    private bool Due(bool force) =>
        force || _runtime.FlushIntervalMs == 0 || _runtime.PendingBytes >= _runtime.FlushMaxBytes;

    /// <summary>Flushes whatever is pending as soon as a slot is free (handoff, shutdown, tests).</summary>
    public void FlushNow() => TryFlush(force: true);

    private async Task FlushLaterAsync()
    {
        try { await Task.Delay(TimeSpan.FromMilliseconds(_runtime.FlushIntervalMs), _runtime.Time).ConfigureAwait(false); }
        finally
        {
            lock (_lock) _timerArmed = false;
            TryFlush(force: true);
        }
    }

    /// <summary>
    /// Starts uploads while there is something pending that is due and a slot is free. force:
    /// the interval has passed (or a caller wants everything out), so whatever is pending goes.
    /// </summary>
    private void TryFlush(bool force = false)
    {
        while (true)
        {
            List<PartitionLog> candidates;
            lock (_lock)
            {
                if (_dirty.Count == 0) return;
                if (_inFlight >= _runtime.MaxWalUploads)
                {
                    // Due but no slot: the next upload to finish flushes it at once.
                    _overdue |= force;
                    return;
                }
                if (!Due(force))
                {
                    if (!_timerArmed) { _timerArmed = true; _ = FlushLaterAsync(); }
                    return;
                }
                _inFlight++;
                candidates = [.. _dirty];
                _dirty.Clear();
            }

            // Take from each partition until the object is full; the rest waits for the next one.
            var takes = new List<WalTake>(candidates.Count);
            long budget = _runtime.FlushMaxBytes, taken = 0;
            var leftOver = new List<PartitionLog>();
            foreach (var log in candidates)
            {
                if (taken >= budget) { leftOver.Add(log); continue; }
                var take = log.TakeForWal(Math.Max(1, budget - taken));
                if (take is null) continue;
                takes.Add(take);
                taken += take.Bytes;
                if (take.MoreLeft) leftOver.Add(log);
            }
            lock (_lock)
            {
                foreach (var log in leftOver) _dirty.Add(log);
                if (takes.Count == 0) { _inFlight--; continue; }
            }
            _ = UploadAsync(takes);
            // What did not fit was due as much as what did: it goes in the next object.
            force = leftOver.Count > 0;
        }
    }

    private async Task UploadAsync(List<WalTake> takes)
    {
        long start = Stopwatch.GetTimestamp();
        long createdAt = ClockMs();
        long sequence = Interlocked.Increment(ref _sequence);
        string key = WalKeys.Key(_storage.Namespace, createdAt, sequence, _brokerId);
        ReadOnlyMemory<byte>[]? parts = null;
        IReadOnlyList<WalChunkInfo>? chunks = null;
        try
        {
            var builder = new WalObjectBuilder(_brokerId, createdAt, sequence);
            var batches = new List<ReadOnlyMemory<byte>>();
            foreach (var t in takes)
            {
                batches.Clear();
                foreach (var b in t.Blobs) batches.Add(b.Buffer.AsMemory(0, b.Length));
                builder.AddChunk(t.Log.TopicState.Id, t.Log.Topic, t.Log.Partition, t.LeaderEpoch, batches);
            }
            // Each chunk in an array of its own: sealing a partition frees its bytes at once,
            // instead of only when every partition of the object has sealed its chunk.
            (parts, chunks) = builder.BuildParts();
        }
        catch (Exception ex)
        {
            _runtime.Log.LogError(ex, "could not build WAL object {Key}; refusing further writes to its partitions", key);
        }
        long takenBytes = 0;
        foreach (var t in takes)
        {
            foreach (var b in t.Blobs) BufferPools.Produce.Return(b.Buffer);
            takenBytes += t.Bytes;
        }
        _runtime.AddPending(-takenBytes);

        bool durable = parts is not null && await _storage.WriteWalAsync(key, parts).ConfigureAwait(false);
        if (durable)
        {
            long length = 0;
            foreach (var part in parts!) length += part.Length;
            _runtime.Metrics.WalWritten(length, takes.Count, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            _storage.RememberWalFooter(key, new WalFooter(_brokerId, createdAt, sequence, chunks!));
            OwnWalObject own;
            if (MergeRun > 0)
            {
                var logs = new PartitionLog[takes.Count];
                var epochs = new int[takes.Count];
                for (int i = 0; i < takes.Count; i++) (logs[i], epochs[i]) = (takes[i].Log, takes[i].LeaderEpoch);
                own = new OwnWalObject(key, takes.Count, sequence, length, logs, epochs);
                lock (_lock) _live.Add(sequence, own);
            }
            else own = new OwnWalObject(key, takes.Count);
            Interlocked.Increment(ref _outstanding);
            for (int i = 0; i < takes.Count; i++)
            {
                var c = chunks![i];
                takes[i].Log.OnWalDurable(c.FirstOffset, c.LastOffset + 1, parts[i + 1], c.MaxTimestamp, own);
            }
        }
        else
        {
            short error = parts is null ? ErrorCodes.KafkaStorageError : ErrorCodes.NotLeaderOrFollower;
            foreach (var t in takes) t.Log.OnWalFailed(error);
        }
        bool overdue;
        lock (_lock)
        {
            _inFlight--;
            overdue = _overdue;
            _overdue = false;
        }
        TryFlush(overdue);
        if (durable) MaybeMerge();
    }

    /// <summary>
    /// Starts a merge when the oldest run of <see cref="MergeRun"/> consecutive objects of ours
    /// fits one object of <see cref="MergeMaxBytes"/>: a takeover then reads one object for
    /// them instead of one per flush (docs/decisions.md, "Merging small WAL objects on S3").
    /// </summary>
    private void MaybeMerge()
    {
        int need = MergeRun;
        if (need < 2) return;
        List<OwnWalObject>? run;
        lock (_lock)
        {
            if (_merging || _live.Count < need) return;
            run = PickMergeRunLocked(need);
            if (run is null) return;
            _merging = true;
        }
        _ = MergeAsync(run);
    }

    private List<OwnWalObject>? PickMergeRunLocked(int need)
    {
        var window = new Queue<OwnWalObject>();
        long bytes = 0;
        foreach (var o in _live.Values)
        {
            // An object with a chunk left to a next leader is that leader's to read: never moved.
            if (o.AnyReleased || o.Size > MergeMaxBytes)
            {
                window.Clear();
                bytes = 0;
                continue;
            }
            window.Enqueue(o);
            bytes += o.Size;
            while (bytes > MergeMaxBytes) bytes -= window.Dequeue().Size;
            if (window.Count >= need) return [.. window];
        }
        return null;
    }

    /// <summary>
    /// Writes the unsealed chunks of <paramref name="run"/> (from memory) as one WAL object, then
    /// counts them against it and deletes the objects left holding nothing unsealed. The new
    /// object is durable before anything is deleted, so every acknowledged byte is in the store
    /// throughout; an open that finds a listed object gone lists again.
    /// </summary>
    private async Task MergeAsync(List<OwnWalObject> run)
    {
        try
        {
            var objects = new HashSet<OwnWalObject>(run);
            var logs = new List<PartitionLog>();
            foreach (var o in run) foreach (var l in o.Logs) if (!logs.Contains(l)) logs.Add(l);
            long createdAt = ClockMs();
            long sequence = Interlocked.Increment(ref _sequence);
            string key = WalKeys.Key(_storage.Namespace, createdAt, sequence, _brokerId);
            var builder = new WalObjectBuilder(_brokerId, createdAt, sequence);
            var moves = new List<(PartitionLog Log, List<SegmentRef> Run)>();
            var bodies = new List<ReadOnlyMemory<byte>>();
            foreach (var log in logs)
            {
                foreach (var (epoch, refs) in log.UnsealedRunsIn(objects))
                {
                    bodies.Clear();
                    foreach (var r in refs) bodies.Add(r.UnsealedBody);
                    builder.AddChunk(log.TopicState.Id, log.Topic, log.Partition, epoch, bodies);
                    moves.Add((log, refs));
                }
            }
            // Nothing unsealed is left in them: each goes when its last chunk is sealed.
            if (moves.Count == 0) return;
            var (parts, chunks) = builder.BuildParts();
            if (!await _storage.WriteWalAsync(key, parts).ConfigureAwait(false)) return;
            long length = 0;
            foreach (var part in parts) length += part.Length;
            _storage.RememberWalFooter(key, new WalFooter(_brokerId, createdAt, sequence, chunks));
            var mergedLogs = new PartitionLog[moves.Count];
            var mergedEpochs = new int[moves.Count];
            for (int i = 0; i < moves.Count; i++) (mergedLogs[i], mergedEpochs[i]) = (moves[i].Log, chunks[i].LeaderEpoch);
            // Held by this merge (the 1) until every chunk has moved, so a seal meanwhile cannot collect it early.
            var merged = new OwnWalObject(key, 1, sequence, length, mergedLogs, mergedEpochs);
            Interlocked.Increment(ref _outstanding);
            lock (_lock) _live.Add(sequence, merged);
            _runtime.Metrics.WalObjectsMerged.Add(run.Count);
            var emptied = new List<OwnWalObject>();
            // A lapsed lease moves nothing: the originals stay for the next leader, the copy is dropped.
            if (_runtime.Lease.MayWrite)
                foreach (var (log, refs) in moves) log.MoveUnsealedTo(refs, objects, merged, emptied);
            if (merged.ChunkSealed()) emptied.Add(merged);
            foreach (var o in emptied) Collect(o);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _runtime.Log.LogWarning("could not merge {Count} WAL objects ({Error}); they stay as they are", run.Count, ex.Message);
        }
        finally
        {
            lock (_lock) _merging = false;
        }
    }

    /// <summary>
    /// Every chunk of one of our WAL objects is sealed or released: it is no longer outstanding.
    /// Garbage now if all were sealed; otherwise a next leader seals the released chunks and the
    /// periodic sweep deletes it.
    /// </summary>
    public void Collect(OwnWalObject wal)
    {
        Interlocked.Decrement(ref _outstanding);
        if (wal.Sequence != 0) lock (_lock) _live.Remove(wal.Sequence);
        if (!wal.AnyReleased) _ = _storage.DeleteWalAsync(wal.Key);
    }
}
