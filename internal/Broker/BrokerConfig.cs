using System.Net;
using KafScale.Metadata.Etcd;

namespace KafScale.Broker;

/// <summary>Everything a broker process is started with (docs/operations.md).</summary>
public sealed class BrokerConfig
{
    public IPEndPoint Listen { get; set; } = new(IPAddress.Any, 9092);
    public string AdvertisedHost { get; set; } = "127.0.0.1";
    public int AdvertisedPort { get; set; } = 9092;
    public IPEndPoint Http { get; set; } = new(IPAddress.Any, 9093);

    /// <summary>
    /// The Kafka listeners (--listeners); empty means one PLAINTEXT listener on <see cref="Listen"/>,
    /// advertised as <see cref="AdvertisedHost"/>:<see cref="AdvertisedPort"/>. An advertised port 0
    /// becomes the port bound.
    /// </summary>
    public IReadOnlyList<Security.ListenerConfig> Listeners { get; set; } = [];

    /// <summary>Certificate, key and CA of the SSL and SASL_SSL listeners; null when none is configured.</summary>
    public Security.TlsSettings? Tls { get; set; }

    /// <summary>The SASL mechanisms SASL_* listeners accept (--sasl-mechanisms).</summary>
    public IReadOnlyList<string> SaslMechanisms { get; set; } = Security.SaslMechanisms.Defaults;

    /// <summary>OAUTHBEARER's token checks (--sasl-oauthbearer-*); null = OAUTHBEARER is not configured.</summary>
    public Security.OAuthBearerSettings? OAuthBearer { get; set; }

    /// <summary>--sasl-session-lifetime-ms (Kafka's connections.max.reauth.ms): 0 = sessions end only with an OAUTHBEARER token's expiry.</summary>
    public long SaslSessionLifetimeMs { get; set; }

    /// <summary>The listeners this broker runs: <see cref="Listeners"/>, or the one PLAINTEXT listener of --listen.</summary>
    public IReadOnlyList<Security.ListenerConfig> EffectiveListeners() =>
        Listeners.Count > 0 ? Listeners : [new Security.ListenerConfig(Security.SecurityProtocol.Plaintext, Listen, AdvertisedHost, AdvertisedPort)];
    /// <summary>-1 = allocate from the metadata store.</summary>
    public int BrokerId { get; set; } = -1;
    public string DataDir { get; set; } = "./kafscale-data";

    /// <summary>
    /// Directory of the local object store; null = &lt;data-dir&gt;/objects. Several brokers may share
    /// one (it creates objects with link(2), so the conditional create fences them).
    /// </summary>
    public string? ObjectsDir { get; set; }

    /// <summary>etcd endpoints (host:port or URLs); empty = the embedded metadata store under the data directory.</summary>
    public IReadOnlyList<string> EtcdEndpoints { get; set; } = [];
    public string? EtcdUsername { get; set; }
    public string? EtcdPassword { get; set; }

    /// <summary>TLS to etcd (--etcd-tls-ca, --etcd-tls-cert, --etcd-tls-key); null = plain, or the system's roots for https:// endpoints.</summary>
    public EtcdTlsOptions? EtcdTls { get; set; }

    /// <summary>
    /// TTL of the broker's lease: how long its partitions stay with it after it stops keeping
    /// the lease alive (a crash). 0 = the default: 5 s with etcd, 30 s embedded (no other broker
    /// can take over there, so a long lease only guards against pauses).
    /// </summary>
    public int LeaseTtlMs { get; set; }

    /// <summary>
    /// How long a broker that joins the cluster (or comes back under a new lease, after a crash
    /// or a lapse) must stay registered before partitions and coordinator shards move to it;
    /// until then the brokers that lead them keep them (docs/architecture.md, "Leadership and fencing").
    /// </summary>
    public int LeaderRebalanceDelayMs { get; set; } = 10_000;
    public string Namespace { get; set; } = "default";

    /// <summary>
    /// How long the oldest pending byte may wait before the broker's next WAL object carries it.
    /// 0 means "flush when idle": a WAL upload starts as soon as a slot is free, which is right
    /// where a write costs nothing (the directory store).
    /// </summary>
    public int FlushIntervalMs { get; set; }

    /// <summary>Unsealed bytes of one partition that trigger a seal (and cap a segment).</summary>
    public int SegmentBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Bytes of recent segments kept in memory for Fetch (and twice as many for read-ahead windows).</summary>
    public long CacheBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Fetch sessions (KIP-227) the broker keeps at most; 0 turns them off (Kafka's max.incremental.fetch.session.cache.slots).</summary>
    public int FetchSessionCacheSlots { get; set; } = 1000;

    public bool AutoCreateTopics { get; set; } = true;
    public int DefaultPartitions { get; set; } = 1;

    /// <summary>
    /// group.initial.rebalance.delay.ms: how long the first rebalance of an empty group waits for
    /// more members (Kafka's default, 3 s); 0 completes a join as soon as every member is in.
    /// </summary>
    public int GroupInitialRebalanceDelayMs { get; set; } = 3_000;

    /// <summary>Largest request frame accepted; larger frames close the connection.</summary>
    public int MaxRequestBytes { get; set; } = 100 * 1024 * 1024;

    /// <summary>WAL objects that may be uploading at once (each holds every partition's pending batches).</summary>
    public int MaxWalUploads { get; set; } = 4;

    /// <summary>
    /// Runs of this many consecutive small WAL objects of this broker are merged into one
    /// (0: never). On by default on S3 (<see cref="DefaultS3WalMergeObjects"/>), where a takeover
    /// pays one GET per object; off on the directory store, where reading a file costs no request
    /// (docs/decisions.md, "Merging small WAL objects on S3").
    /// </summary>
    public int WalMergeObjects { get; set; }

    public const int DefaultS3WalMergeObjects = 32;

    /// <summary>Pending bytes across partitions that start a flush before the interval ends, and the most one WAL object holds.</summary>
    public long FlushMaxBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>
    /// Longest time durable data stays unsealed (in the WAL only) before it becomes a segment:
    /// bounds per-partition PUTs and how fresh processors' data is.
    /// </summary>
    public long SegmentMs { get; set; } = DefaultSegmentMs;

    /// <summary>Default --segment-ms: 5 minutes (docs/decisions.md).</summary>
    public const long DefaultSegmentMs = 5 * 60 * 1000;

    /// <summary>Durable bytes held unsealed across partitions before the largest partitions are sealed early.</summary>
    public long MaxUnsealedBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Segment uploads (seals) across all partitions that may be in flight at once.</summary>
    public int MaxParallelUploads { get; set; } = 16;

    /// <summary>Pending (not yet durable) bytes across all partitions before produce is refused.</summary>
    public long MaxPendingBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>
    /// --authorizer acl: every request is checked against the ACLs (deny by default);
    /// false (--authorizer none) allows everything (docs/security.md, "ACLs").
    /// </summary>
    public bool AclAuthorizer { get; set; }

    /// <summary>Principals (User:name) that may do anything when the authorizer is on.</summary>
    public IReadOnlyList<string> SuperUsers { get; set; } = [];

    /// <summary>Object-store health thresholds (KAFSCALE_S3_LATENCY_*_MS, KAFSCALE_S3_ERROR_RATE_*, KAFSCALE_S3_HEALTH_WINDOW_SEC).</summary>
    public KafScale.Observability.StoreHealthThresholds StoreHealth { get; set; } = new();
}
