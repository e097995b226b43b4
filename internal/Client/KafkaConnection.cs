using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>
/// One TCP connection to a Kafka broker with any number of requests in flight. Callers encode
/// their request straight into the connection's outgoing buffer (under a short lock that also
/// assigns the correlation id and queues the pending entry, so wire order and queue order are
/// the same); a write loop sends whatever has accumulated in one syscall while the next burst
/// fills the other buffer. A read loop splits response frames and completes the oldest pending
/// request, checking its correlation id: Kafka answers the requests of one connection in order.
/// Apart from the pending entry (which is the awaitable itself), sending allocates nothing.
/// </summary>
public sealed partial class KafkaConnection : IAsyncDisposable
{
    private const int InitialWriteBufferBytes = 64 * 1024;

    private readonly Socket _socket;
    // The TLS stream over the socket on SSL and SASL_SSL; plaintext connections use the socket directly.
    private readonly Stream? _stream;
    private readonly KafkaConnectionOptions _options;
    private readonly byte[] _clientIdUtf8;
    private readonly object _lock = new();
    private readonly Queue<PendingRequest> _inFlight = new();
    private readonly AsyncSignal _writeSignal = new();
    private readonly CancellationTokenSource _closing = new();
    private readonly long _requestTimeoutTicks;
    private KafkaWriter _filling = new(InitialWriteBufferBytes);
    private KafkaWriter _sending = new(InitialWriteBufferBytes);
    private List<PendingRequest> _fillingSent = new();
    private List<PendingRequest> _sendingSent = new();
    private bool _sendScheduled;
    private int _nextCorrelationId;
    private Exception? _failure;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private Timer? _timeoutTimer;

    private KafkaConnection(Socket socket, Stream? stream, string host, int port, KafkaConnectionOptions options)
    {
        _socket = socket;
        _stream = stream;
        _options = options;
        Host = host;
        Port = port;
        _clientIdUtf8 = Encoding.UTF8.GetBytes(options.ClientId);
        _requestTimeoutTicks = (long)(options.RequestTimeout.TotalSeconds * Stopwatch.Frequency);
    }

    public string Host { get; }

    public int Port { get; }

    public EndPoint? LocalEndPoint => _socket.LocalEndPoint;

    /// <summary>False once the connection failed or was disposed; it never recovers.</summary>
    public bool IsOpen => Volatile.Read(ref _failure) is null;

    /// <summary>Requests sent whose response has not arrived yet.</summary>
    public int InFlightCount
    {
        get
        {
            lock (_lock)
            {
                return _inFlight.Count;
            }
        }
    }

    public override string ToString() => $"{Host}:{Port}";

    /// <summary>Connects and (unless turned off) negotiates API versions with ApiVersions.</summary>
    public static async Task<KafkaConnection> ConnectAsync(string host, int port, KafkaConnectionOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new KafkaConnectionOptions();
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (options.SocketSendBufferBytes is int send)
        {
            socket.SendBufferSize = send;
        }

        if (options.SocketReceiveBufferBytes is int receive)
        {
            socket.ReceiveBufferSize = receive;
        }

        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ConnectTimeout);
            try
            {
                await socket.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new KafkaConnectionException($"connecting to {host}:{port} timed out after {options.ConnectTimeout.TotalMilliseconds:0} ms");
            }
            catch (SocketException ex)
            {
                throw new KafkaConnectionException($"cannot connect to {host}:{port}: {ex.Message}", ex);
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Stream? stream = null;
        var security = options.Security;
        if (security.UsesTls)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ConnectTimeout);
            try
            {
                stream = await KafkaSecurity.HandshakeAsync(new NetworkStream(socket, ownsSocket: true), host, security, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                socket.Dispose();
                throw new KafkaConnectionException($"TLS handshake with {host}:{port} failed: {ex.Message} (check the CA, --tls-ca, and that the port is a TLS listener)", ex);
            }
        }

        var connection = new KafkaConnection(socket, stream, host, port, options);
        connection.Start();
        try
        {
            if (options.NegotiateApiVersions)
            {
                await connection.NegotiateApiVersionsAsync(cancellationToken).ConfigureAwait(false);
            }

            if (security.UsesSasl)
            {
                await KafkaSecurity.AuthenticateAsync(connection, security, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return connection;
    }

    private void Start()
    {
        _readLoop = Task.Run(ReadLoopAsync);
        _writeLoop = Task.Run(WriteLoopAsync);
        if (_requestTimeoutTicks > 0)
        {
            TimeSpan period = TimeSpan.FromMilliseconds(Math.Clamp(_options.RequestTimeout.TotalMilliseconds / 4, 10, 1000));
            _timeoutTimer = new Timer(static state => ((KafkaConnection)state!).CheckRequestTimeout(), this, period, period);
        }
    }

    // ---- sending ------------------------------------------------------------------------------

    /// <summary>
    /// Sends <paramref name="request"/> at <paramref name="version"/> and decodes the response as
    /// <typeparamref name="TResponse"/>. The request is encoded before this method returns, so
    /// the caller may change or reuse it as soon as the call returns (before awaiting).
    /// Use <see cref="FetchAsync"/> for Fetch, whose response keeps slices of its buffer.
    /// </summary>
    public ValueTask<TResponse> SendAsync<TResponse>(IKafkaMessage request, short version, CancellationToken cancellationToken = default)
        where TResponse : IKafkaMessage, new()
    {
        if (request is FetchRequest)
        {
            throw new ArgumentException("Fetch responses reference their receive buffer: use FetchAsync.", nameof(request));
        }

        var pending = new PendingMessage<TResponse>();
        return Send(request, version, pending, expectResponse: true, cancellationToken);
    }

    /// <summary>Same as <see cref="SendAsync{TResponse}(IKafkaMessage, short, CancellationToken)"/> at the negotiated version.</summary>
    public ValueTask<TResponse> SendAsync<TResponse>(IKafkaMessage request, CancellationToken cancellationToken = default)
        where TResponse : IKafkaMessage, new() =>
        SendAsync<TResponse>(request, GetVersion(request.ApiKey), cancellationToken);

    /// <summary>
    /// Sends a Produce request at the negotiated version. With acks=0 the broker sends no
    /// response: the task completes (with null) once the bytes are written to the socket.
    /// </summary>
    public ValueTask<ProduceResponse?> ProduceAsync(ProduceRequest request, CancellationToken cancellationToken = default) =>
        ProduceAsync(request, GetVersion(ProduceRequest.ApiKey), cancellationToken);

    public ValueTask<ProduceResponse?> ProduceAsync(ProduceRequest request, short version, CancellationToken cancellationToken = default)
    {
        var pending = new PendingMessage<ProduceResponse>();
        return Send<ProduceResponse?>(request, version, pending!, expectResponse: request.Acks != 0, cancellationToken);
    }

    /// <summary>Sends a Fetch request; dispose the result to return its buffer.</summary>
    public ValueTask<FetchResponseHandle> FetchAsync(FetchRequest request, short version, CancellationToken cancellationToken = default) =>
        Send(request, version, new PendingFetch(), expectResponse: true, cancellationToken);

    public ValueTask<FetchResponseHandle> FetchAsync(FetchRequest request, CancellationToken cancellationToken = default) =>
        FetchAsync(request, GetVersion(FetchRequest.ApiKey), cancellationToken);

    private ValueTask<TResult> Send<TResult>(IKafkaMessage request, short version, PendingRequest<TResult> pending, bool expectResponse, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TResult>(cancellationToken);
        }

        short apiKey = request.ApiKey;
        pending.ApiKey = apiKey;
        pending.ApiVersion = version;
        pending.QueuedTimestamp = Stopwatch.GetTimestamp();

        // Registered before the request can be answered, so completion always unregisters it
        // (a registration left behind would pin the request until the token's source goes away).
        pending.RegisterCancellation(cancellationToken);
        bool signal;
        lock (_lock)
        {
            if (_failure is { } failure)
            {
                pending.Fail(Closed(failure));
                return pending.AsValueTask();
            }

            int correlationId = _nextCorrelationId;
            _nextCorrelationId = (correlationId + 1) & int.MaxValue;
            pending.CorrelationId = correlationId;
            try
            {
                Encode(_filling, request, apiKey, version, correlationId);
            }
            catch (Exception ex)
            {
                // Nothing of the request went out; only this request fails.
                pending.Fail(ex);
                return pending.AsValueTask();
            }

            if (expectResponse)
            {
                _inFlight.Enqueue(pending);
            }
            else
            {
                _fillingSent.Add(pending);
            }

            signal = !_sendScheduled;
            _sendScheduled = true;
        }

        if (signal)
        {
            _writeSignal.Signal();
        }

        return pending.AsValueTask();
    }

    private void Encode(KafkaWriter writer, IKafkaMessage request, short apiKey, short version, int correlationId)
    {
        int start = writer.WrittenCount;
        try
        {
            int sizeMark = writer.BeginSizePrefix();
            writer.WriteInt16(apiKey);
            writer.WriteInt16(version);
            writer.WriteInt32(correlationId);
            short headerVersion = ApiKeys.RequestHeaderVersion(apiKey, version);
            if (headerVersion >= 1)
            {
                writer.WriteStringUtf8(_clientIdUtf8, compact: false);
            }

            if (headerVersion >= 2)
            {
                writer.WriteEmptyTaggedFields();
            }

            request.Write(writer, version);
            writer.EndSizePrefix(sizeMark);
        }
        catch
        {
            Truncate(writer, start);
            throw;
        }
    }

    /// <summary>Drops a half-written frame (the writer can only be reset, so keep what came before).</summary>
    private static void Truncate(KafkaWriter writer, int length)
    {
        if (length == 0)
        {
            writer.Reset();
            return;
        }

        byte[] keep = ArrayPool<byte>.Shared.Rent(length);
        writer.WrittenSpan[..length].CopyTo(keep);
        writer.Reset();
        writer.WriteRaw(keep.AsSpan(0, length));
        ArrayPool<byte>.Shared.Return(keep);
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            while (true)
            {
                await _writeSignal.WaitAsync().ConfigureAwait(false);
                while (true)
                {
                    KafkaWriter batch;
                    List<PendingRequest> sent;
                    lock (_lock)
                    {
                        if (_failure is not null)
                        {
                            return;
                        }

                        if (_filling.WrittenCount == 0)
                        {
                            _sendScheduled = false;
                            break;
                        }

                        (_filling, _sending) = (_sending, _filling);
                        (_fillingSent, _sendingSent) = (_sendingSent, _fillingSent);
                        batch = _sending;
                        sent = _sendingSent;
                    }

                    ReadOnlyMemory<byte> bytes = batch.WrittenMemory;
                    while (!bytes.IsEmpty)
                    {
                        if (_stream is not null)
                        {
                            await _stream.WriteAsync(bytes, _closing.Token).ConfigureAwait(false);
                            break;
                        }

                        int n = await _socket.SendAsync(bytes, SocketFlags.None, _closing.Token).ConfigureAwait(false);
                        bytes = bytes[n..];
                    }

                    batch.Reset();
                    foreach (PendingRequest pending in sent)
                    {
                        pending.CompleteSent();
                    }

                    sent.Clear();
                }
            }
        }
        catch (Exception ex)
        {
            Fail(ex is OperationCanceledException ? new KafkaConnectionException($"connection to {this} closed") : new KafkaConnectionException($"sending to {this} failed: {ex.Message}", ex));
        }
    }

    // ---- receiving ----------------------------------------------------------------------------

    private async Task ReadLoopAsync()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(_options.ReceiveBufferBytes, 4096));
        int start = 0;
        int end = 0;
        try
        {
            while (true)
            {
                while (end - start >= 4)
                {
                    int size = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(start));
                    if (size < 4 || size > _options.MaxResponseBytes)
                    {
                        throw new KafkaConnectionException(
                            $"{this} sent a response frame of {size} bytes (limit {_options.MaxResponseBytes}); the stream is unreadable");
                    }

                    int total = size + 4;
                    if (end - start < total)
                    {
                        if (total > buffer.Length)
                        {
                            byte[] bigger = ArrayPool<byte>.Shared.Rent(total);
                            buffer.AsSpan(start, end - start).CopyTo(bigger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = bigger;
                            end -= start;
                            start = 0;
                        }
                        else if (start + total > buffer.Length)
                        {
                            buffer.AsSpan(start, end - start).CopyTo(buffer);
                            end -= start;
                            start = 0;
                        }

                        break;
                    }

                    OnFrame(new ReadOnlyMemory<byte>(buffer, start + 4, size));
                    start += total;
                }

                if (start == end)
                {
                    start = end = 0;
                }
                else if (end == buffer.Length)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    end -= start;
                    start = 0;
                }

                int read = _stream is not null
                    ? await _stream.ReadAsync(buffer.AsMemory(end), _closing.Token).ConfigureAwait(false)
                    : await _socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, _closing.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new KafkaConnectionException($"{this} closed the connection");
                }

                end += read;
            }
        }
        catch (KafkaConnectionException ex)
        {
            Fail(ex);
        }
        catch (OperationCanceledException)
        {
            Fail(new KafkaConnectionException($"connection to {this} closed"));
        }
        catch (Exception ex)
        {
            Fail(new KafkaConnectionException($"reading from {this} failed: {ex.Message}", ex));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void OnFrame(ReadOnlyMemory<byte> frame)
    {
        int correlationId = BinaryPrimitives.ReadInt32BigEndian(frame.Span);
        PendingRequest? pending;
        lock (_lock)
        {
            _inFlight.TryDequeue(out pending);
        }

        if (pending is null)
        {
            throw new KafkaConnectionException($"{this} sent a response (correlation id {correlationId}) to no request");
        }

        if (pending.CorrelationId != correlationId)
        {
            // The pending entry is already out of the queue; fail it here, Fail() gets the rest.
            var error = new KafkaConnectionException(
                $"{this} answered correlation id {correlationId} while {pending.CorrelationId} was the oldest request in flight; responses must come in order");
            pending.Fail(error);
            throw error;
        }

        int headerLength = 4;
        if (ApiKeys.ResponseHeaderVersion(pending.ApiKey, pending.ApiVersion) >= 1)
        {
            var reader = new KafkaReader(frame.Span[4..]);
            try
            {
                reader.SkipTaggedFields();
            }
            catch (KafkaProtocolException ex)
            {
                pending.Fail(ex);
                return;
            }

            headerLength += reader.Position;
        }

        pending.Complete(frame[headerLength..]);
    }

    private void CheckRequestTimeout()
    {
        PendingRequest? oldest;
        lock (_lock)
        {
            if (_failure is not null || !_inFlight.TryPeek(out oldest))
            {
                return;
            }
        }

        long waited = Stopwatch.GetTimestamp() - oldest.QueuedTimestamp;
        if (waited > _requestTimeoutTicks)
        {
            Fail(new KafkaConnectionException(
                $"no response from {this} to {ApiName(oldest.ApiKey)} v{oldest.ApiVersion} (correlation id {oldest.CorrelationId}) within {_options.RequestTimeout.TotalMilliseconds:0} ms",
                errorCode: ErrorCode.RequestTimedOut));
        }
    }

    private static string ApiName(short apiKey) => ApiKeys.TryGet(apiKey, out ApiKeyInfo info) ? info.Name : $"api {apiKey}";

    // ---- failure and shutdown -----------------------------------------------------------------

    private static Exception Closed(Exception failure) =>
        failure as KafkaConnectionException ?? new KafkaConnectionException(failure.Message, failure);

    private void Fail(Exception error)
    {
        PendingRequest[] inFlight;
        PendingRequest[] unsent;
        lock (_lock)
        {
            if (_failure is not null)
            {
                return;
            }

            _failure = error;
            inFlight = _inFlight.ToArray();
            _inFlight.Clear();
            unsent = [.. _fillingSent, .. _sendingSent];
            _fillingSent.Clear();
        }

        _timeoutTimer?.Dispose();
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Dispose();
        _stream?.Dispose();
        _writeSignal.Signal();
        foreach (PendingRequest pending in inFlight)
        {
            pending.Fail(error);
        }

        foreach (PendingRequest pending in unsent)
        {
            pending.Fail(error);
        }
    }

    /// <summary>Closes the socket; requests in flight fail with <see cref="KafkaConnectionException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        Fail(new KafkaConnectionException($"connection to {this} was closed by the client"));
        try
        {
            await Task.WhenAll(_readLoop, _writeLoop).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loops report through Fail; nothing left to observe.
        }

        lock (_lock)
        {
            _filling.Dispose();
            _sending.Dispose();
        }

        _closing.Dispose();
    }
}
