using KafScale.Storage;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>
/// Sealing (docs/architecture.md, "The write path"): durable data a partition holds in memory,
/// unsealed, becomes a .kfs + .index in the partition's chain of segments when it reaches
/// segment.bytes, when its oldest byte is --segment-ms old, when the broker's unsealed bytes
/// pass --max-unsealed-bytes (the largest partitions first), at handoff and right after a
/// takeover. Sealing is off the acknowledgement path: the data is already durable in the WAL.
/// </summary>
internal sealed partial class PartitionLog
{
    private int _unsealedCount;
    private long _unsealedBytes;
    private bool _sealing;
    private TaskCompletionSource? _sealSettled;
    private bool _sealAtOnce;
    private long _lastSealedBase = -1;
    private long _sealedEnd;

    /// <summary>One past the last offset in sealed segments: WAL chunks below it are garbage.</summary>
    public long SealedEnd { get { lock (_lock) return _sealedEnd; } }

    /// <summary>Bytes of durable data not yet sealed into a segment.</summary>
    public long UnsealedBytes => Interlocked.Read(ref _unsealedBytes);

    /// <summary>Unsealed data is the tail of the segment list: appended in offset order.</summary>
    private void AddUnsealedLocked(SegmentRef unsealed)
    {
        _segments.Add(unsealed);
        _unsealedCount++;
        Interlocked.Add(ref _unsealedBytes, unsealed.Size);
        _runtime.AddUnsealed(unsealed.Size);
    }

    /// <summary>The term ended: unsealed data is the next leader's to seal, from the WAL.</summary>
    private void ReleaseUnsealedLocked()
    {
        if (_unsealedCount == 0) return;
        for (int i = _segments.Count - _unsealedCount; i < _segments.Count; i++)
            if (_segments[i].Wal is { } wal && wal.ChunkReleased()) _runtime.Wal?.Collect(wal);
        _segments.RemoveRange(_segments.Count - _unsealedCount, _unsealedCount);
        _unsealedCount = 0;
        _runtime.AddUnsealed(-Interlocked.Exchange(ref _unsealedBytes, 0));
    }

    private bool SealDueLocked(long nowMs)
    {
        if (_unsealedCount == 0 || _sealing || _closed) return false;
        if (_sealAtOnce || _handingOff || _unsealedBytes >= SegmentBytes) return true;
        var oldest = _segments[_segments.Count - _unsealedCount];
        return nowMs - oldest.DurableAtMs >= _runtime.SegmentMs;
    }

    /// <summary>Seals if a rule says so (the broker's periodic check); force for the memory bound.</summary>
    public void MaybeSeal(long nowMs, bool force = false)
    {
        bool due;
        lock (_lock)
        {
            if (force && _unsealedCount > 0 && !_sealing && !_closed) _sealAtOnce = true;
            due = SealDueLocked(nowMs);
        }
        if (due) _runtime.ScheduleSeal(this);
    }

    /// <summary>
    /// Seals while a rule says so: the oldest unsealed data, up to segment.bytes (at least one
    /// WAL chunk), becomes one segment. One seal of a partition at a time, so the chain of
    /// segments grows strictly in order.
    /// </summary>
    public async Task SealAsync()
    {
        while (true)
        {
            List<SegmentRef> take;
            lock (_lock)
            {
                if (!SealDueLocked(_runtime.NowMs)) return;
                _sealing = true;
                _sealSettled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                take = [];
                long bytes = 0;
                for (int i = _segments.Count - _unsealedCount; i < _segments.Count; i++)
                {
                    var u = _segments[i];
                    // segment.ms 0 seals each flush's data as its own segment, as soon as it is durable.
                    if (take.Count > 0 && (bytes + u.Size > SegmentBytes || _runtime.SegmentMs == 0)) break;
                    bytes += u.Size;
                    take.Add(u);
                }
            }

            BuiltSegment? built = null;
            // Where the store writes parts in place (the directory store), the seal writes the
            // unsealed bodies as they are and the segment is not cached: reading it back from
            // that store costs no request (docs/decisions.md, "Directory-store write path performance").
            try { built = SegmentBuilder.BuildFromBodies(take, inPlace: _storage.Store.WritesPartsInPlace); }
            catch (Exception ex)
            {
                _runtime.Log.LogError(ex, "could not build a segment of {Topic}-{Partition} at offset {Base}; the data stays in the WAL", Topic, Partition, take[0].BaseOffset);
            }
            var outcome = built is null ? UploadOutcome.Cancelled : await _storage.UploadAsync(this, built, Term).ConfigureAwait(false);
            SegmentRef? sealedRef = outcome == UploadOutcome.Durable ? built!.Segment : null;
            ReadOnlyMemory<byte> kfs = outcome == UploadOutcome.Durable ? built!.Kfs : default;
            if (outcome == UploadOutcome.Conflict)
            {
                // Another writer sealed this offset first: a deposed leader's late seal of the
                // same WAL data (docs/architecture.md, "Leadership and fencing"). It must hold
                // exactly our bytes for whole chunks of ours; anything else means two writers.
                try
                {
                    var existing = await _storage.ReadSegmentForAdoptionAsync(this, take[0].BaseOffset, Term).ConfigureAwait(false);
                    if (existing is { } e && SameData(e.Kfs, take, out int covered))
                    {
                        take.RemoveRange(covered, take.Count - covered);
                        sealedRef = e.Segment;
                        kfs = e.Kfs;
                        _runtime.Log.LogInformation("{Topic}-{Partition}: segment {Base} was already sealed by another broker with the same data; adopting it", Topic, Partition, e.Segment.BaseOffset);
                    }
                    else
                    {
                        _runtime.Log.LogError("{Topic}-{Partition}: segment {Base} holds other data than this leader's WAL chain; giving the partition up", Topic, Partition, take[0].BaseOffset);
                        Abandon(ErrorCodes.NotLeaderOrFollower);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    _runtime.Log.LogWarning("{Topic}-{Partition}: cannot read segment {Base} that another writer sealed ({Error}); will try again", Topic, Partition, take[0].BaseOffset, ex.Message);
                }
            }

            List<OwnWalObject>? emptied = null;
            bool dropSealed = false, late = false;
            TaskCompletionSource? settled;
            lock (_lock)
            {
                _sealing = false;
                settled = _sealSettled;
                _sealSettled = null;
                if (sealedRef is null || _closed)
                {
                    // A seal that lands after its topic was deleted is a late upload: take it back
                    // before a delete waiting on this seal hears it is over.
                    late = dropSealed = sealedRef is not null && _deleted;
                    if (!late) { settled?.TrySetResult(); return; }
                }
                else
                {
                    int first = _segments.Count - _unsealedCount;
                    // Only this method removes unsealed data while the term lasts, so it is still there.
                    _segments.RemoveRange(first, take.Count);
                    _segments.Insert(first, sealedRef);
                    long bytes = 0;
                    foreach (var t in take)
                    {
                        bytes += t.Size;
                        if (t.Wal is { } wal && wal.ChunkSealed()) (emptied ??= []).Add(wal);
                    }
                    _unsealedCount -= take.Count;
                    Interlocked.Add(ref _unsealedBytes, -bytes);
                    _runtime.AddUnsealed(-bytes);
                    _lastSealedBase = sealedRef.BaseOffset;
                    _sealedEnd = sealedRef.LastOffset + 1;
                    if (_unsealedCount == 0) _sealAtOnce = false;
                    // DeleteRecords or retention moved the log start past it while it was unsealed.
                    dropSealed = first == 0 && sealedRef.LastOffset < _logStartOffset;
                    if (dropSealed) _segments.RemoveAt(0);
                    else if (!kfs.IsEmpty) _runtime.Cache(this, sealedRef, kfs);
                }
            }
            try
            {
                if (dropSealed) await _storage.DeleteSegmentAsync(Topic, Partition, sealedRef!.BaseOffset, CancellationToken.None).ConfigureAwait(false);
            }
            finally { settled?.TrySetResult(); }
            if (late) return;
            _runtime.ScheduleHintUpdate(this);
            if (emptied is not null) foreach (var wal in emptied) _runtime.Wal?.Collect(wal);
        }
    }

    /// <summary>
    /// For a merge of this broker's WAL objects: the runs of consecutive unsealed data held in
    /// <paramref name="objects"/>, each of one leader epoch, in offset order.
    /// </summary>
    public List<(int Epoch, List<SegmentRef> Refs)> UnsealedRunsIn(HashSet<OwnWalObject> objects)
    {
        var runs = new List<(int, List<SegmentRef>)>();
        lock (_lock)
        {
            if (_closed) return runs;
            List<SegmentRef>? run = null;
            int epoch = -1;
            for (int i = _segments.Count - _unsealedCount; i < _segments.Count; i++)
            {
                var u = _segments[i];
                int e = u.Wal is { } w && objects.Contains(w) ? w.EpochOf(this) : -1;
                if (e < 0) { run = null; continue; }
                if (run is null || e != epoch)
                {
                    run = [];
                    runs.Add((e, run));
                    epoch = e;
                }
                run.Add(u);
            }
        }
        return runs;
    }

    /// <summary>
    /// A merged object holding <paramref name="run"/> is durable: each of its pieces still
    /// unsealed here counts against <paramref name="merged"/> now. Objects of
    /// <paramref name="from"/> left holding nothing open are added to <paramref name="emptied"/>.
    /// </summary>
    public void MoveUnsealedTo(List<SegmentRef> run, HashSet<OwnWalObject> from, OwnWalObject merged, List<OwnWalObject> emptied)
    {
        lock (_lock)
        {
            if (_closed) return;
            var moving = new HashSet<SegmentRef>(run);
            for (int i = _segments.Count - _unsealedCount; i < _segments.Count; i++)
            {
                var u = _segments[i];
                if (!moving.Contains(u) || u.Wal is not { } old || !from.Contains(old)) continue;
                u.Wal = merged;
                merged.ChunkAdded();
                if (old.ChunkMoved()) emptied.Add(old);
            }
        }
    }

    /// <summary>Completes when no seal of this log is under way (at once if none is).</summary>
    public Task SealSettledAsync()
    {
        lock (_lock) return _sealSettled?.Task ?? Task.CompletedTask;
    }

    /// <summary>
    /// True when a segment another writer sealed holds exactly the bytes of our first
    /// <paramref name="covered"/> chunks (at least one).
    /// </summary>
    private static bool SameData(ReadOnlyMemory<byte> kfs, List<SegmentRef> ours, out int covered)
    {
        covered = 0;
        var body = kfs.Span[SegmentFormat.HeaderSize..(kfs.Length - SegmentFormat.FooterSize)];
        int pos = 0;
        foreach (var u in ours)
        {
            if (pos == body.Length) break;
            var chunk = u.UnsealedBody.Span;
            if (pos + chunk.Length > body.Length || !body.Slice(pos, chunk.Length).SequenceEqual(chunk)) return false;
            pos += chunk.Length;
            covered++;
        }
        return pos == body.Length && covered > 0;
    }
}
