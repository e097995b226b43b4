namespace KafScale.Client;

/// <summary>Settings of one broker connection.</summary>
public sealed record KafkaConnectionOptions
{
    /// <summary>Sent in every request header; brokers use it in logs and quotas.</summary>
    public string ClientId { get; init; } = "kafscale-client";

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The longest a request may wait for its response. Kafka answers in order, so one overdue
    /// response makes every later one unusable: the connection is closed and all fail.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest response frame accepted (Fetch responses are the big ones).</summary>
    public int MaxResponseBytes { get; init; } = 256 * 1024 * 1024;

    /// <summary>Initial size of the receive buffer; it grows to the largest frame seen.</summary>
    public int ReceiveBufferBytes { get; init; } = 256 * 1024;

    /// <summary>Kernel socket buffer sizes; null keeps the operating system's autotuning.</summary>
    public int? SocketSendBufferBytes { get; init; }

    public int? SocketReceiveBufferBytes { get; init; }

    /// <summary>TLS and SASL (security.protocol and friends); plaintext by default.</summary>
    public KafkaSecurityOptions Security { get; init; } = new();

    /// <summary>Skip the ApiVersions exchange (then every call must name its version).</summary>
    public bool NegotiateApiVersions { get; init; } = true;
}
