using KafScale.Broker.Log;
using KafScale.Groups;
using KafScale.Metadata;

namespace KafScale.Broker;

/// <summary>What handlers need to know about this broker and the cluster it belongs to.</summary>
internal sealed class Cluster(BrokerConfig config, int brokerId, string clusterId, LogManager logs, IMetadataStore metadata)
{
    public BrokerConfig Config { get; } = config;
    public int BrokerId { get; } = brokerId;
    public string ClusterId { get; } = clusterId;
    public LogManager Logs { get; } = logs;
    public IMetadataStore Metadata { get; } = metadata;
    /// <summary>The group coordinator: routes each group to the shard that owns it.</summary>
    public required GroupCoordinatorService Groups { get; init; }
    public string AdvertisedHost => Config.AdvertisedHost;
    public int AdvertisedPort => Config.AdvertisedPort;
    public BrokerMetrics Metrics => Logs.Runtime.Metrics;

    /// <summary>The leader of a partition. Single node: this broker leads every partition.</summary>
    public int LeaderOf(PartitionLog partition) => BrokerId;

    /// <summary>Finds a partition, or the error a client gets for asking about it.</summary>
    public short TryGetPartition(string topic, int partition, out PartitionLog log)
    {
        log = null!;
        if (!Logs.TryGetTopic(topic, out var t)) return ErrorCodes.UnknownTopicOrPartition;
        var partitions = t.Partitions;
        if (partition < 0 || partition >= partitions.Length) return ErrorCodes.UnknownTopicOrPartition;
        log = partitions[partition];
        return 0;
    }
}
