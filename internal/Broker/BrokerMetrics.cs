using KafScale.Observability;

namespace KafScale.Broker;

internal sealed record ApiMetrics(Counter Requests, Counter Errors, Histogram Latency, Counter? AdminRequests, Counter? AdminErrors)
{
    public void Record(double latencyMs, bool ok)
    {
        Requests.Increment();
        AdminRequests?.Increment();
        if (!ok)
        {
            Errors.Increment();
            AdminErrors?.Increment();
        }
        Latency.Observe(latencyMs);
    }
}

/// <summary>
/// The broker's metrics. Names kept from upstream KafScale where they exist, so its
/// dashboards keep working; the rest are prefixed kafscale_ too.
/// </summary>
internal sealed class BrokerMetrics
{
    private readonly Family<Counter> _requests;
    private readonly Family<Counter> _requestErrors;
    private readonly Family<Histogram> _requestLatency;
    private readonly Family<Counter> _adminRequests;
    private readonly Family<Counter> _adminErrors;
    private readonly Family<Counter> _objectRequests;
    private readonly Family<Counter> _objectErrors;
    private readonly Family<Histogram> _objectLatency;
    private readonly Counter _connectionsTotal;
    private readonly Gauge _connectionsOpen;
    private readonly Counter _badFrames;
    private readonly Counter _handlerFailures;
    private readonly Counter[] _throttled;
    private readonly Family<Counter> _sasl;
    private readonly Family<Counter> _tlsFailures;
    private long _open;

    public BrokerMetrics(MetricsRegistry registry, StoreHealth health)
    {
        Registry = registry;
        Health = health;
        health.Register(registry);
        _requests = registry.CounterFamily("kafscale_requests_total", "Kafka requests handled, by API.", "api");
        _requestErrors = registry.CounterFamily("kafscale_request_errors_total", "Kafka requests answered with an error, by API.", "api");
        _requestLatency = registry.HistogramFamily("kafscale_request_latency_ms", "Time from reading a request to its response being ready, by API.", Histogram.LatencyMsBuckets(), "api");
        _adminRequests = registry.CounterFamily("kafscale_admin_requests_total", "Admin API requests (topics, configs, records, cluster), by API.", "api");
        _adminErrors = registry.CounterFamily("kafscale_admin_request_errors_total", "Admin API requests answered with an error, by API.", "api");
        _objectRequests = registry.CounterFamily("kafscale_object_store_requests_total", "Object-store requests, by operation (put, get, range, list, delete).", "op");
        _objectErrors = registry.CounterFamily("kafscale_object_store_errors_total", "Failed object-store requests, by operation.", "op");
        _objectLatency = registry.HistogramFamily("kafscale_object_store_latency_ms", "Object-store request latency, by operation.", Histogram.LatencyMsBuckets(), "op");
        _connectionsTotal = registry.Counter("kafscale_connections_total", "Client connections accepted.");
        _connectionsOpen = registry.Gauge("kafscale_connections_open", "Client connections open now.");
        _badFrames = registry.Counter("kafscale_bad_frames_total", "Connections closed for an unreadable or oversized frame.");
        _handlerFailures = registry.Counter("kafscale_handler_failures_total", "Requests that failed inside the broker (answered UNKNOWN_SERVER_ERROR).");
        BytesIn = registry.Counter("kafscale_bytes_in_total", "Record bytes accepted by Produce.");
        BytesOut = registry.Counter("kafscale_bytes_out_total", "Record bytes returned by Fetch.");
        RecordsIn = registry.Counter("kafscale_records_in_total", "Records accepted by Produce.");
        RecordsOut = registry.Counter("kafscale_records_out_total", "Records returned by Fetch (counted per batch header).");
        ReadBytesFromStore = registry.Counter("kafscale_read_bytes_from_store_total", "Segment bytes read from the object store to serve reads that the segment cache could not.");
        FetchWakeups = registry.Counter("kafscale_fetch_wakeups_total", "Long-polling fetches woken before max_wait_ms by a partition they wait on (new data or the end of its term).");
        SegmentsWritten = registry.Counter("kafscale_segments_written_total", "Segments uploaded to the object store.");
        SegmentBytesWritten = registry.Counter("kafscale_segment_bytes_written_total", "Bytes of segments uploaded.");
        ProduceLatency = registry.Histogram("kafscale_produce_latency_ms", "Produce request latency (acks=1/all: until durable).", Histogram.LatencyMsBuckets());
        FlushLatency = registry.Histogram("kafscale_flush_latency_ms", "Time to make one WAL object durable (build and upload), the floor of acks=all latency.", Histogram.LatencyMsBuckets());
        var puts = registry.CounterFamily("kafscale_object_store_puts_total", "Object-store writes by kind: wal (one per flush for all partitions), seal (a segment's .kfs), index (its .index).", "kind");
        PutsWal = puts.WithLabels("wal");
        PutsSeal = puts.WithLabels("seal");
        PutsIndex = puts.WithLabels("index");
        WalObjectsWritten = registry.Counter("kafscale_wal_objects_written_total", "WAL objects written.");
        WalObjectsDeleted = registry.Counter("kafscale_wal_objects_deleted_total", "WAL objects deleted once every chunk in them was sealed.");
        WalObjectsMerged = registry.Counter("kafscale_wal_objects_merged_total", "Small WAL objects of this broker whose unsealed chunks were rewritten into one merged object.");
        WalBytes = registry.Histogram("kafscale_wal_object_bytes", "Bytes per WAL object (one flush).", [1024, 16384, 65536, 262144, 1048576, 4194304, 8388608, 16777216, 67108864]);
        WalChunks = registry.Histogram("kafscale_wal_object_chunks", "Partitions per WAL object (one flush).", [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024]);
        var throttled = registry.CounterFamily("kafscale_quota_throttled_total", "Responses that carried a quota throttle time (and muted their connection), by the quota (producer_byte_rate, consumer_byte_rate, request_percentage).", "quota");
        _throttled = [.. Quotas.QuotaNames.Keys.Select(k => throttled.WithLabels(k))];
        _sasl = registry.CounterFamily("kafscale_sasl_authentications_total", "SASL authentications, by listener, mechanism and result (success, failure, unauthenticated_request: a request other than the SASL exchange before it completed).", "listener", "mechanism", "result");
        _tlsFailures = registry.CounterFamily("kafscale_tls_handshake_failures_total", "TLS handshakes that failed or timed out, by listener.", "listener");
        ProduceRate = new RateMeter();
        FetchRate = new RateMeter();
        registry.GaugeFunc("kafscale_produce_rps", "Records produced per second (10 s window).", ProduceRate.PerSecond);
        registry.GaugeFunc("kafscale_fetch_rps", "Records fetched per second (10 s window).", FetchRate.PerSecond);
        // S3 Standard request prices (USD per 1,000): PUT/COPY/POST/LIST 0.005, GET and the rest 0.0004.
        registry.GaugeFunc("kafscale_estimated_request_cost_usd_per_day", "This broker's object-store request cost per day at S3 Standard prices, from the last minute's request rates.",
            () => EstimatedRequestCostUsdPerDay);
        // The runtime's own counts: a blocking collection stalls every request at once.
        registry.CounterFunc("kafscale_gc_pause_seconds_total", "Time the garbage collector has paused the process, in total.", () => GC.GetTotalPauseDuration().TotalSeconds);
        registry.CounterFunc("kafscale_gc_gen2_collections_total", "Full (generation 2) garbage collections.", () => GC.CollectionCount(2));
        registry.GaugeFunc("kafscale_gc_heap_bytes", "Managed heap size after the last garbage collection.", () => GC.GetGCMemoryInfo().HeapSizeBytes);
    }

    public MetricsRegistry Registry { get; }
    public StoreHealth Health { get; }
    public Counter BytesIn { get; }
    public Counter BytesOut { get; }
    public Counter RecordsIn { get; }
    public Counter RecordsOut { get; }
    public Counter FetchWakeups { get; }
    public Counter ReadBytesFromStore { get; }
    public Counter SegmentsWritten { get; }
    public Counter SegmentBytesWritten { get; }
    public Histogram ProduceLatency { get; }
    public Histogram FlushLatency { get; }
    public Counter PutsWal { get; }
    public Counter PutsSeal { get; }
    public Counter PutsIndex { get; }
    public Counter WalObjectsWritten { get; }
    public Counter WalObjectsDeleted { get; }
    public Counter WalObjectsMerged { get; }
    public Histogram WalBytes { get; }
    public Histogram WalChunks { get; }

    /// <summary>One WAL object durable: its size, partitions and time from build to durable.</summary>
    public void WalWritten(long bytes, int chunks, double latencyMs)
    {
        WalObjectsWritten.Increment();
        WalBytes.Observe(bytes);
        WalChunks.Observe(chunks);
        FlushLatency.Observe(latencyMs);
    }
    public RateMeter ProduceRate { get; }
    public RateMeter FetchRate { get; }

    /// <summary>The per-API request metrics, resolved once per handler so requests do not look them up.</summary>
    public ApiMetrics ForApi(string api, bool admin = false) =>
        new(_requests.WithLabels(api), _requestErrors.WithLabels(api), _requestLatency.WithLabels(api),
            admin ? _adminRequests.WithLabels(api) : null, admin ? _adminErrors.WithLabels(api) : null);

    public void Request(string api, double latencyMs, bool ok) => ForApi(api).Record(latencyMs, ok);

    /// <summary>The latency histogram of one API, for the console's charts (docs/console.md).</summary>
    public Histogram RequestLatency(string api) => _requestLatency.WithLabels(api);

    /// <summary>Object-store requests of one operation (put, get, range, list, delete) so far.</summary>
    public long ObjectRequests(string op) => _objectRequests.WithLabels(op).Value;

    /// <summary>The value of kafscale_estimated_request_cost_usd_per_day.</summary>
    public double EstimatedRequestCostUsdPerDay => 86_400 * (_writeRate.PerSecond() * 0.005 + _readRate.PerSecond() * 0.0004) / 1000;

    private readonly RateMeter _writeRate = new(60);
    private readonly RateMeter _readRate = new(60);

    public void ObjectStore(string op, double latencyMs, bool ok)
    {
        (op is "put" or "list" ? _writeRate : _readRate).Add(1);
        _objectRequests.WithLabels(op).Increment();
        if (!ok) _objectErrors.WithLabels(op).Increment();
        _objectLatency.WithLabels(op).Observe(latencyMs);
        Health.Record(latencyMs, ok);
    }

    public void ConnectionsOpened()
    {
        _connectionsTotal.Increment();
        _connectionsOpen.Set(Interlocked.Increment(ref _open));
    }

    public void ConnectionsClosed() => _connectionsOpen.Set(Interlocked.Decrement(ref _open));
    public void BadFrame() => _badFrames.Increment();
    public void Throttled(Quotas.QuotaKey quota) => _throttled[(int)quota].Increment();
    public void HandlerFailed(string api) => _handlerFailures.Increment();
    public void SaslAuthentication(string listener, string mechanism, string result) => _sasl.WithLabels(listener, mechanism, result).Increment();
    public void TlsHandshakeFailed(string listener) => _tlsFailures.WithLabels(listener).Increment();
}
