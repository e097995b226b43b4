using KafScale.Broker.Clustering;
using KafScale.Broker.Log;
using KafScale.Groups;
using KafScale.Metadata;

namespace KafScale.Broker;

/// <summary>What handlers need to know about this broker and the cluster it belongs to.</summary>
internal sealed class Cluster(BrokerConfig config, ClusterNode node)
{
    public BrokerConfig Config { get; } = config;
    public ClusterNode Node { get; } = node;
    public int BrokerId => Node.BrokerId;
    public string ClusterId => Node.ClusterId;
    public LogManager Logs => Node.Logs;
    public IMetadataStore Metadata => Node.Metadata;
    /// <summary>The group coordinator: routes each group to the shard that owns it.</summary>
    public required GroupCoordinatorService Groups { get; init; }
    public string AdvertisedHost => Config.EffectiveListeners()[0].AdvertisedHost;
    public int AdvertisedPort => Config.EffectiveListeners()[0].AdvertisedPort;
    public BrokerMetrics Metrics => Logs.Runtime.Metrics;

    /// <summary>This broker's fetch sessions (docs/protocol.md, "Fetch sessions").</summary>
    public Handlers.FetchSessionCache FetchSessions { get; } = new(config.FetchSessionCacheSlots, TimeProvider.System);

    /// <summary>The broker Kafka clients are told is the controller (any broker serves admin requests).</summary>
    public int ControllerId => Node.ControllerId;

    /// <summary>Live brokers with their advertised addresses, ascending by id.</summary>
    public IReadOnlyList<BrokerInfo> LiveBrokers
    {
        get
        {
            var live = Node.Registry.Live;
            if (live.Count > 0) return live;
            // Not yet (or no longer) seen in the store: at least this broker.
            return [new BrokerInfo(BrokerId, AdvertisedHost, AdvertisedPort, null, 0)
            {
                Endpoints = [.. Config.EffectiveListeners().Select(l => new BrokerEndpoint(l.Name, l.AdvertisedHost, l.AdvertisedPort))],
            }];
        }
    }

    /// <summary>
    /// The live brokers with their endpoint for one listener name, as Kafka answers a client of
    /// that listener: brokers without that listener are left out.
    /// </summary>
    public IEnumerable<(BrokerInfo Broker, BrokerEndpoint Endpoint)> LiveEndpoints(string listener)
    {
        foreach (var b in LiveBrokers)
            if (b.EndpointFor(listener) is { } e) yield return (b, e);
    }

    /// <summary>A live broker's address, or null.</summary>
    public BrokerInfo? Broker(int id)
    {
        foreach (var b in LiveBrokers) if (b.Id == id) return b;
        return null;
    }

    /// <summary>The leader and leader epoch of a partition as the cluster knows it, or null while it has none.</summary>
    public LeaderInfo? LeaderOf(string topic, int partition) => Node.Leadership.LeaderOf(topic, partition);

    /// <summary>The broker leading a group's coordinator shard, or -1.</summary>
    public int CoordinatorOf(string groupId) => Node.Leadership.CoordinatorOf(Groups.ShardOf(groupId));

    /// <summary>
    /// Whether a partition exists, wherever it is led: the group coordinator accepts commits for
    /// every partition of a topic, not only for those its own broker leads.
    /// </summary>
    public short PartitionExists(string topic, int partition)
    {
        if (!Logs.TryGetTopic(topic, out var t)) return ErrorCodes.UnknownTopicOrPartition;
        return partition < 0 || partition >= t.Logs.Length ? ErrorCodes.UnknownTopicOrPartition : ErrorCodes.None;
    }

    /// <summary>A partition's high watermark: exact where this broker leads it, else the metadata hint (about a second old).</summary>
    public long? HighWatermarkOf(string topic, int partition) =>
        TryGetPartition(topic, partition, out var log) == ErrorCodes.None ? log.HighWatermark : Logs.HintedHighWatermark(topic, partition);

    /// <summary>
    /// Finds a partition this broker leads, or the error a client gets: UNKNOWN_TOPIC_OR_PARTITION
    /// when it does not exist, NOT_LEADER_OR_FOLLOWER when another broker (or none yet) leads it.
    /// </summary>
    public short TryGetPartition(string topic, int partition, out PartitionLog log)
    {
        log = null!;
        if (!Logs.TryGetTopic(topic, out var t)) return ErrorCodes.UnknownTopicOrPartition;
        var logs = t.Logs;
        if (partition < 0 || partition >= logs.Length) return ErrorCodes.UnknownTopicOrPartition;
        if (logs[partition] is not { } found || found.IsClosed) return ErrorCodes.NotLeaderOrFollower;
        log = found;
        return 0;
    }
}
