using System.CommandLine;
using KafScale.Metadata;
using KafScale.Metadata.Embedded;
using KafScale.Metadata.Etcd;
using KafScale.Storage;
using KafScale.Storage.S3;
using Microsoft.Extensions.Logging;

namespace KafScale.Cli;

/// <summary>
/// The storage and metadata options every subcommand that touches the bucket or the metadata
/// shares with the broker (docs/operations.md): same flags, same environment variables, same
/// defaults. Each command gets its own option instances; <see cref="Resolve"/> reads them.
/// </summary>
internal sealed class StorageOptions
{
    public readonly Option<string> DataDir = new("--data-dir") { Description = "Directory for the local object store and embedded metadata [env KAFSCALE_DATA_DIR, default ./kafscale-data]" };
    public readonly Option<string> ObjectsDir = new("--objects-dir") { Description = "Directory of the local object store; brokers sharing one must share etcd too [env KAFSCALE_OBJECTS_DIR, default --data-dir/objects]" };
    public readonly Option<string> EtcdEndpoints = new("--etcd-endpoints") { Description = "etcd endpoints, host:port or http(s)://host:port, comma-separated; credentials from KAFSCALE_ETCD_USERNAME / KAFSCALE_ETCD_PASSWORD [env KAFSCALE_ETCD_ENDPOINTS, default: embedded metadata under --data-dir]" };
    public readonly Option<string> EtcdTlsCa = new("--etcd-tls-ca") { Description = "PEM CA etcd's certificate must chain to, instead of the system's roots; endpoints without a scheme then mean https [env KAFSCALE_ETCD_TLS_CA]" };
    public readonly Option<string> EtcdTlsCert = new("--etcd-tls-cert") { Description = "PEM client certificate for etcd's --client-cert-auth [env KAFSCALE_ETCD_TLS_CERT]" };
    public readonly Option<string> EtcdTlsKey = new("--etcd-tls-key") { Description = "PEM private key of --etcd-tls-cert [env KAFSCALE_ETCD_TLS_KEY]" };
    public readonly Option<string> S3Bucket = new("--s3-bucket") { Description = "Keep segments in this S3 bucket instead of --data-dir/objects [env KAFSCALE_S3_BUCKET]" };
    public readonly Option<string> S3Endpoint = new("--s3-endpoint") { Description = "S3-compatible endpoint URL, e.g. http://minio:9000 [env KAFSCALE_S3_ENDPOINT, default AWS]" };
    public readonly Option<string> S3Region = new("--s3-region") { Description = "S3 region [env KAFSCALE_S3_REGION, default us-east-1]" };
    public readonly Option<string> S3PathStyle = new("--s3-path-style") { Description = "Path-style bucket addressing (MinIO, s3rver) [env KAFSCALE_S3_PATH_STYLE, default false]" };
    public readonly Option<string> S3Namespace = new("--s3-namespace") { Description = "First part of every segment key [env KAFSCALE_S3_NAMESPACE, default default]" };
    public readonly Option<string> S3CreateBucket = new("--s3-create-bucket") { Description = "Create the bucket when it does not exist [env KAFSCALE_S3_CREATE_BUCKET, default false]" };
    public readonly Option<string> S3TlsCa = new("--s3-tls-ca") { Description = "PEM CA bundle an https S3 endpoint's certificate must chain to, instead of the system's roots [env KAFSCALE_S3_TLS_CA]" };

    /// <summary>The options in help order.</summary>
    public IEnumerable<Option> All => [DataDir, ObjectsDir, EtcdEndpoints, EtcdTlsCa, EtcdTlsCert, EtcdTlsKey, S3Bucket, S3Endpoint, S3Region, S3PathStyle, S3Namespace, S3CreateBucket, S3TlsCa];

    /// <summary>The options that only matter with etcd (commands that never read the metadata leave them out).</summary>
    public IEnumerable<Option> EtcdOnly => [EtcdEndpoints, EtcdTlsCa, EtcdTlsCert, EtcdTlsKey];

    public void AddTo(Command command)
    {
        foreach (var o in All) command.Options.Add(o);
    }

    public StorageSettings Resolve(Settings s)
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        string? bucket = s.Raw(S3Bucket, "KAFSCALE_S3_BUCKET");
        S3StoreOptions? s3 = bucket is null ? null : new S3StoreOptions
        {
            Bucket = bucket,
            Endpoint = s.Raw(S3Endpoint, "KAFSCALE_S3_ENDPOINT"),
            Region = s.String(S3Region, "KAFSCALE_S3_REGION", "us-east-1"),
            PathStyle = s.Bool(S3PathStyle, "KAFSCALE_S3_PATH_STYLE", false),
            CreateBucketIfMissing = s.Bool(S3CreateBucket, "KAFSCALE_S3_CREATE_BUCKET", false),
            AccessKey = Env("KAFSCALE_S3_ACCESS_KEY"),
            SecretKey = Env("KAFSCALE_S3_SECRET_KEY"),
            SessionToken = Env("KAFSCALE_S3_SESSION_TOKEN"),
            KmsKeyArn = Env("KAFSCALE_S3_KMS_ARN"),
            ReadBucket = Env("KAFSCALE_S3_READ_BUCKET"),
            ReadRegion = Env("KAFSCALE_S3_READ_REGION"),
            ReadEndpoint = Env("KAFSCALE_S3_READ_ENDPOINT"),
            TlsCaPath = s.Raw(S3TlsCa, "KAFSCALE_S3_TLS_CA"),
        };
        var etcdTls = new EtcdTlsOptions
        {
            CaPath = s.Raw(EtcdTlsCa, "KAFSCALE_ETCD_TLS_CA"),
            CertificatePath = s.Raw(EtcdTlsCert, "KAFSCALE_ETCD_TLS_CERT"),
            KeyPath = s.Raw(EtcdTlsKey, "KAFSCALE_ETCD_TLS_KEY"),
        };
        string? etcd = s.Raw(EtcdEndpoints, "KAFSCALE_ETCD_ENDPOINTS");
        return new StorageSettings(
            DataDir: s.String(DataDir, "KAFSCALE_DATA_DIR", "./kafscale-data"),
            ObjectsDir: s.Raw(ObjectsDir, "KAFSCALE_OBJECTS_DIR"),
            Namespace: s.String(S3Namespace, "KAFSCALE_S3_NAMESPACE", "default"),
            S3: s3,
            EtcdEndpoints: etcd is null ? [] : etcd.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            EtcdUsername: Env("KAFSCALE_ETCD_USERNAME"),
            EtcdPassword: Env("KAFSCALE_ETCD_PASSWORD"),
            EtcdTls: etcdTls.IsSet ? etcdTls : null);
    }
}

/// <summary>A failure to open the configured storage: one line naming the setting and the fix.</summary>
internal sealed class StorageOpenException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Resolved storage and metadata settings, and how to open them.</summary>
internal sealed record StorageSettings(
    string DataDir, string? ObjectsDir, string Namespace, S3StoreOptions? S3,
    string[] EtcdEndpoints, string? EtcdUsername, string? EtcdPassword, EtcdTlsOptions? EtcdTls = null)
{
    /// <summary>The directory store's root when no bucket is configured.</summary>
    public string ObjectsPath => Path.GetFullPath(ObjectsDir ?? Path.Combine(DataDir, "objects"));

    /// <summary>Where the embedded metadata store lives when no etcd is configured.</summary>
    public string EmbeddedMetadataPath => Path.Combine(Path.GetFullPath(DataDir), "metadata");

    public bool UsesEtcd => EtcdEndpoints.Length > 0;

    /// <summary>Opens the object store: S3 when a bucket is configured, else the directory store.</summary>
    public async Task<IObjectStore> OpenObjectStoreAsync(ILogger log, CancellationToken ct)
    {
        if (S3 is not null)
        {
            try { return await S3ObjectStore.OpenAsync(S3, log, ct).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new StorageOpenException(ex.Message, ex);
            }
        }
        try { return new LocalDirectoryObjectStore(ObjectsPath); }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new StorageOpenException($"cannot use '{ObjectsPath}' as the object store (--objects-dir / KAFSCALE_OBJECTS_DIR, or --data-dir / KAFSCALE_DATA_DIR): {ex.Message}", ex);
        }
    }

    /// <summary>Opens the metadata store: etcd when endpoints are configured, else the embedded store.</summary>
    public async Task<IMetadataStore> OpenMetadataStoreAsync(CancellationToken ct)
    {
        if (UsesEtcd)
        {
            try { return await EtcdMetadataStore.ConnectAsync(EtcdEndpoints, EtcdUsername, EtcdPassword, new EtcdMetadataStoreOptions { Tls = EtcdTls }, ct).ConfigureAwait(false); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new StorageOpenException($"cannot use etcd at {string.Join(',', EtcdEndpoints)} (--etcd-endpoints / KAFSCALE_ETCD_ENDPOINTS, KAFSCALE_ETCD_USERNAME / KAFSCALE_ETCD_PASSWORD): {ex.Message}", ex);
            }
        }
        try { return await EmbeddedMetadataStore.OpenAsync(EmbeddedMetadataPath, ct).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new StorageOpenException($"cannot open the embedded metadata store under '{EmbeddedMetadataPath}': {ex.Message} (use another --data-dir, or stop the broker using it)", ex);
        }
    }
}
