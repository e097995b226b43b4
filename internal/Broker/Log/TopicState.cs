using System.Text.Json.Serialization;

namespace KafScale.Broker.Log;

/// <summary>
/// A topic as the cluster has it, and the logs of its partitions that this broker leads
/// (<see cref="Logs"/>[p] is null where another broker leads, or nobody yet).
/// </summary>
internal sealed class TopicState(string name, Guid id, TopicConfig config, long createdMs, long createRevision = 0)
{
    private PartitionLog?[] _logs = [];

    public string Name { get; } = name;
    public byte[] NameUtf8 { get; } = System.Text.Encoding.UTF8.GetBytes(name);
    public Guid Id { get; } = id;
    public long CreatedMs { get; } = createdMs;

    /// <summary>Store revision that created the topic's config key: which incarnation of the name this is.</summary>
    public long CreateRevision { get; } = createRevision;
    public TopicConfig Config { get; set; } = config;

    /// <summary>One slot per partition; read without locks (the array is replaced when the topic grows).</summary>
    public PartitionLog?[] Logs => Volatile.Read(ref _logs);

    public int PartitionCount => Logs.Length;

    /// <summary>Raises the partition count; false when it already has that many. Callers serialise.</summary>
    internal bool Grow(int count)
    {
        var old = _logs;
        if (count <= old.Length) return false;
        var grown = new PartitionLog?[count];
        Array.Copy(old, grown, old.Length);
        Volatile.Write(ref _logs, grown);
        return true;
    }

    /// <summary>Sets a partition's log if the slot holds expected. Callers serialise.</summary>
    internal bool SetLog(int partition, PartitionLog? expected, PartitionLog? log)
    {
        var logs = _logs;
        if (partition >= logs.Length || logs[partition] != expected) return false;
        Volatile.Write(ref logs[partition], log);
        return true;
    }
}

/// <summary>The topic record stored at /kafscale/topics/&lt;topic&gt;/config.</summary>
internal sealed class TopicRecord
{
    [JsonPropertyName("id")] public string Id { get; set; } = "";
    [JsonPropertyName("partitions")] public int Partitions { get; set; }
    [JsonPropertyName("configs")] public Dictionary<string, string> Configs { get; set; } = [];
    [JsonPropertyName("created_ms")] public long CreatedMs { get; set; }
}

[JsonSerializable(typeof(TopicRecord))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class BrokerJsonContext : JsonSerializerContext;

/// <summary>
/// The metadata keys this broker uses (documented in docs/metadata.md). next_offset keeps
/// upstream KafScale's shape and meaning so its tooling still reads it.
/// </summary>
internal static class MetadataKeys
{
    public const string Root = "/kafscale/";
    public const string TopicsPrefix = "/kafscale/topics/";
    public const string ClusterId = "/kafscale/cluster/id";
    public static string Topic(string topic) => $"/kafscale/topics/{topic}/";
    public static string PartitionsPrefix(string topic) => $"/kafscale/topics/{topic}/partitions/";
    public static string Partition(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/";
    public static string TopicConfig(string topic) => $"/kafscale/topics/{topic}/config";
    public static string NextOffset(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/next_offset";
    public static string LastSegment(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/last_segment";
    public static string LogStartOffset(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/log_start_offset";
    public static string LeaderEpoch(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/leader_epoch";
    public static string EpochStarts(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/epoch_starts";
    public static string EpochWriters(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/epoch_writers";
    public static string SealedHandoff(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/sealed_handoff";
}
