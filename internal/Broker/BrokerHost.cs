using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using KafScale.Broker.Clustering;
using KafScale.Broker.Handlers;
using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Broker.Quotas;
using KafScale.Broker.Security;
using KafScale.Groups;
using KafScale.Metadata;
using KafScale.Metadata.Embedded;
using KafScale.Metadata.Etcd;
using KafScale.Observability;
using KafScale.Storage;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker;

/// <summary>A problem an operator must fix before the broker can start; the message says how.</summary>
public sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What the web console shows of one broker: identity, health and cumulative counters (docs/console.md).</summary>
public sealed record BrokerVitals(int BrokerId, string ClusterId, string MetadataStore, bool LeaseValid, string ObjectStore, string ObjectStoreState,
    int PartitionsLed, long BytesIn, long BytesOut, long RecordsIn, long RecordsOut, long ProduceRequests, double ProduceLatencySumMs,
    long FetchRequests, double FetchLatencySumMs, long ObjectPuts, long ObjectGets, long ObjectLists, double RequestCostUsdPerDay);

/// <summary>
/// A running broker: metadata and object store, partition logs, the Kafka listener and the
/// HTTP endpoint. Disposing it is the graceful shutdown: stop accepting, answer what has been
/// read, flush everything pending, then close the stores.
/// </summary>
public sealed class BrokerHost : IAsyncDisposable
{
    private readonly IMetadataStore _meta;
    private readonly IObjectStore _store;
    private readonly ClusterNode _node;
    private readonly PartitionStorage _storage;
    private readonly KafkaServer[] _servers;
    private readonly HttpEndpoint _http;
    private readonly GroupCoordinatorService _groups;
    private int _disposed;
    private IdleMemoryTrimmer? _trimmer;
    private StoreHealthProbe? _probe;
    private QuotaManager? _quotas;
    private Authorizer? _authorizer;
    private ScramCredentialStore? _credentials;
    private JsonWebKeySet? _jwks;
    private BrokerConfig _config = null!;

    private BrokerHost(IMetadataStore meta, IObjectStore store, ClusterNode node, PartitionStorage storage, KafkaServer[] servers, HttpEndpoint http, GroupCoordinatorService groups)
    {
        _meta = meta;
        _store = store;
        _node = node;
        _storage = storage;
        _servers = servers;
        _http = http;
        _groups = groups;
    }

    public int BrokerId => _node.BrokerId;
    public string ClusterId => _node.ClusterId;
    /// <summary>The first listener's bound address.</summary>
    public System.Net.IPEndPoint KafkaEndPoint => _servers[0].LocalEndPoint;

    /// <summary>The bound address of the listener of that name (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), or null.</summary>
    public System.Net.IPEndPoint? EndPointOf(string listener) => Array.Find(_servers, s => s.Listener.Name == listener)?.LocalEndPoint;
    public System.Net.IPEndPoint HttpEndPoint => _http.LocalEndPoint;

    /// <summary>The HTTP endpoint, for the web console to add its routes (docs/console.md).</summary>
    public HttpEndpoint Http => _http;

    /// <summary>The object store and namespace the partitions' segments and WAL objects live in.</summary>
    public IObjectStore ObjectStore => _store;
    public string Namespace => _config.Namespace;

    /// <summary>True when --authorizer acl is on.</summary>
    public bool AclAuthorizer => _config.AclAuthorizer;

    /// <summary>The TLS certificate, key and client CA of the SSL and SASL_SSL listeners (--tls-cert, --tls-key, --tls-ca), or null.</summary>
    public Security.TlsSettings? Tls => _config.Tls;

    /// <summary>The SASL mechanisms the SASL_* listeners accept (--sasl-mechanisms).</summary>
    public IReadOnlyList<string> SaslMechanisms => _config.SaslMechanisms;

    /// <summary>Goes up whenever a SCRAM credential (also what PLAIN checks) is set or deleted.</summary>
    public long CredentialsVersion => _credentials?.Version ?? 0;

    /// <summary>This broker's counters and health now, for the web console (docs/console.md).</summary>
    public BrokerVitals Vitals()
    {
        var metrics = _node.Logs.Runtime.Metrics;
        var produce = metrics.RequestLatency("Produce");
        var fetch = metrics.RequestLatency("Fetch");
        return new BrokerVitals(_node.BrokerId, _node.ClusterId, _meta.Kind, _node.Registry.Guard.MayWrite, _store.Kind, metrics.Health.State.ToString().ToLowerInvariant(),
            _node.Logs.OpenLogs().Count(), metrics.BytesIn.Value, metrics.BytesOut.Value, metrics.RecordsIn.Value, metrics.RecordsOut.Value,
            produce.Count, produce.Sum, fetch.Count, fetch.Sum,
            metrics.ObjectRequests("put"), metrics.ObjectRequests("get") + metrics.ObjectRequests("range"), metrics.ObjectRequests("list"), metrics.EstimatedRequestCostUsdPerDay);
    }

    /// <summary>The request dispatcher, for tests that hand it requests of a connection whose principal they set.</summary>
    internal RequestDispatcher Dispatcher { get; private set; } = null!;

    /// <summary>The broker's fetch sessions (docs/protocol.md, "Fetch sessions").</summary>
    internal Handlers.FetchSessionCache FetchSessions { get; private set; } = null!;

    /// <summary>The partition logs and metrics, for in-process tests.</summary>
    internal LogManager Logs => _node.Logs;

    /// <summary>
    /// Starts a broker. <paramref name="openStore"/> opens the object store (S3 when a bucket is
    /// configured); without it segments go to the directory store (--objects-dir, else under
    /// the data directory). <paramref name="openMetadata"/> opens the metadata store; without
    /// it the broker uses etcd when endpoints are configured, else the embedded store.
    /// </summary>
    public static async Task<BrokerHost> StartAsync(BrokerConfig config, ILoggerFactory loggers, CancellationToken ct,
        Func<CancellationToken, Task<IObjectStore>>? openStore = null, Func<CancellationToken, Task<IMetadataStore>>? openMetadata = null)
    {
        var started = Stopwatch.StartNew();
        var log = loggers.CreateLogger("kafscale.broker");
        string dataDir = Path.GetFullPath(config.DataDir);
        try { Directory.CreateDirectory(dataDir); }
        catch (Exception ex) { throw new StartupException($"cannot create the data directory '{dataDir}' (--data-dir / KAFSCALE_DATA_DIR): {ex.Message}", ex); }

        IMetadataStore meta = await OpenMetadataAsync(config, dataDir, openMetadata, ct).ConfigureAwait(false);
        if (config.LeaseTtlMs <= 0) config.LeaseTtlMs = meta is EmbeddedMetadataStore ? 30_000 : 5_000;

        IObjectStore store;
        string objectsDir = Path.GetFullPath(config.ObjectsDir ?? Path.Combine(dataDir, "objects"));
        try
        {
            store = openStore is not null
                ? await openStore(ct).ConfigureAwait(false)
                : new LocalDirectoryObjectStore(objectsDir);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await meta.DisposeAsync().ConfigureAwait(false);
            throw new StartupException(openStore is not null ? ex.Message
                : $"cannot use '{objectsDir}' as the object store (--objects-dir / KAFSCALE_OBJECTS_DIR, or --data-dir / KAFSCALE_DATA_DIR): {ex.Message}", ex);
        }
        // The directory store's writes each hold a pool thread in fsync (up to --max-wal-uploads WAL
        // objects and MaxParallelUploads seals at once). Below that many threads the pool adds
        // threads only slowly, and meanwhile requests, acks and unlinks wait behind the disk:
        // measured as seconds of produce p99 at full speed (docs/decisions.md).
        if (store is LocalDirectoryObjectStore)
        {
            ThreadPool.GetMinThreads(out int workers, out int completions);
            ThreadPool.SetMinThreads(Math.Max(workers, Environment.ProcessorCount + config.MaxWalUploads + config.MaxParallelUploads), completions);
        }
        if (!store.SupportsConditionalCreate && meta is not EmbeddedMetadataStore)
            log.LogWarning("the object store does not refuse to overwrite existing objects (no conditional create): a deposed leader is fenced only by its lease deadline, which is weaker (docs/architecture.md, \"Leadership and fencing\")");

        GroupCoordinatorService? groups = null;
        ClusterNode? node = null;
        QuotaManager? quotas = null;
        Authorizer? authorizer = null;
        ScramCredentialStore? credentials = null;
        JsonWebKeySet? jwks = null;
        List<KafkaServer> servers = [];
        try
        {
            string clusterId = await EnsureClusterIdAsync(meta, ct).ConfigureAwait(false);
            // Bound before registering, so a listener on port 0 registers the port it got.
            servers = await OpenListenersAsync(config, loggers).ConfigureAwait(false);

            var registry = new MetricsRegistry();
            var health = new StoreHealth(config.StoreHealth);
            var metrics = new BrokerMetrics(registry, health);
            var runtime = new LogRuntime(config, metrics, loggers.CreateLogger("kafscale.log"));
            var cache = new SegmentCache(config.CacheBytes);
            runtime.SegmentCache = cache;
            // Twice as many bytes again for cold reads' read-ahead windows (docs/architecture.md, "The read path").
            runtime.ReadAhead = new ReadAheadCache(2 * config.CacheBytes);
            var storage = new PartitionStorage(store, config.Namespace, runtime, loggers.CreateLogger("kafscale.storage"));
            groups = new GroupCoordinatorService(meta, new GroupCoordinatorOptions { InitialRebalanceDelayMs = config.GroupInitialRebalanceDelayMs }, loggers);
            node = await ClusterNode.StartAsync(meta, storage, runtime, config, groups, clusterId, loggers, ct).ConfigureAwait(false);
            var cluster = new Cluster(config, node) { Groups = groups };
            var logs = node.Logs;
            quotas = new QuotaManager(loggers.CreateLogger("kafscale.quotas"));
            await quotas.StartAsync(meta).WaitAsync(ct).ConfigureAwait(false);
            authorizer = new Authorizer(config.AclAuthorizer, config.SuperUsers, loggers.CreateLogger("kafscale.authorizer"), registry);
            await authorizer.StartAsync(meta).WaitAsync(ct).ConfigureAwait(false);
            credentials = new ScramCredentialStore(loggers.CreateLogger("kafscale.security"));
            await credentials.StartAsync(meta).WaitAsync(ct).ConfigureAwait(false);
            jwks = await OpenKeySetAsync(config, loggers.CreateLogger("kafscale.security"), ct).ConfigureAwait(false);
            var jwt = jwks is null ? null : new JwtValidator(config.OAuthBearer!, jwks.Find, keysReady: jwks.KeysReadyAsync);
            var authenticator = new SaslAuthenticator(config.SaslMechanisms, credentials, jwt, config.SaslSessionLifetimeMs);

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
                new ElectLeadersHandler(cluster),
                new AlterPartitionReassignmentsHandler(cluster),
                new ListPartitionReassignmentsHandler(),
                new DescribeConfigsHandler(cluster),
                new AlterConfigsHandler(cluster),
                new IncrementalAlterConfigsHandler(cluster),
                new DeleteRecordsHandler(cluster),
                new DescribeClusterHandler(cluster),
                new DescribeLogDirsHandler(cluster),
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
                new DescribeClientQuotasHandler(quotas),
                new AlterClientQuotasHandler(meta),
                new DescribeAclsHandler(),
                new CreateAclsHandler(meta),
                new DeleteAclsHandler(meta),
                new SaslHandshakeHandler(authenticator),
                new SaslAuthenticateHandler(),
                new DescribeUserScramCredentialsHandler(meta),
                new AlterUserScramCredentialsHandler(meta),
            ];
            var dispatcher = new RequestDispatcher(handlers, metrics, loggers.CreateLogger("kafscale.requests")) { Quotas = quotas, Authorizer = authorizer, Sasl = authenticator };

            HttpEndpoint http;
            try { http = new HttpEndpoint(config.Http, loggers.CreateLogger("kafscale.http")); }
            catch (SocketException ex)
            {
                throw new StartupException($"cannot listen on {config.Http} (--http / KAFSCALE_METRICS_ADDR): {ex.Message}", ex);
            }

            RegisterGauges(registry, runtime, cache, node);
            groups.RegisterLagMetrics(registry, (topic, partition) => cluster.HighWatermarkOf(topic, partition));
            http.Map("/metrics", () => new HttpReply(200, "text/plain; version=0.0.4; charset=utf-8", registry.Render()));
            http.Map("/healthz", () => new HttpReply(200, "text/plain", "ok\n"));
            http.Map("/readyz", () => health.State == StoreHealthState.Unavailable
                ? new HttpReply(503, "text/plain", "object store unavailable\n")
                : !node.Registry.Guard.MayWrite ? new HttpReply(503, "text/plain", "metadata store lease lapsed\n")
                : new HttpReply(200, "text/plain", "ready\n"));

            var host = new BrokerHost(meta, store, node, storage, [.. servers], http, groups);
            host._quotas = quotas;
            host._config = config;
            host._authorizer = authorizer;
            host.Dispatcher = dispatcher;
            host.FetchSessions = cluster.FetchSessions;
            host._credentials = credentials;
            host._jwks = jwks;
            host._trimmer = new IdleMemoryTrimmer(metrics, TimeSpan.FromSeconds(5));
            host._probe = new StoreHealthProbe(store, config.Namespace, metrics);
            foreach (var server in servers) server.Start(dispatcher);
            http.Start();
            string listening = string.Join(", ", servers.Select(s => $"{s.Listener.Name} {s.LocalEndPoint} (advertised {s.Listener.AdvertisedHost}:{s.Listener.AdvertisedPort})"));
            log.LogInformation("kafscale broker {BrokerId} of cluster {ClusterId} listening on {Listeners}, http on {Http}, metadata in the {Meta} store, segments in the {Store} store, lease {Lease} ms, flush interval {Flush} ms, leading {Led} partitions and {Shards} coordinator shards, ready in {Ms} ms",
                node.BrokerId, clusterId, listening, http.LocalEndPoint, meta.Kind, store.Kind, config.LeaseTtlMs, config.FlushIntervalMs,
                logs.OpenLogs().Count(), node.Leadership.ShardsLed, started.ElapsedMilliseconds);
            return host;
        }
        catch
        {
            foreach (var server in servers) await server.DisposeAsync().ConfigureAwait(false);
            if (credentials is not null) await credentials.DisposeAsync().ConfigureAwait(false);
            jwks?.Dispose();
            if (quotas is not null) await quotas.DisposeAsync().ConfigureAwait(false);
            if (authorizer is not null) await authorizer.DisposeAsync().ConfigureAwait(false);
            if (node is not null) await node.DisposeAsync().ConfigureAwait(false);
            if (groups is not null) await groups.DisposeAsync().ConfigureAwait(false);
            await store.DisposeAsync().ConfigureAwait(false);
            await meta.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Binds every listener and loads the TLS certificates the SSL and SASL_SSL ones need; an
    /// advertised port 0 becomes the port bound. Bad settings are a <see cref="StartupException"/>
    /// naming the setting.
    /// </summary>
    private static async Task<List<KafkaServer>> OpenListenersAsync(BrokerConfig config, ILoggerFactory loggers)
    {
        var listeners = config.EffectiveListeners();
        TlsCertificates? certificates = null;
        if (listeners.Any(l => l.UsesTls))
        {
            if (config.Tls is null)
                throw new StartupException($"listener {listeners.First(l => l.UsesTls).Name} needs a TLS certificate: set --tls-cert and --tls-key (KAFSCALE_TLS_CERT, KAFSCALE_TLS_KEY)");
            certificates = TlsCertificates.Load(config.Tls, loggers.CreateLogger("kafscale.tls"));
        }
        var log = loggers.CreateLogger("kafscale.network");
        var servers = new List<KafkaServer>();
        var resolved = new List<ListenerConfig>();
        foreach (var l in listeners)
        {
            KafkaServer server;
            try { server = new KafkaServer(new ListenerRuntime(l, l.UsesTls ? certificates : null), config.MaxRequestBytes, log); }
            catch (SocketException ex)
            {
                foreach (var s in servers) await s.DisposeAsync().ConfigureAwait(false);
                throw new StartupException($"cannot listen on {l.Bind} for listener {l.Name} ({(config.Listeners.Count > 0 ? "--listeners / KAFSCALE_LISTENERS" : "--listen / KAFSCALE_BROKER_ADDR")}): {ex.Message}", ex);
            }
            servers.Add(server);
            resolved.Add(l.AdvertisedPort == 0 ? l with { AdvertisedPort = server.LocalEndPoint.Port } : l);
        }
        if (config.Listeners.Count > 0) config.Listeners = resolved;
        else if (config.AdvertisedPort == 0) config.AdvertisedPort = resolved[0].AdvertisedPort;
        return servers;
    }

    private static async Task<IMetadataStore> OpenMetadataAsync(BrokerConfig config, string dataDir, Func<CancellationToken, Task<IMetadataStore>>? open, CancellationToken ct)
    {
        if (open is not null) return await open(ct).ConfigureAwait(false);
        if (config.EtcdEndpoints.Count > 0)
        {
            try
            {
                return await EtcdMetadataStore.ConnectAsync(config.EtcdEndpoints, config.EtcdUsername, config.EtcdPassword,
                    new EtcdMetadataStoreOptions { Tls = config.EtcdTls }, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new StartupException($"cannot use etcd at {string.Join(',', config.EtcdEndpoints)} (--etcd-endpoints / KAFSCALE_ETCD_ENDPOINTS, KAFSCALE_ETCD_USERNAME / KAFSCALE_ETCD_PASSWORD): {ex.Message}", ex);
            }
        }
        try { return await EmbeddedMetadataStore.OpenAsync(Path.Combine(dataDir, "metadata"), ct).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new StartupException($"cannot open the embedded metadata store under '{dataDir}/metadata': {ex.Message} (use another --data-dir, or stop the other broker using it)", ex);
        }
    }

    private static readonly long StartTicks = Stopwatch.GetTimestamp();

    private static void RegisterGauges(MetricsRegistry registry, LogRuntime runtime, SegmentCache cache, ClusterNode node)
    {
        var logs = node.Logs;
        registry.GaugeFunc("kafscale_broker_uptime_seconds", "Seconds since the broker started.", () => Stopwatch.GetElapsedTime(StartTicks).TotalSeconds);
        registry.GaugeFunc("kafscale_pending_bytes", "Produced bytes not yet durable.", () => runtime.PendingBytes);
        registry.GaugeFunc("kafscale_unsealed_bytes", "Durable bytes held in memory (and in the WAL) until sealed into segments.", () => runtime.UnsealedBytes);
        registry.GaugeFunc("kafscale_wal_uploads_in_flight", "WAL objects uploading now.", () => runtime.Wal?.InFlight ?? 0);
        registry.GaugeFunc("kafscale_wal_objects_outstanding", "WAL objects this broker wrote that still hold a chunk it leads unsealed.", () => runtime.Wal?.Outstanding ?? 0);
        registry.GaugeFunc("kafscale_cache_bytes", "Bytes of segments held in the segment cache.", () => cache.CurrentBytes);
        registry.CounterFunc("kafscale_cache_hits_total", "Segment reads served by the segment cache.", () => cache.Hits);
        registry.CounterFunc("kafscale_cache_misses_total", "Segment reads the segment cache could not serve.", () => cache.Misses);
        registry.CounterFunc("kafscale_cache_evictions_total", "Segments evicted from the segment cache to make room.", () => cache.Evictions);
        registry.GaugeFunc("kafscale_topics", "Topics in the cluster.", () => logs.Topics.Count());
        registry.GaugeFunc("kafscale_partitions", "Partitions this broker leads.", () => logs.OpenLogs().Count());
        registry.GaugeFunc("kafscale_live_brokers", "Brokers registered in the metadata store.", () => node.Registry.Live.Count);
        registry.GaugeFunc("kafscale_lease_valid", "1 while this broker's lease holds by its own clock, else 0.", () => node.Registry.Guard.MayWrite ? 1 : 0);
        registry.GaugeSet("kafscale_partition_high_watermark", "High watermark per partition this broker leads.", ["topic", "partition"],
            () => logs.OpenLogs().Select(p => (new[] { p.Topic, p.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture) }, (double)p.HighWatermark)));
    }

    /// <summary>
    /// The OAUTHBEARER key set, read once before the listeners serve (docs/security.md,
    /// "OAUTHBEARER"). A file that cannot be read stops the start; a URL that does not answer is
    /// a warning (the identity provider may come up later) and is tried again on the next token.
    /// </summary>
    private static async Task<JsonWebKeySet?> OpenKeySetAsync(BrokerConfig config, ILogger log, CancellationToken ct)
    {
        bool wanted = config.SaslMechanisms.Contains(Security.SaslMechanisms.OAuthBearer, StringComparer.Ordinal);
        if (!wanted) return null;
        if (config.OAuthBearer is not { } settings)
            throw new StartupException("--sasl-mechanisms names OAUTHBEARER but --sasl-oauthbearer-jwks-endpoint-url (KAFSCALE_SASL_OAUTHBEARER_JWKS_ENDPOINT_URL) is not set: the broker needs a JWKS to check tokens with");
        if (settings.JwksSource.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
            log.LogWarning("the OAUTHBEARER key set is fetched over plain http (--sasl-oauthbearer-jwks-endpoint-url): anyone on the network path can replace the keys and sign tokens the broker accepts; use an https URL or a file");
        var set = new JsonWebKeySet(settings.JwksSource, log);
        string? error = await set.LoadAsync(ct).ConfigureAwait(false);
        if (error is not null && !JsonWebKeySet.IsUrl(settings.JwksSource))
        {
            set.Dispose();
            throw new StartupException($"cannot use the OAUTHBEARER key set {settings.JwksSource} (--sasl-oauthbearer-jwks-endpoint-url / KAFSCALE_SASL_OAUTHBEARER_JWKS_ENDPOINT_URL): {error}");
        }
        return set;
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
    /// Graceful shutdown: stop accepting; hand every partition over (flush, then release its
    /// leader key) and every coordinator shard, while connections finish what they have read;
    /// then revoke the lease and close the stores.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        foreach (var server in _servers) await server.StopAcceptingAsync().ConfigureAwait(false);
        var handoff = _node.StopAsync(TimeSpan.FromSeconds(30));
        foreach (var server in _servers) await server.DisposeAsync().ConfigureAwait(false);
        await handoff.ConfigureAwait(false);
        // Parked JoinGroup/SyncGroup requests are answered (NOT_COORDINATOR) so connections can close.
        await _groups.DisposeAsync().ConfigureAwait(false);
        _storage.Stop();
        await _node.DisposeAsync().ConfigureAwait(false);
        if (_quotas is not null) await _quotas.DisposeAsync().ConfigureAwait(false);
        if (_authorizer is not null) await _authorizer.DisposeAsync().ConfigureAwait(false);
        if (_credentials is not null) await _credentials.DisposeAsync().ConfigureAwait(false);
        _jwks?.Dispose();
        if (_trimmer is not null) await _trimmer.DisposeAsync().ConfigureAwait(false);
        if (_probe is not null) await _probe.DisposeAsync().ConfigureAwait(false);
        await _http.DisposeAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
        await _meta.DisposeAsync().ConfigureAwait(false);
    }
}
