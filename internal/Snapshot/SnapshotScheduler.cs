using KafScale.Metadata;
using KafScale.Observability;
using Microsoft.Extensions.Logging;

namespace KafScale.Snapshot;

/// <summary>Where scheduled snapshots read the metadata from (etcd, or the embedded store's files).</summary>
public interface ISnapshotSource : IAsyncDisposable
{
    /// <summary>Reads the metadata at one revision and writes it to repo as the snapshot taken at now.</summary>
    Task<CreatedSnapshot> CreateSnapshotAsync(SnapshotRepository repo, DateTimeOffset now, CancellationToken ct);
}

/// <summary>How often to snapshot, and what to prune after each snapshot.</summary>
public sealed record SnapshotSchedule(TimeSpan Interval, int? Keep = null, TimeSpan? OlderThan = null);

/// <summary>
/// The loop behind <c>kafscale snapshot schedule</c>: a snapshot at once, then one every
/// interval; after each, the retention (keep the newest N, delete those older than D). A failed
/// snapshot is counted and retried at the next tick; a metadata-store failure reconnects then.
/// Time comes from a <see cref="TimeProvider"/> so tests can drive it.
/// </summary>
public sealed class SnapshotScheduler
{
    private readonly SnapshotRepository _repo;
    private readonly Func<CancellationToken, Task<ISnapshotSource>> _openSource;
    private readonly SnapshotSchedule _schedule;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private long _lastSuccessTicks; // UTC ticks of the newest complete snapshot; 0 = none
    private long _succeeded;
    private long _failed;
    private volatile string? _lastError;
    private ISnapshotSource? _source;
    private Gauge? _lastKeys;
    private Gauge? _lastBytes;
    private Counter? _ok;
    private Counter? _error;

    public SnapshotScheduler(SnapshotRepository repo, Func<CancellationToken, Task<ISnapshotSource>> openSource, SnapshotSchedule schedule, ILogger log, TimeProvider? time = null)
    {
        if (schedule.Interval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(schedule), "the interval must be positive");
        _repo = repo;
        _openSource = openSource;
        _schedule = schedule;
        _log = log;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>When the newest complete snapshot was taken (by this process or an earlier one), or null.</summary>
    public DateTimeOffset? LastSuccess
    {
        get
        {
            long t = Interlocked.Read(ref _lastSuccessTicks);
            return t == 0 ? null : new DateTimeOffset(t, TimeSpan.Zero);
        }
    }

    public long Succeeded => Interlocked.Read(ref _succeeded);
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The error of the last attempt, or null when it succeeded (or none ran yet).</summary>
    public string? LastError => _lastError;

    /// <summary>
    /// kafscale_snapshot_age_seconds (for alerting), the time of the last success, attempts by
    /// result, and the size of the newest snapshot taken.
    /// </summary>
    public void RegisterMetrics(MetricsRegistry registry)
    {
        registry.GaugeFunc("kafscale_snapshot_age_seconds", "Seconds since the newest complete metadata snapshot was taken (+Inf when there is none)", () =>
            LastSuccess is { } t ? Math.Max(0, (_time.GetUtcNow() - t).TotalSeconds) : double.PositiveInfinity);
        registry.GaugeFunc("kafscale_snapshot_last_success_timestamp_seconds", "Unix time of the newest complete metadata snapshot (0 when there is none)", () =>
            LastSuccess is { } t ? (t.UtcTicks - DateTime.UnixEpoch.Ticks) / (double)TimeSpan.TicksPerSecond : 0);
        var runs = registry.CounterFamily("kafscale_snapshot_runs_total", "Scheduled snapshot attempts by result", "result");
        _lastKeys = registry.Gauge("kafscale_snapshot_last_keys", "Keys in the newest snapshot taken by this process");
        _lastBytes = registry.Gauge("kafscale_snapshot_last_bytes", "Bytes of the newest snapshot taken by this process (metadata file)");
        registry.GaugeFunc("kafscale_snapshot_interval_seconds", "Configured time between snapshots", () => _schedule.Interval.TotalSeconds);
        _ok = runs.WithLabels("ok");
        _error = runs.WithLabels("error");
    }

    /// <summary>Learns the newest complete snapshot already in the store, so the age is right before the first run.</summary>
    public async Task LoadExistingAsync(CancellationToken ct)
    {
        try
        {
            List<SnapshotEntry> existing = await _repo.ListAsync(readHeaders: false, ct).ConfigureAwait(false);
            if (existing.LastOrDefault(e => e.IsComplete) is { } newest) Interlocked.Exchange(ref _lastSuccessTicks, newest.Time.UtcTicks);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _log.LogWarning("cannot list existing snapshots under {Prefix}: {Error}", _repo.Prefix, ex.Message);
        }
    }

    /// <summary>Snapshots until ct is cancelled (then returns normally).</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // The next tick is timed from the start of this run, so a slow snapshot does not shift the schedule.
                var tick = Task.Delay(_schedule.Interval, _time, ct);
                try { await RunOnceAsync(ct).ConfigureAwait(false); }
                catch (OperationCanceledException) when (ct.IsCancellationRequested) { break; }
                try { await tick.ConfigureAwait(false); }
                catch (OperationCanceledException) { break; }
            }
        }
        finally
        {
            if (_source is not null) await _source.DisposeAsync().ConfigureAwait(false);
            _source = null;
        }
    }

    /// <summary>One snapshot and its pruning; a failure is counted, not thrown.</summary>
    private async Task RunOnceAsync(CancellationToken ct)
    {
        try
        {
            _source ??= await _openSource(ct).ConfigureAwait(false);
            CreatedSnapshot created = await _source.CreateSnapshotAsync(_repo, _time.GetUtcNow(), ct).ConfigureAwait(false);
            SnapshotRepository.TryParseId(created.Id, out DateTimeOffset taken);
            Interlocked.Exchange(ref _lastSuccessTicks, taken.UtcTicks);
            _lastError = null;
            Interlocked.Increment(ref _succeeded);
            _ok?.Increment();
            _lastKeys?.Set(created.Keys);
            _lastBytes?.Set(created.Bytes);
            _log.LogInformation("snapshot {Id}: {Keys} keys at revision {Revision}, {Bytes} bytes, sha256 {Sha}", created.Id, created.Keys, created.Revision, created.Bytes, created.Sha256);
            if (_schedule.Keep is not null || _schedule.OlderThan is not null)
            {
                List<SnapshotEntry> entries = await _repo.ListAsync(readHeaders: false, ct).ConfigureAwait(false);
                foreach (SnapshotEntry e in SnapshotRepository.SelectForPrune(entries, _schedule.Keep, _schedule.OlderThan, _time.GetUtcNow()))
                {
                    await _repo.DeleteAsync(e.Id, ct).ConfigureAwait(false);
                    _log.LogInformation("pruned snapshot {Id}", e.Id);
                }
            }
        }
        catch (Exception ex) when (!(ex is OperationCanceledException && ct.IsCancellationRequested))
        {
            _lastError = ex.Message;
            Interlocked.Increment(ref _failed);
            _error?.Increment();
            _log.LogError("snapshot failed: {Error}", ex.Message);
            if (_source is not null && ex is MetadataStoreException)
            {
                await _source.DisposeAsync().ConfigureAwait(false);
                _source = null; // reconnect next time
            }
        }
    }
}
