namespace KafScale.Client;

/// <summary>Settings of a <see cref="KafkaClient"/>.</summary>
public sealed record KafkaClientOptions
{
    /// <summary>Comma-separated <c>host:port</c> list; the first that answers is used to find the cluster.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>Settings of every broker connection (client id, timeouts, buffer sizes).</summary>
    public KafkaConnectionOptions Connection { get; init; } = new();

    /// <summary>How often a request whose error means "stale metadata" or a broken connection is retried.</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>First wait between retries; it doubles each time, up to one second.</summary>
    public TimeSpan RetryBackoff { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Whether Metadata issued for Produce may create a missing topic (as Kafka producers do).</summary>
    public bool AllowAutoTopicCreation { get; init; } = true;
}

/// <summary>The acknowledgement a Produce request waits for.</summary>
public enum Acks : short
{
    /// <summary>No response at all (fire and forget).</summary>
    None = 0,

    /// <summary>The leader has the records.</summary>
    Leader = 1,

    /// <summary>All in-sync replicas have them (on KafScale: the segment is durable in the object store).</summary>
    All = -1,
}

/// <summary>The special timestamps of ListOffsets.</summary>
public static class OffsetSpec
{
    /// <summary>The high watermark: the offset the next record will get.</summary>
    public const long Latest = -1;

    /// <summary>The log start offset.</summary>
    public const long Earliest = -2;

    /// <summary>The offset of the record with the largest timestamp (KIP-734).</summary>
    public const long MaxTimestamp = -3;
}
