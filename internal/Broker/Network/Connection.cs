using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Channels;
using KafScale.Broker.Quotas;
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

    private readonly Socket _socket;
    private readonly RequestDispatcher _dispatcher;
    private readonly int _maxFrameBytes;
    private readonly ILogger _log;
    private readonly Channel<InFlight> _inFlight = Channel.CreateBounded<InFlight>(new BoundedChannelOptions(MaxInFlight) { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _closing = new();
    private Task _run = Task.CompletedTask;

    private readonly record struct InFlight(ValueTask<ResponseFrame?> Response, byte[] Request, int Length);

    public Connection(Socket socket, RequestDispatcher dispatcher, int maxFrameBytes, ILogger log)
    {
        _socket = socket;
        _dispatcher = dispatcher;
        _maxFrameBytes = maxFrameBytes;
        _log = log;
        Remote = socket.RemoteEndPoint?.ToString() ?? "?";
        Context = new ClientContext(Remote);
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
        await using var stream = new NetworkStream(_socket, ownsSocket: true);
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
                var status = KafkaFraming.TryReadFrame(ref buffer, _maxFrameBytes, out var frame);
                if (status == FrameResult.NeedMoreData) break;
                if (status != FrameResult.Ok)
                {
                    _log.LogWarning("closing connection from {Remote}: {Reason} (request frames may be at most {Max} bytes; see --max-request-bytes)",
                        Remote, status == FrameResult.TooLarge ? "request frame larger than the maximum" : "invalid frame size", _maxFrameBytes);
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
                    response = _dispatcher.DispatchAsync(Context, request.AsMemory(0, length));
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
                try { await _inFlight.Writer.WriteAsync(new InFlight(response, request, length), ct).ConfigureAwait(false); }
                catch (Exception) { BufferPools.Requests.Return(request); reader.AdvanceTo(buffer.Start, buffer.End); return; }
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
                if (!_inFlight.Reader.TryPeek(out var next) || !next.Response.IsCompleted)
                {
                    var flush = await writer.FlushAsync().ConfigureAwait(false);
                    if (flush.IsCompleted) broken = true;
                }
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

    /// <summary>The client's IP address as an ACL host names it (IPv4-mapped addresses as IPv4; docs/security.md, "ACLs").</summary>
    public string Host { get; } = HostOf(remote);

    /// <summary>
    /// Who the connection acts for, as Kafka writes a principal: <c>User:ANONYMOUS</c> until the
    /// connection authenticates (docs/security.md).
    /// </summary>
    public string Principal { get; set; } = "User:ANONYMOUS";

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
