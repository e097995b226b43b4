using System.Diagnostics;

namespace KafScale.Broker.Clustering;

/// <summary>
/// This broker's own judgement of its lease (docs/architecture.md, "Leadership and fencing"): the deadline is the send
/// time of the last successful keep-alive plus the TTL minus a margin, on the monotonic clock.
/// Past it the lease may have expired in the metadata store and another broker may be taking
/// over, so nothing may be appended or acknowledged. <see cref="Term"/> is cancelled when the
/// deadline passes, which cancels uploads that could otherwise land after it.
/// </summary>
internal sealed class LeaseGuard
{
    private long _deadline;
    private CancellationTokenSource _term = new();
    private readonly Lock _lock = new();

    private LeaseGuard(long deadline) => _deadline = deadline;

    /// <summary>No lease yet: nothing may be written until the first grant.</summary>
    public static LeaseGuard Create() => new(0);

    /// <summary>A guard that never lapses, for a log used without a cluster (tools and tests).</summary>
    public static LeaseGuard Unbounded() => new(long.MaxValue);

    public bool MayWrite => Stopwatch.GetTimestamp() < Volatile.Read(ref _deadline);

    public TimeSpan Remaining
    {
        get
        {
            long deadline = Volatile.Read(ref _deadline);
            if (deadline == long.MaxValue) return Timeout.InfiniteTimeSpan;
            long left = deadline - Stopwatch.GetTimestamp();
            return left <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(left / (double)Stopwatch.Frequency);
        }
    }

    /// <summary>Cancelled when the lease may have lapsed; a new term starts when it is confirmed again.</summary>
    public CancellationToken Term
    {
        get { lock (_lock) return _term.Token; }
    }

    /// <summary>A keep-alive sent at sentTimestamp succeeded: the lease holds until then + ttl - margin.</summary>
    internal void Extend(long sentTimestamp, TimeSpan ttl, TimeSpan margin)
    {
        long deadline = sentTimestamp + (long)((ttl - margin).TotalSeconds * Stopwatch.Frequency);
        lock (_lock)
        {
            if (_term.IsCancellationRequested) _term = new CancellationTokenSource();
            if (deadline > _deadline) Volatile.Write(ref _deadline, deadline);
        }
    }

    /// <summary>The deadline passed (or the lease is known gone): stop writing now.</summary>
    internal void Lapse()
    {
        CancellationTokenSource term;
        lock (_lock)
        {
            Volatile.Write(ref _deadline, 0);
            term = _term;
        }
        try { term.Cancel(); } catch (AggregateException) { }
    }

    /// <summary>True once the deadline has passed (the registry's timer then calls <see cref="Lapse"/>).</summary>
    internal bool Expired => Volatile.Read(ref _deadline) != long.MaxValue && !MayWrite;
}
