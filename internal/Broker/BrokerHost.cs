using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using KafScale.Broker.Handlers;
using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Groups;
using KafScale.Metadata;
using KafScale.Metadata.Embedded;
using KafScale.Observability;
using KafScale.Storage;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker;

/// <summary>A problem an operator must fix before the broker can start; the message says how.</summary>
public sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A running broker: metadata and object store, partition logs, the Kafka listener and the
/// HTTP endpoint. Disposing it is the graceful shutdown: stop accepting, answer what has been
/// read, flush everything pending, then close the stores.
/// </summary>
public sealed class BrokerHost : IAsyncDisposable
{
    private readonly ILogger _log;
    private readonly IMetadataStore _meta;
    private readonly IObjectStore _store;
    private readonly LogManager _logs;
    private readonly PartitionStorage _storage;
    private readonly KafkaServer _server;
    private readonly HttpEndpoint _http;
    private GroupCoordinatorService? _groups;
    private int _disposed;

    private BrokerHost(ILogger log, IMetadataStore meta, IObjectStore store, LogManager logs, PartitionStorage storage, KafkaServer server, HttpEndpoint http, int brokerId, string clusterId)
    {
        _log = log;
        _meta = meta;
        _store = store;
        _logs = logs;
        _storage = storage;
        _server = server;
        _http = http;
        BrokerId = brokerId;
        ClusterId = clusterId;
    }

    public int BrokerId { get; }
    public string ClusterId { get; }
    public System.Net.IPEndPoint KafkaEndPoint => _server.LocalEndPoint;
    public System.Net.IPEndPoint HttpEndPoint => _http.LocalEndPoint;

    /// <summary>
    /// Starts a broker. <paramref name="openStore"/> opens the object store (S3 when a bucket is
    /// configured); without it segments go to the directory store under the data directory.
    /// </summary>
    public static async Task<BrokerHost> StartAsync(BrokerConfig config, ILoggerFactory loggers, CancellationToken ct,
        Func<CancellationToken, Task<IObjectStore>>? openStore = null)
    {
        var started = Stopwatch.StartNew();
        var log = loggers.CreateLogger("kafscale.broker");
        string dataDir = Path.GetFullPath(config.DataDir);
        try { Directory.CreateDirectory(dataDir); }
        catch (Exception ex) { throw new StartupException($"cannot create the data directory '{dataDir}' (--data-dir / KAFSCALE_DATA_DIR): {ex.Message}", ex); }

        IMetadataStore meta;
        try { meta = await EmbeddedMetadataStore.OpenAsync(Path.Combine(dataDir, "metadata"), ct).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new StartupException($"cannot open the embedded metadata store under '{dataDir}/metadata': {ex.Message} (use another --data-dir, or stop the other broker using it)", ex);
        }

        IObjectStore store;
        try
        {
            store = openStore is not null
                ? await openStore(ct).ConfigureAwait(false)
                : new LocalDirectoryObjectStore(Path.Combine(dataDir, "objects"));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await meta.DisposeAsync().ConfigureAwait(false);
            throw new StartupException(openStore is not null ? ex.Message
                : $"cannot use '{dataDir}/objects' as the object store (--data-dir / KAFSCALE_DATA_DIR): {ex.Message}", ex);
        }

        GroupCoordinatorService? groups = null;
        try
        {
            string clusterId = await EnsureClusterIdAsync(meta, ct).ConfigureAwait(false);
            int brokerId = config.BrokerId >= 0 ? config.BrokerId : await AllocateBrokerIdAsync(meta, ct).ConfigureAwait(false);

            var registry = new MetricsRegistry();
            var health = new StoreHealth(config.StoreHealth);
            var metrics = new BrokerMetrics(registry, health);
            var runtime = new LogRuntime(config, metrics, loggers.CreateLogger("kafscale.log"));
            var cache = new SegmentCache(config.CacheBytes);
            runtime.SegmentCache = cache;
            var storage = new PartitionStorage(store, config.Namespace, runtime, loggers.CreateLogger("kafscale.storage"));
            var logs = await LogManager.OpenAsync(meta, storage, runtime, config, loggers.CreateLogger("kafscale.log"), ct).ConfigureAwait(false);
            // Single broker: it leads every coordinator shard.
            groups = new GroupCoordinatorService(meta, new GroupCoordinatorOptions(), loggers);
            await groups.LoadAllShardsAsync(ct).ConfigureAwait(false);
            var cluster = new Cluster(config, brokerId, clusterId, logs, meta) { Groups = groups };

            ApiHandler[] handlers =
            [
                new ApiVersionsHandler(),
                new MetadataHandler(cluster),
                new ProduceHandler(cluster),
                new FetchHandler(cluster),
                new ListOffsetsHandler(cluster),
                new CreateTopicsHandler(cluster),
                new DeleteTopicsHandler(cluster),
                new CreatePartitionsHandler(cluster),
                new DescribeConfigsHandler(cluster),
                new AlterConfigsHandler(cluster),
                new IncrementalAlterConfigsHandler(cluster),
                new DeleteRecordsHandler(cluster),
                new DescribeClusterHandler(cluster),
                new OffsetForLeaderEpochHandler(cluster),
                new FindCoordinatorHandler(cluster),
                new JoinGroupHandler(cluster),
                new SyncGroupHandler(cluster),
                new HeartbeatHandler(cluster),
                new LeaveGroupHandler(cluster),
                new OffsetCommitHandler(cluster),
                new OffsetFetchHandler(cluster),
                new DescribeGroupsHandler(cluster),
                new ListGroupsHandler(cluster),
                new DeleteGroupsHandler(cluster),
                new OffsetDeleteHandler(cluster),
                new InitProducerIdHandler(new ProducerIdAllocator(meta)),
            ];
            var dispatcher = new RequestDispatcher(handlers, metrics, loggers.CreateLogger("kafscale.requests"));

            KafkaServer server;
            try { server = new KafkaServer(config, dispatcher, loggers.CreateLogger("kafscale.network")); }
            catch (SocketException ex) { throw new StartupException($"cannot listen on {config.Listen} (--listen / KAFSCALE_BROKER_ADDR): {ex.Message}", ex); }
            HttpEndpoint http;
            try { http = new HttpEndpoint(config.Http, loggers.CreateLogger("kafscale.http")); }
            catch (SocketException ex)
            {
                await server.DisposeAsync().ConfigureAwait(false);
                throw new StartupException($"cannot listen on {config.Http} (--http / KAFSCALE_METRICS_ADDR): {ex.Message}", ex);
            }

            RegisterGauges(registry, runtime, cache, logs, server, store);
            groups.RegisterLagMetrics(registry, (topic, partition) => cluster.TryGetPartition(topic, partition, out var p) == ErrorCodes.None ? p.HighWatermark : null);
            http.Map("/metrics", () => new HttpReply(200, "text/plain; version=0.0.4; charset=utf-8", registry.Render()));
            http.Map("/healthz", () => new HttpReply(200, "text/plain", "ok\n"));
            http.Map("/readyz", () => health.State == StoreHealthState.Unavailable
                ? new HttpReply(503, "text/plain", "object store unavailable\n")
                : new HttpReply(200, "text/plain", "ready\n"));

            var host = new BrokerHost(log, meta, store, logs, storage, server, http, brokerId, clusterId) { _groups = groups };
            server.Start();
            http.Start();
            log.LogInformation("kafscale broker {BrokerId} of cluster {ClusterId} listening on {Kafka} (advertised {Host}:{Port}), http on {Http}, data in {DataDir}, segments in the {Store} store, flush interval {Flush} ms, ready in {Ms} ms",
                brokerId, clusterId, server.LocalEndPoint, config.AdvertisedHost, config.AdvertisedPort, http.LocalEndPoint, dataDir, store.Kind, config.FlushIntervalMs, started.ElapsedMilliseconds);
            return host;
        }
        catch
        {
            if (groups is not null) await groups.DisposeAsync().ConfigureAwait(false);
            await store.DisposeAsync().ConfigureAwait(false);
            await meta.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static readonly long StartTicks = Stopwatch.GetTimestamp();

    private static void RegisterGauges(MetricsRegistry registry, LogRuntime runtime, SegmentCache cache, LogManager logs, KafkaServer server, IObjectStore store)
    {
        registry.GaugeFunc("kafscale_broker_uptime_seconds", "Seconds since the broker started.", () => Stopwatch.GetElapsedTime(StartTicks).TotalSeconds);
        registry.GaugeFunc("kafscale_pending_bytes", "Produced bytes not yet durable.", () => runtime.PendingBytes);
        registry.GaugeFunc("kafscale_cache_bytes", "Bytes of segments held in the segment cache.", () => cache.CurrentBytes);
        registry.GaugeFunc("kafscale_topics", "Topics served.", () => logs.Topics.Count());
        registry.GaugeFunc("kafscale_partitions", "Partitions served.", () => logs.Topics.Sum(t => t.Partitions.Length));
        registry.GaugeSet("kafscale_partition_high_watermark", "High watermark per partition.", ["topic", "partition"],
            () => logs.Topics.SelectMany(t => t.Partitions.Select(p => (new[] { t.Name, p.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture) }, (double)p.HighWatermark))));
    }

    private static async Task<string> EnsureClusterIdAsync(IMetadataStore meta, CancellationToken ct)
    {
        var existing = await meta.GetAsync(MetadataKeys.ClusterId, ct).ConfigureAwait(false);
        if (existing is not null) return Encoding.UTF8.GetString(existing.Value);
        // Kafka cluster ids are 22-character URL-safe base64 of a UUID.
        string id = Convert.ToBase64String(Guid.NewGuid().ToByteArray()).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var txn = await meta.TxnAsync(new TxnRequest([Compare.KeyMissing(MetadataKeys.ClusterId)], [TxnOp.Put(MetadataKeys.ClusterId, Encoding.UTF8.GetBytes(id))], [TxnOp.Get(MetadataKeys.ClusterId)]), ct).ConfigureAwait(false);
        return txn.Succeeded ? id : Encoding.UTF8.GetString(txn.Gets[0][0].Value);
    }

    /// <summary>
    /// Broker ids come from a counter in the metadata store. The embedded store belongs to one
    /// broker, so its id is remembered there and survives restarts.
    /// </summary>
    private static async Task<int> AllocateBrokerIdAsync(IMetadataStore meta, CancellationToken ct)
    {
        const string key = "/kafscale/embedded/broker_id";
        var existing = await meta.GetAsync(key, ct).ConfigureAwait(false);
        if (existing is not null) return int.Parse(Encoding.ASCII.GetString(existing.Value), System.Globalization.CultureInfo.InvariantCulture);
        await meta.PutAsync(key, Encoding.ASCII.GetBytes("0"), 0, ct).ConfigureAwait(false);
        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        await _server.StopAcceptingAsync().ConfigureAwait(false);
        // Parked JoinGroup/SyncGroup requests are answered (NOT_COORDINATOR) so connections can close.
        if (_groups is not null) await _groups.DisposeAsync().ConfigureAwait(false);
        var flush = _logs.FlushAllAsync(TimeSpan.FromSeconds(30));
        await _server.DisposeAsync().ConfigureAwait(false);
        await flush.ConfigureAwait(false);
        _storage.Stop();
        await _logs.DisposeAsync().ConfigureAwait(false);
        await _http.DisposeAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
        await _meta.DisposeAsync().ConfigureAwait(false);
    }
}
