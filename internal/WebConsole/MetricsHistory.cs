using KafScale.Broker;

namespace KafScale.WebConsole;

/// <summary>
/// The last hour of this broker's own counters, sampled every 10 seconds, from which the
/// overview charts its throughput and latency (docs/console.md, "Overview"). Memory is bounded:
/// 360 samples of a few numbers.
/// </summary>
internal sealed class MetricsHistory : IAsyncDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private const int Capacity = 360;
    private readonly Func<BrokerVitals> _read;
    private readonly TimeProvider _time;
    private readonly Queue<(long AtMs, BrokerVitals Vitals)> _samples = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public MetricsHistory(Func<BrokerVitals> read, TimeProvider? time = null)
    {
        _read = read;
        _time = time ?? TimeProvider.System;
        Sample();
        _loop = RunAsync(_stop.Token);
    }

    private async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false)) Sample();
        }
        catch (OperationCanceledException) { }
    }

    private void Sample()
    {
        var sample = (_time.GetUtcNow().ToUnixTimeMilliseconds(), _read());
        lock (_samples)
        {
            _samples.Enqueue(sample);
            while (_samples.Count > Capacity) _samples.Dequeue();
        }
    }

    /// <summary>One point per interval between consecutive samples, the last from the newest sample to now.</summary>
    public List<HistoryPoint> Points()
    {
        List<(long AtMs, BrokerVitals Vitals)> samples;
        lock (_samples) samples = [.. _samples];
        samples.Add((_time.GetUtcNow().ToUnixTimeMilliseconds(), _read()));
        var points = new List<HistoryPoint>(samples.Count);
        for (int i = 1; i < samples.Count; i++)
        {
            var (t0, a) = samples[i - 1];
            var (t1, b) = samples[i];
            double seconds = (t1 - t0) / 1000.0;
            if (seconds < 0.5) continue;
            long produces = b.ProduceRequests - a.ProduceRequests, fetches = b.FetchRequests - a.FetchRequests;
            points.Add(new HistoryPoint(t1,
                (b.BytesIn - a.BytesIn) / seconds, (b.RecordsIn - a.RecordsIn) / seconds,
                (b.BytesOut - a.BytesOut) / seconds, (b.RecordsOut - a.RecordsOut) / seconds,
                produces > 0 ? (b.ProduceLatencySumMs - a.ProduceLatencySumMs) / produces : null,
                fetches > 0 ? (b.FetchLatencySumMs - a.FetchLatencySumMs) / fetches : null));
        }
        return points;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>Rates over one interval ending at <see cref="AtMs"/>; latencies are the mean of the interval's requests, null without any.</summary>
internal readonly record struct HistoryPoint(long AtMs, double ProduceBytesPerSec, double ProduceRecordsPerSec, double FetchBytesPerSec, double FetchRecordsPerSec,
    double? ProduceLatencyMs, double? FetchLatencyMs);
