using KafScale.Broker.Clustering;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>
/// A broker's log layer, put together: the topics known from the metadata store
/// (<see cref="TopicRegistry"/>), topic administration (<see cref="TopicAdministration"/>), the
/// terms of the partition logs this broker leads (<see cref="PartitionLifecycle"/>), the
/// next_offset hints (<see cref="NextOffsetHints"/>) and retention (<see cref="RetentionSweeper"/>).
/// The request handlers reach all of it through the members below.
/// </summary>
internal sealed class LogManager : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task _background = Task.CompletedTask;
    private int _disposed;

    private LogManager(IMetadataStore meta, PartitionStorage storage, LogRuntime runtime, BrokerConfig config, ILogger log, TimeProvider time)
    {
        Storage = storage;
        Runtime = runtime;
        Registry = new TopicRegistry(meta, runtime, log);
        Hints = new NextOffsetHints(meta, Registry, runtime, log, time);
        Partitions = new PartitionLifecycle(meta, storage, runtime, Registry, Hints, log);
        Admin = new TopicAdministration(meta, storage, Registry, Partitions, config, log, time);
        Retention = new RetentionSweeper(Registry, Partitions, storage, log, time);
        WalSweeper = new WalSweeper(meta, Registry, storage, log, time);
    }

    public WalSweeper WalSweeper { get; }

    public TopicRegistry Registry { get; }
    public TopicAdministration Admin { get; }
    public PartitionLifecycle Partitions { get; }
    public NextOffsetHints Hints { get; }
    public RetentionSweeper Retention { get; }
    public LogRuntime Runtime { get; }
    public PartitionStorage Storage { get; }

    /// <summary>Loads the topics and starts following them, the hint writer and retention; opens no partition.</summary>
    public static async Task<LogManager> OpenAsync(IMetadataStore meta, PartitionStorage storage, LogRuntime runtime, BrokerConfig config, ILogger log, CancellationToken ct, TimeProvider? time = null)
    {
        runtime.Wal ??= new WalFlusher(storage, runtime, Math.Max(0, config.BrokerId));
        var manager = new LogManager(meta, storage, runtime, config, log, time ?? runtime.Time);
        var registry = manager.Registry;
        var hints = manager.Hints;
        var mirror = new PrefixMirror(meta, MetadataKeys.TopicsPrefix, log,
            (all, _) => { hints.Reset(all); registry.Reset(all); },
            e => { hints.Track(e); registry.Apply(e); });
        var token = manager._stop.Token;
        manager._background = Task.WhenAll(mirror.RunAsync(token), hints.RunAsync(token), manager.Retention.RunAsync(token), manager.SealLoopAsync(token), manager.WalSweeper.RunAsync(token));
        try { await mirror.Synced.WaitAsync(ct).ConfigureAwait(false); }
        catch
        {
            await manager.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return manager;
    }

    /// <summary>
    /// Once a second: seals what --segment-ms says is due, and while the unsealed bytes exceed
    /// --max-unsealed-bytes, seals the partitions holding the most first.
    /// </summary>
    private async Task SealLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(TimeSpan.FromSeconds(1), Runtime.Time, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            long now = Runtime.NowMs;
            long over = Runtime.UnsealedBytes - Runtime.MaxUnsealedBytes;
            var logs = Registry.OpenLogs().ToList();
            if (over > 0) logs.Sort(static (a, b) => b.UnsealedBytes.CompareTo(a.UnsealedBytes));
            foreach (var log in logs)
            {
                bool force = over > 0 && log.UnsealedBytes > 0;
                if (force) over -= log.UnsealedBytes;
                log.MaybeSeal(now, force);
            }
        }
    }

    // What the request handlers use, unchanged from before the log layer was split.

    public IEnumerable<TopicState> Topics => Registry.Topics;
    public bool TryGetTopic(string name, out TopicState topic) => Registry.TryGetTopic(name, out topic);
    public bool TryGetTopic(ReadOnlySpan<byte> utf8Name, out TopicState topic) => Registry.TryGetTopic(utf8Name, out topic);
    public TopicState? FindById(Guid id) => Registry.FindById(id);
    public IEnumerable<PartitionLog> OpenLogs() => Registry.OpenLogs();
    public long? HintedHighWatermark(string topic, int partition) => Hints.HintedHighWatermark(topic, partition);

    public static string? ValidateTopicName(string? name) => TopicAdministration.ValidateTopicName(name);
    public static HashSet<string> KnownIgnoredConfigs => TopicAdministration.KnownIgnoredConfigs;

    public Task<AdminResult> CreateTopicAsync(string name, int partitions, IReadOnlyDictionary<string, string?> configs, bool validateOnly, CancellationToken ct) =>
        Admin.CreateTopicAsync(name, partitions, configs, validateOnly, ct);

    public Task<AdminResult> DeleteTopicAsync(string name, CancellationToken ct) => Admin.DeleteTopicAsync(name, ct);

    public Task<AdminResult> CreatePartitionsAsync(string name, int count, bool validateOnly, CancellationToken ct) =>
        Admin.CreatePartitionsAsync(name, count, validateOnly, ct);

    public Task<AdminResult> SetConfigsAsync(string name, IReadOnlyDictionary<string, string?> overrides, bool validateOnly, CancellationToken ct) =>
        Admin.SetConfigsAsync(name, overrides, validateOnly, ct);

    public Task<(short ErrorCode, long LowWatermark)> DeleteRecordsAsync(PartitionLog log, long offset, CancellationToken ct) =>
        Admin.DeleteRecordsAsync(log, offset, ct);

    public Task EnforceRetentionAsync(CancellationToken ct) => Retention.SweepAsync(ct);

    public Task FlushAllAsync(TimeSpan timeout) => Partitions.FlushAllAsync(timeout);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        try { await _background.ConfigureAwait(false); } catch { }
        _stop.Dispose();
    }
}
