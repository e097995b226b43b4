using KafScale.Broker.Log;

namespace KafScale.Broker.Handlers;

/// <summary>
/// One partition a fetch session holds (docs/protocol.md, "Fetch sessions"): what the client
/// last asked for, and what the broker last told it, so an incremental response carries only the
/// partitions with news.
/// </summary>
internal sealed class SessionPartition
{
    public string? TopicName;

    /// <summary>The topic's name as UTF-8, for responses before Fetch v13 (kept once, so a response makes no bytes of it).</summary>
    public byte[]? NameUtf8;
    public Guid TopicId;
    public int Partition;
    public long FetchOffset;
    public int MaxBytes;

    /// <summary>The log that last served this partition here; null before that and after an error. Lets an incremental fetch pass over a partition with nothing new.</summary>
    public PartitionLog? Log;

    /// <summary>The high watermark last sent; -1 before the first response (so it is always sent then) and after an error.</summary>
    public long SentHighWatermark = -1;

    /// <summary>The log start offset last sent; -1 before the first response.</summary>
    public long SentLogStartOffset = -1;

    /// <summary>Whether the rule of KIP-227 asks for this partition in a response: records, a moved high watermark or log start, or an error.</summary>
    public bool MustRespond(int recordBytes, long highWatermark, long logStartOffset, short error) =>
        recordBytes > 0 || error != 0 || highWatermark != SentHighWatermark || logStartOffset != SentLogStartOffset;

    /// <summary>Records what a response told the client about this partition.</summary>
    public void Sent(long highWatermark, long logStartOffset, short error)
    {
        SentHighWatermark = error != 0 ? -1 : highWatermark;
        SentLogStartOffset = error != 0 ? -1 : logStartOffset;
    }
}

/// <summary>
/// A KIP-227 fetch session: an id, the epoch the next incremental request must carry, and its
/// partitions in response order. Partitions that returned records move to the back, so that under
/// a response size limit every partition gets its turn (Kafka does the same). A request holds
/// <see cref="TryAcquire"/> while it uses the session; a second request of the same session at
/// the same time is refused with the epoch error, as its epoch cannot be the expected one.
/// </summary>
internal sealed class FetchSession(int id, bool usesTopicIds, bool privileged, long createdMs)
{
    private readonly Dictionary<(Guid Id, string? Name, int Partition), SessionPartition> _byKey = [];
    private SessionPartition[] _order = new SessionPartition[16];
    private SessionPartition[] _scratch = new SessionPartition[16];
    private int _inUse;

    public int Id { get; } = id;

    /// <summary>Topics by id (Fetch v13+) or by name: a request of the other kind is refused (FETCH_SESSION_TOPIC_ID_ERROR).</summary>
    public bool UsesTopicIds { get; } = usesTopicIds;

    public bool Privileged { get; } = privileged;

    public long CreatedMs { get; } = createdMs;

    /// <summary>The epoch the next incremental request must carry: 1 after creation, then 2, ... wrapping past int.MaxValue to 1.</summary>
    public int NextEpoch { get; private set; } = 1;

    public long LastUsedMs { get; set; } = createdMs;

    public int Count { get; private set; }

    public SessionPartition this[int index] => _order[index];

    public bool TryAcquire() => Interlocked.CompareExchange(ref _inUse, 1, 0) == 0;

    public void Release() => Volatile.Write(ref _inUse, 0);

    public void AdvanceEpoch() => NextEpoch = NextEpoch == int.MaxValue ? 1 : NextEpoch + 1;

    private (Guid, string?, int) Key(string? name, Guid id, int partition) => UsesTopicIds ? (id, null, partition) : (Guid.Empty, name, partition);

    /// <summary>Adds a partition, or updates what the client asks of one it holds; returns it.</summary>
    public SessionPartition Upsert(string? topicName, Guid topicId, int partition, long fetchOffset, int maxBytes)
    {
        var key = Key(topicName, topicId, partition);
        if (!_byKey.TryGetValue(key, out var p))
        {
            p = new SessionPartition { TopicName = topicName, TopicId = topicId, Partition = partition };
            _byKey[key] = p;
            if (Count == _order.Length)
            {
                Array.Resize(ref _order, Count * 2);
                Array.Resize(ref _scratch, Count * 2);
            }
            _order[Count++] = p;
        }
        p.FetchOffset = fetchOffset;
        p.MaxBytes = maxBytes;
        return p;
    }

    /// <summary>Drops a partition the client forgot; no error when the session does not hold it.</summary>
    public void Forget(string? topicName, Guid topicId, int partition)
    {
        if (!_byKey.Remove(Key(topicName, topicId, partition), out var p)) return;
        int i = Array.IndexOf(_order, p, 0, Count);
        Array.Copy(_order, i + 1, _order, i, Count - i - 1);
        _order[--Count] = null!;
    }

    /// <summary>
    /// Moves the partitions for which <paramref name="returnedRecords"/> is true to the back,
    /// keeping the order within both groups. <paramref name="returnedRecords"/> is indexed like the session.
    /// </summary>
    public void RotateReturned(ReadOnlySpan<bool> returnedRecords)
    {
        int front = 0, back = 0;
        for (int i = 0; i < Count; i++)
        {
            if (returnedRecords[i]) _scratch[back++] = _order[i];
            else _order[front++] = _order[i];
        }
        if (back == 0) return;
        Array.Copy(_scratch, 0, _order, front, back);
        Array.Clear(_scratch, 0, back);
    }
}

/// <summary>
/// The broker's fetch sessions (docs/protocol.md, "Fetch sessions"), at most
/// <c>--max-incremental-fetch-session-cache-slots</c> of them, as Kafka bounds them. A new session
/// takes a free slot; when there is none it may evict a session unused for the eviction time
/// (two minutes, Kafka's min.incremental.fetch.session.eviction.ms), else the least valuable
/// session old enough to be evicted (a consumer's before a follower's, fewer partitions first)
/// when the new one is worth at least as much. Otherwise no session is made, and the client gets
/// session id 0 and goes on with full requests.
/// </summary>
internal sealed class FetchSessionCache(int maxSessions, TimeProvider time)
{
    public const long EvictionMs = 120_000;

    private readonly Dictionary<int, FetchSession> _sessions = [];
    private readonly Lock _lock = new();

    public int MaxSessions { get; } = maxSessions;

    public int Count
    {
        get { lock (_lock) return _sessions.Count; }
    }

    public long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>The session, touched as used now; null when the broker holds no session of that id.</summary>
    public FetchSession? Get(int id)
    {
        lock (_lock)
        {
            if (!_sessions.TryGetValue(id, out var session)) return null;
            session.LastUsedMs = NowMs;
            return session;
        }
    }

    public bool Remove(int id)
    {
        lock (_lock) return _sessions.Remove(id);
    }

    /// <summary>A new session of <paramref name="partitions"/> partitions, or null when the cache has no room for it.</summary>
    public FetchSession? TryCreate(int partitions, bool usesTopicIds, bool privileged)
    {
        lock (_lock)
        {
            long now = NowMs;
            if (MaxSessions <= 0) return null;
            if (_sessions.Count >= MaxSessions && !TryEvict(partitions, privileged, now)) return null;
            int id;
            do id = Random.Shared.Next(1, int.MaxValue);
            while (_sessions.ContainsKey(id));
            var session = new FetchSession(id, usesTopicIds, privileged, now);
            _sessions[id] = session;
            return session;
        }
    }

    private bool TryEvict(int partitions, bool privileged, long now)
    {
        FetchSession? stalest = null, cheapest = null;
        foreach (var s in _sessions.Values)
        {
            if (stalest is null || s.LastUsedMs < stalest.LastUsedMs) stalest = s;
            if (now - s.CreatedMs < EvictionMs) continue;
            if (cheapest is null || Worth(s).CompareTo(Worth(cheapest)) < 0) cheapest = s;
        }
        if (stalest is not null && now - stalest.LastUsedMs > EvictionMs)
        {
            _sessions.Remove(stalest.Id);
            return true;
        }
        if (cheapest is null || (privileged, (long)partitions).CompareTo(Worth(cheapest)) < 0) return false;
        _sessions.Remove(cheapest.Id);
        return true;

        static (bool, long) Worth(FetchSession s) => (s.Privileged, s.Count);
    }
}
