using Google.Protobuf;
using Grpc.Core;
using KafScale.Common.Tls;
using EtcdPb = Etcdserverpb;

namespace KafScale.Metadata.Etcd;

/// <summary>
/// The metadata store on an etcd v3 cluster, through the gRPC clients generated from etcd's protos
/// (shipped in dotnet-etcd) on Grpc.Net.Client. Several endpoints with failover, etcd's
/// username/password auth, watches that resume from the last revision they delivered after a
/// reconnect, and one shared LeaseKeepAlive stream.
/// Reads are linearizable (etcd's default).
/// </summary>
public sealed partial class EtcdMetadataStore : IMetadataStore
{
    private readonly EtcdConnection _connection;
    private readonly EtcdMetadataStoreOptions _options;
    private readonly CancellationTokenSource _disposing = new();
    private readonly LeaseKeepAliveStream _keepAlive;
    private int _disposed;

    private EtcdMetadataStore(EtcdConnection connection, EtcdMetadataStoreOptions options)
    {
        _connection = connection;
        _options = options;
        _keepAlive = new LeaseKeepAliveStream(this);
    }

    public string Kind => "etcd";

    /// <summary>The endpoints, as given, for log lines.</summary>
    public string Endpoints => _connection.EndpointList;

    public static Task<EtcdMetadataStore> ConnectAsync(IReadOnlyList<string> endpoints, string? username, string? password, CancellationToken cancellationToken) =>
        ConnectAsync(endpoints, username, password, new EtcdMetadataStoreOptions(), cancellationToken);

    /// <summary>
    /// Connects (authenticating when a username is given) and checks that some endpoint answers.
    /// Endpoints are "host:port" or "http(s)://host:port"; an entry may hold several, comma-separated.
    /// </summary>
    public static async Task<EtcdMetadataStore> ConnectAsync(IReadOnlyList<string> endpoints, string? username, string? password,
        EtcdMetadataStoreOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(options);
        EtcdTlsOptions? tlsOptions = options.Tls is { IsSet: true } t ? t : null;
        Uri[] uris = ParseEndpoints(endpoints, tlsOptions is null ? Uri.UriSchemeHttp : Uri.UriSchemeHttps);
        PemClientTls? tls = null;
        if (tlsOptions is null && uris.Any(u => u.Scheme == Uri.UriSchemeHttps))
        {
            // https:// with the system's roots: still through PemClientTls, which says why a certificate was refused.
            tls = PemClientTls.Load(null, EtcdTlsOptions.CaSetting, null, EtcdTlsOptions.CertificateSetting, null, EtcdTlsOptions.KeySetting);
        }
        else if (tlsOptions is not null)
        {
            if (uris.FirstOrDefault(u => u.Scheme == Uri.UriSchemeHttp) is { } plain)
            {
                throw new MetadataStoreException(
                    $"the etcd endpoint {plain.GetLeftPart(UriPartial.Authority)} (--etcd-endpoints / KAFSCALE_ETCD_ENDPOINTS) is plain http but TLS to etcd is configured "
                    + $"({EtcdTlsOptions.CaSetting}, {EtcdTlsOptions.CertificateSetting}): write https://host:port, or host:port alone");
            }
            try
            {
                tls = PemClientTls.Load(tlsOptions.CaPath, EtcdTlsOptions.CaSetting, tlsOptions.CertificatePath, EtcdTlsOptions.CertificateSetting,
                    tlsOptions.KeyPath, EtcdTlsOptions.KeySetting);
            }
            catch (TlsSettingException ex)
            {
                throw new MetadataStoreException(ex.Message, ex);
            }
        }
        var connection = new EtcdConnection(uris, string.IsNullOrEmpty(username) ? null : username, password, options, tls);
        try
        {
            await connection.EnsureTokenAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var probe = new EtcdPb.RangeRequest { Key = EtcdKeys.Key("/kafscale"), CountOnly = true, Serializable = true };
                await connection.UnaryAsync((e, o) => e.Kv.RangeAsync(probe, o), repeatable: true, cancellationToken).ConfigureAwait(false);
            }
            catch (EtcdRpcException ex) when (ex.Status is StatusCode.Internal or StatusCode.Unknown)
            {
                // Not an answer from etcd but a call that broke on the way (etcd closing a TLS
                // connection that brought no client certificate can end so): etcd was not reached.
                throw connection.Unreachable(ex);
            }
            catch (EtcdRpcException ex) when (!ex.IsTokenProblem)
            {
                // Any answer from etcd shows it is there; permissions are judged call by call.
            }
            catch (EtcdRpcException ex)
            {
                throw MapError(ex, 0, connection.EndpointList, hasCredentials: username is not null);
            }
            return new EtcdMetadataStore(connection, options);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Endpoints without a scheme get defaultScheme: https when TLS to etcd is configured.</summary>
    internal static Uri[] ParseEndpoints(IReadOnlyList<string> endpoints, string defaultScheme = "http")
    {
        var result = new List<Uri>();
        foreach (string entry in endpoints)
        {
            foreach (string raw in (entry ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string text = raw.Contains("://", StringComparison.Ordinal) ? raw : defaultScheme + "://" + raw;
                if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
                    || string.IsNullOrEmpty(uri.Host))
                {
                    throw new ArgumentException(
                        $"'{raw}' is not an etcd endpoint: --etcd-endpoints / KAFSCALE_ETCD_ENDPOINTS takes host:port, http://host:port or https://host:port, comma-separated.",
                        nameof(endpoints));
                }
                result.Add(new Uri(uri.GetLeftPart(UriPartial.Authority)));
            }
        }
        if (result.Count == 0)
            throw new ArgumentException("No etcd endpoint given (--etcd-endpoints / KAFSCALE_ETCD_ENDPOINTS).", nameof(endpoints));
        return [.. result];
    }

    public async Task<KeyValue?> GetAsync(string key, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidateKey(key);
        var request = new EtcdPb.RangeRequest { Key = EtcdKeys.Key(key) };
        EtcdPb.RangeResponse response = await CallAsync((e, o) => e.Kv.RangeAsync(request, o), repeatable: true, 0, cancellationToken).ConfigureAwait(false);
        return response.Kvs.Count == 0 ? null : EtcdKeys.ToKeyValue(response.Kvs[0]);
    }

    public async Task<RangeResult> GetPrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidatePrefix(prefix);
        (ByteString key, ByteString end) = EtcdKeys.Prefix(prefix);
        var request = new EtcdPb.RangeRequest { Key = key, RangeEnd = end };
        EtcdPb.RangeResponse response = await CallAsync((e, o) => e.Kv.RangeAsync(request, o), repeatable: true, 0, cancellationToken).ConfigureAwait(false);
        return new RangeResult(EtcdKeys.ToKeyValues(response.Kvs), Revision(response.Header));
    }

    public async Task<long> PutAsync(string key, byte[] value, long lease, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidateKey(key);
        ArgumentNullException.ThrowIfNull(value);
        // Not copied: the call has sent it before it completes, and callers do not change a value they are writing.
        var request = new EtcdPb.PutRequest { Key = EtcdKeys.Key(key), Value = UnsafeByteOperations.UnsafeWrap(value), Lease = lease };
        EtcdPb.PutResponse response = await CallAsync((e, o) => e.Kv.PutAsync(request, o), repeatable: false, lease, cancellationToken).ConfigureAwait(false);
        return Revision(response.Header);
    }

    public async Task<long> DeleteAsync(string key, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidateKey(key);
        var request = new EtcdPb.DeleteRangeRequest { Key = EtcdKeys.Key(key) };
        EtcdPb.DeleteRangeResponse response = await CallAsync((e, o) => e.Kv.DeleteRangeAsync(request, o), repeatable: false, 0, cancellationToken).ConfigureAwait(false);
        return response.Deleted;
    }

    public async Task<long> DeletePrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        KeyEncoding.ValidatePrefix(prefix);
        (ByteString key, ByteString end) = EtcdKeys.Prefix(prefix);
        var request = new EtcdPb.DeleteRangeRequest { Key = key, RangeEnd = end };
        EtcdPb.DeleteRangeResponse response = await CallAsync((e, o) => e.Kv.DeleteRangeAsync(request, o), repeatable: false, 0, cancellationToken).ConfigureAwait(false);
        return response.Deleted;
    }

    public async Task<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        TxnValidation.ValidateShape(request);
        EtcdPb.TxnRequest txn = ToProto(request);
        bool readOnly = request.Success.Concat(request.Failure).All(op => op.Kind is TxnOpKind.Get or TxnOpKind.GetPrefix);
        long leaseHint = request.Success.Concat(request.Failure).FirstOrDefault(op => op.Lease != 0)?.Lease ?? 0;

        EtcdPb.TxnResponse response = await CallAsync((e, o) => e.Kv.TxnAsync(txn, o), readOnly, leaseHint, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<TxnOp> ops = response.Succeeded ? request.Success : request.Failure;
        var gets = new List<IReadOnlyList<KeyValue>>();
        for (int i = 0; i < ops.Count && i < response.Responses.Count; i++)
        {
            if (ops[i].Kind is TxnOpKind.Get or TxnOpKind.GetPrefix)
                gets.Add(response.Responses[i].ResponseRange is { } range ? EtcdKeys.ToKeyValues(range.Kvs) : []);
        }
        return new TxnResult(response.Succeeded, Revision(response.Header), gets);
    }

    internal static EtcdPb.TxnRequest ToProto(TxnRequest request)
    {
        var txn = new EtcdPb.TxnRequest();
        foreach (Compare compare in request.Compares) txn.Compare.Add(ToProto(compare));
        foreach (TxnOp op in request.Success) txn.Success.Add(ToProto(op));
        foreach (TxnOp op in request.Failure) txn.Failure.Add(ToProto(op));
        return txn;
    }

    internal static EtcdPb.Compare ToProto(Compare compare)
    {
        var result = new EtcdPb.Compare
        {
            Key = EtcdKeys.Key(compare.Key),
            Result = compare.Result switch
            {
                CompareResult.Equal => EtcdPb.Compare.Types.CompareResult.Equal,
                CompareResult.NotEqual => EtcdPb.Compare.Types.CompareResult.NotEqual,
                CompareResult.Greater => EtcdPb.Compare.Types.CompareResult.Greater,
                CompareResult.Less => EtcdPb.Compare.Types.CompareResult.Less,
                _ => throw new ArgumentOutOfRangeException(nameof(compare), compare.Result, "Unknown compare result."),
            },
        };
        switch (compare.Target)
        {
            case CompareTarget.Value:
                result.Target = EtcdPb.Compare.Types.CompareTarget.Value;
                result.Value = compare.Value is null ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(compare.Value);
                break;
            case CompareTarget.Version:
                result.Target = EtcdPb.Compare.Types.CompareTarget.Version;
                result.Version = compare.Number;
                break;
            case CompareTarget.CreateRevision:
                result.Target = EtcdPb.Compare.Types.CompareTarget.Create;
                result.CreateRevision = compare.Number;
                break;
            case CompareTarget.ModRevision:
                result.Target = EtcdPb.Compare.Types.CompareTarget.Mod;
                result.ModRevision = compare.Number;
                break;
            case CompareTarget.Lease:
                result.Target = EtcdPb.Compare.Types.CompareTarget.Lease;
                result.Lease = compare.Number;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(compare), compare.Target, "Unknown compare target.");
        }
        return result;
    }

    internal static EtcdPb.RequestOp ToProto(TxnOp op)
    {
        switch (op.Kind)
        {
            case TxnOpKind.Put:
                return new EtcdPb.RequestOp { RequestPut = new EtcdPb.PutRequest { Key = EtcdKeys.Key(op.Key), Value = UnsafeByteOperations.UnsafeWrap(op.Value!), Lease = op.Lease } };
            case TxnOpKind.Delete:
                return new EtcdPb.RequestOp { RequestDeleteRange = new EtcdPb.DeleteRangeRequest { Key = EtcdKeys.Key(op.Key) } };
            case TxnOpKind.DeletePrefix:
            {
                (ByteString key, ByteString end) = EtcdKeys.Prefix(op.Key);
                return new EtcdPb.RequestOp { RequestDeleteRange = new EtcdPb.DeleteRangeRequest { Key = key, RangeEnd = end } };
            }
            case TxnOpKind.Get:
                return new EtcdPb.RequestOp { RequestRange = new EtcdPb.RangeRequest { Key = EtcdKeys.Key(op.Key) } };
            case TxnOpKind.GetPrefix:
            {
                (ByteString key, ByteString end) = EtcdKeys.Prefix(op.Key);
                return new EtcdPb.RequestOp { RequestRange = new EtcdPb.RangeRequest { Key = key, RangeEnd = end } };
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(op), op.Kind, "Unknown txn op.");
        }
    }

    public async Task<long> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        // etcd counts whole seconds and raises a TTL below its minimum (about 2 s by default).
        long seconds = Math.Max(1, (long)Math.Ceiling(ttl.TotalSeconds));
        // A repeated grant at worst leaves an unused lease behind, which expires by itself.
        var request = new EtcdPb.LeaseGrantRequest { TTL = seconds };
        EtcdPb.LeaseGrantResponse response = await CallAsync((e, o) => e.Lease.LeaseGrantAsync(request, o), repeatable: true, 0, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(response.Error)) throw new MetadataStoreException($"etcd refused a lease: {response.Error}");
        return response.ID;
    }

    public Task<TimeSpan?> KeepAliveAsync(long leaseId, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _keepAlive.KeepAliveAsync(leaseId, cancellationToken);
    }

    /// <summary>Revokes the lease and deletes its keys; a lease that no longer exists is not an error.</summary>
    public async Task RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken)
    {
        try
        {
            var request = new EtcdPb.LeaseRevokeRequest { ID = leaseId };
            await CallAsync((e, o) => e.Lease.LeaseRevokeAsync(request, o), repeatable: true, leaseId, cancellationToken).ConfigureAwait(false);
        }
        catch (LeaseNotFoundException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _disposing.Cancel();
        await _keepAlive.DisposeAsync().ConfigureAwait(false);
        _connection.Dispose();
        // _disposing stays undisposed: running watches still read its token while they unwind.
    }

    private async Task<TResponse> CallAsync<TResponse>(Func<EtcdEndpoint, CallOptions, AsyncUnaryCall<TResponse>> start, bool repeatable, long leaseHint,
        CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        try
        {
            return await _connection.UnaryAsync(start, repeatable, linked.Token).ConfigureAwait(false);
        }
        catch (EtcdRpcException ex)
        {
            throw MapError(ex, leaseHint, _connection.EndpointList, _connection.HasCredentials);
        }
        catch (OperationCanceledException) when (_disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(EtcdMetadataStore));
        }
    }

    /// <summary>The store revision of a response; etcd puts a header on every one.</summary>
    internal static long Revision(EtcdPb.ResponseHeader? header) =>
        header?.Revision ?? throw new MetadataStoreException("etcd sent a response without a header (and so without a revision).");

    /// <summary>etcd's errors in the terms of IMetadataStore, with what to do about them.</summary>
    private static Exception MapError(EtcdRpcException ex, long leaseHint, string endpoints, bool hasCredentials)
    {
        string detail = ex.Detail.StartsWith("etcdserver: ", StringComparison.Ordinal) ? ex.Detail["etcdserver: ".Length..] : ex.Detail;
        if (ex.Status == StatusCode.NotFound && detail.Contains("lease not found", StringComparison.Ordinal))
            return new LeaseNotFoundException(leaseHint);
        if (ex.IsTokenProblem && !hasCredentials)
            return new MetadataStoreException($"etcd at {endpoints} requires authentication: give kafscale an etcd user name and password.", ex);
        return ex.Status switch
        {
            StatusCode.InvalidArgument => new ArgumentException($"etcd rejected the request: {detail}", ex),
            StatusCode.PermissionDenied => new MetadataStoreException(
                $"etcd denied the request ({detail}): grant kafscale's etcd user read and write on its keys.", ex),
            StatusCode.OutOfRange when detail.Contains("compacted", StringComparison.Ordinal) =>
                new MetadataStoreException($"etcd: {detail}", ex),
            StatusCode.Unavailable or StatusCode.DeadlineExceeded =>
                new MetadataStoreUnavailableException($"etcd at {ex.Endpoint} is unavailable: {detail}", ex),
            _ => new MetadataStoreException($"etcd at {ex.Endpoint} failed the request ({ex.Status}): {detail}", ex),
        };
    }
}
