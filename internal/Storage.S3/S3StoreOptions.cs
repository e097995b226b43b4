using System.Text;

namespace KafScale.Storage.S3;

/// <summary>
/// Where and how <see cref="S3ObjectStore"/> talks to S3 or an S3-compatible store (MinIO, R2,
/// Ceph, s3rver). Keys are given whole by the caller: the namespace prefix is not applied here.
/// The KAFSCALE_S3_* variable that feeds each setting is named in docs/storage-s3.md.
/// </summary>
public sealed record S3StoreOptions
{
    public const long DefaultMultipartThresholdBytes = 16L * 1024 * 1024;
    public const long DefaultPartSizeBytes = 8L * 1024 * 1024;

    /// <summary>The bucket that holds the segments (KAFSCALE_S3_BUCKET).</summary>
    public required string Bucket { get; init; }

    /// <summary>Signing region, and the AWS region when no endpoint is given (KAFSCALE_S3_REGION).</summary>
    public string Region { get; init; } = "us-east-1";

    /// <summary>Endpoint URL of an S3-compatible store ("http://minio:9000"); null for AWS S3 (KAFSCALE_S3_ENDPOINT).</summary>
    public string? Endpoint { get; init; }

    /// <summary>Path-style addressing (<c>endpoint/bucket/key</c>), which MinIO and s3rver need (KAFSCALE_S3_PATH_STYLE).</summary>
    public bool PathStyle { get; init; }

    /// <summary>Static credentials; when null the AWS default credential chain is used (KAFSCALE_S3_ACCESS_KEY).</summary>
    public string? AccessKey { get; init; }

    /// <summary>KAFSCALE_S3_SECRET_KEY. Never printed by <see cref="ToString"/>.</summary>
    public string? SecretKey { get; init; }

    /// <summary>KAFSCALE_S3_SESSION_TOKEN, for temporary credentials. Never printed by <see cref="ToString"/>.</summary>
    public string? SessionToken { get; init; }

    /// <summary>When set, objects are written with SSE-KMS under this key (KAFSCALE_S3_KMS_ARN).</summary>
    public string? KmsKeyArn { get; init; }

    /// <summary>
    /// Optional read replica (KAFSCALE_S3_READ_BUCKET): Get, ReadRange and GetSize go there first
    /// and fall back to <see cref="Bucket"/> when the object is not (yet) there. Writes, listings
    /// and deletes always go to the primary.
    /// </summary>
    public string? ReadBucket { get; init; }

    /// <summary>Region of the read replica; defaults to <see cref="Region"/> (KAFSCALE_S3_READ_REGION).</summary>
    public string? ReadRegion { get; init; }

    /// <summary>Endpoint of the read replica; defaults to <see cref="Endpoint"/> (KAFSCALE_S3_READ_ENDPOINT).</summary>
    public string? ReadEndpoint { get; init; }

    /// <summary>
    /// A PEM CA bundle (--s3-tls-ca / KAFSCALE_S3_TLS_CA) that https endpoints' certificates must
    /// chain to, instead of the system's roots; null trusts the system's roots.
    /// See docs/security.md, "TLS to etcd and S3".
    /// </summary>
    public string? TlsCaPath { get; init; }

    /// <summary>Create the primary bucket at startup when it does not exist.</summary>
    public bool CreateBucketIfMissing { get; init; }

    /// <summary>Objects larger than this are uploaded in parts (multipart upload).</summary>
    public long MultipartThresholdBytes { get; init; } = DefaultMultipartThresholdBytes;

    /// <summary>Part size of multipart uploads. AWS S3 needs at least 5 MiB for every part but the last.</summary>
    public long PartSizeBytes { get; init; } = DefaultPartSizeBytes;

    /// <summary>Parts of one multipart upload sent at the same time.</summary>
    public int MultipartConcurrency { get; init; } = 4;

    /// <summary>Page size of ListObjectsV2 (S3's MaxKeys; at most 1000 on AWS).</summary>
    public int ListMaxKeys { get; init; } = 1000;

    /// <summary>Retries after the first attempt for retriable failures (5xx, throttling, timeouts, connection errors).</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>First backoff delay; it doubles per retry up to <see cref="RetryMaxDelay"/>, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Limit on one attempt of one request (a single part for multipart uploads), body included.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Limit on opening a TCP connection, so a black-holed endpoint fails fast.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>True when reads go to a replica first.</summary>
    public bool HasReadReplica => !string.IsNullOrEmpty(ReadBucket);

    // Records print every property; credentials must never reach a log line. The compiler calls
    // this from the record's ToString, which the analyzer does not see.
#pragma warning disable IDE0051
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Bucket = ").Append(Bucket)
            .Append(", Region = ").Append(Region)
            .Append(", Endpoint = ").Append(Endpoint ?? "(AWS)")
            .Append(", PathStyle = ").Append(PathStyle)
            .Append(", AccessKey = ").Append(AccessKey ?? "(default chain)")
            .Append(", SecretKey = ").Append(SecretKey is null ? "(none)" : "***")
            .Append(", SessionToken = ").Append(SessionToken is null ? "(none)" : "***")
            .Append(", KmsKeyArn = ").Append(KmsKeyArn ?? "(none)")
            .Append(", TlsCaPath = ").Append(TlsCaPath ?? "(system roots)");
        if (HasReadReplica)
        {
            builder.Append(", ReadBucket = ").Append(ReadBucket)
                .Append(", ReadRegion = ").Append(ReadRegion ?? Region)
                .Append(", ReadEndpoint = ").Append(ReadEndpoint ?? Endpoint ?? "(AWS)");
        }
        builder.Append(", CreateBucketIfMissing = ").Append(CreateBucketIfMissing)
            .Append(", MultipartThresholdBytes = ").Append(MultipartThresholdBytes)
            .Append(", PartSizeBytes = ").Append(PartSizeBytes)
            .Append(", MaxRetries = ").Append(MaxRetries)
            .Append(", RequestTimeout = ").Append(RequestTimeout);
        return true;
    }
#pragma warning restore IDE0051
}
