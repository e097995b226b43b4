using System.Diagnostics;

namespace KafScale.Observability;

/// <summary>
/// Events per second over a sliding window of one-second buckets; used for the upstream
/// `*_rps` gauges, which are rates rather than counters.
/// </summary>
public sealed class RateMeter(int windowSeconds = 10)
{
    private readonly long[] _buckets = new long[windowSeconds];
    private readonly long[] _bucketSecond = new long[windowSeconds];
    private static readonly long Start = Stopwatch.GetTimestamp();

    private static long NowSecond() => (long)Stopwatch.GetElapsedTime(Start).TotalSeconds;

    public void Add(long count)
    {
        long second = NowSecond();
        int i = (int)(second % _buckets.Length);
        if (Volatile.Read(ref _bucketSecond[i]) != second)
        {
            lock (_buckets)
            {
                if (_bucketSecond[i] != second)
                {
                    _buckets[i] = 0;
                    Volatile.Write(ref _bucketSecond[i], second);
                }
            }
        }
        Interlocked.Add(ref _buckets[i], count);
    }

    /// <summary>The average rate over the complete seconds of the window.</summary>
    public double PerSecond()
    {
        long now = NowSecond();
        long total = 0;
        int n = 0;
        for (int i = 0; i < _buckets.Length; i++)
        {
            long s = Volatile.Read(ref _bucketSecond[i]);
            if (s < now && s >= now - _buckets.Length) total += Interlocked.Read(ref _buckets[i]);
        }
        n = (int)Math.Min(_buckets.Length - 1, Math.Max(1, now));
        return (double)total / n;
    }
}
