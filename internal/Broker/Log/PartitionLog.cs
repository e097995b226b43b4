using KafScale.Records;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>A produce partition blob waiting for its flush; EndOffset is one past its last offset.</summary>
internal readonly record struct PendingBlob(byte[] Buffer, int Length, long EndOffset, long AppendedTicks = 0);

/// <summary>A durable segment of the log, as the broker knows it.</summary>
internal sealed class SegmentRef(long baseOffset, long lastOffset, long size, long maxTimestamp)
{
    public long BaseOffset { get; } = baseOffset;
    public long LastOffset { get; } = lastOffset;
    public long Size { get; } = size;
    /// <summary>Largest batch max-timestamp in the segment; -1 until known.</summary>
    public long MaxTimestamp { get; set; } = maxTimestamp;
}

/// <summary>
/// Batches appended since the last flush started, answered together when they are durable
/// (group commit: one task per flush, not one per request). When a segment of another writer
/// is adopted the group's batches move to new offsets (docs/architecture.md, "Leadership and fencing"); their producers
/// are answered with the new ones.
/// </summary>
internal sealed class FlushGroup
{
    private readonly TaskCompletionSource<short> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<long, long>? _rebased;

    /// <summary>A group that is already durable (a retried batch whose first write is below the high watermark).</summary>
    public static readonly FlushGroup Completed = CreateCompleted();

    /// <summary>First offset of the group's batches (set by its first append).</summary>
    public long StartOffset { get; set; }

    /// <summary>Some of the group's batches were handed to an upload, which may have landed.</summary>
    public bool UploadStarted { get; set; }

    public long EndOffset { get; set; }
    public Task<short> Durable => _done.Task;
    public void Complete(short errorCode) => _done.TrySetResult(errorCode);

    /// <summary>Where a batch appended at baseOffset ended up (read after <see cref="Durable"/> completes).</summary>
    public long Rebase(long baseOffset) => _rebased is { } map && map.TryGetValue(baseOffset, out long moved) ? moved : baseOffset;

    internal void MapBase(long oldBase, long newBase)
    {
        if (oldBase != newBase) (_rebased ??= [])[oldBase] = newBase;
    }

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
/// in memory until a flush uploads them as one segment object, and the high watermark advances
/// only over contiguous durable segments (docs/architecture.md, "The write path"), and only while this broker's
/// lease holds (section 6). A term ends with <see cref="Abandon"/>; the next leader opens a new
/// log from the store.
/// </summary>
internal sealed partial class PartitionLog
{
    private readonly Lock _lock = new();
    private readonly List<SegmentRef> _segments = [];
    private List<PendingBlob> _pending = [];
    private readonly Queue<FlushGroup> _groupsAwaitingDurability = new();
    private readonly SortedDictionary<long, (SegmentRef Segment, ReadOnlyMemory<byte> Kfs)> _uploadedOutOfOrder = [];
    private readonly PartitionStorage _storage;
    private readonly LogRuntime _runtime;
    private readonly CancellationTokenSource _term;
    private FlushGroup _currentGroup = new();
    private long _nextOffset;
    private long _highWatermark;
    private long _logStartOffset;
    private long _pendingBytes;
    private long _currentGroupBytes;
    private long _oldestPendingTicks;
    private int _uploadsInFlight;
    private bool _timerArmed;
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

    public long HighWatermark { get { lock (_lock) return _highWatermark; } }
    public long LogStartOffset { get { lock (_lock) return _logStartOffset; } }
    public long NextOffset { get { lock (_lock) return _nextOffset; } }
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);
    public bool HasPending { get { lock (_lock) return _pending.Count > 0 || _uploadsInFlight > 0 || _adopting; } }

    /// <summary>True once the term has ended: nothing more is appended or acknowledged here.</summary>
    public bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>
    /// Adopts the durable segments found in the store when the partition is opened. With
    /// olderBelow, they are only the newest ones (an open from the hint): the older ones come
    /// later through <see cref="LoadOlder"/>, and reads below the first of these wait for them.
    /// </summary>
    public void Load(IReadOnlyList<SegmentRef> segments, long logStartOffset, bool olderBelow = false)
    {
        lock (_lock)
        {
            _segments.Clear();
            _segments.AddRange(segments);
            long end = segments.Count > 0 ? segments[^1].LastOffset + 1 : Math.Max(0, logStartOffset);
            _nextOffset = _highWatermark = _nextUploadBase = end;
            long first = segments.Count > 0 ? segments[0].BaseOffset : end;
            if (olderBelow && segments.Count > 0)
            {
                _older = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _loadedFrom = first;
                _logStartOffset = Math.Clamp(logStartOffset, 0, end);
            }
            else _logStartOffset = Math.Clamp(logStartOffset, first, end);
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

    /// <summary>The high watermark and the base of the newest durable segment (-1 when none), read together for the hints.</summary>
    public (long HighWatermark, long LastSegmentBase) HintState
    {
        get { lock (_lock) return (_highWatermark, _segments.Count > 0 ? _segments[^1].BaseOffset : -1); }
    }

    /// <summary>
    /// Appends a validated partition blob (one or more v2 batches): copies it, assigns
    /// offsets, and schedules its flush. Returns at once; the caller awaits Durable for acks.
    /// </summary>
    public AppendResult Append(ReadOnlySpan<byte> blob, int recordCount)
    {
        // Past the lease deadline another broker may be taking the partition over.
        if (!_runtime.Lease.MayWrite) return new AppendResult(ErrorCodes.NotLeaderOrFollower, -1, -1, null);
        byte[] buffer = BufferPools.Produce.Rent(blob.Length);
        blob.CopyTo(buffer);
        var span = buffer.AsSpan(0, blob.Length);
        long logAppendTime = -1;
        bool flushNow;
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
                    _producers.Record(header.ProducerId, header.ProducerEpoch, header.BaseSequence, LastSequence(header), offset, offset + header.LastOffsetDelta);
                offset += header.LastOffsetDelta + 1;
                pos += size;
            }
            _nextOffset = offset;
            long now = _runtime.NowMs;
            if (_pending.Count == 0) _oldestPendingTicks = now;
            _pending.Add(new PendingBlob(buffer, blob.Length, offset, now));
            _pendingBytes += blob.Length;
            // A group never holds more than the flush's greedy cut puts in one segment, so a
            // durable segment answers its producers without waiting for the rest of a backlog.
            if (_currentGroupBytes > 0 && _currentGroupBytes + blob.Length > SegmentBytes) SealCurrentGroupLocked();
            if (_currentGroupBytes == 0) _currentGroup.StartOffset = baseOffset;
            _currentGroupBytes += blob.Length;
            group = _currentGroup;
            group.EndOffset = _nextOffset;
            flushNow = ShouldFlushLocked();
            if (!flushNow) ArmTimerLocked();
        }
        _runtime.AddPending(blob.Length);
        if (flushNow) _runtime.ScheduleFlush(this);
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

    private bool ShouldFlushLocked()
    {
        if (_pending.Count == 0 || _uploadsInFlight >= _runtime.MaxUploadsPerPartition || _adopting || _closed) return false;
        if (_pendingBytes >= SegmentBytes || _handingOff) return true;
        if (_runtime.FlushIntervalMs == 0) return true;
        return _runtime.NowMs - _oldestPendingTicks >= _runtime.FlushIntervalMs;
    }

    /// <summary>True while a flush.interval.ms timer is waiting to flush this partition.</summary>
    internal bool FlushTimerArmed { get { lock (_lock) return _timerArmed; } }

    private void ArmTimerLocked()
    {
        if (_timerArmed || _pending.Count == 0 || _runtime.FlushIntervalMs == 0 || _closed) return;
        _timerArmed = true;
        long due = Math.Max(0, _runtime.FlushIntervalMs - (_runtime.NowMs - _oldestPendingTicks));
        _ = FlushLaterAsync(due);
    }

    private async Task FlushLaterAsync(long delayMs)
    {
        if (delayMs > 0) await Task.Delay(TimeSpan.FromMilliseconds(delayMs), _runtime.Time).ConfigureAwait(false);
        lock (_lock) _timerArmed = false;
        _runtime.ScheduleFlush(this);
    }

    /// <summary>
    /// Takes pending batches (up to the segment size) and uploads them as one segment.
    /// Called on the thread pool; repeats while there is more to flush and room in flight.
    /// </summary>
    public async Task FlushAsync(bool force = false)
    {
        while (true)
        {
            List<PendingBlob> take;
            long baseOffset;
            lock (_lock)
            {
                if (_closed || _adopting || _pending.Count == 0 || _uploadsInFlight >= _runtime.MaxUploadsPerPartition) return;
                if (!force && !ShouldFlushLocked()) { ArmTimerLocked(); return; }
                take = [];
                long bytes = 0;
                int i = 0;
                for (; i < _pending.Count; i++)
                {
                    if (i > 0 && bytes + _pending[i].Length > SegmentBytes) break;
                    bytes += _pending[i].Length;
                    take.Add(_pending[i]);
                }
                _pending.RemoveRange(0, i);
                _pendingBytes -= bytes;
                if (_pending.Count == 0) SealCurrentGroupLocked();
                // What stays behind keeps its age, so it waits at most one interval in all.
                else _oldestPendingTicks = _pending[0].AppendedTicks;
                baseOffset = _nextUploadBase;
                _nextUploadBase = take[^1].EndOffset;
                MarkUploadStartedLocked(_nextUploadBase);
                _uploadsInFlight++;
            }

            long takenBytes = 0;
            foreach (var t in take) takenBytes += t.Length;
            BuiltSegment? built = null;
            try { built = SegmentBuilder.Build(take, baseOffset); }
            catch (Exception ex)
            {
                _runtime.Log.LogError(ex, "could not build a segment of {Topic}-{Partition} at offset {Base}; refusing further writes", Topic, Partition, baseOffset);
            }
            foreach (var t in take) BufferPools.Produce.Return(t.Buffer);
            _runtime.AddPending(-takenBytes);

            var outcome = built is null ? UploadOutcome.Cancelled : await _storage.UploadAsync(this, built, Term).ConfigureAwait(false);
            bool adopt = false, deleted;
            lock (_lock)
            {
                _uploadsInFlight--;
                deleted = _deleted;
                // A closed term acknowledges nothing; fetches waiting on it look again.
                if (_closed) _runtime.SignalData();
                else if (built is null) FailLocked(baseOffset);
                else if (outcome != UploadOutcome.Cancelled && !_runtime.Lease.MayWrite)
                {
                    // The upload ended after the lease deadline: a new leader may already have
                    // listed the store, so nothing of it may be acknowledged.
                    AbandonLocked(ErrorCodes.NotLeaderOrFollower);
                }
                else if (outcome == UploadOutcome.Durable) OnDurableLocked(built.Segment, built.Kfs);
                else if (outcome == UploadOutcome.Conflict)
                {
                    _conflicts[built.Segment.BaseOffset] = built;
                    _adopting = true;
                }
                else AbandonLocked(ErrorCodes.NotLeaderOrFollower);
                if (_adopting && !_adoptionRunning && _uploadsInFlight == 0 && !_closed) adopt = _adoptionRunning = true;
            }
            if (adopt)
            {
                await AdoptAsync().ConfigureAwait(false);
                continue;
            }
            if (outcome != UploadOutcome.Durable) return;
            if (deleted)
            {
                // The topic was deleted while this upload was under way: take the late segment back.
                await _storage.DeleteSegmentAsync(Topic, Partition, built!.Segment.BaseOffset, CancellationToken.None).ConfigureAwait(false);
                return;
            }
            _runtime.ScheduleHintUpdate(this);
        }
    }

    /// <summary>
    /// Marks the groups with batches below end as handed to an upload. Sticky: a group whose
    /// batches an adoption moves to new offsets keeps the mark, which only errs toward "maybe
    /// written".
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

    private void OnDurableLocked(SegmentRef segment, ReadOnlyMemory<byte> kfs)
    {
        _uploadedOutOfOrder[segment.BaseOffset] = (segment, kfs);
        while (_uploadedOutOfOrder.Remove(_highWatermark, out var next))
        {
            _segments.Add(next.Segment);
            _runtime.Cache(this, next.Segment, next.Kfs);
            _highWatermark = next.Segment.LastOffset + 1;
        }
        CompleteDurableGroupsLocked();
        _runtime.SignalData();
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
    /// A segment could not be built: nothing at or above it may be acknowledged (that would
    /// leave a hole), so the partition refuses writes and fails those waiters. Groups wholly
    /// below it wait on: their own uploads may still land.
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

    /// <summary>The flush size: the broker's --segment-bytes, or the topic's segment.bytes when smaller.</summary>
    private int SegmentBytes => Math.Min(_runtime.SegmentBytes, TopicState.Config.SegmentBytesValue);

    /// <summary>Discards batches that will never be uploaded, and their bytes from the pending counts.</summary>
    private void DropPendingLocked()
    {
        foreach (var p in _pending) BufferPools.Produce.Return(p.Buffer);
        _pending.Clear();
        _runtime.AddPending(-_pendingBytes);
        _pendingBytes = 0;
    }

    /// <summary>Durable segments overlapping [fromOffset, high watermark), in order.</summary>
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
    /// Moves the log start offset forward (DeleteRecords, retention) and returns the segments
    /// that now lie wholly below it, removed from the log, for the caller to delete.
    /// </summary>
    public List<SegmentRef> AdvanceLogStart(long newStart)
    {
        var removed = new List<SegmentRef>();
        lock (_lock)
        {
            if (newStart <= _logStartOffset || _closed) return removed;
            _logStartOffset = Math.Min(newStart, _highWatermark);
            while (_segments.Count > 0 && _segments[0].LastOffset < _logStartOffset)
            {
                removed.Add(_segments[0]);
                _segments.RemoveAt(0);
            }
        }
        return removed;
    }

    /// <summary>Graceful handoff, first step: new appends are refused, what is pending flushes at once.</summary>
    public void BeginHandoff()
    {
        lock (_lock) _handingOff = true;
        _runtime.ScheduleFlush(this);
    }

    /// <summary>
    /// Flushes until everything appended is durable (or the term ends). Returns false when the
    /// timeout passed first.
    /// </summary>
    public async Task<bool> FlushUntilDurableAsync(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            lock (_lock)
            {
                if (_closed) return _groupsAwaitingDurability.Count == 0 && _pending.Count == 0;
                if (_pending.Count == 0 && _uploadsInFlight == 0 && !_adopting && _groupsAwaitingDurability.Count == 0
                    && (_currentGroupBytes == 0 || _currentGroup.Durable.IsCompleted)) return true;
            }
            if (Environment.TickCount64 >= deadline) return false;
            await FlushAsync(force: true).ConfigureAwait(false);
            await Task.Delay(5).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Ends the term: waiting producers get errorCode, pending batches are dropped, uploads in
    /// flight are cancelled and whatever they do is no longer acknowledged.
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
        _uploadedOutOfOrder.Clear();
        _conflicts.Clear();
        _adopting = false;
        // Reads waiting for the older segments go on (and find the term over).
        _older?.TrySetResult();
        if (wasClosed) return;
        // Callbacks run elsewhere: an upload's continuation must not re-enter this lock mid-abandon.
        _ = _term.CancelAsync();
        _runtime.SignalData();
        ThreadPool.UnsafeQueueUserWorkItem(static s => s.Runtime.OnClosed(s.Log), (Runtime: _runtime, Log: this), preferLocal: false);
    }
}
