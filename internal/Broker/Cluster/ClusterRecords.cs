using System.Text.Json.Serialization;

namespace KafScale.Broker.Clustering;

/// <summary>
/// A live broker as its registration describes it. Host and Port are its first listener's;
/// <see cref="Endpoints"/> has one per listener name (a registration without a list, from a
/// version before listeners, is one PLAINTEXT endpoint).
/// </summary>
internal sealed record BrokerInfo(int Id, string Host, int Port, string? Rack, long Lease)
{
    public IReadOnlyList<BrokerEndpoint> Endpoints { get; init; } = [new BrokerEndpoint(Security.Listeners.Plaintext, Host, Port)];

    /// <summary>The endpoint clients of one listener name are told to use, or null when the broker has no such listener.</summary>
    public BrokerEndpoint? EndpointFor(string listener)
    {
        foreach (var e in Endpoints) if (e.Listener == listener) return e;
        return null;
    }
}

/// <summary>Where clients of one listener reach a broker.</summary>
internal sealed record BrokerEndpoint(string Listener, string Host, int Port);

/// <summary>Who holds a leader or coordinator key: the broker, its epoch there, and the lease the key is bound to.</summary>
internal sealed record LeaderInfo(int BrokerId, int Epoch, long Lease);

/// <summary>The value of /kafscale/brokers/&lt;id&gt;.</summary>
internal sealed class BrokerRecord
{
    [JsonPropertyName("node_id")] public int NodeId { get; set; }
    [JsonPropertyName("host")] public string Host { get; set; } = "";
    [JsonPropertyName("port")] public int Port { get; set; }
    [JsonPropertyName("rack")] public string? Rack { get; set; }
    [JsonPropertyName("started_ms")] public long StartedMs { get; set; }
    /// <summary>The process's incarnation token (<see cref="IncarnationLock"/>); absent where it has none.</summary>
    [JsonPropertyName("incarnation")] public string? Incarnation { get; set; }
    /// <summary>One advertised endpoint per listener name; host and port above repeat the first.</summary>
    [JsonPropertyName("listeners")] public List<ListenerRecord>? Listeners { get; set; }
}

internal sealed class ListenerRecord
{
    [JsonPropertyName("name")] public string Name { get; set; } = "";
    [JsonPropertyName("host")] public string Host { get; set; } = "";
    [JsonPropertyName("port")] public int Port { get; set; }
}

/// <summary>The value of /kafscale/leaders/&lt;topic&gt;/&lt;p&gt; and /kafscale/coordinators/&lt;shard&gt;.</summary>
internal sealed class LeaderRecord
{
    [JsonPropertyName("broker")] public int Broker { get; set; }
    [JsonPropertyName("epoch")] public int Epoch { get; set; }
}

// Upstream KafScale's ClusterMetadata, as Go's encoding/json writes it (field names as declared;
// the topic id is a [16]byte, which Go encodes as an array of numbers).
internal sealed class SnapshotRecord
{
    [JsonPropertyName("Brokers")] public List<SnapshotBroker> Brokers { get; set; } = [];
    [JsonPropertyName("ControllerID")] public int ControllerId { get; set; }
    [JsonPropertyName("Topics")] public List<SnapshotTopic> Topics { get; set; } = [];
    [JsonPropertyName("ClusterID")] public string? ClusterId { get; set; }
}

internal sealed class SnapshotBroker
{
    [JsonPropertyName("NodeID")] public int NodeId { get; set; }
    [JsonPropertyName("Host")] public string Host { get; set; } = "";
    [JsonPropertyName("Port")] public int Port { get; set; }
    [JsonPropertyName("Rack")] public string? Rack { get; set; }
}

internal sealed class SnapshotTopic
{
    [JsonPropertyName("ErrorCode")] public short ErrorCode { get; set; }
    [JsonPropertyName("Name")] public string Name { get; set; } = "";
    [JsonPropertyName("TopicID")] public int[] TopicId { get; set; } = new int[16];
    [JsonPropertyName("IsInternal")] public bool IsInternal { get; set; }
    [JsonPropertyName("Partitions")] public List<SnapshotPartition> Partitions { get; set; } = [];
    [JsonPropertyName("TopicAuthorizedOperations")] public int TopicAuthorizedOperations { get; set; }
}

internal sealed class SnapshotPartition
{
    [JsonPropertyName("ErrorCode")] public short ErrorCode { get; set; }
    [JsonPropertyName("PartitionIndex")] public int PartitionIndex { get; set; }
    [JsonPropertyName("LeaderID")] public int LeaderId { get; set; }
    [JsonPropertyName("LeaderEpoch")] public int LeaderEpoch { get; set; }
    [JsonPropertyName("ReplicaNodes")] public int[] ReplicaNodes { get; set; } = [];
    [JsonPropertyName("ISRNodes")] public int[] IsrNodes { get; set; } = [];
    [JsonPropertyName("OfflineReplicas")] public int[] OfflineReplicas { get; set; } = [];
}

[JsonSerializable(typeof(BrokerRecord))]
[JsonSerializable(typeof(LeaderRecord))]
[JsonSerializable(typeof(SnapshotRecord))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class ClusterJsonContext : JsonSerializerContext;
