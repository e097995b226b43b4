namespace KafScale.Metadata.Etcd;

public sealed class EtcdMetadataStoreOptions
{
    /// <summary>How long to wait for a TCP connection to one endpoint before trying the next.</summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long one unary call may take at one endpoint (etcd's own request timeout is 5 s plus election time).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest pause between attempts to re-open a broken watch or keep-alive stream.</summary>
    public TimeSpan MaxReconnectDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>TLS to etcd (https:// endpoints); null uses the system's roots and no client certificate.</summary>
    public EtcdTlsOptions? Tls { get; init; }
}

/// <summary>
/// PEM files for TLS to etcd: the CA etcd's certificate must chain to (instead of the system's
/// roots), and a client certificate and key for etcd's --client-cert-auth. See docs/security.md, "TLS to etcd and S3".
/// </summary>
public sealed record EtcdTlsOptions
{
    public const string CaSetting = "--etcd-tls-ca / KAFSCALE_ETCD_TLS_CA";
    public const string CertificateSetting = "--etcd-tls-cert / KAFSCALE_ETCD_TLS_CERT";
    public const string KeySetting = "--etcd-tls-key / KAFSCALE_ETCD_TLS_KEY";

    public string? CaPath { get; init; }
    public string? CertificatePath { get; init; }
    public string? KeyPath { get; init; }

    /// <summary>Some TLS file is named: endpoints without a scheme then mean https://.</summary>
    public bool IsSet => CaPath is not null || CertificatePath is not null || KeyPath is not null;
}
