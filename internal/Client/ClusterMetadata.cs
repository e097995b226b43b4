using KafScale.Protocol;

namespace KafScale.Client;

/// <summary>A broker as Metadata describes it.</summary>
public sealed record BrokerNode(int NodeId, string Host, int Port, string? Rack)
{
    public override string ToString() => $"{NodeId}@{Host}:{Port}";
}

/// <summary>One partition of a topic: who leads it, in which epoch.</summary>
public sealed record PartitionMetadata(int Partition, int LeaderId, int LeaderEpoch, ErrorCode ErrorCode);

/// <summary>A topic as the last Metadata response described it.</summary>
public sealed class TopicMetadata
{
    public TopicMetadata(string name, Guid topicId, ErrorCode errorCode, IReadOnlyList<PartitionMetadata> partitions)
    {
        Name = name;
        TopicId = topicId;
        ErrorCode = errorCode;
        Partitions = partitions;
    }

    public string Name { get; }

    /// <summary>Empty when the broker did not report one (Metadata below v10).</summary>
    public Guid TopicId { get; }

    public ErrorCode ErrorCode { get; }

    /// <summary>Sorted by partition index.</summary>
    public IReadOnlyList<PartitionMetadata> Partitions { get; }

    public int PartitionCount => Partitions.Count;

    public bool TryGetPartition(int partition, out PartitionMetadata metadata)
    {
        if ((uint)partition < (uint)Partitions.Count && Partitions[partition].Partition == partition)
        {
            metadata = Partitions[partition];
            return true;
        }

        foreach (PartitionMetadata p in Partitions)
        {
            if (p.Partition == partition)
            {
                metadata = p;
                return true;
            }
        }

        metadata = null!;
        return false;
    }

    /// <summary>
    /// Why a partition has no leader to send to: the topic's error, else the partition's, else
    /// LEADER_NOT_AVAILABLE for a partition that exists without a leader (retriable: a leader died
    /// or is being elected), else UNKNOWN_TOPIC_OR_PARTITION.
    /// </summary>
    public ErrorCode NoLeaderError(int partition) =>
        ErrorCode != ErrorCode.None ? ErrorCode
        : TryGetPartition(partition, out PartitionMetadata p) ? (p.ErrorCode != ErrorCode.None ? p.ErrorCode : ErrorCode.LeaderNotAvailable)
        : ErrorCode.UnknownTopicOrPartition;

    /// <summary>The leader's node id, when the partition exists and has a leader.</summary>
    public bool TryGetLeader(int partition, out int leaderId)
    {
        if (TryGetPartition(partition, out PartitionMetadata p) && p.LeaderId >= 0 && p.ErrorCode == ErrorCode.None)
        {
            leaderId = p.LeaderId;
            return true;
        }

        leaderId = -1;
        return false;
    }
}

/// <summary>An immutable snapshot of what the client knows about the cluster.</summary>
public sealed class ClusterMetadata
{
    public static readonly ClusterMetadata Empty = new(null, -1, new Dictionary<int, BrokerNode>(), new Dictionary<string, TopicMetadata>(StringComparer.Ordinal));

    public ClusterMetadata(string? clusterId, int controllerId, IReadOnlyDictionary<int, BrokerNode> brokers, IReadOnlyDictionary<string, TopicMetadata> topics)
    {
        ClusterId = clusterId;
        ControllerId = controllerId;
        Brokers = brokers;
        Topics = topics;
    }

    public string? ClusterId { get; }

    public int ControllerId { get; }

    public IReadOnlyDictionary<int, BrokerNode> Brokers { get; }

    public IReadOnlyDictionary<string, TopicMetadata> Topics { get; }
}
