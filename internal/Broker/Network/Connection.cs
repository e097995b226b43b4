using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;
using KafScale.Broker.Quotas;
using KafScale.Broker.Security;
using KafScale.Protocol;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Network;

/// <summary>
/// One client connection. Requests are read and started in arrival order (so appends to a
/// partition keep the client's order) and may run concurrently; responses are written strictly
/// in request order, as Kafka clients require.
/// </summary>
internal sealed class Connection
{
    /// <summary>
    /// Requests read but not yet answered, per connection. A produce waits for the next WAL
    /// object (the flush interval), and librdkafka sends one partition per ProduceRequest with a
    /// deep pipeline, so a connection must hold many: at 64, a client writing dozens of partitions
    /// was held to 64 requests per flush interval and built a backlog of seconds.
    /// </summary>
    private const int MaxInFlight = 1024;

    /// <summary>Bytes of the requests in flight on one connection (at least one request is always read): bounds memory per client.</summary>
    private const long MaxInFlightBytes = 64L * 1024 * 1024;

    private long _inFlightBytes;
    private TaskCompletionSource? _bytesFreed;

    /// <summary>The largest frame read before SASL authentication completes.</summary>
    private const int MaxUnauthenticatedFrameBytes = 512 * 1024;

    /// <summary>A client that has not finished its TLS handshake by then is dropped.</summary>
    internal static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly RequestDispatcher _dispatcher;
    private readonly int _maxFrameBytes;
    private readonly ILogger _log;
    private readonly Channel<InFlight> _inFlight = Channel.CreateBounded<InFlight>(new BoundedChannelOptions(MaxInFlight) { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _closing = new();
    private Task _run = Task.CompletedTask;

    /// <summary>A request read and its answer to come; Last: the connection closes once it is written (a failed authentication).</summary>
    private readonly record struct InFlight(ValueTask<ResponseFrame?> Response, byte[] Request, int Length, bool Last);

    private readonly ListenerRuntime _listener;

    public Connection(Socket socket, RequestDispatcher dispatcher, int maxFrameBytes, ILogger log, ListenerRuntime? listener = null)
    {
        _socket = socket;
        _dispatcher = dispatcher;
        _maxFrameBytes = maxFrameBytes;
        _log = log;
        _listener = listener ?? ListenerRuntime.Plaintext;
        Remote = socket.RemoteEndPoint?.ToString() ?? "?";
        Context = new ClientContext(Remote) { Listener = _listener.Config.Name, SaslRequired = _listener.Config.UsesSasl };
    }

    public string Remote { get; }
    public ClientContext Context { get; }

    public Task RunAsync(CancellationToken serverStopping)
    {
        _run = RunCoreAsync(serverStopping);
        return _run;
    }

    private async Task RunCoreAsync(CancellationToken serverStopping)
    {
        await using var network = new NetworkStream(_socket, ownsSocket: true);
        Stream stream = network;
        SslStream? tls = null;
        if (_listener.Tls is { } certificates)
        {
            tls = await HandshakeAsync(network, certificates, serverStopping).ConfigureAwait(false);
            if (tls is null) return;
            stream = tls;
        }
        await using var tlsScope = tls;
        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024));
        var writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(minimumBufferSize: 64 * 1024));
        _dispatcher.Metrics.ConnectionsOpened();
        var writeLoop = WriteLoopAsync(writer);
        try
        {
            await ReadLoopAsync(reader).ConfigureAwait(false);
        }
        finally
        {
            _inFlight.Writer.TryComplete();
            try { await writeLoop.ConfigureAwait(false); } catch { }
            await reader.CompleteAsync().ConfigureAwait(false);
            await writer.CompleteAsync().ConfigureAwait(false);
            _dispatcher.Metrics.ConnectionsClosed();
        }
    }

    /// <summary>Where the peek before a TLS handshake lands (its byte is read again by the handshake; shared, never read).</summary>
    private static readonly byte[] PeekByte = new byte[1];

    /// <summary>
    /// The TLS handshake, bounded by <see cref="HandshakeTimeout"/>. A failure (a plaintext client
    /// on a TLS port, an untrusted client certificate) is one log line and a closed connection.
    /// A client certificate names the connection's principal (User:&lt;subject CN&gt;).
    /// </summary>
    private async Task<SslStream?> HandshakeAsync(NetworkStream network, TlsCertificates certificates, CancellationToken serverStopping)
    {
        var tls = new SslStream(network, leaveInnerStreamOpen: true);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(serverStopping, _closing.Token);
        timeout.CancelAfter(HandshakeTimeout);
        try
        {
            // A connection closed before it sent a byte (a peer broker's liveness check, a load
            // balancer's TCP check) is not a failed handshake: no log line, no metric.
            if (await network.Socket.ReceiveAsync(PeekByte, SocketFlags.Peek, timeout.Token).ConfigureAwait(false) == 0)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                return null;
            }
            await tls.AuthenticateAsServerAsync(certificates.Current(), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            string why = ex is OperationCanceledException ? $"no handshake within {HandshakeTimeout.TotalSeconds:0} s" : ex.Message;
            _log.LogInformation("TLS handshake with {Remote} on listener {Listener} failed: {Error} (a plaintext client on a TLS port, or a client certificate not signed by --tls-ca, look like this)",
                Remote, _listener.Config.Name, why);
            _dispatcher.Metrics.TlsHandshakeFailed(_listener.Config.Name);
            return null;
        }
        if (TlsCertificates.PrincipalOf(tls.RemoteCertificate) is { } principal)
        {
            Context.Principal = principal;
            _log.LogDebug("TLS connection from {Remote} on listener {Listener} with a client certificate: principal {Principal}", Remote, _listener.Config.Name, principal);
        }
        return tls;
    }

    private async Task ReadLoopAsync(PipeReader reader)
    {
        var ct = _closing.Token;
        while (true)
        {
            ReadResult result;
            try { result = await reader.ReadAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (IOException) { return; }
            var buffer = result.Buffer;
            while (true)
            {
                // Before SASL completes a frame may be at most 512 KiB (Kafka's sasl.server.max.receive.size),
                // so an unauthenticated client cannot make the broker hold --max-request-bytes.
                bool unauthenticated = Context.SaslRequired && !Context.Authenticated;
                int maxFrame = unauthenticated ? Math.Min(_maxFrameBytes, MaxUnauthenticatedFrameBytes) : _maxFrameBytes;
                var status = KafkaFraming.TryReadFrame(ref buffer, maxFrame, out var frame);
                if (status == FrameResult.NeedMoreData) break;
                if (status != FrameResult.Ok)
                {
                    _log.LogWarning("closing connection from {Remote}: {Reason} (request frames may be at most {Max} bytes; {Setting})",
                        Remote, status == FrameResult.TooLarge ? "request frame larger than the maximum" : "invalid frame size", maxFrame,
                        unauthenticated ? "before SASL authentication completes" : "see --max-request-bytes");
                    _dispatcher.Metrics.BadFrame();
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    return;
                }
                // A client over a quota is muted (KIP-219): its next request is read only once the
                // throttle time it was given has passed.
                long muted = Context.MutedUntilMs - Environment.TickCount64;
                if (muted > 0)
                {
                    try { await Task.Delay(TimeSpan.FromMilliseconds(muted), ct).ConfigureAwait(false); }
                    catch (OperationCanceledException) { reader.AdvanceTo(buffer.Start, buffer.End); return; }
                }
                int length = (int)frame.Length;
                try { await WaitForRoomAsync(length, ct).ConfigureAwait(false); }
                catch (OperationCanceledException) { reader.AdvanceTo(buffer.Start, buffer.End); return; }
                Interlocked.Add(ref _inFlightBytes, length);
                byte[] request = BufferPools.Requests.Rent(length);
                frame.CopyTo(request);
                ValueTask<ResponseFrame?> response;
                try
                {
                    ResponseFrame? raw = null;
                    if (Context.SaslRequired && (Context.Authenticated ? !MayPassInSession(request.AsSpan(0, length)) : !MayPassBeforeAuthentication(request.AsSpan(0, length), out raw)))
                    {
                        BufferPools.Requests.Return(request);
                        reader.AdvanceTo(buffer.Start, buffer.End);
                        return;
                    }
                    response = raw is not null ? ValueTask.FromResult<ResponseFrame?>(raw) : _dispatcher.DispatchAsync(Context, request.AsMemory(0, length));
                }
                catch (Exception ex)
                {
                    BufferPools.Requests.Return(request);
                    Interlocked.Add(ref _inFlightBytes, -length);
                    _log.LogWarning("closing connection from {Remote}: unreadable request ({Error})", Remote, ex.Message);
                    _dispatcher.Metrics.BadFrame();
                    reader.AdvanceTo(buffer.Start, buffer.End);
                    return;
                }
                // Set while the request was dispatched (the SASL handlers answer synchronously): this
                // answer is the last, and nothing after it is read.
                bool last = Context.CloseAfterResponse;
                try { await _inFlight.Writer.WriteAsync(new InFlight(response, request, length, last), ct).ConfigureAwait(false); }
                catch (Exception) { BufferPools.Requests.Return(request); reader.AdvanceTo(buffer.Start, buffer.End); return; }
                if (last) { reader.AdvanceTo(buffer.Start, buffer.End); return; }
            }
            reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled) return;
        }
    }

    /// <summary>Waits until a request of length bytes fits the connection's in-flight byte budget (or nothing else is in flight).</summary>
    private async ValueTask WaitForRoomAsync(int length, CancellationToken ct)
    {
        while (true)
        {
            long used = Interlocked.Read(ref _inFlightBytes);
            if (used == 0 || used + length <= MaxInFlightBytes) return;
            var freed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _bytesFreed, freed);
            used = Interlocked.Read(ref _inFlightBytes);
            if (used == 0 || used + length <= MaxInFlightBytes) return;
            await freed.Task.WaitAsync(ct).ConfigureAwait(false);
        }
    }

    private void Released(int length)
    {
        Interlocked.Add(ref _inFlightBytes, -length);
        Interlocked.Exchange(ref _bytesFreed, null)?.TrySetResult();
    }

    /// <summary>
    /// Before a SASL_* connection authenticates only ApiVersions, SaslHandshake and
    /// SaslAuthenticate reach a handler; anything else closes it, as Kafka does (false). After a
    /// SaslHandshake v0 the frames are bare SASL tokens, answered here (<paramref name="raw"/>).
    /// </summary>
    private bool MayPassBeforeAuthentication(ReadOnlySpan<byte> frame, out ResponseFrame? raw)
    {
        raw = null;
        if (Context.SaslRawTokens)
        {
            raw = Handlers.SaslAuthenticateHandler.RawToken(Context, frame, _dispatcher);
            return raw is not null;
        }
        short apiKey = frame.Length >= 2 ? System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(frame) : (short)-1;
        if (apiKey is Protocol.ApiKeys.ApiVersions or Protocol.ApiKeys.SaslHandshake or Protocol.ApiKeys.SaslAuthenticate) return true;
        _log.LogInformation("closing connection from {Remote} on listener {Listener}: request with API key {ApiKey} before SASL authentication completed",
            Remote, _listener.Config.Name, apiKey);
        _dispatcher.Metrics.SaslAuthentication(_listener.Config.Name, Context.SaslMechanism ?? "none", "unauthenticated_request");
        return false;
    }

    /// <summary>
    /// Once the session's lifetime has passed (KIP-368), only a re-authentication may follow:
    /// SaslHandshake, then the SaslAuthenticate it started. Anything else closes the connection
    /// unanswered, as Kafka does (false; docs/security.md, "Re-authentication"), and so does a
    /// second SaslHandshake while the first one's exchange is open: handshakes alone do not keep
    /// an expired session.
    /// </summary>
    private bool MayPassInSession(ReadOnlySpan<byte> frame)
    {
        long expires = Context.SessionExpiresAt;
        if (expires == 0 || Environment.TickCount64 < expires) return true;
        short apiKey = frame.Length >= 2 ? System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(frame) : (short)-1;
        if (Context.Sasl is null ? apiKey == Protocol.ApiKeys.SaslHandshake : apiKey == Protocol.ApiKeys.SaslAuthenticate) return true;
        _log.LogInformation("closing connection from {Remote} on listener {Listener}: its SASL session of {Principal} expired without re-authentication (request with API key {ApiKey})",
            Remote, _listener.Config.Name, Context.Principal, apiKey);
        _dispatcher.Metrics.SaslAuthentication(_listener.Config.Name, Context.SaslMechanism ?? "none", "session_expired");
        return false;
    }

    private async Task WriteLoopAsync(PipeWriter writer)
    {
        bool broken = false;
        await foreach (var item in _inFlight.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            ResponseFrame? response = null;
            try
            {
                response = await item.Response.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _log.LogError(ex, "request from {Remote} failed unexpectedly; closing the connection", Remote);
                broken = true;
            }
            finally
            {
                BufferPools.Requests.Return(item.Request);
                Released(item.Length);
            }
            if (response is null || broken) { response?.Dispose(); if (broken) break; continue; }
            try
            {
                response.CopyTo(writer);
                response.Dispose();
                // Flush only when no further response is ready, so pipelined answers share a write.
                if (!_inFlight.Reader.TryPeek(out var next) || !next.Response.IsCompleted || item.Last)
                {
                    var flush = await writer.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted) broken = true;
                }
                // A failed authentication: the client has its answer, and the connection ends.
                if (item.Last) broken = true;
            }
            catch (Exception)
            {
                response.Dispose();
                broken = true;
            }
            if (broken) break;
        }
        if (broken)
        {
            _closing.Cancel();
            while (_inFlight.Reader.TryRead(out var rest))
            {
                try { (await rest.Response.ConfigureAwait(false))?.Dispose(); } catch { }
                BufferPools.Requests.Return(rest.Request);
                Released(rest.Length);
            }
        }
        else
        {
            try { await writer.FlushAsync().ConfigureAwait(false); } catch { }
        }
    }

    /// <summary>Stops reading new requests; answers the ones already read, then closes.</summary>
    public async Task CloseAsync(TimeSpan timeout)
    {
        _closing.Cancel();
        await Task.WhenAny(_run, Task.Delay(timeout)).ConfigureAwait(false);
        try { _socket.Dispose(); } catch { }
    }
}

/// <summary>Per-connection facts handlers may need.</summary>
internal sealed class ClientContext(string remote)
{
    public string Remote { get; } = remote;
    public string? ClientId { get; set; }

    /// <summary>
    /// Set while a produce of this connection waits before appending (for a partition being
    /// opened here): later produces wait for it, so appends keep request order. Read and set only
    /// by the connection's dispatch loop.
    /// </summary>
    internal Task? ProduceGate { get; set; }

    /// <summary>The client's IP address as an ACL host names it (IPv4-mapped addresses as IPv4; docs/security.md, "ACLs").</summary>
    public string Host { get; } = HostOf(remote);

    /// <summary>
    /// Who the connection acts for, as Kafka writes a principal: <c>User:ANONYMOUS</c> until the
    /// connection authenticates (docs/security.md).
    /// </summary>
    public string Principal
    {
        get => _principal;
        // A new principal may have other quotas: they are resolved again on the next request.
        set { _principal = value; Quotas = null; }
    }

    private string _principal = "User:ANONYMOUS";

    /// <summary>The name of the listener the connection came in on (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL).</summary>
    public string Listener { get; init; } = Security.Listeners.Plaintext;

    /// <summary>A SASL_* listener: nothing but ApiVersions and the SASL exchange until authenticated.</summary>
    public bool SaslRequired { get; init; }

    /// <summary>The SASL exchange completed; <see cref="Principal"/> names the user.</summary>
    public bool Authenticated { get; set; }

    private long _sessionExpiresAt;

    /// <summary>
    /// Environment.TickCount64 at which the authenticated session ends and only a
    /// re-authentication may follow (KIP-368); 0 = it does not end.
    /// </summary>
    public long SessionExpiresAt
    {
        get => Volatile.Read(ref _sessionExpiresAt);
        set => Volatile.Write(ref _sessionExpiresAt, value);
    }

    /// <summary>The exchange SaslHandshake started, until it completes or fails.</summary>
    internal SaslServer? Sasl { get; set; }

    /// <summary>The mechanism chosen in SaslHandshake (for logs and metrics, and the one a re-authentication must use).</summary>
    public string? SaslMechanism { get; set; }

    /// <summary>SaslHandshake v0 was used: the next frames are bare SASL tokens, not Kafka requests.</summary>
    public bool SaslRawTokens { get; set; }

    /// <summary>Set by a handler while it answers a failed authentication: that answer is the connection's last.</summary>
    public bool CloseAfterResponse { get; set; }

    /// <summary>The client quotas resolved for this connection (docs/operations.md, "Client quotas").</summary>
    public ClientQuotas? Quotas { get; set; }

    private long _mutedUntilMs;

    /// <summary>Environment.TickCount64 before which no further request is read from the connection.</summary>
    public long MutedUntilMs => Volatile.Read(ref _mutedUntilMs);

    private static string HostOf(string remote)
    {
        if (!System.Net.IPEndPoint.TryParse(remote, out var endPoint)) return remote;
        var address = endPoint.Address.IsIPv4MappedToIPv6 ? endPoint.Address.MapToIPv4() : endPoint.Address;
        return address.ToString();
    }

    /// <summary>Mutes the connection for <paramref name="throttleMs"/> from now (a longer mute already set stays).</summary>
    public void Throttle(long throttleMs)
    {
        long until = Environment.TickCount64 + throttleMs;
        long seen = Volatile.Read(ref _mutedUntilMs);
        while (until > seen)
        {
            long prior = Interlocked.CompareExchange(ref _mutedUntilMs, until, seen);
            if (prior == seen) return;
            seen = prior;
        }
    }
}
