namespace KafScale.Broker.Quotas;

/// <summary>
/// A rate over a sliding window of <see cref="QuotaManager.Samples"/> samples of
/// <see cref="QuotaManager.SampleWindowMs"/> each (Kafka's quota.window.num = 11 and
/// quota.window.size.seconds = 1), and the throttle time (KIP-219) that brings a client over its
/// bound back to it. Shared by every connection of one client (same tags), so it locks; it never
/// allocates after construction.
/// </summary>
internal sealed class RateSensor
{
    private readonly double[] _values = new double[QuotaManager.Samples];
    /// <summary>Window number (ms / window) each sample belongs to; a sample of an older window is stale.</summary>
    private readonly long[] _windows = new long[QuotaManager.Samples];
    private readonly Lock _lock = new();

    public RateSensor()
    {
        Array.Fill(_windows, long.MinValue);
        LastUsedMs = Environment.TickCount64;
    }

    /// <summary>Milliseconds of the last use, so idle sensors can be dropped.</summary>
    public long LastUsedMs { get; private set; }

    /// <summary>
    /// Records <paramref name="value"/> (bytes, or percent-seconds of request time) at
    /// <paramref name="nowMs"/> and returns how long the client must wait for its rate to fall
    /// back to <paramref name="bound"/> per second: (rate - bound) / bound x the measured window,
    /// the time the excess takes to drain at the bound. 0 when within the bound.
    /// </summary>
    public long Record(double value, double bound, long nowMs)
    {
        lock (_lock)
        {
            LastUsedMs = nowMs;
            long window = nowMs / QuotaManager.SampleWindowMs;
            int slot = (int)(window % QuotaManager.Samples);
            if (_windows[slot] != window)
            {
                _windows[slot] = window;
                _values[slot] = 0;
            }
            _values[slot] += value;
            return ThrottleLocked(bound, nowMs, window);
        }
    }

    /// <summary>Takes back a recorded value: a throttled fetch sends no data, so it does not count (as in Kafka).</summary>
    public void Unrecord(double value, long nowMs)
    {
        lock (_lock)
        {
            long window = nowMs / QuotaManager.SampleWindowMs;
            int slot = (int)(window % QuotaManager.Samples);
            if (_windows[slot] == window) _values[slot] = Math.Max(0, _values[slot] - value);
        }
    }

    /// <summary>The measured rate per second at <paramref name="nowMs"/>.</summary>
    public double Rate(long nowMs)
    {
        lock (_lock)
        {
            long window = nowMs / QuotaManager.SampleWindowMs;
            Measure(nowMs, window, out double total, out long elapsedMs);
            return total * 1000.0 / elapsedMs;
        }
    }

    private long ThrottleLocked(double bound, long nowMs, long window)
    {
        Measure(nowMs, window, out double total, out long elapsedMs);
        double rate = total * 1000.0 / elapsedMs;
        if (rate <= bound) return 0;
        return (long)Math.Round((rate - bound) / bound * elapsedMs);
    }

    /// <summary>
    /// Sum of the live samples and the time they span: from the start of the oldest live window
    /// to now, but never less than all windows but the current one, so a client's first burst is
    /// spread over the full window (Kafka does the same) instead of looking like a huge rate.
    /// </summary>
    private void Measure(long nowMs, long window, out double total, out long elapsedMs)
    {
        total = 0;
        long oldest = window;
        for (int i = 0; i < _values.Length; i++)
        {
            long w = _windows[i];
            if (w <= window - QuotaManager.Samples || w > window) continue;
            total += _values[i];
            oldest = Math.Min(oldest, w);
        }
        elapsedMs = nowMs - oldest * QuotaManager.SampleWindowMs;
        long minimum = (QuotaManager.Samples - 1) * (long)QuotaManager.SampleWindowMs;
        if (elapsedMs < minimum) elapsedMs = minimum;
    }
}
