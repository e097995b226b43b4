using System.Buffers;
using KafScale.Records;
using KafScale.Storage;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>
/// The storage-level fence, leader side (docs/architecture.md, "Leadership and fencing"). A conditional create that finds
/// its key taken by different bytes means a deposed leader's delayed upload landed there. Its
/// segment is adopted instead of overwritten: added to the chain and to the producer state, and
/// every batch of ours from that offset on (none was ever acknowledged: the high watermark
/// stops at the conflict) is re-based after it. A batch the adopted data already holds (an
/// idempotent producer's retry) is answered as a duplicate with the adopted offset.
/// </summary>
internal sealed partial class PartitionLog
{
    private readonly SortedDictionary<long, BuiltSegment> _conflicts = [];
    private bool _adopting;
    private bool _adoptionRunning;

    /// <summary>A batch of ours that has to move: where it was appended and its bytes.</summary>
    private readonly record struct OwnBatch(long OldBase, long OldEnd, ReadOnlyMemory<byte> Bytes);

    private static void CollectBatches(ReadOnlyMemory<byte> batches, List<OwnBatch> into)
    {
        var span = batches.Span;
        int pos = 0;
        while (pos < span.Length)
        {
            int size = RecordBatch.PeekTotalSize(span[pos..]);
            if (size <= 0) break;
            var h = new RecordBatchHeader(span.Slice(pos, size));
            into.Add(new OwnBatch(h.BaseOffset, h.LastOffset + 1, batches.Slice(pos, size)));
            pos += size;
        }
    }

    private static ReadOnlyMemory<byte> Body(ReadOnlyMemory<byte> kfs) =>
        kfs[SegmentFormat.HeaderSize..(kfs.Length - SegmentFormat.FooterSize)];

    /// <summary>Runs once no upload of this partition is in flight; appends keep queueing meanwhile.</summary>
    private async Task AdoptAsync()
    {
        long start;
        var taken = new List<OwnBatch>();
        var ownLanded = new List<long>();
        lock (_lock)
        {
            if (_closed) { _adoptionRunning = false; return; }
            start = _conflicts.Keys.First();
            foreach (var built in _conflicts.Values) CollectBatches(Body(built.Kfs), taken);
            foreach (var (landedBase, landed) in _uploadedOutOfOrder)
            {
                CollectBatches(Body(landed.Kfs), taken);
                ownLanded.Add(landedBase);
            }
            _conflicts.Clear();
            _uploadedOutOfOrder.Clear();
            if (_highWatermark != start)
            {
                _runtime.Log.LogError("{Topic}-{Partition}: segment {Base} is taken but the log is durable only to {HighWatermark}; giving the partition up", Topic, Partition, start, _highWatermark);
                _adoptionRunning = false;
                AbandonLocked(ErrorCodes.NotLeaderOrFollower);
                return;
            }
        }
        _runtime.Log.LogWarning("{Topic}-{Partition}: segment {Base} was written by another broker (a deposed leader's late upload); adopting it and re-basing {Batches} batches of ours after it",
            Topic, Partition, start, taken.Count);

        var token = Term;
        var adopted = new List<(SegmentRef Segment, ReadOnlyMemory<byte> Kfs)>();
        ProducerStateTable producers;
        long cursor = start;
        try
        {
            // Our own segments above the conflict must go first: a re-based upload meeting one of
            // them would otherwise adopt our own batches a second time.
            foreach (long b in ownLanded)
                await UntilDoneAsync(() => _storage.DeleteSegmentAsync(Topic, Partition, b, token), token).ConfigureAwait(false);
            while (true)
            {
                long at = cursor;
                var found = await UntilDoneAsync(() => _storage.ReadSegmentForAdoptionAsync(this, at, token), token).ConfigureAwait(false);
                if (found is null) break;
                adopted.Add(found.Value);
                cursor = found.Value.Segment.LastOffset + 1;
            }
            producers = await RebuildProducersAsync(adopted, token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (ex is not OperationCanceledException)
                _runtime.Log.LogError("{Topic}-{Partition}: cannot adopt the segment at {Base} ({Error}); giving the partition up", Topic, Partition, cursor, ex.Message);
            lock (_lock)
            {
                _adoptionRunning = false;
                AbandonLocked(ErrorCodes.NotLeaderOrFollower);
            }
            return;
        }

        List<PendingBlob> oldPending;
        lock (_lock)
        {
            _adoptionRunning = false;
            if (_closed) return;
            _adopting = false;
            foreach (var (segment, kfs) in adopted)
            {
                _segments.Add(segment);
                _runtime.Cache(this, segment, kfs);
            }
            _highWatermark = cursor;
            _producers = producers;
            oldPending = _pending;
            foreach (var p in oldPending) CollectBatches(p.Buffer.AsMemory(0, p.Length), taken);
            taken.Sort(static (a, b) => a.OldBase.CompareTo(b.OldBase));
            RebaseLocked(taken, cursor);
            CompleteDurableGroupsLocked();
        }
        foreach (var p in oldPending) ArrayPool<byte>.Shared.Return(p.Buffer);
        _runtime.SignalData();
        _runtime.ScheduleHintUpdate(this);
        _runtime.ScheduleFlush(this);
    }

    /// <summary>
    /// Gives our batches new offsets from cursor on, drops those the producer state knows as
    /// duplicates, and moves every waiting group's end (and its producers' base offsets) with them.
    /// </summary>
    private void RebaseLocked(List<OwnBatch> ours, long cursor)
    {
        var groups = new List<FlushGroup>(_groupsAwaitingDurability);
        if (_currentGroupBytes > 0) groups.Add(_currentGroup);
        var oldEnds = new long[groups.Count];
        for (int i = 0; i < groups.Count; i++) oldEnds[i] = groups[i].EndOffset;
        var newEnds = new long[groups.Count];

        var pending = new List<PendingBlob>(ours.Count);
        long next = cursor, maxEnd = cursor, bytes = 0, now = _runtime.NowMs;
        int gi = 0;
        foreach (var batch in ours)
        {
            while (gi < groups.Count && batch.OldEnd > oldEnds[gi]) newEnds[gi++] = maxEnd;
            var group = gi < groups.Count ? groups[gi] : _currentGroup;
            var h = new RecordBatchHeader(batch.Bytes.Span);
            if (h.HasProducerId
                && _producers.Check(h.ProducerId, h.ProducerEpoch, h.BaseSequence, LastSequence(h), out long original) == SequenceCheck.Duplicate)
            {
                group.MapBase(batch.OldBase, original);
                continue;
            }
            byte[] buffer = ArrayPool<byte>.Shared.Rent(batch.Bytes.Length);
            batch.Bytes.Span.CopyTo(buffer);
            var copy = buffer.AsSpan(0, batch.Bytes.Length);
            RecordBatch.PatchBaseOffset(copy, next);
            RecordBatch.SetPartitionLeaderEpoch(copy, LeaderEpoch);
            long end = next + h.LastOffsetDelta + 1;
            if (h.HasProducerId) _producers.Record(h.ProducerId, h.ProducerEpoch, h.BaseSequence, LastSequence(h), next, end - 1);
            pending.Add(new PendingBlob(buffer, batch.Bytes.Length, end, now));
            group.MapBase(batch.OldBase, next);
            bytes += batch.Bytes.Length;
            next = maxEnd = end;
        }
        while (gi < groups.Count) newEnds[gi++] = maxEnd;
        for (int i = 0; i < groups.Count; i++) groups[i].EndOffset = newEnds[i];

        _runtime.AddPending(bytes - _pendingBytes);
        _pending = pending;
        _pendingBytes = bytes;
        _oldestPendingTicks = now;
        _nextOffset = next;
        _nextUploadBase = cursor;
    }

    private async Task<ProducerStateTable> RebuildProducersAsync(List<(SegmentRef Segment, ReadOnlyMemory<byte> Kfs)> adopted, CancellationToken ct)
    {
        var table = await _storage.ReplayProducersAsync(this, SegmentsSnapshot(), ct).ConfigureAwait(false);
        foreach (var (_, kfs) in adopted) ReplayInto(table, Body(kfs).Span);
        return table;
    }

    /// <summary>Retries a store call until it succeeds or the term ends; a corrupt segment is not retried.</summary>
    private async Task<T> UntilDoneAsync<T>(Func<Task<T>> call, CancellationToken ct)
    {
        int attempt = 0;
        while (true)
        {
            try { return await call().ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException and not SegmentCorruptException)
            {
                if (++attempt >= 20) throw;
                _runtime.Log.LogWarning("{Topic}-{Partition}: store call during adoption failed ({Error}); retrying", Topic, Partition, ex.Message);
                await Task.Delay(Math.Min(2000, 50 << Math.Min(attempt, 6)), ct).ConfigureAwait(false);
            }
        }
    }

    private Task UntilDoneAsync(Func<Task> call, CancellationToken ct) =>
        UntilDoneAsync(async () => { await call().ConfigureAwait(false); return true; }, ct);
}
