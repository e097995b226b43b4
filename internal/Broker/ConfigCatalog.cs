using System.Globalization;
using KafScale.Broker.Log;

namespace KafScale.Broker;

/// <summary>KIP-569 config types, as DescribeConfigs v3+ carries them.</summary>
internal enum ConfigType : sbyte
{
    Boolean = 1,
    String = 2,
    Int = 3,
    Long = 5,
    Double = 6,
    List = 7,
}

/// <summary>Where a described config's value comes from (DescribeConfigs v1+ config_source).</summary>
internal enum ConfigSource : sbyte
{
    DynamicTopicConfig = 1,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
}

/// <summary>One Kafka topic config: its default, its type, the broker config Kafka derives it from, and what it does here.</summary>
internal sealed record TopicConfigEntry(string Name, string Default, ConfigType Type, string? BrokerSynonym, string Documentation);

/// <summary>One broker config as this broker reports it: its value, whether a flag set it, and the flag.</summary>
internal sealed record BrokerConfigEntry(string Name, string Value, ConfigSource Source, string? KafkaDefault, ConfigType Type, string Documentation);

/// <summary>
/// The configs DescribeConfigs reports (docs/protocol.md, "Admin answers without replicas"): every topic config
/// Kafka 4.0 has, with Kafka's default where KafScale has no setting of its own, and the broker
/// configs that correspond to a real setting of this broker.
/// </summary>
internal static class ConfigCatalog
{
    private const string LongMax = "9223372036854775807";

    /// <summary>Kafka 4.0's topic configs, by name. The six KafScale acts on take their defaults from <see cref="TopicConfig.Defaults"/>.</summary>
    public static readonly IReadOnlyList<TopicConfigEntry> TopicConfigs =
    [
        Topic(TopicConfig.CleanupPolicy, ConfigType.List, "log.cleanup.policy", "Only delete: whole segments past retention are deleted; compaction is refused."),
        Topic("compression.gzip.level", "-1", ConfigType.Int, "compression.gzip.level", "No effect: batches are stored as the producer compressed them."),
        Topic("compression.lz4.level", "9", ConfigType.Int, "compression.lz4.level", "No effect: batches are stored as the producer compressed them."),
        Topic("compression.type", "producer", ConfigType.String, "compression.type", "Batches are stored as the producer compressed them (producer)."),
        Topic("compression.zstd.level", "3", ConfigType.Int, "compression.zstd.level", "No effect: batches are stored as the producer compressed them."),
        Topic("delete.retention.ms", "86400000", ConfigType.Long, "log.cleaner.delete.retention.ms", "No effect: topics are never compacted."),
        Topic("file.delete.delay.ms", "60000", ConfigType.Long, "log.segment.delete.delay.ms", "No effect: expired segments are deleted from the object store at once."),
        Topic("flush.messages", LongMax, ConfigType.Long, "log.flush.interval.messages", "No effect: flushes are set by the broker (--flush-interval-ms, --segment-bytes)."),
        Topic("flush.ms", LongMax, ConfigType.Long, "log.flush.interval.ms", "No effect: flushes are set by the broker (--flush-interval-ms, --segment-bytes)."),
        Topic("follower.replication.throttled.replicas", "", ConfigType.List, null, "No effect: there are no followers; the object store holds the data."),
        Topic("index.interval.bytes", "4096", ConfigType.Int, "log.index.interval.bytes", "No effect: each segment has its own index."),
        Topic("leader.replication.throttled.replicas", "", ConfigType.List, null, "No effect: there are no followers; the object store holds the data."),
        Topic("local.retention.bytes", "-2", ConfigType.Long, "log.local.retention.bytes", "No effect: no data is kept locally; all of it is in the object store."),
        Topic("local.retention.ms", "-2", ConfigType.Long, "log.local.retention.ms", "No effect: no data is kept locally; all of it is in the object store."),
        Topic("max.compaction.lag.ms", LongMax, ConfigType.Long, "log.cleaner.max.compaction.lag.ms", "No effect: topics are never compacted."),
        Topic(TopicConfig.MaxMessageBytes, ConfigType.Int, "message.max.bytes", "A larger record batch is refused with MESSAGE_TOO_LARGE."),
        Topic("message.timestamp.after.max.ms", LongMax, ConfigType.Long, "log.message.timestamp.after.max.ms", "No effect: record timestamps in the future are not refused."),
        Topic("message.timestamp.before.max.ms", LongMax, ConfigType.Long, "log.message.timestamp.before.max.ms", "No effect: record timestamps in the past are not refused."),
        Topic(TopicConfig.MessageTimestampType, ConfigType.String, "log.message.timestamp.type", "LogAppendTime stamps every batch with the broker's time; CreateTime keeps the producer's."),
        Topic("min.cleanable.dirty.ratio", "0.5", ConfigType.Double, "log.cleaner.min.cleanable.ratio", "No effect: topics are never compacted."),
        Topic("min.compaction.lag.ms", "0", ConfigType.Long, "log.cleaner.min.compaction.lag.ms", "No effect: topics are never compacted."),
        Topic("min.insync.replicas", "1", ConfigType.Int, "min.insync.replicas", "Each partition has one replica; the object store makes it durable before acks=all is answered."),
        Topic("preallocate", "false", ConfigType.Boolean, "log.preallocate", "No effect: segments are written whole to the object store."),
        Topic("remote.log.copy.disable", "false", ConfigType.Boolean, null, "No effect: every segment is in the object store."),
        Topic("remote.log.delete.on.disable", "false", ConfigType.Boolean, null, "No effect: every segment is in the object store."),
        Topic("remote.storage.enable", "false", ConfigType.Boolean, null, "No effect: every segment is in the object store."),
        Topic(TopicConfig.RetentionBytes, ConfigType.Long, "log.retention.bytes", "Oldest whole segments are deleted while a partition is larger; -1 means no limit."),
        Topic(TopicConfig.RetentionMs, ConfigType.Long, "log.retention.ms", "Whole segments whose newest record is older are deleted; -1 keeps them forever."),
        Topic(TopicConfig.SegmentBytes, ConfigType.Int, "log.segment.bytes", "Caps the segments a flush writes, together with the broker's --segment-bytes."),
        Topic("segment.index.bytes", "10485760", ConfigType.Int, "log.index.size.max.bytes", "No effect: each segment has its own index."),
        Topic("segment.jitter.ms", "0", ConfigType.Long, "log.roll.jitter.ms", "No effect: segments are cut by flushes."),
        Topic("segment.ms", "604800000", ConfigType.Long, "log.roll.ms", "No effect: segments are cut by flushes."),
        Topic("unclean.leader.election.enable", "false", ConfigType.Boolean, "unclean.leader.election.enable", "No effect: any broker that takes a partition's lease reads all of its data."),
    ];

    private static readonly Dictionary<string, TopicConfigEntry> TopicByName = TopicConfigs.ToDictionary(e => e.Name, StringComparer.Ordinal);

    public static TopicConfigEntry? FindTopicConfig(string name) => TopicByName.GetValueOrDefault(name);

    /// <summary>
    /// Whether AlterConfigs and IncrementalAlterConfigs accept the key. Keys Kafka has but this
    /// broker refuses are reported read-only, so tools do not offer to change them.
    /// </summary>
    public static bool IsAlterable(string name) => TopicConfig.Defaults.ContainsKey(name) || TopicAdministration.KnownIgnoredConfigs.Contains(name);

    /// <summary>
    /// The broker configs that correspond to a setting of this broker, with their values. A value
    /// that differs from the flag's default is STATIC_BROKER_CONFIG, else DEFAULT_CONFIG; the
    /// ones with no flag are facts of the design and always DEFAULT_CONFIG.
    /// </summary>
    public static IReadOnlyList<BrokerConfigEntry> BrokerConfigs(BrokerConfig config, int brokerId)
    {
        var defaults = new BrokerConfig();
        string id = Int(brokerId);
        // --broker-id unset means "allocated from the metadata store", the flag's default.
        var idSource = config.BrokerId >= 0 ? ConfigSource.StaticBrokerConfig : ConfigSource.DefaultConfig;
        string listener = $"PLAINTEXT://{config.Listen}";
        string advertised = $"PLAINTEXT://{config.AdvertisedHost}:{Int(config.AdvertisedPort)}";
        return
        [
            new("advertised.listeners", advertised, ConfigSource.StaticBrokerConfig, null, ConfigType.String, "Where clients are told to connect (--advertised-host, --advertised-port)."),
            new("auto.create.topics.enable", Bool(config.AutoCreateTopics), Source(config.AutoCreateTopics == defaults.AutoCreateTopics), Bool(defaults.AutoCreateTopics), ConfigType.Boolean,
                "Whether Metadata creates unknown topics when the client allows it (--auto-create-topics)."),
            new("broker.id", id, idSource, "-1", ConfigType.Int, "This broker's id (--broker-id; unset takes the lowest id no live broker holds)."),
            new("compression.type", "producer", ConfigSource.DefaultConfig, "producer", ConfigType.String, "Batches are stored as the producer compressed them."),
            new("default.replication.factor", "1", ConfigSource.DefaultConfig, "1", ConfigType.Int, "Every partition has one replica: the object store keeps the data durable."),
            new("delete.topic.enable", "true", ConfigSource.DefaultConfig, "true", ConfigType.Boolean, "DeleteTopics deletes a topic and its segments."),
            new("group.initial.rebalance.delay.ms", Int(config.GroupInitialRebalanceDelayMs), Source(config.GroupInitialRebalanceDelayMs == defaults.GroupInitialRebalanceDelayMs),
                Int(defaults.GroupInitialRebalanceDelayMs), ConfigType.Int, "How long the first rebalance of an empty group waits for more members (--group-initial-rebalance-delay-ms)."),
            new("listeners", listener, ConfigSource.StaticBrokerConfig, null, ConfigType.String, "The address the broker listens on (--listen)."),
            new("log.cleanup.policy", TopicConfig.Defaults[TopicConfig.CleanupPolicy], ConfigSource.DefaultConfig, TopicConfig.Defaults[TopicConfig.CleanupPolicy], ConfigType.List,
                "Default cleanup.policy of topics: delete (topics are never compacted)."),
            new("log.message.timestamp.type", TopicConfig.Defaults[TopicConfig.MessageTimestampType], ConfigSource.DefaultConfig, TopicConfig.Defaults[TopicConfig.MessageTimestampType], ConfigType.String,
                "Default message.timestamp.type of topics."),
            new("log.retention.bytes", TopicConfig.Defaults[TopicConfig.RetentionBytes], ConfigSource.DefaultConfig, TopicConfig.Defaults[TopicConfig.RetentionBytes], ConfigType.Long,
                "Default retention.bytes of topics."),
            new("log.retention.ms", TopicConfig.Defaults[TopicConfig.RetentionMs], ConfigSource.DefaultConfig, TopicConfig.Defaults[TopicConfig.RetentionMs], ConfigType.Long,
                "Default retention.ms of topics."),
            new("log.segment.bytes", TopicConfig.Defaults[TopicConfig.SegmentBytes], ConfigSource.DefaultConfig, TopicConfig.Defaults[TopicConfig.SegmentBytes], ConfigType.Int,
                "Default segment.bytes of topics (flushes also cut segments at --segment-bytes)."),
            new("message.max.bytes", TopicConfig.Defaults[TopicConfig.MaxMessageBytes], ConfigSource.DefaultConfig, TopicConfig.Defaults[TopicConfig.MaxMessageBytes], ConfigType.Int,
                "Default max.message.bytes of topics: the largest record batch accepted."),
            new("min.insync.replicas", "1", ConfigSource.DefaultConfig, "1", ConfigType.Int, "Each partition has one replica; acks=all waits until the object store holds the batch."),
            new("node.id", id, idSource, "-1", ConfigType.Int, "This broker's id (--broker-id; unset takes the lowest id no live broker holds)."),
            new("num.partitions", Int(config.DefaultPartitions), Source(config.DefaultPartitions == defaults.DefaultPartitions), Int(defaults.DefaultPartitions), ConfigType.Int,
                "Partitions of auto-created topics and of CreateTopics with -1 (--default-partitions)."),
            new("socket.request.max.bytes", Int(config.MaxRequestBytes), Source(config.MaxRequestBytes == defaults.MaxRequestBytes), Int(defaults.MaxRequestBytes), ConfigType.Int,
                "The largest request frame; a larger one closes the connection (--max-request-bytes)."),
        ];
    }

    private static ConfigSource Source(bool isDefault) => isDefault ? ConfigSource.DefaultConfig : ConfigSource.StaticBrokerConfig;

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Bool(bool value) => value ? "true" : "false";

    private static TopicConfigEntry Topic(string name, ConfigType type, string? synonym, string doc) => new(name, TopicConfig.Defaults[name], type, synonym, doc);

    private static TopicConfigEntry Topic(string name, string fallback, ConfigType type, string? synonym, string doc) => new(name, fallback, type, synonym, doc);
}
