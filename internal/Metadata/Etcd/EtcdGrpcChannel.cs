using System.Net;
using System.Net.Http.Headers;
using Pb = KafScale.Metadata.Etcd.Protocol;

namespace KafScale.Metadata.Etcd;

/// <summary>
/// gRPC to etcd on HttpClient: HTTP/2 with prior knowledge (h2c) or over TLS, the token of
/// etcd's simple auth in a "token" header, several endpoints with failover.
/// <para>Retries: a call that never reached a server (connection refused, name not resolved)
/// moves on to the next endpoint whatever it is. A call that may have reached one (timeout,
/// connection lost, Unavailable) is retried elsewhere only when repeating it is harmless; a write
/// fails instead, since it may have been applied.</para>
/// </summary>
internal sealed class EtcdGrpcChannel : IDisposable
{
    public static readonly MediaTypeHeaderValue GrpcContentType = new("application/grpc");

    private readonly HttpClient _http;
    private readonly Uri[] _endpoints;
    private readonly string? _username;
    private readonly string? _password;
    private readonly TimeSpan _requestTimeout;
    private readonly SemaphoreSlim _authLock = new(1, 1);
    private volatile string? _token;
    private int _preferred;

    public EtcdGrpcChannel(Uri[] endpoints, string? username, string? password, EtcdMetadataStoreOptions options)
    {
        _endpoints = endpoints;
        _username = username;
        _password = password;
        _requestTimeout = options.RequestTimeout;
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
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public bool HasCredentials => _username is not null;

    public int EndpointCount => _endpoints.Length;

    public TimeSpan RequestTimeout => _requestTimeout;

    public string EndpointList => string.Join(", ", _endpoints.Select(e => e.GetLeftPart(UriPartial.Authority)));

    /// <summary>The endpoint calls go to first: the last one that worked.</summary>
    public Uri Preferred => _endpoints[Volatile.Read(ref _preferred) % _endpoints.Length];

    /// <summary>Moves on from an endpoint that failed (unless another caller already did).</summary>
    public void ReportFailure(Uri endpoint)
    {
        int current = Volatile.Read(ref _preferred);
        if (_endpoints[current % _endpoints.Length] == endpoint)
            Interlocked.CompareExchange(ref _preferred, (current + 1) % _endpoints.Length, current);
    }

    public MetadataStoreUnavailableException Unreachable(Exception? last) =>
        new($"etcd is unreachable at {EndpointList} (set with --etcd-endpoints / KAFSCALE_ETCD_ENDPOINTS)"
            + (last is null ? "." : $": {Describe(last)}"), last);

    public Task<TResponse> UnaryAsync<TResponse>(string method, Pb.IProtoMessage request, bool repeatable, CancellationToken cancellationToken)
        where TResponse : Pb.IProtoMessage, new() =>
        UnaryCoreAsync<TResponse>(method, GrpcFraming.Frame(request), repeatable, authenticate: true, cancellationToken);

    private async Task<TResponse> UnaryCoreAsync<TResponse>(string method, byte[] frame, bool repeatable, bool authenticate,
        CancellationToken cancellationToken)
        where TResponse : Pb.IProtoMessage, new()
    {
        Exception? last = null;
        bool reauthenticated = false;
        for (int attempt = 0; attempt < _endpoints.Length; attempt++)
        {
            Uri endpoint = Preferred;
            string? token = authenticate ? await EnsureTokenAsync(cancellationToken).ConfigureAwait(false) : null;
            try
            {
                return await SendUnaryAsync<TResponse>(endpoint, method, frame, token, cancellationToken).ConfigureAwait(false);
            }
            catch (EtcdRpcException ex) when (authenticate && ex.IsTokenProblem && _username is not null && !reauthenticated)
            {
                // Simple tokens expire (etcd's --auth-token-ttl); a rejected request was not applied.
                InvalidateToken(token);
                reauthenticated = true;
                attempt--;
            }
            catch (Exception ex) when (IsNotSent(ex) || (repeatable && IsTransient(ex)))
            {
                last = ex;
                ReportFailure(endpoint);
            }
            catch (Exception ex) when (IsTransient(ex))
            {
                ReportFailure(endpoint);
                throw new MetadataStoreUnavailableException(
                    $"etcd at {endpoint.GetLeftPart(UriPartial.Authority)} failed during a write ({Describe(ex)}); "
                    + "the write may or may not have been applied.", ex);
            }
        }
        throw Unreachable(last);
    }

    private async Task<TResponse> SendUnaryAsync<TResponse>(Uri endpoint, string method, byte[] frame, string? token,
        CancellationToken cancellationToken)
        where TResponse : Pb.IProtoMessage, new()
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(_requestTimeout);
        string authority = endpoint.GetLeftPart(UriPartial.Authority);
        try
        {
            var content = new ByteArrayContent(frame);
            content.Headers.ContentType = GrpcContentType;
            using HttpRequestMessage request = NewRequest(endpoint, method, token, _requestTimeout);
            request.Content = content;
            using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token).ConfigureAwait(false);
            EnsureGrpcResponse(response, authority);
            var reader = new GrpcFrameReader(await response.Content.ReadAsStreamAsync(attempt.Token).ConfigureAwait(false));
            byte[]? message = await reader.ReadMessageAsync(attempt.Token).ConfigureAwait(false);
            while (await reader.ReadMessageAsync(attempt.Token).ConfigureAwait(false) is not null)
            {
                // A unary response has one message; the loop only reaches the trailers.
            }
            ThrowIfNotOk(response, authority);
            if (message is null) throw new IOException($"etcd at {authority} answered OK without a message.");
            return Pb.ProtoMessage.Parse<TResponse>(message);
        }
        catch (OperationCanceledException) when (attempt.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"etcd at {authority} did not answer {method} within {_requestTimeout.TotalSeconds:0.#} s.");
        }
    }

    /// <summary>
    /// A server-streaming call: one request, then every message the server sends, handed to
    /// onMessage in order, until it ends the stream with OK. No deadline for the whole call (a
    /// large stream takes as long as it takes); each message must arrive within the request
    /// timeout of the previous one. Moves to the next endpoint only if the call never left this
    /// process.
    /// </summary>
    public async Task ServerStreamAsync(string method, Pb.IProtoMessage request, Func<byte[], CancellationToken, ValueTask> onMessage,
        CancellationToken cancellationToken)
    {
        byte[] frame = GrpcFraming.Frame(request);
        Exception? last = null;
        for (int attempt = 0; attempt < _endpoints.Length; attempt++)
        {
            Uri endpoint = Preferred;
            string authority = endpoint.GetLeftPart(UriPartial.Authority);
            string? token = await EnsureTokenAsync(cancellationToken).ConfigureAwait(false);
            HttpResponseMessage response;
            var content = new ByteArrayContent(frame);
            content.Headers.ContentType = GrpcContentType;
            using HttpRequestMessage message = NewRequest(endpoint, method, token, timeout: null);
            message.Content = content;
            using (var headers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                headers.CancelAfter(_requestTimeout);
                try
                {
                    response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (IsNotSent(ex))
                {
                    last = ex;
                    ReportFailure(endpoint);
                    continue;
                }
                catch (OperationCanceledException) when (headers.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"etcd at {authority} did not answer {method} within {_requestTimeout.TotalSeconds:0.#} s.");
                }
            }
            using (response)
            {
                EnsureGrpcResponse(response, authority);
                var reader = new GrpcFrameReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
                while (true)
                {
                    byte[]? next;
                    using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                    {
                        idle.CancelAfter(_requestTimeout);
                        try
                        {
                            next = await reader.ReadMessageAsync(idle.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                        {
                            throw new TimeoutException($"etcd at {authority} stopped sending {method} for {_requestTimeout.TotalSeconds:0.#} s.");
                        }
                    }
                    if (next is null) break;
                    await onMessage(next, cancellationToken).ConfigureAwait(false);
                }
                ThrowIfNotOk(response, authority);
                return;
            }
        }
        throw Unreachable(last);
    }

    public GrpcDuplexCall StartDuplex(Uri endpoint, string method, string? token, CancellationToken cancellationToken)
    {
        HttpRequestMessage request = NewRequest(endpoint, method, token, timeout: null);
        return GrpcDuplexCall.Start(_http, request, endpoint.GetLeftPart(UriPartial.Authority), cancellationToken);
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
            var request = new Pb.AuthenticateRequest { Name = _username, Password = _password ?? "" };
            try
            {
                Pb.AuthenticateResponse response = await UnaryCoreAsync<Pb.AuthenticateResponse>("/etcdserverpb.Auth/Authenticate",
                    GrpcFraming.Frame(request), repeatable: true, authenticate: false, cancellationToken).ConfigureAwait(false);
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

    private static HttpRequestMessage NewRequest(Uri endpoint, string method, string? token, TimeSpan? timeout)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, method))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        if (timeout is { } t) request.Headers.TryAddWithoutValidation("grpc-timeout", $"{(long)t.TotalMilliseconds}m");
        if (!string.IsNullOrEmpty(token)) request.Headers.TryAddWithoutValidation("token", token);
        return request;
    }

    internal static void EnsureGrpcResponse(HttpResponseMessage response, string endpoint)
    {
        if (response.StatusCode != HttpStatusCode.OK)
            throw new IOException($"{endpoint} answered HTTP {(int)response.StatusCode} to a gRPC call: it is not an etcd v3 client URL.");
        string? mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is null || !mediaType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
        {
            // A trailers-only error response may come without a body type; its status says more.
            if (GrpcStatus.Read(response.Headers, null) is null)
                throw new IOException($"{endpoint} answered with content type '{mediaType}', not gRPC: it is not an etcd v3 client URL.");
        }
        if (GrpcStatus.Read(response.Headers, null) is { } status && status.Code != GrpcStatusCode.Ok)
            throw new EtcdRpcException(status.Code, status.Message, endpoint);
    }

    internal static void ThrowIfNotOk(HttpResponseMessage response, string endpoint)
    {
        var status = GrpcStatus.Read(response.Headers, response.TrailingHeaders)
            ?? throw new IOException($"etcd at {endpoint} ended a call without a gRPC status (connection cut?).");
        if (status.Code != GrpcStatusCode.Ok) throw new EtcdRpcException(status.Code, status.Message, endpoint);
    }

    /// <summary>The call never left this process: safe to send anywhere else.</summary>
    internal static bool IsNotSent(Exception ex) =>
        ex is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError };

    /// <summary>The server or the path to it failed; another endpoint, or the same one later, may do.</summary>
    internal static bool IsTransient(Exception ex) =>
        ex is HttpRequestException or IOException or TimeoutException
        || ex is EtcdRpcException { Status: GrpcStatusCode.Unavailable or GrpcStatusCode.DeadlineExceeded or GrpcStatusCode.Aborted }
        || (ex is EtcdRpcException rpc && rpc.Detail.Contains("leader changed", StringComparison.Ordinal));

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
        _http.Dispose();
        _authLock.Dispose();
    }
}
