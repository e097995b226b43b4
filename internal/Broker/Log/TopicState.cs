using System.Text.Json.Serialization;

namespace KafScale.Broker.Log;

/// <summary>A topic as the broker serves it.</summary>
internal sealed class TopicState(string name, Guid id, TopicConfig config, long createdMs)
{
    public string Name { get; } = name;
    public byte[] NameUtf8 { get; } = System.Text.Encoding.UTF8.GetBytes(name);
    public Guid Id { get; } = id;
    public long CreatedMs { get; } = createdMs;
    public TopicConfig Config { get; set; } = config;
    public PartitionLog[] Partitions { get; set; } = [];
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
    public static string TopicConfig(string topic) => $"/kafscale/topics/{topic}/config";
    public static string NextOffset(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/next_offset";
    public static string LogStartOffset(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/log_start_offset";
    public static string LeaderEpoch(string topic, int partition) => $"/kafscale/topics/{topic}/partitions/{partition}/leader_epoch";
}
