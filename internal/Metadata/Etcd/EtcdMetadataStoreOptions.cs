namespace KafScale.Metadata.Etcd;

public sealed class EtcdMetadataStoreOptions
{
    /// <summary>How long to wait for a TCP connection to one endpoint before trying the next.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one unary call may take at one endpoint (etcd's own request timeout is 5 s plus election time).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest pause between attempts to re-open a broken watch or keep-alive stream.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(2);
}
