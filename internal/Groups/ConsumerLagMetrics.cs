using System.Globalization;
using KafScale.Observability;

namespace KafScale.Groups;

/// <summary>
/// Consumer lag (high watermark minus committed offset) per group and partition, under
/// upstream KafScale's names (kafscale_consumer_lag, kafscale_consumer_lag_max) and
/// kafka-exporter's (kafka_consumergroup_lag), so existing dashboards work.
/// </summary>
/// <remarks>
/// The gauges are computed when scraped. The histogram is cumulative, as Prometheus expects
/// (upstream's PromQL takes rate() of its buckets): every partition's lag is observed once per
/// sample interval, so its quantiles describe lag over time and partitions.
/// </remarks>
internal sealed class ConsumerLagMetrics : IDisposable
{
    private static readonly double[] Buckets = [0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000];

    private readonly GroupCoordinatorService _groups;
    private readonly Func<string, int, long?> _highWatermark;
    private readonly Histogram _histogram;
    private readonly ITimer _sampler;

    public ConsumerLagMetrics(GroupCoordinatorService groups, MetricsRegistry registry, Func<string, int, long?> highWatermark, TimeSpan sampleInterval, TimeProvider time)
    {
        _groups = groups;
        _highWatermark = highWatermark;
        _histogram = registry.Histogram("kafscale_consumer_lag", "Consumer lag in records, every committed group partition sampled periodically.", Buckets);
        registry.GaugeFunc("kafscale_consumer_lag_max", "Largest consumer lag in records over every group and partition.", Max);
        registry.GaugeSet("kafka_consumergroup_lag", "Consumer group lag in records: high watermark minus committed offset.", ["group", "topic", "partition"], Labelled);
        using (ExecutionContext.SuppressFlow())
            _sampler = time.CreateTimer(static s => ((ConsumerLagMetrics)s!).Sample(), this, sampleInterval, sampleInterval);
    }

    /// <summary>Each committed partition's lag; partitions that no longer exist are skipped.</summary>
    public IEnumerable<(GroupOffset Offset, long Lag)> Lags()
    {
        foreach (var o in _groups.CommittedOffsets())
        {
            if (_highWatermark(o.Topic, o.Partition) is not { } hw) continue;
            // A commit beyond the high watermark (or -1) has nothing left to read or nothing to measure.
            long lag = o.Offset < 0 ? hw : Math.Max(0, hw - o.Offset);
            yield return (o, lag);
        }
    }

    private double Max()
    {
        long max = 0;
        foreach (var (_, lag) in Lags()) max = Math.Max(max, lag);
        return max;
    }

    private IEnumerable<(string[] Labels, double Value)> Labelled()
    {
        foreach (var (o, lag) in Lags())
            yield return ([o.GroupId, o.Topic, o.Partition.ToString(CultureInfo.InvariantCulture)], lag);
    }

    private void Sample()
    {
        try
        {
            foreach (var (_, lag) in Lags()) _histogram.Observe(lag);
        }
        catch (Exception)
        {
            // A sample is best effort; the next one comes at the next interval.
        }
    }

    public void Dispose() => _sampler.Dispose();
}
