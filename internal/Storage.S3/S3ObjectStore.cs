using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using KafScale.Common.Tls;
using Amazon.S3.Model;
using Microsoft.Extensions.Logging;

namespace KafScale.Storage.S3;

/// <summary>
/// The object store on S3 or an S3-compatible store. Keys are used as given.
/// <list type="bullet">
/// <item>Checksums are computed and validated only where S3 requires them, and uploads are not
/// aws-chunked, so stores that implement neither (s3rver, older MinIO/Ceph) accept the requests.
/// The SigV4 payload hash still covers every byte sent.</item>
/// <item>Every request is retried here, a bounded number of times with exponential backoff and
/// jitter, when the failure is retriable; the SDK's own retries are off so the two never multiply.</item>
/// <item>CreateIfAbsent is <c>If-None-Match: *</c>. Whether the store honours it is detected by
/// <see cref="OpenAsync"/>; where it does not, a HEAD-then-PUT is used, which is racy.</item>
/// </list>
/// </summary>
public sealed partial class S3ObjectStore : IObjectStore
{
    private readonly S3StoreOptions _options;
    private readonly ILogger _log;
    private readonly AmazonS3Client _primary;
    private readonly AmazonS3Client? _replica;
    private readonly string? _replicaBucket;
    private readonly PemClientTls? _tls;
    private int _disposed;

    private S3ObjectStore(S3StoreOptions options, ILogger logger, PemClientTls? tls)
    {
        _options = options;
        _log = logger;
        _tls = tls;
        EndpointDescription = Describe(options.Endpoint, options.Region);
        _primary = CreateClient(options, options.Region, options.Endpoint, tls);
        if (options.HasReadReplica)
        {
            string readRegion = string.IsNullOrEmpty(options.ReadRegion) ? options.Region : options.ReadRegion;
            string? readEndpoint = string.IsNullOrEmpty(options.ReadEndpoint) ? options.Endpoint : options.ReadEndpoint;
            _replicaBucket = options.ReadBucket;
            ReadEndpointDescription = Describe(readEndpoint, readRegion);
            // Same service, same region: one client (one connection pool) serves both buckets.
            _replica = readRegion == options.Region && readEndpoint == options.Endpoint
                ? _primary
                : CreateClient(options, readRegion, readEndpoint, tls);
        }
    }

    public string Kind => "s3";

    /// <summary>Decided at startup by probing the store (see <see cref="OpenAsync"/>).</summary>
    public bool SupportsConditionalCreate { get; private set; }

    public string Bucket => _options.Bucket;

    public string Location => $"s3://{_options.Bucket}";

    /// <summary>The endpoint URL, or "AWS S3 (region)" when none is configured; for log lines.</summary>
    public string EndpointDescription { get; }

    /// <summary>The read replica's endpoint description, or null without a replica.</summary>
    public string? ReadEndpointDescription { get; }

    public S3StoreOptions Options => _options;

    public Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        return data.Length > _options.MultipartThresholdBytes
            ? PutMultipartAsync(key, data, ifNoneMatch: false, cancellationToken)
            : RunAsync("PutObject", _options.Bucket, key,
                token => PutSingleAsync(key, data, ifNoneMatch: false, token), cancellationToken);
    }

    /// <summary>
    /// With conditional-create support: a PUT with <c>If-None-Match: *</c>; 412 means the key is
    /// taken. A retry after an attempt whose answer was lost can find the key taken by that very
    /// attempt, so callers that must tell "mine" from "another writer's" compare the stored bytes.
    /// Without support: HEAD, then PUT when absent. That is racy (two writers can both see the
    /// key absent and the second overwrites), but it still refuses to overwrite an object that
    /// was complete before the call.
    /// </summary>
    public async Task<bool> CreateIfAbsentAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        if (!SupportsConditionalCreate)
        {
            if (await GetSizeFromAsync(_primary, _options.Bucket, key, cancellationToken).ConfigureAwait(false) is not null)
                return false;
            await PutAsync(key, data, cancellationToken).ConfigureAwait(false);
            return true;
        }
        return await ConditionalCreateAsync(key, data, cancellationToken).ConfigureAwait(false);
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        if (_replica is not null)
        {
            byte[]? fromReplica = await GetFromAsync(_replica, _replicaBucket!, key, cancellationToken).ConfigureAwait(false);
            if (fromReplica is not null)
                return fromReplica;
        }
        return await GetFromAsync(_primary, _options.Bucket, key, cancellationToken).ConfigureAwait(false);
    }

    public async Task<int> ReadRangeAsync(string key, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (destination.IsEmpty)
        {
            // S3 has no empty range; the contract still says a missing object throws.
            if (await GetSizeAsync(key, cancellationToken).ConfigureAwait(false) is null)
                throw new ObjectNotFoundException(key);
            return 0;
        }
        if (_replica is not null)
        {
            int n = await ReadRangeFromAsync(_replica, _replicaBucket!, key, offset, destination, cancellationToken).ConfigureAwait(false);
            if (n >= 0)
                return n;
        }
        int read = await ReadRangeFromAsync(_primary, _options.Bucket, key, offset, destination, cancellationToken).ConfigureAwait(false);
        return read >= 0 ? read : throw new ObjectNotFoundException(key);
    }

    public async Task<long?> GetSizeAsync(string key, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        if (_replica is not null)
        {
            long? size = await GetSizeFromAsync(_replica, _replicaBucket!, key, cancellationToken).ConfigureAwait(false);
            if (size is not null)
                return size;
        }
        return await GetSizeFromAsync(_primary, _options.Bucket, key, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>ListObjectsV2 page by page; S3 returns keys in ascending UTF-8 byte order, which is ordinal order for the keys we write.</summary>
    public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken) => ListAsync(prefix, null, cancellationToken);

    /// <summary>ListObjectsV2 from after startAfter: S3 skips the earlier keys itself.</summary>
    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        string? continuation = null;
        do
        {
            string? token = continuation;
            ListObjectsV2Response page = await RunAsync("ListObjectsV2", _options.Bucket, prefix,
                t => _primary.ListObjectsV2Async(new ListObjectsV2Request
                {
                    BucketName = _options.Bucket,
                    Prefix = prefix,
                    MaxKeys = _options.ListMaxKeys,
                    ContinuationToken = token,
                    StartAfter = token is null ? startAfter : null,
                }, t), cancellationToken).ConfigureAwait(false);
            if (page.S3Objects is { } objects)
            {
                foreach (S3Object o in objects)
                    yield return new ObjectInfo(o.Key, o.Size ?? 0);
            }
            continuation = page.IsTruncated == true ? page.NextContinuationToken : null;
            if (page.IsTruncated == true && string.IsNullOrEmpty(continuation))
                throw new S3StoreException($"ListObjectsV2 of '{prefix}' in bucket '{_options.Bucket}' at {EndpointDescription} said the listing is truncated but gave no continuation token",
                    "ListObjectsV2", _options.Bucket, prefix, null, null, transient: false, inner: null);
        }
        while (continuation is not null);
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        ValidateKey(key);
        return RunAsync("DeleteObject", _options.Bucket, key, async token =>
        {
            try
            {
                await _primary.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = key }, token).ConfigureAwait(false);
            }
            catch (AmazonS3Exception e) when (S3Failure.Is(e, HttpStatusCode.NotFound))
            {
                // AWS answers 204 for a missing key; some compatible stores answer 404.
            }
            return true;
        }, cancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return ValueTask.CompletedTask;
        if (_replica is not null && !ReferenceEquals(_replica, _primary))
            _replica.Dispose();
        _primary.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<bool> PutSingleAsync(string key, ReadOnlyMemory<byte> data, bool ifNoneMatch, CancellationToken token)
    {
        var request = new PutObjectRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            InputStream = StreamOver(data),
            AutoCloseStream = true,
            UseChunkEncoding = false,
            ContentType = "application/octet-stream",
        };
        if (ifNoneMatch)
            request.IfNoneMatch = "*";
        ApplyEncryption(request);
        try
        {
            await _primary.PutObjectAsync(request, token).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception e) when (ifNoneMatch && S3Failure.Is(e, HttpStatusCode.PreconditionFailed))
        {
            return false;
        }
    }

    /// <summary>The raw conditional create, whatever the store does with the header; the probe uses it too.</summary>
    private Task<bool> ConditionalCreateAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        data.Length > _options.MultipartThresholdBytes
            ? PutMultipartAsync(key, data, ifNoneMatch: true, cancellationToken)
            : RunAsync("PutObject", _options.Bucket, key, token => PutSingleAsync(key, data, ifNoneMatch: true, token), cancellationToken);

    private Task<byte[]?> GetFromAsync(AmazonS3Client client, string bucket, string key, CancellationToken cancellationToken) =>
        RunAsync("GetObject", bucket, key, async token =>
        {
            try
            {
                using GetObjectResponse response = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }, token).ConfigureAwait(false);
                long length = response.ContentLength;
                if (length < 0)
                {
                    using var buffer = new MemoryStream();
                    await response.ResponseStream.CopyToAsync(buffer, token).ConfigureAwait(false);
                    return buffer.ToArray();
                }
                byte[] data = GC.AllocateUninitializedArray<byte>(checked((int)length));
                await response.ResponseStream.ReadExactlyAsync(data, token).ConfigureAwait(false);
                return data;
            }
            catch (AmazonS3Exception e) when (S3Failure.Is(e, HttpStatusCode.NotFound))
            {
                return null;
            }
        }, cancellationToken);

    /// <summary>Bytes read, or -1 when the object does not exist.</summary>
    private Task<int> ReadRangeFromAsync(AmazonS3Client client, string bucket, string key, long offset, Memory<byte> destination, CancellationToken cancellationToken) =>
        RunAsync("GetObject", bucket, key, async token =>
        {
            var request = new GetObjectRequest
            {
                BucketName = bucket,
                Key = key,
                ByteRange = new ByteRange(offset, offset + destination.Length - 1),
            };
            try
            {
                using GetObjectResponse response = await client.GetObjectAsync(request, token).ConfigureAwait(false);
                Stream body = response.ResponseStream;
                // A store that ignores Range answers 200 with the whole object.
                if (response.HttpStatusCode == HttpStatusCode.OK && offset > 0 && string.IsNullOrEmpty(response.ContentRange))
                {
                    if (!await SkipAsync(body, offset, token).ConfigureAwait(false))
                        return 0;
                }
                // Read no more than the object holds past offset: some stores (s3rver) announce a
                // byte for a range on an empty object and never send it.
                int wanted = destination.Length;
                if (ObjectSizeFromContentRange(response.ContentRange) is long size)
                    wanted = (int)Math.Clamp(size - offset, 0, wanted);
                int total = 0;
                while (total < wanted)
                {
                    int n = await body.ReadAsync(destination.Slice(total, wanted - total), token).ConfigureAwait(false);
                    if (n == 0)
                        break;
                    total += n;
                }
                return total;
            }
            catch (AmazonS3Exception e) when (S3Failure.Is(e, HttpStatusCode.NotFound))
            {
                return -1;
            }
            catch (AmazonS3Exception e) when (S3Failure.Is(e, HttpStatusCode.RequestedRangeNotSatisfiable))
            {
                // The offset is at or past the end of an existing object.
                return 0;
            }
        }, cancellationToken);

    private Task<long?> GetSizeFromAsync(AmazonS3Client client, string bucket, string key, CancellationToken cancellationToken) =>
        RunAsync<long?>("HeadObject", bucket, key, async token =>
        {
            try
            {
                GetObjectMetadataResponse head = await client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key }, token).ConfigureAwait(false);
                return head.ContentLength;
            }
            catch (AmazonS3Exception e) when (S3Failure.Is(e, HttpStatusCode.NotFound))
            {
                return null;
            }
        }, cancellationToken);

    /// <summary>The complete length in "bytes 0-99/1234", or null when absent or "*".</summary>
    private static long? ObjectSizeFromContentRange(string? contentRange)
    {
        if (string.IsNullOrEmpty(contentRange))
            return null;
        int slash = contentRange.LastIndexOf('/');
        return slash >= 0 && long.TryParse(contentRange.AsSpan(slash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long size)
            ? size
            : null;
    }

    private static async Task<bool> SkipAsync(Stream body, long count, CancellationToken token)
    {
        byte[] scratch = new byte[(int)Math.Min(count, 81920)];
        while (count > 0)
        {
            int n = await body.ReadAsync(scratch.AsMemory(0, (int)Math.Min(count, scratch.Length)), token).ConfigureAwait(false);
            if (n == 0)
                return false;
            count -= n;
        }
        return true;
    }

    private void ApplyEncryption(PutObjectRequest request)
    {
        if (string.IsNullOrEmpty(_options.KmsKeyArn))
            return;
        request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AWSKMS;
        request.ServerSideEncryptionKeyManagementServiceKeyId = _options.KmsKeyArn;
    }

    /// <summary>A read-only stream over the caller's bytes without copying them when they live in an array.</summary>
    private static MemoryStream StreamOver(ReadOnlyMemory<byte> data) =>
        MemoryMarshal.TryGetArray(data, out ArraySegment<byte> segment)
            ? new MemoryStream(segment.Array!, segment.Offset, segment.Count, writable: false)
            : new MemoryStream(data.ToArray(), writable: false);

    private static void ValidateKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key[0] == '/')
            throw new ArgumentException($"object key '{key}' is not allowed: keys are relative and '/'-separated", nameof(key));
    }

    private static AmazonS3Client CreateClient(S3StoreOptions options, string region, string? endpoint, PemClientTls? tls)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.PathStyle,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            // Retries happen in RunAsync, where they are bounded, logged and see the request timeout.
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = 0,
            ThrottleRetries = false,
            Timeout = options.RequestTimeout,
            ConnectTimeout = options.ConnectTimeout,
            // The KAFSCALE_S3_* settings are the contract; AWS_ENDPOINT_URL* must not redirect them.
            IgnoreConfiguredEndpointUrls = true,
        };
        if (tls is not null)
            config.HttpClientFactory = new PrivateCaHttpClientFactory(tls, options.ConnectTimeout);
        if (string.IsNullOrEmpty(endpoint))
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }
        else
        {
            config.ServiceURL = endpoint;
            config.AuthenticationRegion = region;
        }
        if (string.IsNullOrEmpty(options.AccessKey))
            return new AmazonS3Client(config);
        AWSCredentials credentials = string.IsNullOrEmpty(options.SessionToken)
            ? new BasicAWSCredentials(options.AccessKey, options.SecretKey ?? "")
            : new SessionAWSCredentials(options.AccessKey, options.SecretKey ?? "", options.SessionToken);
        return new AmazonS3Client(credentials, config);
    }

    private static string Describe(string? endpoint, string region) =>
        string.IsNullOrEmpty(endpoint) ? $"AWS S3 ({region})" : endpoint;
}
