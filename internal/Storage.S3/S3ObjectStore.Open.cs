using System.Net;
using Amazon.S3;
using Amazon.S3.Model;
using KafScale.Common.Tls;
using Microsoft.Extensions.Logging;

namespace KafScale.Storage.S3;

public sealed partial class S3ObjectStore
{
    /// <summary>Startup probes are written under this prefix, outside any namespace, and deleted at once.</summary>
    public const string ProbeKeyPrefix = "_kafscale/probe/";

    private const string BucketSetting = "--s3-bucket / KAFSCALE_S3_BUCKET";
    private const string EndpointSetting = "--s3-endpoint / KAFSCALE_S3_ENDPOINT";
    private const string RegionSetting = "--s3-region / KAFSCALE_S3_REGION";
    private const string TlsCaSetting = "--s3-tls-ca / KAFSCALE_S3_TLS_CA";
    private const string CredentialSettings = "KAFSCALE_S3_ACCESS_KEY / KAFSCALE_S3_SECRET_KEY (and KAFSCALE_S3_SESSION_TOKEN), else the AWS default credential chain";

    /// <summary>
    /// Connects and checks the store before the broker relies on it: the bucket exists (it is
    /// created when <see cref="S3StoreOptions.CreateBucketIfMissing"/> allows), the read replica's
    /// bucket exists, and a probe object can be written. Then detects whether the store honours
    /// <c>If-None-Match: *</c> by creating the same probe key twice: when the second create also
    /// succeeds the store ignores the header, <see cref="SupportsConditionalCreate"/> is false,
    /// and a warning says that fencing falls back to leases alone. Every problem an operator
    /// must fix comes out as one <see cref="S3StoreStartupException"/> naming the setting.
    /// </summary>
    public static async Task<S3ObjectStore> OpenAsync(S3StoreOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        Validate(options);
        PemClientTls? tls = null;
        if (options.TlsCaPath is not null)
        {
            try { tls = PemClientTls.Load(options.TlsCaPath, TlsCaSetting, null, "", null, ""); }
            catch (TlsSettingException ex) { throw new S3StoreStartupException(ex.Message, ex); }
        }
        var store = new S3ObjectStore(options, logger, tls);
        try
        {
            await store.EnsureBucketAsync(cancellationToken).ConfigureAwait(false);
            if (store._replica is not null)
                await store.CheckReadBucketAsync(cancellationToken).ConfigureAwait(false);
            store.SupportsConditionalCreate = await store.ProbeConditionalCreateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        if (!store.SupportsConditionalCreate)
        {
            logger.LogWarning("the S3 store at {Endpoint} (bucket '{Bucket}') ignores If-None-Match: a second create-if-absent of the same key succeeded. "
                + "Conditional create is unavailable, so segment fencing falls back to leases alone: a deposed leader's delayed upload could overwrite "
                + "a segment of its successor, and creates use a racy HEAD-then-PUT. Use a store that honours conditional writes (AWS S3, MinIO, R2) "
                + "for storage-level fencing.", store.EndpointDescription, options.Bucket);
        }
        logger.LogInformation("S3 object store: bucket '{Bucket}' at {Endpoint}, conditional create {ConditionalCreate}{Replica}",
            options.Bucket, store.EndpointDescription, store.SupportsConditionalCreate ? "honoured" : "NOT honoured",
            store._replica is null ? "" : $", reads from bucket '{options.ReadBucket}' at {store.ReadEndpointDescription} first");
        return store;
    }

    private static void Validate(S3StoreOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Bucket))
            throw new S3StoreStartupException($"no S3 bucket is configured: set {BucketSetting}");
        CheckEndpoint(options.Endpoint, EndpointSetting);
        CheckEndpoint(options.ReadEndpoint, "KAFSCALE_S3_READ_ENDPOINT");
        if (string.IsNullOrWhiteSpace(options.Region))
            throw new S3StoreStartupException($"no S3 region is configured: set {RegionSetting} (any value, such as us-east-1, for most S3-compatible stores)");
        if (!string.IsNullOrEmpty(options.AccessKey) && string.IsNullOrEmpty(options.SecretKey))
            throw new S3StoreStartupException("KAFSCALE_S3_ACCESS_KEY is set but KAFSCALE_S3_SECRET_KEY is not: set both, or neither to use the AWS default credential chain");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MultipartThresholdBytes, 1, nameof(options.MultipartThresholdBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PartSizeBytes, 1, nameof(options.PartSizeBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.PartSizeBytes, 5L * 1024 * 1024 * 1024, nameof(options.PartSizeBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ListMaxKeys, 1, nameof(options.ListMaxKeys));
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxRetries, nameof(options.MaxRetries));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.RequestTimeout, TimeSpan.Zero, nameof(options.RequestTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.ConnectTimeout, TimeSpan.Zero, nameof(options.ConnectTimeout));
    }

    private static void CheckEndpoint(string? endpoint, string setting)
    {
        if (string.IsNullOrEmpty(endpoint))
            return;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new S3StoreStartupException($"the S3 endpoint '{endpoint}' ({setting}) is not an http:// or https:// URL, such as http://127.0.0.1:9000");
    }

    private async Task EnsureBucketAsync(CancellationToken cancellationToken)
    {
        string bucket = _options.Bucket;
        try
        {
            await RunAsync("HeadBucket", bucket, null,
                token => _primary.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, token), cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (S3StoreException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            if (!_options.CreateBucketIfMissing)
            {
                throw new S3StoreStartupException($"the S3 bucket '{bucket}' does not exist at {EndpointDescription} ({BucketSetting}, {EndpointSetting}). "
                    + $"Create the bucket, or set {BucketSetting} to an existing bucket.", e);
            }
        }
        catch (S3StoreException e)
        {
            throw StartupProblem(e, bucket, EndpointDescription, BucketSetting, EndpointSetting);
        }

        try
        {
            await RunAsync("CreateBucket", bucket, null, async token =>
            {
                try
                {
                    await _primary.PutBucketAsync(new PutBucketRequest { BucketName = bucket, UseClientRegion = true }, token).ConfigureAwait(false);
                }
                catch (AmazonS3Exception e) when (e.ErrorCode == "BucketAlreadyOwnedByYou")
                {
                    // Another broker created it between our HEAD and PUT.
                }
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (S3StoreException e) when (e.ErrorCode == "BucketAlreadyExists")
        {
            throw new S3StoreStartupException($"the S3 bucket name '{bucket}' is taken by another account at {EndpointDescription}: choose another name with {BucketSetting}", e);
        }
        catch (S3StoreException e)
        {
            throw new S3StoreStartupException($"the S3 bucket '{bucket}' does not exist at {EndpointDescription} and creating it failed: {e.Message}. "
                + $"Create it yourself, or give the credentials ({CredentialSettings}) permission to create buckets.", e);
        }
        _log.LogInformation("created the S3 bucket '{Bucket}' at {Endpoint}", bucket, EndpointDescription);
    }

    private async Task CheckReadBucketAsync(CancellationToken cancellationToken)
    {
        const string ReadBucketSetting = "KAFSCALE_S3_READ_BUCKET";
        const string ReadEndpointSetting = "KAFSCALE_S3_READ_ENDPOINT / KAFSCALE_S3_READ_REGION";
        string bucket = _replicaBucket!;
        try
        {
            await RunAsync("HeadBucket", bucket, null,
                token => _replica!.HeadBucketAsync(new HeadBucketRequest { BucketName = bucket }, token), cancellationToken).ConfigureAwait(false);
        }
        catch (S3StoreException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            throw new S3StoreStartupException($"the read-replica S3 bucket '{bucket}' does not exist at {ReadEndpointDescription} ({ReadBucketSetting}). "
                + $"Create or replicate it, or unset {ReadBucketSetting} to read from the primary bucket only.", e);
        }
        catch (S3StoreException e)
        {
            throw StartupProblem(e, bucket, ReadEndpointDescription!, ReadBucketSetting, ReadEndpointSetting);
        }
    }

    /// <summary>Writes a probe twice with If-None-Match: true when the second write is refused.</summary>
    private async Task<bool> ProbeConditionalCreateAsync(CancellationToken cancellationToken)
    {
        string key = ProbeKeyPrefix + Guid.NewGuid().ToString("N");
        ReadOnlyMemory<byte> probe = "kafscale startup probe: safe to delete\n"u8.ToArray();
        bool honoured;
        try
        {
            // A first create that reports "taken" can only be our own attempt whose answer was
            // lost (the key is random), which already shows the store honours the header.
            bool first = await ConditionalCreateAsync(key, probe, cancellationToken).ConfigureAwait(false);
            bool second = await ConditionalCreateAsync(key, probe, cancellationToken).ConfigureAwait(false);
            honoured = !second;
            _log.LogDebug("conditional-create probe '{Key}': first create {First}, second create {Second}", key, first, second);
        }
        catch (S3StoreException e) when (e.StatusCode is HttpStatusCode.NotImplemented or HttpStatusCode.BadRequest)
        {
            // Stores that reject the header outright: plain PUTs still work.
            _log.LogDebug("the store rejected If-None-Match ({Reason}); probing with a plain PUT", e.Message);
            honoured = false;
            try
            {
                await PutAsync(key, probe, cancellationToken).ConfigureAwait(false);
            }
            catch (S3StoreException put)
            {
                throw CannotWrite(put);
            }
        }
        catch (S3StoreException e)
        {
            throw CannotWrite(e);
        }

        try
        {
            await DeleteAsync(key, cancellationToken).ConfigureAwait(false);
        }
        catch (S3StoreException e)
        {
            _log.LogWarning("could not delete the startup probe '{Key}' from bucket '{Bucket}' ({Reason}); retention will fail the same way unless the credentials may delete objects",
                key, _options.Bucket, e.Message);
        }
        return honoured;
    }

    private S3StoreStartupException CannotWrite(S3StoreException e) =>
        e.StatusCode == HttpStatusCode.Forbidden
            ? new S3StoreStartupException($"the credentials may read but not write the S3 bucket '{_options.Bucket}' at {EndpointDescription}: {e.Message}. "
                + $"Grant them s3:PutObject and s3:DeleteObject on the bucket ({CredentialSettings}).", e)
            : StartupProblem(e, _options.Bucket, EndpointDescription, BucketSetting, EndpointSetting);

    /// <summary>The one line an operator reads: what failed, where, which setting to look at.</summary>
    private S3StoreStartupException StartupProblem(S3StoreException e, string bucket, string endpoint, string bucketSetting, string endpointSetting)
    {
        if (PemClientTls.IsTlsFailure(e))
        {
            string why = _tls?.LastRejection ?? S3Failure.RootMessage(e);
            string fix = _tls is null
                ? $"If the endpoint's certificate comes from a private CA, set {TlsCaSetting} to a PEM file of that CA"
                : $"Set {TlsCaSetting} to the CA bundle that signed the endpoint's certificate";
            return new S3StoreStartupException($"the TLS handshake with the S3 endpoint {endpoint} ({endpointSetting}) failed: {why}. {fix}.", e);
        }
        if (e.StatusCode is null && e.IsTransient)
        {
            return new S3StoreStartupException($"cannot reach the S3 endpoint {endpoint} ({endpointSetting}): {S3Failure.RootMessage(e)}. "
                + $"Start the S3 server or correct {endpointSetting}.", e);
        }
        return e.StatusCode switch
        {
            HttpStatusCode.Forbidden => new S3StoreStartupException($"access to the S3 bucket '{bucket}' at {endpoint} was denied ({bucketSetting}): {e.Message}. "
                + $"Check the credentials ({CredentialSettings}) and that they may read and write the bucket.", e),
            HttpStatusCode.MovedPermanently or HttpStatusCode.Redirect or HttpStatusCode.TemporaryRedirect => new S3StoreStartupException(
                $"the S3 bucket '{bucket}' is not in the configured region at {endpoint}: {e.Message}. Set {RegionSetting} to the bucket's region.", e),
            null => new S3StoreStartupException($"cannot use the S3 bucket '{bucket}' at {endpoint} ({bucketSetting}): {S3Failure.RootMessage(e)}. "
                + $"Check the credentials ({CredentialSettings}) and {endpointSetting}.", e),
            _ => new S3StoreStartupException($"cannot use the S3 bucket '{bucket}' at {endpoint} ({bucketSetting}, {endpointSetting}): {e.Message}", e),
        };
    }
}
