using System.Globalization;
using System.Text;
using KafScale.Metadata;
using KafScale.Metadata.Embedded;
using KafScale.Observability;
using KafScale.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace KafScale.Snapshot.Tests;

/// <summary>
/// The loop behind <c>kafscale snapshot schedule</c>, in-process over a real embedded metadata
/// store and a directory object store, with time driven by a fake clock.
/// </summary>
public sealed class SnapshotSchedulerTests : IAsyncDisposable
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kafscale-scheduler-tests", Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly CancellationTokenSource _stop = new();
    private EmbeddedMetadataStore? _meta;
    private LocalDirectoryObjectStore? _objects;

    /// <summary>Reads every metadata key at one revision from the open store, as the embedded reader would from its files.</summary>
    private sealed class StoreSource(IMetadataStore meta, Func<bool> fail) : ISnapshotSource
    {
        public async Task<CreatedSnapshot> CreateSnapshotAsync(SnapshotRepository repo, DateTimeOffset now, CancellationToken ct)
        {
            if (fail()) throw new MetadataStoreException("the metadata store went away");
            var range = await meta.GetPrefixAsync(SnapshotFormat.Prefix, ct);
            return await repo.CreateAsync(new MetadataImage("embedded", "test", range.Revision, range.Kvs, WhileOpen: true), null, now, ct);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private async Task<SnapshotRepository> OpenAsync()
    {
        Directory.CreateDirectory(_root);
        _meta = await EmbeddedMetadataStore.OpenAsync(Path.Combine(_root, "metadata"), CancellationToken.None);
        await _meta.PutAsync("/kafscale/topics/orders/config", Encoding.UTF8.GetBytes("{}"), 0, CancellationToken.None);
        _objects = new LocalDirectoryObjectStore(Path.Combine(_root, "objects"));
        return new SnapshotRepository(_objects, "test-ns");
    }

    /// <summary>Waits for something the scheduler does on its own loop (bounded: a hang fails the test).</summary>
    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    private static double Gauge(MetricsRegistry registry, string name)
    {
        foreach (var line in registry.Render().Split('\n'))
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                string value = line[(name.Length + 1)..];
                return value == "+Inf" ? double.PositiveInfinity : double.Parse(value, CultureInfo.InvariantCulture);
            }
        throw new InvalidOperationException($"{name} is not rendered");
    }

    [Fact]
    public async Task Snapshots_at_once_then_every_interval_and_keeps_the_newest_N()
    {
        var repo = await OpenAsync();
        int opened = 0;
        var scheduler = new SnapshotScheduler(repo, _ => { opened++; return Task.FromResult<ISnapshotSource>(new StoreSource(_meta!, () => false)); },
            new SnapshotSchedule(Hour, Keep: 2), NullLogger.Instance, _time);
        var registry = new MetricsRegistry();
        scheduler.RegisterMetrics(registry);
        await scheduler.LoadExistingAsync(CancellationToken.None);
        Assert.Null(scheduler.LastSuccess);
        Assert.Equal(double.PositiveInfinity, Gauge(registry, "kafscale_snapshot_age_seconds"));

        var run = scheduler.RunAsync(_stop.Token);
        await UntilAsync(() => scheduler.Succeeded == 1, "the first snapshot is taken");
        Assert.Equal(_time.GetUtcNow(), scheduler.LastSuccess);

        // Short of the interval: no new snapshot, and the age grows with the clock.
        _time.Advance(TimeSpan.FromMinutes(30));
        Assert.Equal(1800, Gauge(registry, "kafscale_snapshot_age_seconds"));
        Assert.Equal(1, scheduler.Succeeded);

        _time.Advance(TimeSpan.FromMinutes(30));
        await UntilAsync(() => scheduler.Succeeded == 2, "the second snapshot is taken");
        _time.Advance(Hour);
        await UntilAsync(() => scheduler.Succeeded == 3, "the third snapshot is taken");
        await UntilAsync(() => repo.ListAsync(false, CancellationToken.None).Result.Count == 2, "the oldest is pruned");

        var left = await repo.ListAsync(readHeaders: true, CancellationToken.None);
        Assert.Equal([_time.GetUtcNow() - Hour, _time.GetUtcNow()], left.Select(e => e.Time));
        Assert.All(left, e => Assert.True(e.IsComplete));
        Assert.Equal(0, Gauge(registry, "kafscale_snapshot_age_seconds"));
        Assert.Equal(1, opened);
        Assert.Equal(0, scheduler.Failed);

        _stop.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_failed_snapshot_is_counted_and_the_next_tick_reconnects_and_succeeds()
    {
        var repo = await OpenAsync();
        int opened = 0;
        bool failing = true;
        var scheduler = new SnapshotScheduler(repo, _ => { opened++; return Task.FromResult<ISnapshotSource>(new StoreSource(_meta!, () => failing)); },
            new SnapshotSchedule(Hour), NullLogger.Instance, _time);
        var registry = new MetricsRegistry();
        scheduler.RegisterMetrics(registry);

        var run = scheduler.RunAsync(_stop.Token);
        await UntilAsync(() => scheduler.Failed == 1, "the first attempt fails");
        Assert.Equal("the metadata store went away", scheduler.LastError);
        Assert.Equal(0, scheduler.Succeeded);
        Assert.Contains("kafscale_snapshot_runs_total{result=\"error\"} 1", registry.Render());

        failing = false;
        _time.Advance(Hour);
        await UntilAsync(() => scheduler.Succeeded == 1, "the next attempt succeeds");
        Assert.Null(scheduler.LastError);
        Assert.Equal(2, opened); // a metadata-store failure drops the source; the next run opens a new one
        Assert.Single(await repo.ListAsync(readHeaders: false, CancellationToken.None));

        _stop.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(20));
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _stop.Dispose();
        if (_objects is not null) await _objects.DisposeAsync();
        if (_meta is not null) await _meta.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
