using System.Net.Sockets;
using System.Security.Authentication;
using Etcdserverpb;
using Grpc.Core;
using Grpc.Net.Client;
using KafScale.Common.Tls;

namespace KafScale.Metadata.Etcd;

/// <summary>
/// One etcd endpoint: its own gRPC channel (HTTP/2 with prior knowledge for http://, TLS for
/// https://) and the clients generated from etcd's protos that dotnet-etcd ships.
/// </summary>
internal sealed class EtcdEndpoint : IDisposable
{
    public EtcdEndpoint(Uri uri, EtcdMetadataStoreOptions options, PemClientTls? tls)
    {
        Uri = uri;
        Authority = uri.GetLeftPart(UriPartial.Authority);
        // One handler per channel: Grpc.Net.Client hooks its own connection logic into it.
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.DialTimeout,
            // Pings find a dead server under an open watch or keep-alive stream.
            KeepAlivePingDelay = TimeSpan.FromSeconds(10),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            EnableMultipleHttp2Connections = true,
            // An HTTP proxy from the environment cannot carry h2c and must not capture etcd traffic.
            UseProxy = false,
        };
        // https:// endpoints: the CA of --etcd-tls-ca instead of the system's roots, and the client certificate for mTLS.
        if (tls is not null && uri.Scheme == Uri.UriSchemeHttps) tls.Apply(handler);
        Channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            // etcd's own limits decide how big a range or snapshot chunk is.
            MaxReceiveMessageSize = null,
            ThrowOperationCanceledOnCancellation = true,
            // A restarted etcd is tried again within the reconnect delay, not gRPC's default of up to 2 minutes.
            InitialReconnectBackoff = TimeSpan.FromMilliseconds(100),
            MaxReconnectBackoff = options.MaxReconnectDelay,
        });
        Kv = new KV.KVClient(Channel);
        Lease = new Lease.LeaseClient(Channel);
        Watch = new Watch.WatchClient(Channel);
        Maintenance = new Maintenance.MaintenanceClient(Channel);
        Auth = new Auth.AuthClient(Channel);
    }

    public Uri Uri { get; }

    /// <summary>scheme://host:port, for messages.</summary>
    public string Authority { get; }

    public GrpcChannel Channel { get; }
    public KV.KVClient Kv { get; }
    public Lease.LeaseClient Lease { get; }
    public Watch.WatchClient Watch { get; }
    public Maintenance.MaintenanceClient Maintenance { get; }
    public Auth.AuthClient Auth { get; }

    public void Dispose() => Channel.Dispose();
}

/// <summary>
/// The endpoints of one etcd cluster, the token of etcd's simple auth (sent in a "token" header),
/// and unary calls with failover.
/// <para>Retries: a call that never reached a server (connection refused, name not resolved)
/// moves on to the next endpoint whatever it is. A call that may have reached one (timeout,
/// connection lost, Unavailable) is retried elsewhere only when repeating it is harmless; a write
/// fails instead, since it may have been applied. gRPC's own retries stay off, so that these
/// rules (and the keep-alive timing, see EtcdMetadataStore.KeepAlive.cs) are the only ones.</para>
/// </summary>
internal sealed class EtcdConnection : IDisposable
{
    private readonly EtcdEndpoint[] _endpoints;
    private readonly string? _username;
    private readonly string? _password;
    private readonly PemClientTls? _tls;
    private readonly TimeSpan _requestTimeout;
    private readonly SemaphoreSlim _authLock = new(1, 1);
    private volatile string? _token;
    private int _preferred;

    public EtcdConnection(Uri[] endpoints, string? username, string? password, EtcdMetadataStoreOptions options, PemClientTls? tls = null)
    {
        _tls = tls;
        _endpoints = [.. endpoints.Select(uri => new EtcdEndpoint(uri, options, tls))];
        _username = username;
        _password = password;
        _requestTimeout = options.RequestTimeout;
    }

    public bool HasCredentials => _username is not null;

    public int EndpointCount => _endpoints.Length;

    public TimeSpan RequestTimeout => _requestTimeout;

    public string EndpointList => string.Join(", ", _endpoints.Select(e => e.Authority));

    /// <summary>The endpoint calls go to first: the last one that worked.</summary>
    public EtcdEndpoint Preferred => _endpoints[Volatile.Read(ref _preferred) % _endpoints.Length];

    /// <summary>Moves on from an endpoint that failed (unless another caller already did).</summary>
    public void ReportFailure(EtcdEndpoint endpoint)
    {
        int current = Volatile.Read(ref _preferred);
        if (ReferenceEquals(_endpoints[current % _endpoints.Length], endpoint))
            Interlocked.CompareExchange(ref _preferred, (current + 1) % _endpoints.Length, current);
    }

    public MetadataStoreUnavailableException Unreachable(Exception? last)
    {
        // A refusal remembered from an earlier handshake explains only a failure that was a TLS one.
        if (_tls?.LastRejection is { } why && Causes(last).Any(PemClientTls.IsTlsFailure))
        {
            return new($"etcd at {EndpointList} is not trusted: {why}. Set {EtcdTlsOptions.CaSetting} to the CA that signed etcd's certificate "
                + "(the CA of etcd's --cert-file).", last);
        }
        if (_endpoints.Any(e => e.Uri.Scheme == Uri.UriSchemeHttps) && BrokeAfterConnect(last))
        {
            string fix = _tls?.ClientCertificate is null
                ? $"if etcd requires client certificates (--client-cert-auth), set {EtcdTlsOptions.CertificateSetting} and {EtcdTlsOptions.KeySetting} to a certificate signed by etcd's --trusted-ca-file"
                : $"check that etcd's --trusted-ca-file signed the certificate of {EtcdTlsOptions.CertificateSetting}";
            return new($"the TLS connection to etcd at {EndpointList} failed ({Describe(last!)}); {fix}.", last);
        }
        return new($"etcd is unreachable at {EndpointList} (set with --etcd-endpoints / KAFSCALE_ETCD_ENDPOINTS)"
            + (last is null ? "." : $": {Describe(last)}"), last);
    }

    /// <summary>
    /// A TCP connection was made (no socket error) but TLS or HTTP/2 on it failed: how etcd
    /// refuses a client without a certificate it trusts (under TLS 1.3 it closes the connection
    /// after the handshake). Judged by exception types: a trimmed binary keeps no message text.
    /// </summary>
    private static bool BrokeAfterConnect(Exception? ex)
    {
        if (ex is null) return false;
        var causes = Causes(ex).ToList();
        if (causes.Any(e => e is SocketException or TimeoutException)) return false;
        return causes.Any(e => e is IOException or HttpRequestException or AuthenticationException or ObjectDisposedException);
    }

    /// <summary>An exception and its causes, including the transport failure gRPC keeps in its status.</summary>
    private static IEnumerable<Exception> Causes(Exception? ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is RpcException { Status.DebugException: { } debug })
            {
                foreach (Exception inner in Causes(debug)) yield return inner;
            }
        }
    }

    /// <summary>Options of a call without a deadline (streams), carrying the auth token.</summary>
    public static CallOptions StreamOptions(string? token, CancellationToken cancellationToken) =>
        new(Headers(token), deadline: null, cancellationToken);

    /// <summary>
    /// A unary call with failover. start begins the call at one endpoint with the options given
    /// (auth token, deadline, cancellation).
    /// </summary>
    public Task<TResponse> UnaryAsync<TResponse>(Func<EtcdEndpoint, CallOptions, AsyncUnaryCall<TResponse>> start, bool repeatable,
        CancellationToken cancellationToken) =>
        UnaryCoreAsync(start, repeatable, authenticate: true, cancellationToken);

    private async Task<TResponse> UnaryCoreAsync<TResponse>(Func<EtcdEndpoint, CallOptions, AsyncUnaryCall<TResponse>> start, bool repeatable,
        bool authenticate, CancellationToken cancellationToken)
    {
        Exception? last = null;
        bool reauthenticated = false;
        for (int attempt = 0; attempt < _endpoints.Length; attempt++)
        {
            EtcdEndpoint endpoint = Preferred;
            string? token = authenticate ? await EnsureTokenAsync(cancellationToken).ConfigureAwait(false) : null;
            Exception failure;
            try
            {
                var options = new CallOptions(Headers(token), DateTime.UtcNow + _requestTimeout, cancellationToken);
                using AsyncUnaryCall<TResponse> call = start(endpoint, options);
                return await call.ResponseAsync.ConfigureAwait(false);
            }
            catch (RpcException ex)
            {
                failure = EtcdRpcException.From(ex, endpoint.Authority);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                failure = ex;
            }

            if (authenticate && failure is EtcdRpcException { IsTokenProblem: true } && _username is not null && !reauthenticated)
            {
                // Simple tokens expire (etcd's --auth-token-ttl); a rejected request was not applied.
                InvalidateToken(token);
                reauthenticated = true;
                attempt--;
                continue;
            }
            if (IsNotSent(failure) || (repeatable && IsTransient(failure)) || Causes(failure).Any(PemClientTls.IsTlsFailure))
            {
                last = failure;
                ReportFailure(endpoint);
                continue;
            }
            if (IsTransient(failure))
            {
                ReportFailure(endpoint);
                throw new MetadataStoreUnavailableException(
                    $"etcd at {endpoint.Authority} failed during a write ({Describe(failure)}); "
                    + "the write may or may not have been applied.", failure);
            }
            throw failure;
        }
        throw Unreachable(last);
    }

    /// <summary>The auth token to send, authenticating first if needed; null without credentials.</summary>
    public async Task<string?> EnsureTokenAsync(CancellationToken cancellationToken)
    {
        if (_username is null) return null;
        string? token = _token;
        if (token is not null) return token;
        await _authLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_token is not null) return _token;
            var request = new AuthenticateRequest { Name = _username, Password = _password ?? "" };
            try
            {
                AuthenticateResponse response = await UnaryCoreAsync((endpoint, options) => endpoint.Auth.AuthenticateAsync(request, options),
                    repeatable: true, authenticate: false, cancellationToken).ConfigureAwait(false);
                _token = response.Token;
            }
            catch (EtcdRpcException ex) when (ex.Detail.Contains("authentication is not enabled", StringComparison.Ordinal))
            {
                _token = ""; // credentials were given but etcd does not check them: carry on without a token
            }
            catch (EtcdRpcException ex) when (ex.Detail.Contains("authentication failed", StringComparison.Ordinal))
            {
                throw new MetadataStoreException(
                    $"etcd at {EndpointList} rejected user '{_username}': wrong user name or password "
                    + "(set with --etcd-username / KAFSCALE_ETCD_USERNAME and --etcd-password / KAFSCALE_ETCD_PASSWORD).", ex);
            }
            return _token;
        }
        finally
        {
            _authLock.Release();
        }
    }

    public void InvalidateToken(string? token)
    {
        if (token is not null && _token == token) _token = null;
    }

    private static Grpc.Core.Metadata? Headers(string? token) =>
        string.IsNullOrEmpty(token) ? null : new Grpc.Core.Metadata { { "token", token } };

    /// <summary>The call never left this process: safe to send anywhere else.</summary>
    internal static bool IsNotSent(Exception ex) => ex switch
    {
        EtcdRpcException rpc => rpc.NeverSent,
        HttpRequestException http => IsConnectFailure(http),
        _ => false,
    };

    /// <summary>The server or the path to it failed; another endpoint, or the same one later, may do.</summary>
    internal static bool IsTransient(Exception ex) =>
        ex is HttpRequestException or IOException or TimeoutException
        || ex is EtcdRpcException { Status: StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Aborted }
        || (ex is EtcdRpcException rpc && rpc.Detail.Contains("leader changed", StringComparison.Ordinal));

    internal static bool IsConnectFailure(HttpRequestException ex) =>
        ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError;

    internal static string Describe(Exception ex)
    {
        var parts = new List<string>();
        for (Exception? e = ex; e is not null && parts.Count < 3; e = e.InnerException)
        {
            if (parts.Count == 0 || !parts[^1].Contains(e.Message, StringComparison.Ordinal)) parts.Add(e.Message);
        }
        return string.Join(": ", parts);
    }

    public void Dispose()
    {
        foreach (EtcdEndpoint endpoint in _endpoints) endpoint.Dispose();
        _authLock.Dispose();
    }
}

/// <summary>An etcd call that ended with a non-OK gRPC status, with the endpoint that answered it.</summary>
internal sealed class EtcdRpcException : Exception
{
    private EtcdRpcException(StatusCode status, string detail, string endpoint, bool neverSent, Exception inner)
        : base($"etcd at {endpoint} answered {status}: {detail}", inner)
    {
        Status = status;
        Detail = detail;
        Endpoint = endpoint;
        NeverSent = neverSent;
    }

    public StatusCode Status { get; }

    /// <summary>etcd's own message, such as "etcdserver: requested lease not found".</summary>
    public string Detail { get; }

    public string Endpoint { get; }

    /// <summary>Unavailable because no connection could be made: the request never went out.</summary>
    public bool NeverSent { get; }

    /// <summary>The simple auth token expired or was never given where one is needed.</summary>
    public bool IsTokenProblem =>
        Status == StatusCode.Unauthenticated
        || Detail.Contains("invalid auth token", StringComparison.Ordinal)
        || Detail.Contains("user name is empty", StringComparison.Ordinal);

    public static EtcdRpcException From(RpcException ex, string endpoint)
    {
        // Grpc.Net.Client reports its own transport failures as Unavailable with the cause in DebugException.
        string detail = ex.Status.Detail;
        if (ex.Status.DebugException is { } cause && ex.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown)
            detail = $"{detail} ({EtcdConnection.Describe(cause)})";
        return new EtcdRpcException(ex.StatusCode, detail, endpoint, ex.StatusCode == StatusCode.Unavailable && ConnectFailed(ex.Status.DebugException), ex);
    }

    /// <summary>The cause is a failure to connect, not a connection that broke during the call.</summary>
    private static bool ConnectFailed(Exception? cause)
    {
        for (Exception? e = cause; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case HttpRequestException http:
                    return EtcdConnection.IsConnectFailure(http);
                case SocketException:
                    return true;
                case IOException:
                    return false;
            }
        }
        return false;
    }
}
