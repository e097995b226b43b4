using KafScale.Records;

namespace KafScale.Broker.Log;

/// <summary>A produce partition blob waiting for its flush; EndOffset is one past its last offset.</summary>
internal readonly record struct PendingBlob(byte[] Buffer, int Length, long EndOffset);

/// <summary>A durable segment of the log, as the broker knows it.</summary>
internal sealed class SegmentRef(long baseOffset, long lastOffset, long size, long maxTimestamp)
{
    public long BaseOffset { get; } = baseOffset;
    public long LastOffset { get; } = lastOffset;
    public long Size { get; } = size;
    /// <summary>Largest batch max-timestamp in the segment; -1 until known.</summary>
    public long MaxTimestamp { get; set; } = maxTimestamp;

    /// <summary>
    /// For durable data not yet sealed into a segment (docs/architecture.md, "The write path"):
    /// its batches, the chunk of the WAL object they were uploaded in. Empty for a sealed segment.
    /// </summary>
    public ReadOnlyMemory<byte> UnsealedBody { get; init; }

    /// <summary>True for a .kfs in the store; false for WAL data held in memory until sealed.</summary>
    public bool IsSealed => UnsealedBody.IsEmpty;

    /// <summary>This broker's WAL object the unsealed data came from (null when another broker wrote it).</summary>
    /// <summary>Changed only under the partition's lock, by a merge (<see cref="PartitionLog.MoveUnsealedTo"/>).</summary>
    public OwnWalObject? Wal { get; set; }

    /// <summary>When the unsealed data became durable (runtime milliseconds): segment.ms counts from here.</summary>
    public long DurableAtMs { get; init; }

    /// <summary>A sealed segment's .index, once a ranged read needed it (boxed: fetches set it concurrently).</summary>
    public System.Runtime.CompilerServices.StrongBox<KafScale.Storage.SegmentIndex>? Index { get; set; }

    /// <summary>Where the last ranged read of this segment ended, so a consumer reading on starts there.</summary>
    public SegmentReadHint? ReadHint { get; set; }
}

/// <summary>The .kfs position of the batch that starts at NextOffset.</summary>
internal sealed record SegmentReadHint(long NextOffset, long Position);

/// <summary>
/// Batches appended since the last flush started, answered together when they are durable
/// (group commit: one task per flush, not one per request).
/// </summary>
internal sealed class FlushGroup
{
    private readonly TaskCompletionSource<short> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A group that is already durable (a retried batch whose first write is below the high watermark).</summary>
    public static readonly FlushGroup Completed = CreateCompleted();

    /// <summary>First offset of the group's batches (set by its first append).</summary>
    public long StartOffset { get; set; }

    /// <summary>Some of the group's batches were handed to an upload, which may have landed.</summary>
    public bool UploadStarted { get; set; }

    public long EndOffset { get; set; }
    public Task<short> Durable => _done.Task;
    public void Complete(short errorCode) => _done.TrySetResult(errorCode);

    private static FlushGroup CreateCompleted()
    {
        var g = new FlushGroup();
        g.Complete(0);
        return g;
    }
}

/// <summary>Outcome of an append: where the batches went and what to wait for.</summary>
internal readonly record struct AppendResult(short ErrorCode, long BaseOffset, long LogAppendTime, FlushGroup? Group)
{
    public Task<short>? Durable => Group?.Durable;
}

/// <summary>
/// One partition's log for one leadership term: offsets are assigned on append, batches wait
/// in memory until the broker's next WAL object carries them to the store (one object for all
/// partitions per flush, <see cref="WalFlusher"/>), and the high watermark advances only over
/// contiguous durable offsets, and only while this broker's lease holds. Durable data stays in
/// memory, unsealed, until it is sealed into a segment (<c>PartitionLog.Sealing.cs</c>;
/// docs/architecture.md, "The write path"). A term ends with <see cref="Abandon"/>; the next
/// leader opens a new log from the store.
/// </summary>
internal sealed partial class PartitionLog
{
    private readonly Lock _lock = new();
    /// <summary>Long-polling fetches waiting on this partition; woken and cleared at each change.</summary>
    private readonly List<FetchWaiter> _waiters = [];
    private readonly List<SegmentRef> _segments = [];
    private readonly List<PendingBlob> _pending = [];
    private readonly Queue<FlushGroup> _groupsAwaitingDurability = new();
    private readonly SortedDictionary<long, SegmentRef> _durableOutOfOrder = [];
    private readonly PartitionStorage _storage;
    private readonly LogRuntime _runtime;
    private readonly CancellationTokenSource _term;
    private FlushGroup _currentGroup = new();
    private long _nextOffset;
    private long _highWatermark;
    private long _logStartOffset;
    private long _pendingBytes;
    private long _currentGroupBytes;
    private int _uploadsInFlight;
    private bool _failed;
    private ProducerStateTable _producers = new();
    private bool _deleted;
    private bool _closed;
    private bool _handingOff;
    private long _nextUploadBase;
    private TaskCompletionSource? _older;
    private long _loadedFrom;

    public PartitionLog(string topic, int partition, TopicState topicState, PartitionStorage storage, LogRuntime runtime)
    {
        Topic = topic;
        Partition = partition;
        TopicState = topicState;
        _storage = storage;
        _runtime = runtime;
        _term = CancellationTokenSource.CreateLinkedTokenSource(runtime.Lease.Term);
    }

    public string Topic { get; }
    public int Partition { get; }
    public TopicState TopicState { get; }
    public int LeaderEpoch { get; set; }

    /// <summary>Cancelled when this leadership term ends (handoff, lost lease, deleted topic).</summary>
    public CancellationToken Term => _term.Token;

    // Written under _lock; read without it (a 64-bit read is atomic here), as every fetch reads
    // both for each partition it asks for.
    public long HighWatermark => Volatile.Read(ref _highWatermark);
    public long LogStartOffset => Volatile.Read(ref _logStartOffset);
    public long NextOffset { get { lock (_lock) return _nextOffset; } }
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);
    public bool HasPending { get { lock (_lock) return _pending.Count > 0 || _uploadsInFlight > 0; } }

    /// <summary>True once the term has ended: nothing more is appended or acknowledged here.</summary>
    public bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>
    /// Adopts the durable segments found in the store when the partition is opened. With
    /// olderBelow, they are only the newest ones (an open from the hint): the older ones come
    /// later through <see cref="LoadOlder"/>, and reads below the first of these wait for them.
    /// unsealed is the WAL chain found beyond the segments: durable, acknowledged perhaps, and
    /// sealed as soon as the log is open.
    /// </summary>
    public void Load(IReadOnlyList<SegmentRef> segments, long logStartOffset, bool olderBelow = false, IReadOnlyList<SegmentRef>? unsealed = null)
    {
        lock (_lock)
        {
            _segments.Clear();
            _segments.AddRange(segments);
            long sealedEnd = segments.Count > 0 ? segments[^1].LastOffset + 1 : Math.Max(0, logStartOffset);
            if (segments.Count > 0) _lastSealedBase = segments[^1].BaseOffset;
            _sealedEnd = sealedEnd;
            long end = sealedEnd;
            if (unsealed is { Count: > 0 })
            {
                if (segments.Count == 0) sealedEnd = unsealed[0].BaseOffset;
                foreach (var u in unsealed) AddUnsealedLocked(u);
                end = unsealed[^1].LastOffset + 1;
                _sealAtOnce = true;
            }
            _nextOffset = _highWatermark = _nextUploadBase = end;
            long first = _segments.Count > 0 ? _segments[0].BaseOffset : end;
            if (olderBelow && segments.Count > 0)
            {
                _older = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _loadedFrom = first;
                _logStartOffset = Math.Clamp(logStartOffset, 0, end);
            }
            else _logStartOffset = Math.Clamp(logStartOffset, Math.Min(first, sealedEnd), end);
        }
    }

    /// <summary>Completes when every durable segment of the log is known (at once unless the open was from the hint).</summary>
    public Task OlderSegmentsLoaded => _older?.Task ?? Task.CompletedTask;

    /// <summary>True while a read from offset must wait for <see cref="OlderSegmentsLoaded"/>.</summary>
    public bool NeedsOlderSegments(long offset) => _older is { Task.IsCompleted: false } && offset < _loadedFrom;

    /// <summary>
    /// The segments below those of an open from the hint, found in the background: they go
    /// before the others, and the log start offset moves up to the first of them if it was
    /// below (nothing older is left to read).
    /// </summary>
    public void LoadOlder(List<SegmentRef> older, ProducerStateTable? olderProducers = null)
    {
        if (_older is null) return;
        lock (_lock)
        {
            if (!_closed && !_older.Task.IsCompleted)
            {
                // Producers last seen in the older segments; the newer state wins for the others.
                if (olderProducers is not null) _producers.AddAbsent(olderProducers);
                older.RemoveAll(s => s.LastOffset >= _loadedFrom);
                _segments.InsertRange(0, older);
                long first = _segments.Count > 0 ? _segments[0].BaseOffset : _highWatermark;
                _logStartOffset = Math.Clamp(_logStartOffset, first, _highWatermark);
            }
        }
        _older.TrySetResult();
    }

    /// <summary>The high watermark and the base of the newest sealed segment (-1 when none), read together for the hints.</summary>
    public (long HighWatermark, long LastSegmentBase) HintState
    {
        get { lock (_lock) return (_highWatermark, _lastSealedBase); }
    }

    /// <summary>
    /// Appends a validated partition blob (one or more v2 batches): copies it, assigns
    /// offsets, and hands it to the broker's next WAL object. Returns at once; the caller awaits
    /// Durable for acks.
    /// </summary>
    public AppendResult Append(ReadOnlySpan<byte> blob, int recordCount)
    {
        // Past the lease deadline another broker may be taking the partition over.
        if (!_runtime.Lease.MayWrite) return new AppendResult(ErrorCodes.NotLeaderOrFollower, -1, -1, null);
        byte[] buffer = BufferPools.Produce.Rent(blob.Length);
        blob.CopyTo(buffer);
        var span = buffer.AsSpan(0, blob.Length);
        long logAppendTime = -1;
        FlushGroup group;
        long baseOffset;
        lock (_lock)
        {
            if (_closed || _handingOff || _failed)
            {
                BufferPools.Produce.Return(buffer);
                return new AppendResult(_failed && !_closed ? ErrorCodes.KafkaStorageError : ErrorCodes.NotLeaderOrFollower, -1, -1, null);
            }
            if (CheckProducers(blob, out var duplicate) is { } refusal)
            {
                BufferPools.Produce.Return(buffer);
                return refusal.ErrorCode != 0 ? refusal : DuplicateLocked(duplicate);
            }
            baseOffset = _nextOffset;
            if (TopicState.Config.LogAppendTime) logAppendTime = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            long offset = _nextOffset;
            int pos = 0;
            while (pos < span.Length)
            {
                var batch = span[pos..];
                var header = new RecordBatchHeader(batch);
                int size = header.TotalSize;
                var one = batch[..size];
                RecordBatch.PatchBaseOffset(one, offset);
                RecordBatch.SetPartitionLeaderEpoch(one, LeaderEpoch);
                if (logAppendTime >= 0) RecordBatch.SetLogAppendTime(one, logAppendTime);
                if (header.HasProducerId)
                    _producers.RecordAppended(header.ProducerId, header.ProducerEpoch, header.BaseSequence, LastSequence(header), offset, offset + header.LastOffsetDelta);
                offset += header.LastOffsetDelta + 1;
                pos += size;
            }
            _nextOffset = offset;
            _pending.Add(new PendingBlob(buffer, blob.Length, offset));
            _pendingBytes += blob.Length;
            // A group never holds more than one WAL object takes of this partition, so a
            // durable object answers its producers without waiting for the rest of a backlog.
            if (_currentGroupBytes > 0 && _currentGroupBytes + blob.Length > _runtime.FlushMaxBytes) SealCurrentGroupLocked();
            if (_currentGroupBytes == 0) _currentGroup.StartOffset = baseOffset;
            _currentGroupBytes += blob.Length;
            group = _currentGroup;
            group.EndOffset = _nextOffset;
        }
        _runtime.AddPending(blob.Length);
        _runtime.Wal?.OnAppend(this);
        return new AppendResult(0, baseOffset, logAppendTime, group);
    }

    /// <summary>
    /// Idempotent producers (KIP-98): checks every batch of the blob against the partition's
    /// producer state. Null means append; otherwise the refusal, or (error 0) a duplicate whose
    /// first write starts at duplicateOffset. A blob is a duplicate only if all its batches are.
    /// </summary>
    private AppendResult? CheckProducers(ReadOnlySpan<byte> blob, out long duplicateOffset)
    {
        duplicateOffset = -1;
        int batches = 0, duplicates = 0;
        foreach (var batch in RecordBatch.EnumerateBatches(blob))
        {
            batches++;
            var h = new RecordBatchHeader(batch);
            if (!h.HasProducerId) continue;
            switch (_producers.Check(h.ProducerId, h.ProducerEpoch, h.BaseSequence, LastSequence(h), out long original))
            {
                case SequenceCheck.Append: break;
                case SequenceCheck.Duplicate:
                    if (duplicates++ == 0) duplicateOffset = original;
                    break;
                case SequenceCheck.InvalidEpoch: return new AppendResult(ErrorCodes.InvalidProducerEpoch, -1, -1, null);
                // Not written, retry: librdkafka takes OUT_OF_ORDER_SEQUENCE_NUMBER here as a sign
                // to bump its epoch and renumber, which duplicates a batch whose earlier answer was
                // "maybe written", or fails the producer for good (docs/architecture.md, "The write path").
                case SequenceCheck.GapSinceEarlierTerm: return new AppendResult(ErrorCodes.NotLeaderOrFollower, -1, -1, null);
                // While the older segments of an open from the hint are still being read, a
                // producer the newest ones do not know may be in them: "not written, retry".
                case SequenceCheck.UnknownProducer:
                    return new AppendResult(_older is { Task.IsCompleted: false } ? ErrorCodes.NotLeaderOrFollower : ErrorCodes.UnknownProducerId, -1, -1, null);
                default: return new AppendResult(ErrorCodes.OutOfOrderSequenceNumber, -1, -1, null);
            }
        }
        if (duplicates == 0) return null;
        if (duplicates != batches) return new AppendResult(ErrorCodes.OutOfOrderSequenceNumber, -1, -1, null);
        return new AppendResult(0, duplicateOffset, -1, null);
    }

    private static int LastSequence(in RecordBatchHeader h) =>
        h.BaseSequence < 0 ? h.BaseSequence : (int)(((long)h.BaseSequence + h.LastOffsetDelta) % ((long)int.MaxValue + 1));

    /// <summary>
    /// A retried batch already in the log is answered with its first offset once that write is
    /// durable, exactly as the first attempt would have been.
    /// </summary>
    private AppendResult DuplicateLocked(long originalOffset)
    {
        if (originalOffset < _highWatermark) return new AppendResult(0, originalOffset, -1, FlushGroup.Completed);
        foreach (var g in _groupsAwaitingDurability)
            if (g.EndOffset > originalOffset) return new AppendResult(0, originalOffset, -1, g);
        return new AppendResult(0, originalOffset, -1, _currentGroup);
    }

    /// <summary>Installs the producer state rebuilt from the durable segments when a partition is opened.</summary>
    public void SetProducers(ProducerStateTable producers)
    {
        lock (_lock) _producers = producers;
    }

    internal static void ReplayInto(ProducerStateTable table, ReadOnlySpan<byte> segmentBody)
    {
        foreach (var batch in RecordBatch.EnumerateBatches(segmentBody))
        {
            var h = new RecordBatchHeader(batch);
            if (h.HasProducerId) table.Record(h.ProducerId, h.ProducerEpoch, h.BaseSequence, LastSequence(h), h.BaseOffset, h.LastOffset);
        }
    }

    public int ProducerCount { get { lock (_lock) return _producers.Count; } }

    /// <summary>
    /// The WAL flusher takes this partition's pending batches (whole produce blobs, at least one,
    /// then up to budget bytes) for the object it is building. Null when there is nothing to take.
    /// The groups they belong to are marked as handed to an upload: from here on their fate is
    /// "maybe written" until the object is durable.
    /// </summary>
    public WalTake? TakeForWal(long budget)
    {
        lock (_lock)
        {
            if (_closed || _pending.Count == 0) return null;
            var take = new List<PendingBlob>();
            long bytes = 0;
            int i = 0;
            for (; i < _pending.Count; i++)
            {
                if (i > 0 && bytes + _pending[i].Length > budget) break;
                bytes += _pending[i].Length;
                take.Add(_pending[i]);
            }
            _pending.RemoveRange(0, i);
            _pendingBytes -= bytes;
            if (_pending.Count == 0) SealCurrentGroupLocked();
            _nextUploadBase = take[^1].EndOffset;
            MarkUploadStartedLocked(_nextUploadBase);
            _uploadsInFlight++;
            return new WalTake(this, take, bytes, LeaderEpoch, _pending.Count > 0);
        }
    }

    /// <summary>
    /// A long-polling fetch waits on this partition: it is woken when the high watermark moves or
    /// the term ends (docs/architecture.md, "The read path"). Register before reading, so a change
    /// in between still wakes it.
    /// </summary>
    public void AddWaiter(FetchWaiter waiter)
    {
        lock (_waiters) _waiters.Add(waiter);
    }

    public void RemoveWaiter(FetchWaiter waiter)
    {
        lock (_waiters) _waiters.Remove(waiter);
    }

    /// <summary>How many fetches wait on this partition now.</summary>
    public int WaitingFetches
    {
        get { lock (_waiters) return _waiters.Count; }
    }

    /// <summary>Wakes the fetches waiting on this partition (their continuations run elsewhere).</summary>
    private void WakeFetches()
    {
        lock (_waiters)
        {
            foreach (var w in _waiters) w.Wake();
            _waiters.Clear();
        }
    }

    /// <summary>
    /// A WAL object holding [baseOffset, endOffset) of this partition is durable. Acknowledged
    /// only if the upload ended before the lease deadline (a new leader may list the store after
    /// it) and only once every earlier offset is durable too.
    /// </summary>
    public void OnWalDurable(long baseOffset, long endOffset, ReadOnlyMemory<byte> body, long maxTimestamp, OwnWalObject wal)
    {
        bool seal;
        lock (_lock)
        {
            _uploadsInFlight--;
            if (_closed) { WakeFetches(); return; }
            if (!_runtime.Lease.MayWrite)
            {
                // The upload ended after the lease deadline: a new leader may already have
                // listed the store, so nothing of it may be acknowledged.
                AbandonLocked(ErrorCodes.NotLeaderOrFollower);
                return;
            }
            _durableOutOfOrder[baseOffset] = new SegmentRef(baseOffset, endOffset - 1, body.Length, maxTimestamp)
            {
                UnsealedBody = body,
                Wal = wal,
                DurableAtMs = _runtime.NowMs,
            };
            while (_durableOutOfOrder.Remove(_highWatermark, out var next))
            {
                AddUnsealedLocked(next);
                _highWatermark = next.LastOffset + 1;
            }
            CompleteDurableGroupsLocked();
            seal = SealDueLocked(_runtime.NowMs);
        }
        WakeFetches();
        _runtime.ScheduleHintUpdate(this);
        if (seal) _runtime.ScheduleSeal(this);
    }

    /// <summary>
    /// The WAL object with some of this partition's batches could not be made durable before the
    /// lease deadline (or could not be built): nothing at or above them may be acknowledged (that
    /// would leave a hole), so the term ends. errorCode is KAFKA_STORAGE_ERROR when the object was
    /// never sent anywhere; otherwise waiting producers hear "maybe written" (see AbandonAnswer).
    /// </summary>
    public void OnWalFailed(short errorCode)
    {
        lock (_lock)
        {
            _uploadsInFlight--;
            if (_closed) return;
            if (errorCode == ErrorCodes.KafkaStorageError) FailLocked(_highWatermark);
            else AbandonLocked(errorCode);
        }
    }

    /// <summary>
    /// Marks the groups with batches below end as handed to an upload, which may land even if
    /// this broker never hears of it.
    /// </summary>
    private void MarkUploadStartedLocked(long end)
    {
        foreach (var g in _groupsAwaitingDurability)
            if (g.StartOffset < end) g.UploadStarted = true;
        if (_currentGroupBytes > 0 && _currentGroup.StartOffset < end) _currentGroup.UploadStarted = true;
    }

    private void SealCurrentGroupLocked()
    {
        _groupsAwaitingDurability.Enqueue(_currentGroup);
        _currentGroup = new FlushGroup();
        _currentGroupBytes = 0;
    }

    private void CompleteDurableGroupsLocked()
    {
        while (_groupsAwaitingDurability.TryPeek(out var g) && g.EndOffset <= _highWatermark)
        {
            _groupsAwaitingDurability.Dequeue();
            g.Complete(0);
        }
    }

    /// <summary>
    /// Nothing at or above failedBase may be acknowledged (that would leave a hole), so the
    /// partition refuses writes and fails those waiters. Groups wholly below it wait on.
    /// </summary>
    private void FailLocked(long failedBase)
    {
        _failed = true;
        int count = _groupsAwaitingDurability.Count;
        for (int i = 0; i < count; i++)
        {
            var g = _groupsAwaitingDurability.Dequeue();
            if (g.EndOffset <= failedBase) _groupsAwaitingDurability.Enqueue(g);
            else g.Complete(ErrorCodes.KafkaStorageError);
        }
        _currentGroup.Complete(ErrorCodes.KafkaStorageError);
        DropPendingLocked();
    }

    /// <summary>The largest sealed segment: the broker's --segment-bytes, or the topic's segment.bytes when smaller.</summary>
    private int SegmentBytes => Math.Min(_runtime.SegmentBytes, TopicState.Config.SegmentBytesValue);

    /// <summary>Discards batches that will never be uploaded, and their bytes from the pending counts.</summary>
    private void DropPendingLocked()
    {
        foreach (var p in _pending) BufferPools.Produce.Return(p.Buffer);
        _pending.Clear();
        _runtime.AddPending(-_pendingBytes);
        _pendingBytes = 0;
    }

    /// <summary>Durable data (sealed segments, then unsealed WAL data) overlapping [fromOffset, high watermark), in order.</summary>
    public void SegmentsFrom(long fromOffset, List<SegmentRef> result)
    {
        lock (_lock)
        {
            int lo = 0, hi = _segments.Count - 1, start = _segments.Count;
            while (lo <= hi)
            {
                int mid = (lo + hi) >> 1;
                if (_segments[mid].LastOffset >= fromOffset) { start = mid; hi = mid - 1; }
                else lo = mid + 1;
            }
            for (int i = start; i < _segments.Count; i++) result.Add(_segments[i]);
        }
    }

    public List<SegmentRef> SegmentsSnapshot()
    {
        lock (_lock) return [.. _segments];
    }

    public long SizeBytes
    {
        get { lock (_lock) { long s = 0; foreach (var seg in _segments) s += seg.Size; return s; } }
    }

    /// <summary>
    /// Moves the log start offset forward (DeleteRecords, retention) and returns the sealed
    /// segments that now lie wholly below it, removed from the log, for the caller to delete.
    /// Unsealed data below it stays until it is sealed (the sealed chain must have no gap), and
    /// goes with the next move.
    /// </summary>
    public List<SegmentRef> AdvanceLogStart(long newStart)
    {
        var removed = new List<SegmentRef>();
        lock (_lock)
        {
            if (newStart <= _logStartOffset || _closed) return removed;
            _logStartOffset = Math.Min(newStart, _highWatermark);
            while (_segments.Count > 0 && _segments[0].IsSealed && _segments[0].LastOffset < _logStartOffset)
            {
                removed.Add(_segments[0]);
                _segments.RemoveAt(0);
            }
        }
        return removed;
    }

    /// <summary>Graceful handoff, first step: new appends are refused, what is pending flushes at once and everything durable is sealed.</summary>
    public void BeginHandoff()
    {
        lock (_lock) _handingOff = true;
        _runtime.Wal?.FlushNow();
        _runtime.ScheduleSeal(this);
    }

    /// <summary>
    /// During a handoff: the offset everything of this term is sealed below, when nothing is
    /// pending, uploading, unsealed or being sealed and the term is still on; null otherwise.
    /// </summary>
    public long? SealedThrough
    {
        get
        {
            lock (_lock)
            {
                bool clean = _handingOff && !_closed && _pending.Count == 0 && _uploadsInFlight == 0 && _groupsAwaitingDurability.Count == 0
                    && (_currentGroupBytes == 0 || _currentGroup.Durable.IsCompleted) && _unsealedCount == 0 && !_sealing
                    && _highWatermark == Math.Max(_sealedEnd, _logStartOffset);
                return clean ? _highWatermark : null;
            }
        }
    }

    /// <summary>
    /// Flushes until everything appended is durable and sealed (or the term ends). Returns
    /// false when the timeout passed first. Unsealed data left behind is not lost: it is in
    /// the WAL, where the next leader finds it.
    /// </summary>
    public async Task<bool> FlushUntilDurableAsync(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            lock (_lock)
            {
                if (_closed) return _groupsAwaitingDurability.Count == 0 && _pending.Count == 0;
                if (_pending.Count == 0 && _uploadsInFlight == 0 && _groupsAwaitingDurability.Count == 0
                    && (_currentGroupBytes == 0 || _currentGroup.Durable.IsCompleted)
                    && _unsealedCount == 0 && !_sealing) return true;
                _sealAtOnce = true;
            }
            if (Environment.TickCount64 >= deadline) return false;
            _runtime.Wal?.FlushNow();
            await SealAsync().ConfigureAwait(false);
            await Task.Delay(5).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends the term: waiting producers get errorCode, pending batches are dropped, and whatever
    /// uploads in flight do is no longer acknowledged.
    /// </summary>
    public void Abandon(short errorCode, bool deleted = false)
    {
        lock (_lock)
        {
            _deleted |= deleted;
            AbandonLocked(errorCode);
        }
    }

    /// <summary>
    /// What a waiting producer hears when the term ends before its batches were acknowledged.
    /// "Not leader" tells a client the batches were not written, so it may re-send them under a
    /// new producer epoch; that is only true while none of them has been handed to an upload.
    /// Once one has, the upload may have landed (and a later leader will keep it), so the answer
    /// is Kafka's "outcome unknown", REQUEST_TIMED_OUT: an idempotent producer then retries with
    /// the same sequence numbers and is answered as a duplicate (docs/architecture.md, "The write
    /// path").
    /// </summary>
    private static short AbandonAnswer(FlushGroup group, short errorCode) =>
        errorCode == ErrorCodes.NotLeaderOrFollower && group.UploadStarted ? ErrorCodes.RequestTimedOut : errorCode;

    private void AbandonLocked(short errorCode)
    {
        bool wasClosed = _closed;
        Volatile.Write(ref _closed, true);
        while (_groupsAwaitingDurability.TryDequeue(out var g)) g.Complete(AbandonAnswer(g, errorCode));
        _currentGroup.Complete(_currentGroupBytes > 0 ? AbandonAnswer(_currentGroup, errorCode) : errorCode);
        DropPendingLocked();
        _durableOutOfOrder.Clear();
        ReleaseUnsealedLocked();
        // Reads waiting for the older segments go on (and find the term over).
        _older?.TrySetResult();
        if (wasClosed) return;
        // Callbacks run elsewhere: an upload's continuation must not re-enter this lock mid-abandon.
        _ = _term.CancelAsync();
        WakeFetches();
        ThreadPool.UnsafeQueueUserWorkItem(static s => s.Runtime.OnClosed(s.Log), (Runtime: _runtime, Log: this), preferLocal: false);
    }
}
