using System.Globalization;
using System.Text;

namespace KafScale.Observability;

/// <summary>A monotonically increasing count.</summary>
public sealed class Counter
{
    private long _value;
    public void Increment() => Interlocked.Increment(ref _value);
    public void Add(long amount) => Interlocked.Add(ref _value, amount);
    public long Value => Interlocked.Read(ref _value);
}

/// <summary>A value that goes up and down.</summary>
public sealed class Gauge
{
    private long _bits;
    public void Set(double value) => Interlocked.Exchange(ref _bits, BitConverter.DoubleToInt64Bits(value));
    public double Value => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _bits));
}

/// <summary>
/// A cumulative histogram with fixed bucket bounds. Observations are lock-free: one
/// interlocked add per bucket hit plus the sum and count.
/// </summary>
public sealed class Histogram
{
    private readonly double[] _bounds;
    private readonly long[] _counts;
    private long _count;
    private long _sumMicros;

    public Histogram(double[] bounds)
    {
        _bounds = bounds;
        _counts = new long[bounds.Length + 1];
    }

    public IReadOnlyList<double> Bounds => _bounds;

    public void Observe(double value)
    {
        int i = 0;
        while (i < _bounds.Length && value > _bounds[i]) i++;
        Interlocked.Increment(ref _counts[i]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumMicros, (long)(value * 1000.0));
    }

    public long Count => Interlocked.Read(ref _count);
    public double Sum => Interlocked.Read(ref _sumMicros) / 1000.0;
    internal long BucketCount(int i) => Interlocked.Read(ref _counts[i]);

    /// <summary>Milliseconds, from sub-millisecond to a minute.</summary>
    public static double[] LatencyMsBuckets() => [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000];
}

/// <summary>
/// A metric family with one label set per child. Children are created on first use and live
/// as long as the registry (label values here come from bounded sets: API names, topics,
/// object-store operations).
/// </summary>
public sealed class Family<T> where T : class
{
    private readonly Func<T> _factory;
    private readonly Dictionary<string, (string[] Values, T Metric)> _children = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    internal Family(string[] labelNames, Func<T> factory)
    {
        LabelNames = labelNames;
        _factory = factory;
    }

    public string[] LabelNames { get; }

    public T WithLabels(params string[] values)
    {
        string key = values.Length == 1 ? values[0] : string.Join('\u0001', values);
        lock (_lock)
        {
            if (!_children.TryGetValue(key, out var child))
            {
                child = ((string[])values.Clone(), _factory());
                _children[key] = child;
            }
            return child.Metric;
        }
    }

    public void Remove(params string[] values)
    {
        string key = values.Length == 1 ? values[0] : string.Join('\u0001', values);
        lock (_lock) _children.Remove(key);
    }

    internal List<(string[] Values, T Metric)> Snapshot()
    {
        lock (_lock) return [.. _children.Values];
    }
}

/// <summary>
/// The process's metrics and their Prometheus text exposition (format 0.0.4). Written by
/// hand: no Prometheus client library is available to this build.
/// </summary>
public sealed class MetricsRegistry
{
    private readonly List<Entry> _entries = [];
    private readonly Lock _lock = new();

    private sealed record Entry(string Name, string Help, string Type, object Metric);

    public Counter Counter(string name, string help) => Add(name, help, "counter", new Counter());
    public Gauge Gauge(string name, string help) => Add(name, help, "gauge", new Gauge());
    public Histogram Histogram(string name, string help, double[] bounds) => Add(name, help, "histogram", new Histogram(bounds));

    /// <summary>A gauge whose value is read when scraped.</summary>
    public void GaugeFunc(string name, string help, Func<double> read) => Add(name, help, "gauge", read);

    /// <summary>A counter kept elsewhere (it must only go up), read when scraped.</summary>
    public void CounterFunc(string name, string help, Func<double> read) => Add(name, help, "counter", read);

    /// <summary>A labelled gauge whose children are produced when scraped.</summary>
    public void GaugeSet(string name, string help, string[] labelNames, Func<IEnumerable<(string[] Labels, double Value)>> read)
        => Add(name, help, "gauge", new GaugeSetMetric(labelNames, read));

    public Family<Counter> CounterFamily(string name, string help, params string[] labels)
        => Add(name, help, "counter", new Family<Counter>(labels, () => new Counter()));
    public Family<Gauge> GaugeFamily(string name, string help, params string[] labels)
        => Add(name, help, "gauge", new Family<Gauge>(labels, () => new Gauge()));
    public Family<Histogram> HistogramFamily(string name, string help, double[] bounds, params string[] labels)
        => Add(name, help, "histogram", new Family<Histogram>(labels, () => new Histogram(bounds)));

    private sealed record GaugeSetMetric(string[] LabelNames, Func<IEnumerable<(string[] Labels, double Value)>> Read);

    private T Add<T>(string name, string help, string type, T metric) where T : class
    {
        lock (_lock)
        {
            if (_entries.Exists(e => e.Name == name)) throw new InvalidOperationException($"metric {name} registered twice");
            _entries.Add(new Entry(name, help, type, metric));
        }
        return metric;
    }

    public IReadOnlyList<string> Names
    {
        get { lock (_lock) return _entries.ConvertAll(e => e.Name); }
    }

    public string Render()
    {
        List<Entry> entries;
        lock (_lock) entries = [.. _entries];
        var sb = new StringBuilder(8192);
        foreach (var e in entries)
        {
            sb.Append("# HELP ").Append(e.Name).Append(' ').Append(e.Help).Append('\n');
            sb.Append("# TYPE ").Append(e.Name).Append(' ').Append(e.Type).Append('\n');
            switch (e.Metric)
            {
                case Counter c: Sample(sb, e.Name, null, null, c.Value); break;
                case Gauge g: Sample(sb, e.Name, null, null, g.Value); break;
                case Func<double> f: Sample(sb, e.Name, null, null, SafeRead(f)); break;
                case Histogram h: RenderHistogram(sb, e.Name, null, null, h); break;
                case GaugeSetMetric gs:
                    foreach (var (labels, value) in gs.Read()) Sample(sb, e.Name, gs.LabelNames, labels, value);
                    break;
                case Family<Counter> fc:
                    foreach (var (values, c) in fc.Snapshot()) Sample(sb, e.Name, fc.LabelNames, values, c.Value);
                    break;
                case Family<Gauge> fg:
                    foreach (var (values, g) in fg.Snapshot()) Sample(sb, e.Name, fg.LabelNames, values, g.Value);
                    break;
                case Family<Histogram> fh:
                    foreach (var (values, h) in fh.Snapshot()) RenderHistogram(sb, e.Name, fh.LabelNames, values, h);
                    break;
            }
        }
        return sb.ToString();
    }

    private static double SafeRead(Func<double> f)
    {
        try { return f(); } catch { return double.NaN; }
    }

    private static void RenderHistogram(StringBuilder sb, string name, string[]? labelNames, string[]? values, Histogram h)
    {
        long cumulative = 0;
        var bounds = h.Bounds;
        string[] names = [.. labelNames ?? [], "le"];
        for (int i = 0; i <= bounds.Count; i++)
        {
            cumulative += h.BucketCount(i);
            string le = i < bounds.Count ? Format(bounds[i]) : "+Inf";
            Sample(sb, name + "_bucket", names, [.. values ?? [], le], cumulative);
        }
        Sample(sb, name + "_sum", labelNames, values, h.Sum);
        Sample(sb, name + "_count", labelNames, values, h.Count);
    }

    private static void Sample(StringBuilder sb, string name, string[]? labelNames, string[]? values, double value)
    {
        sb.Append(name);
        if (labelNames is { Length: > 0 } && values is not null)
        {
            sb.Append('{');
            for (int i = 0; i < labelNames.Length; i++)
            {
                if (i > 0) sb.Append(',');
                sb.Append(labelNames[i]).Append("=\"");
                Escape(sb, i < values.Length ? values[i] : "");
                sb.Append('"');
            }
            sb.Append('}');
        }
        sb.Append(' ').Append(Format(value)).Append('\n');
    }

    private static void Escape(StringBuilder sb, string value)
    {
        foreach (char ch in value)
        {
            switch (ch)
            {
                case '\\': sb.Append("\\\\"); break;
                case '"': sb.Append("\\\""); break;
                case '\n': sb.Append("\\n"); break;
                default: sb.Append(ch); break;
            }
        }
    }

    private static string Format(double v)
    {
        if (double.IsPositiveInfinity(v)) return "+Inf";
        if (double.IsNegativeInfinity(v)) return "-Inf";
        if (double.IsNaN(v)) return "NaN";
        return v.ToString("R", CultureInfo.InvariantCulture);
    }
}
