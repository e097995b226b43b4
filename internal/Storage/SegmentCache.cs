namespace KafScale.Storage;

/// <summary>Identity of a cached segment.</summary>
public readonly record struct SegmentCacheKey(string Topic, int Partition, long BaseOffset);

/// <summary>
/// A thread-safe, byte-bounded LRU of whole <c>.kfs</c> segments, filled on flush and by reads
/// from the object store. A lookup takes one short lock and allocates nothing.
/// </summary>
public sealed class SegmentCache
{
    private readonly object _lock = new();
    private readonly Dictionary<SegmentCacheKey, LinkedListNode<Entry>> _map = new();
    private readonly LinkedList<Entry> _lru = new(); // most recently used first
    private long _bytes;
    private long _hits;
    private long _misses;
    private long _evictions;

    /// <param name="capacityBytes">Upper bound on the summed segment sizes; 0 disables caching.</param>
    public SegmentCache(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        CapacityBytes = capacityBytes;
    }

    public long CapacityBytes { get; }

    public long CurrentBytes => Interlocked.Read(ref _bytes);

    public int Count
    {
        get
        {
            lock (_lock)
                return _map.Count;
        }
    }

    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);
    public long Evictions => Interlocked.Read(ref _evictions);

    public bool TryGet(string topic, int partition, long baseOffset, out ReadOnlyMemory<byte> segment) =>
        TryGet(new SegmentCacheKey(topic, partition, baseOffset), out segment);

    public bool TryGet(SegmentCacheKey key, out ReadOnlyMemory<byte> segment)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(key, out LinkedListNode<Entry>? node))
            {
                if (node != _lru.First)
                {
                    _lru.Remove(node);
                    _lru.AddFirst(node);
                }
                _hits++;
                segment = node.Value.Segment;
                return true;
            }
            _misses++;
        }
        segment = default;
        return false;
    }

    /// <summary>True when the segment is cached; counts neither a hit nor a miss and leaves the LRU order alone.</summary>
    public bool Contains(string topic, int partition, long baseOffset)
    {
        lock (_lock)
            return _map.ContainsKey(new SegmentCacheKey(topic, partition, baseOffset));
    }

    /// <summary>
    /// Adds or replaces a segment and evicts least recently used ones until the total fits.
    /// Returns false (caching nothing) when the segment alone exceeds the capacity. The cache
    /// keeps a reference to the memory: it must not be reused by the caller.
    /// </summary>
    public bool Add(string topic, int partition, long baseOffset, ReadOnlyMemory<byte> segment) =>
        Add(new SegmentCacheKey(topic, partition, baseOffset), segment);

    public bool Add(SegmentCacheKey key, ReadOnlyMemory<byte> segment)
    {
        if (segment.Length > CapacityBytes)
            return false;
        lock (_lock)
        {
            if (_map.TryGetValue(key, out LinkedListNode<Entry>? existing))
                RemoveNode(existing);
            // Room first, then the segment: the total never passes the bound, even for the
            // moment a reader of CurrentBytes (which takes no lock) might see.
            while (_bytes + segment.Length > CapacityBytes && _lru.Last is LinkedListNode<Entry> victim)
            {
                RemoveNode(victim);
                _evictions++;
            }
            var node = _lru.AddFirst(new Entry(key, segment));
            _map.Add(key, node);
            Interlocked.Add(ref _bytes, segment.Length);
        }
        return true;
    }

    public bool Remove(SegmentCacheKey key)
    {
        lock (_lock)
        {
            if (!_map.TryGetValue(key, out LinkedListNode<Entry>? node))
                return false;
            RemoveNode(node);
            return true;
        }
    }

    /// <summary>Drops every segment of a partition (on losing leadership); returns how many.</summary>
    public int RemovePartition(string topic, int partition) =>
        RemoveWhere(k => k.Partition == partition && k.Topic == topic);

    /// <summary>Drops every segment of a topic (on delete); returns how many.</summary>
    public int RemoveTopic(string topic) => RemoveWhere(k => k.Topic == topic);

    public void Clear()
    {
        lock (_lock)
        {
            _map.Clear();
            _lru.Clear();
            Interlocked.Exchange(ref _bytes, 0);
        }
    }

    private int RemoveWhere(Func<SegmentCacheKey, bool> match)
    {
        int removed = 0;
        lock (_lock)
        {
            LinkedListNode<Entry>? node = _lru.First;
            while (node is not null)
            {
                LinkedListNode<Entry>? next = node.Next;
                if (match(node.Value.Key))
                {
                    RemoveNode(node);
                    removed++;
                }
                node = next;
            }
        }
        return removed;
    }

    private void RemoveNode(LinkedListNode<Entry> node)
    {
        _lru.Remove(node);
        _map.Remove(node.Value.Key);
        Interlocked.Add(ref _bytes, -node.Value.Segment.Length);
    }

    private readonly record struct Entry(SegmentCacheKey Key, ReadOnlyMemory<byte> Segment);
}
