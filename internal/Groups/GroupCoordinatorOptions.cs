namespace KafScale.Groups;

/// <summary>
/// The group coordinator's settings. Defaults are Apache Kafka's broker defaults for the
/// classic group protocol, under the same names (group.*, offsets.*).
/// </summary>
public sealed record GroupCoordinatorOptions
{
    /// <summary>
    /// Coordinator shards: hash(group) picks one, and a shard is led by one broker at a time.
    /// Fixed for the life of a cluster: changing it moves groups between shards.
    /// </summary>
    public int ShardCount { get; init; } = 64;

    /// <summary>group.min.session.timeout.ms: shorter session timeouts get INVALID_SESSION_TIMEOUT.</summary>
    public int MinSessionTimeoutMs { get; init; } = 6_000;

    /// <summary>group.max.session.timeout.ms.</summary>
    public int MaxSessionTimeoutMs { get; init; } = 1_800_000;

    /// <summary>
    /// group.initial.rebalance.delay.ms: the first rebalance of an empty group waits this long
    /// (extended while members keep arriving, up to the rebalance timeout), so a fleet of
    /// consumers starting together gets one rebalance instead of one per member.
    /// </summary>
    public int InitialRebalanceDelayMs { get; init; } = 3_000;

    /// <summary>group.max.size: joins beyond it get GROUP_MAX_SIZE_REACHED.</summary>
    public int MaxGroupSize { get; init; } = int.MaxValue;

    /// <summary>
    /// How long a member that joined without a member id may wait in a rebalance before it is
    /// dropped (Kafka's fixed 5 minutes): it cannot heartbeat, and its client may have given up.
    /// </summary>
    public int NewMemberJoinTimeoutMs { get; init; } = 300_000;

    /// <summary>offset.metadata.max.bytes: longer commit metadata gets OFFSET_METADATA_TOO_LARGE.</summary>
    public int MaxOffsetMetadataBytes { get; init; } = 4_096;

    /// <summary>offsets.retention.minutes (7 days): how long offsets outlive their group's last member (KIP-211).</summary>
    public TimeSpan OffsetsRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>offsets.retention.check.interval.ms.</summary>
    public TimeSpan OffsetsRetentionCheckInterval { get; init; } = TimeSpan.FromMinutes(10);
}
