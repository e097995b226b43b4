using KafScale.Broker.Clustering;
using KafScale.Broker.Log;
using KafScale.Groups;
using KafScale.Metadata.Embedded;
using KafScale.Observability;
using KafScale.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests;

/// <summary>
/// A broker's log layer as the broker host wires it (embedded metadata store, directory object
/// store wrapped for fault injection), in a temporary data directory. Restart reopens the
/// metadata store and the log manager over the same directories, as a process restart would.
/// </summary>
internal sealed class LogHost : IAsyncDisposable
{
    private readonly bool _withCache;
    private long _readAheadBytes;
    private readonly TimeProvider? _time;
    private bool _open;

    private LogHost(string root, BrokerConfig config, bool withCache, TimeProvider? time)
    {
        _time = time;
        Root = root;
        Config = config;
        _withCache = withCache;
        Store = new FaultInjectingObjectStore(new LocalDirectoryObjectStore(Path.Combine(root, "objects")));
    }

    public string Root { get; }
    public BrokerConfig Config { get; }
    public FaultInjectingObjectStore Store { get; }
    public EmbeddedMetadataStore Metadata { get; private set; } = null!;
    public ClusterNode Node { get; private set; } = null!;
    public LogManager Logs => Node.Logs;
    private GroupCoordinatorService _groups = null!;
    public LogRuntime Runtime => Logs.Runtime;
    public PartitionStorage Storage => Logs.Storage;
    public string Namespace => Config.Namespace;

    /// <summary>Flush-when-idle defaults unless the test says otherwise; time drives flush.interval.ms (the system clock by default).</summary>
    public static async Task<LogHost> StartAsync(Action<BrokerConfig>? configure = null, bool withCache = false, TimeProvider? time = null, long readAheadBytes = 0)
    {
        var config = new BrokerConfig { FlushIntervalMs = 0, SegmentBytes = 1 << 20, MaxWalUploads = 1, SegmentMs = 0, DefaultPartitions = 1, LeaseTtlMs = 30_000 };
        string root = Path.Combine(Path.GetTempPath(), "kafscale-broker-tests", Guid.NewGuid().ToString("N"));
        config.DataDir = Path.Combine(root, "data");
        configure?.Invoke(config);
        Directory.CreateDirectory(root);
        var host = new LogHost(root, config, withCache, time) { _readAheadBytes = readAheadBytes };
        await host.OpenAsync().ConfigureAwait(false);
        return host;
    }

    private async Task OpenAsync()
    {
        Metadata = await EmbeddedMetadataStore.OpenAsync(Path.Combine(Root, "metadata"), CancellationToken.None).ConfigureAwait(false);
        try
        {
            var runtime = new LogRuntime(Config, NewMetrics(), NullLogger.Instance, _time);
            if (_withCache) runtime.SegmentCache = new SegmentCache(64L << 20);
            if (_readAheadBytes > 0) runtime.ReadAhead = new ReadAheadCache(_readAheadBytes);
            var storage = new PartitionStorage(Store, Config.Namespace, runtime, NullLogger.Instance);
            _groups = new GroupCoordinatorService(Metadata);
            Node = await ClusterNode.StartAsync(Metadata, storage, runtime, Config, _groups, "test-cluster", NullLoggerFactory.Instance, CancellationToken.None).ConfigureAwait(false);
        }
        catch
        {
            await Metadata.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        _open = true;
    }

    /// <summary>Metrics nobody scrapes (the constructor wants a registry and a health tracker).</summary>
    public static BrokerMetrics NewMetrics() => new(new MetricsRegistry(), new StoreHealth(new StoreHealthThresholds()));

    /// <summary>Stops the log manager and the metadata store and opens both again over the same data.</summary>
    public async Task RestartAsync()
    {
        await CloseAsync().ConfigureAwait(false);
        await OpenAsync().ConfigureAwait(false);
    }

    private async Task CloseAsync()
    {
        if (!_open) return;
        _open = false;
        Logs.Storage.Stop();
        await Node.DisposeAsync().ConfigureAwait(false);
        await _groups.DisposeAsync().ConfigureAwait(false);
        await Metadata.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Creates a topic and returns its partition logs.</summary>
    public async Task<PartitionLog[]> CreateTopicAsync(string name, int partitions = 1, IReadOnlyDictionary<string, string?>? configs = null)
    {
        var result = await Logs.CreateTopicAsync(name, partitions, configs ?? new Dictionary<string, string?>(), validateOnly: false, CancellationToken.None).ConfigureAwait(false);
        if (result.ErrorCode != 0) throw new InvalidOperationException($"create topic {name} failed: {result.ErrorCode} {result.Message}");
        return Partitions(name);
    }

    /// <summary>The open logs of a topic's partitions (a single broker leads them all).</summary>
    public PartitionLog[] Partitions(string topic) =>
        Logs.TryGetTopic(topic, out var t)
            ? [.. t.Logs.Select((l, p) => l ?? throw new InvalidOperationException($"{topic}-{p} is not open"))]
            : throw new InvalidOperationException($"no topic {topic}");

    public PartitionLog Log(string topic, int partition = 0) => Partitions(topic)[partition];

    public string SegmentKey(string topic, int partition, long baseOffset) => SegmentKeys.Segment(Namespace, topic, partition, baseOffset);

    public string IndexKey(string topic, int partition, long baseOffset) => SegmentKeys.Index(Namespace, topic, partition, baseOffset);

    /// <summary>
    /// With --segment-ms 0 (the default here) durable data is sealed right after its WAL object
    /// lands, but off the acknowledgement path: waits (a few seconds at most, so a test holding a
    /// seal still goes on) until nothing is left unsealed, so store listings show the segments.
    /// </summary>
    public async Task SealedAsync()
    {
        if (!_open || Config.SegmentMs != 0) return;
        for (int i = 0; i < 300 && Runtime.UnsealedBytes > 0; i++) await Task.Delay(10).ConfigureAwait(false);
    }

    /// <summary>Every object of a partition, by key, as the store lists them.</summary>
    public async Task<List<ObjectInfo>> ListAsync(string prefix)
    {
        await SealedAsync().ConfigureAwait(false);
        var list = new List<ObjectInfo>();
        await foreach (var o in Store.Inner.ListAsync(prefix, CancellationToken.None).ConfigureAwait(false)) list.Add(o);
        return list;
    }

    /// <summary>Holds the next WAL object written (only that one: later ones pass, or meet gates of their own).</summary>
    public PutGate HoldNextWal()
    {
        string? first = null;
        return Store.Hold(k => k.Contains("/!wal/", StringComparison.Ordinal) && (Interlocked.CompareExchange(ref first, k, null) ?? k) == k);
    }

    /// <summary>Base offsets of the .kfs objects of a partition, ascending.</summary>
    public async Task<List<long>> SegmentBasesAsync(string topic, int partition = 0)
    {
        var bases = new List<long>();
        foreach (var o in await ListAsync(SegmentKeys.PartitionPrefix(Namespace, topic, partition)).ConfigureAwait(false))
            if (SegmentKeys.TryParse(o.Key, out var k) && k.Kind == SegmentObjectKind.Segment) bases.Add(k.BaseOffset);
        return bases;
    }

    public async Task<bool> ExistsAsync(string key)
    {
        await SealedAsync().ConfigureAwait(false);
        return await Store.Inner.GetSizeAsync(key, CancellationToken.None).ConfigureAwait(false) is not null;
    }

    /// <summary>The batches stored in one .kfs object (the reader checks header, footer and body CRC).</summary>
    public async Task<List<byte[]>> StoredBatchesAsync(string topic, int partition, long baseOffset)
    {
        await SealedAsync().ConfigureAwait(false);
        var bytes = await Store.Inner.GetAsync(SegmentKey(topic, partition, baseOffset), CancellationToken.None).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"segment {baseOffset} of {topic}-{partition} is missing");
        return Batches.Split(SegmentReader.Open(bytes).Body.Span);
    }

    /// <summary>Every batch of every stored segment of a partition, in offset order.</summary>
    public async Task<List<byte[]>> AllStoredBatchesAsync(string topic, int partition = 0)
    {
        var all = new List<byte[]>();
        foreach (long b in await SegmentBasesAsync(topic, partition).ConfigureAwait(false))
            all.AddRange(await StoredBatchesAsync(topic, partition, b).ConfigureAwait(false));
        return all;
    }

    public async ValueTask DisposeAsync()
    {
        Store.ReleaseAll();
        try { await CloseAsync().ConfigureAwait(false); }
        finally
        {
            try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
