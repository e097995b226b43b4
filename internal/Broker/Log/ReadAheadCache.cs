namespace KafScale.Broker.Log;

/// <summary>
/// A byte range of a sealed segment read ahead of what a fetch asked for (docs/architecture.md,
/// "The read path", cold reads). The buffer is never pooled or written again once filled, so
/// responses may point into it for as long as they need.
/// </summary>
internal sealed class ReadAheadWindow(long position, byte[] buffer, int length)
{
    /// <summary>Position in the .kfs of the window's first byte.</summary>
    public long Position { get; } = position;

    public byte[] Buffer { get; } = buffer;

    public int Length { get; } = length;

    public bool Covers(long position) => position >= Position && position < Position + Length;
}

/// <summary>
/// The windows of cold reads of sealed segments, one per segment (the last one read), under a
/// byte budget of their own, least recently used out first. Kept apart from the segment cache, so
/// a consumer catching up from the store reads each byte with one large ranged GET instead of one
/// GET per fetch, and never pushes out the recent segments that consumers at the tail read.
/// A read takes a window of <see cref="LargeWindowBytes"/> or else <see cref="WindowBytes"/> while the budget has room, or by pushing out
/// a window nobody read for <see cref="IdleMs"/>; otherwise (more partitions read from the store
/// at once than windows fit) it reads only what the fetch needs, so windows are not pushed out
/// before they are read and no byte is read from the store twice.
/// </summary>
internal sealed class ReadAheadCache(long budgetBytes)
{
    /// <summary>Bytes one read-ahead GET asks for when the budget has no room for <see cref="LargeWindowBytes"/>: four fetches' worth at Kafka's default partition limit of 1 MiB.</summary>
    public const int WindowBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Bytes one read-ahead GET asks for while the budget has room for it: half a default 16 MiB
    /// segment, so a reader of up to 16 partitions at once with the default budget makes two GETs
    /// per segment.
    /// </summary>
    public const int LargeWindowBytes = 8 * 1024 * 1024;

    /// <summary>A window unread this long may be pushed out for a new one.</summary>
    public const long IdleMs = 1000;

    private sealed class Entry(SegmentRef segment, ReadAheadWindow window)
    {
        public SegmentRef Segment { get; } = segment;
        public ReadAheadWindow Window { get; } = window;
        public long LastReadMs;
    }

    private readonly Dictionary<SegmentRef, LinkedListNode<Entry>> _bySegment = [];
    private readonly LinkedList<Entry> _lru = new();
    private readonly Lock _lock = new();
    private long _bytes;

    public long BudgetBytes { get; } = budgetBytes;

    public long Bytes
    {
        get { lock (_lock) return _bytes; }
    }

    /// <summary>The segment's window when it holds <paramref name="position"/>.</summary>
    public ReadAheadWindow? Find(SegmentRef segment, long position, long nowMs)
    {
        lock (_lock)
        {
            if (!_bySegment.TryGetValue(segment, out var node) || !node.Value.Window.Covers(position)) return null;
            node.Value.LastReadMs = nowMs;
            _lru.Remove(node);
            _lru.AddLast(node);
            return node.Value.Window;
        }
    }

    /// <summary>Whether a new window of <paramref name="length"/> bytes for <paramref name="segment"/> would be kept (see the class comment).</summary>
    public bool Admits(SegmentRef segment, int length, long nowMs)
    {
        lock (_lock)
        {
            if (length > BudgetBytes) return false;
            long bytes = _bytes;
            if (_bySegment.TryGetValue(segment, out var own)) bytes -= own.Value.Window.Length;
            for (var node = _lru.First; bytes + length > BudgetBytes; node = node.Next)
            {
                if (node is null || nowMs - node.Value.LastReadMs < IdleMs) return false;
                if (node.Value.Segment != segment) bytes -= node.Value.Window.Length;
            }
            return true;
        }
    }

    /// <summary>
    /// A reader reached the end of the segment: its window is the first to go when room is needed,
    /// without waiting <see cref="IdleMs"/> (a sequential reader has moved on to the next segment),
    /// and still serves another reader that comes by before then.
    /// </summary>
    public void Finished(SegmentRef segment)
    {
        lock (_lock)
        {
            if (!_bySegment.TryGetValue(segment, out var node)) return;
            node.Value.LastReadMs = long.MinValue / 2;
            _lru.Remove(node);
            _lru.AddFirst(node);
        }
    }

    /// <summary>
    /// Keeps the segment's newest window in place of its previous one, pushing out the least
    /// recently read over the budget (after <see cref="Admits"/>, only windows idle for <see cref="IdleMs"/>, unless
    /// another read took the room meanwhile).
    /// </summary>
    public void Add(SegmentRef segment, ReadAheadWindow window, long nowMs)
    {
        lock (_lock)
        {
            if (_bySegment.Remove(segment, out var old))
            {
                _lru.Remove(old);
                _bytes -= old.Value.Window.Length;
            }
            while (_bytes + window.Length > BudgetBytes && _lru.First is { } oldest)
            {
                _lru.RemoveFirst();
                _bySegment.Remove(oldest.Value.Segment);
                _bytes -= oldest.Value.Window.Length;
            }
            if (window.Length > BudgetBytes) return;
            _bySegment[segment] = _lru.AddLast(new Entry(segment, window) { LastReadMs = nowMs });
            _bytes += window.Length;
        }
    }
}
