using System.Diagnostics;

namespace KafScale.Observability;

public enum StoreHealthState { Healthy, Degraded, Unavailable }

/// <summary>Thresholds for <see cref="StoreHealth"/> (upstream KafScale's names and defaults).</summary>
public sealed record StoreHealthThresholds(
    double LatencyWarnMs = 500, double LatencyCritMs = 3000,
    double ErrorRateWarn = 0.2, double ErrorRateCrit = 0.6,
    int WindowSeconds = 60);

/// <summary>
/// Object-store health over a sliding window: unavailable when the average latency or the error
/// rate reaches its critical threshold, degraded at the warning one, else healthy. The window
/// is one-second buckets, so recording is a couple of interlocked adds.
/// </summary>
public sealed class StoreHealth
{
    private readonly StoreHealthThresholds _thresholds;
    private readonly long[] _second;
    private readonly long[] _count;
    private readonly long[] _errors;
    private readonly long[] _latencyMicros;
    private readonly Lock _lock = new();
    private StoreHealthState _state = StoreHealthState.Healthy;
    private long _stateSince = Stopwatch.GetTimestamp();
    private static readonly long Origin = Stopwatch.GetTimestamp();

    public StoreHealth(StoreHealthThresholds thresholds)
    {
        _thresholds = thresholds;
        int n = Math.Max(1, thresholds.WindowSeconds);
        _second = new long[n];
        _count = new long[n];
        _errors = new long[n];
        _latencyMicros = new long[n];
    }

    private static long Now() => (long)Stopwatch.GetElapsedTime(Origin).TotalSeconds;

    public void Record(double latencyMs, bool ok)
    {
        long now = Now();
        int i = (int)(now % _second.Length);
        if (Volatile.Read(ref _second[i]) != now)
        {
            lock (_lock)
            {
                if (_second[i] != now)
                {
                    _count[i] = _errors[i] = _latencyMicros[i] = 0;
                    Volatile.Write(ref _second[i], now);
                }
            }
        }
        Interlocked.Increment(ref _count[i]);
        if (!ok) Interlocked.Increment(ref _errors[i]);
        Interlocked.Add(ref _latencyMicros[i], (long)(latencyMs * 1000));
        // A store that is back answers several requests in a row quickly: start a fresh window
        // then, rather than waiting for the outage's errors to age out of it (while unavailable,
        // produce is refused, so few requests would come to dilute them).
        long run = ok && latencyMs < _thresholds.LatencyWarnMs ? Interlocked.Increment(ref _consecutiveOk) : Interlocked.Exchange(ref _consecutiveOk, 0);
        if (ok && run >= RecoveryRun && Volatile.Read(ref _unhealthy) != 0)
        {
            lock (_lock)
            {
                Array.Clear(_count);
                Array.Clear(_errors);
                Array.Clear(_latencyMicros);
            }
            Interlocked.Exchange(ref _consecutiveOk, 0);
        }
        Evaluate();
    }

    public (double AverageLatencyMs, double ErrorRate, long Requests) Window()
    {
        long now = Now(), count = 0, errors = 0, micros = 0;
        for (int i = 0; i < _second.Length; i++)
        {
            long s = Volatile.Read(ref _second[i]);
            if (now - s >= _second.Length) continue;
            count += Interlocked.Read(ref _count[i]);
            errors += Interlocked.Read(ref _errors[i]);
            micros += Interlocked.Read(ref _latencyMicros[i]);
        }
        return count == 0 ? (0, 0, 0) : (micros / 1000.0 / count, (double)errors / count, count);
    }

    /// <summary>The state as of the last request or read, without re-evaluating the window (hot paths).</summary>
    public bool LastKnownUnavailable => Volatile.Read(ref _unavailable) != 0;
    private int _unavailable;
    private int _unhealthy;
    private long _consecutiveOk;

    /// <summary>Consecutive fast successes after which an unhealthy store counts as recovered.</summary>
    public const int RecoveryRun = 5;

    public StoreHealthState State
    {
        get { Evaluate(); lock (_lock) return _state; }
    }

    public double StateDurationSeconds
    {
        get { lock (_lock) return Stopwatch.GetElapsedTime(_stateSince).TotalSeconds; }
    }

    private void Evaluate()
    {
        var (latency, errorRate, requests) = Window();
        var t = _thresholds;
        var next = requests == 0 ? StoreHealthState.Healthy
            : latency >= t.LatencyCritMs || errorRate >= t.ErrorRateCrit ? StoreHealthState.Unavailable
            : latency >= t.LatencyWarnMs || errorRate >= t.ErrorRateWarn ? StoreHealthState.Degraded
            : StoreHealthState.Healthy;
        lock (_lock)
        {
            if (next == _state) return;
            _state = next;
            _stateSince = Stopwatch.GetTimestamp();
            Volatile.Write(ref _unavailable, next == StoreHealthState.Unavailable ? 1 : 0);
            Volatile.Write(ref _unhealthy, next == StoreHealthState.Healthy ? 0 : 1);
        }
    }

    /// <summary>Registers upstream KafScale's S3 health metrics for this tracker.</summary>
    public void Register(MetricsRegistry registry)
    {
        registry.GaugeSet("kafscale_s3_health_state", "Object-store health: 1 for the current state (healthy, degraded, unavailable), 0 for the others.", ["state"], () =>
        {
            var s = State;
            return [(["healthy"], s == StoreHealthState.Healthy ? 1 : 0), (["degraded"], s == StoreHealthState.Degraded ? 1 : 0), (["unavailable"], s == StoreHealthState.Unavailable ? 1 : 0)];
        });
        registry.GaugeFunc("kafscale_s3_latency_ms_avg", "Average object-store request latency over the health window (ms).", () => Window().AverageLatencyMs);
        registry.GaugeFunc("kafscale_s3_error_rate", "Share of failed object-store requests over the health window.", () => Window().ErrorRate);
        registry.GaugeFunc("kafscale_s3_state_duration_seconds", "Seconds in the current object-store health state.", () => StateDurationSeconds);
    }
}
