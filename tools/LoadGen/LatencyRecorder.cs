using System.Diagnostics;

namespace KafScale.LoadGen;

/// <summary>
/// Request latencies of one sender (no locking: one per in-flight slot), merged and sorted at
/// the end. Exact percentiles; a run of minutes records at most a few hundred thousand samples.
/// </summary>
internal sealed class LatencyRecorder
{
    private long[] _ticks = new long[4096];
    private int _count;

    public int Count => _count;

    public void Record(long elapsedTicks)
    {
        if (_count == _ticks.Length)
        {
            Array.Resize(ref _ticks, _ticks.Length * 2);
        }

        _ticks[_count++] = elapsedTicks;
    }

    public static LatencySummary Summarize(IEnumerable<LatencyRecorder> recorders)
    {
        long[] all = recorders.SelectMany(r => r._ticks.Take(r._count)).ToArray();
        if (all.Length == 0)
        {
            return new LatencySummary(0, 0, 0, 0, 0, 0);
        }

        Array.Sort(all);
        return new LatencySummary(
            all.Length,
            Ms(Percentile(all, 0.50)),
            Ms(Percentile(all, 0.99)),
            Ms(Percentile(all, 0.999)),
            Ms(all[^1]),
            Ms((long)all.Average()));
    }

    private static long Percentile(long[] sorted, double q) =>
        sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

internal readonly record struct LatencySummary(int Count, double P50Ms, double P99Ms, double P999Ms, double MaxMs, double MeanMs);
