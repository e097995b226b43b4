namespace KafScale.Metadata.Embedded;

/// <summary>
/// The recent durable events, in revision order, in a ring of fixed size that all watchers read
/// through their own cursor. Writers only append, so no watcher can hold them up; a watcher that
/// falls a whole ring behind (or asks for a revision older than the ring) gets a
/// <see cref="CompactedRevisionException"/>, as etcd does for a compacted revision.
/// </summary>
internal sealed class WatchHistory
{
    private readonly object _lock = new();
    private readonly WatchEvent[] _ring;
    private long _first;      // sequence number of the oldest kept event
    private long _next;       // sequence number the next event gets
    private long _compactedRevision;
    private long _publishedRevision;
    private TaskCompletionSource _changed = NewSignal();
    private bool _closed;

    public WatchHistory(int capacity, long compactedRevision, long publishedRevision)
    {
        _ring = new WatchEvent[Math.Max(1, capacity)];
        _compactedRevision = compactedRevision;
        _publishedRevision = publishedRevision;
    }

    internal sealed class Cursor(long sequence, long fromRevision)
    {
        public long Sequence = sequence;
        public readonly long FromRevision = fromRevision;
        public long PassedRevision; // newest revision the cursor has moved past
    }

    public void Publish(List<WatchEvent> events)
    {
        if (events.Count == 0) return;
        TaskCompletionSource changed;
        lock (_lock)
        {
            foreach (WatchEvent e in events)
            {
                if (_next - _first == _ring.Length)
                {
                    _compactedRevision = Math.Max(_compactedRevision, _ring[_first % _ring.Length].Kv.ModRevision);
                    _first++;
                }
                _ring[_next % _ring.Length] = e;
                _next++;
            }
            _publishedRevision = events[^1].Kv.ModRevision;
            changed = _changed;
            _changed = NewSignal();
        }
        changed.TrySetResult();
    }

    public Cursor Open(long fromRevision)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_closed, typeof(EmbeddedMetadataStore));
            if (fromRevision <= 0) return new Cursor(_next, _publishedRevision + 1);
            if (fromRevision <= _compactedRevision) throw new CompactedRevisionException(fromRevision, _compactedRevision);
            long lo = _first, hi = _next;
            while (lo < hi)
            {
                long mid = lo + (hi - lo) / 2;
                if (_ring[mid % _ring.Length].Kv.ModRevision < fromRevision) lo = mid + 1; else hi = mid;
            }
            return new Cursor(lo, fromRevision);
        }
    }

    /// <summary>
    /// Moves up to max events under prefix from the cursor into batch. Returns null when it
    /// found some, else a task that completes when more events arrive.
    /// </summary>
    public Task? Read(Cursor cursor, string prefix, List<WatchEvent> batch, int max)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_closed, typeof(EmbeddedMetadataStore));
            if (cursor.Sequence < _first)
                throw new CompactedRevisionException(Math.Max(cursor.FromRevision, cursor.PassedRevision + 1), _compactedRevision,
                    $"the watcher fell more than {_ring.Length} events behind the writers");
            while (cursor.Sequence < _next && batch.Count < max)
            {
                WatchEvent e = _ring[cursor.Sequence % _ring.Length];
                cursor.Sequence++;
                cursor.PassedRevision = e.Kv.ModRevision;
                if (e.Kv.ModRevision >= cursor.FromRevision && e.Kv.Key.StartsWith(prefix, StringComparison.Ordinal)) batch.Add(e);
            }
            return batch.Count > 0 ? null : cursor.Sequence < _next ? Task.CompletedTask : _changed.Task;
        }
    }

    /// <summary>Ends every watch: their next read throws ObjectDisposedException.</summary>
    public void Close()
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _closed = true;
            changed = _changed;
        }
        changed.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
