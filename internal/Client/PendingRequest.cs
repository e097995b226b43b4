using System.Buffers;
using System.Diagnostics;
using System.Threading.Tasks.Sources;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>
/// A request on the wire waiting for its response. The read loop hands it the response body
/// (after the response header) and it decodes on that thread; the caller's continuation runs
/// on the thread pool, so a slow caller never stalls the connection.
/// </summary>
internal abstract class PendingRequest
{
    public int CorrelationId { get; set; }

    public short ApiKey { get; set; }

    public short ApiVersion { get; set; }

    /// <summary><see cref="Stopwatch.GetTimestamp"/> when the request was queued (request timeouts).</summary>
    public long QueuedTimestamp { get; set; }

    /// <summary>Decodes <paramref name="body"/>, which is only valid during the call, and completes.</summary>
    public abstract void Complete(ReadOnlyMemory<byte> body);

    /// <summary>For requests without a response (Produce acks=0): the bytes have reached the socket.</summary>
    public abstract void CompleteSent();

    public abstract void Fail(Exception error);
}

/// <summary>
/// A pending request that is its own awaitable: one object per request and no Task. Decode
/// failures fail only this request (the frame boundaries are intact, the connection stays).
/// </summary>
internal abstract class PendingRequest<TResult> : PendingRequest, IValueTaskSource<TResult>
{
    private ManualResetValueTaskSourceCore<TResult> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _cancellation;
    private int _done;

    public ValueTask<TResult> AsValueTask() => new(this, _core.Version);

    /// <summary>
    /// Cancelling gives up waiting; the request stays in the connection's in-order queue and its
    /// response, when it comes, is dropped.
    /// </summary>
    public void RegisterCancellation(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(
                static (state, token) => ((PendingRequest<TResult>)state!).TrySetException(new OperationCanceledException(token)),
                this);
        }
    }

    public override void Complete(ReadOnlyMemory<byte> body)
    {
        if (Volatile.Read(ref _done) != 0)
        {
            return;
        }

        TResult result;
        try
        {
            result = Decode(body);
        }
        catch (Exception ex)
        {
            TrySetException(ex);
            return;
        }

        if (!TrySetResult(result))
        {
            Abandon(result);
        }
    }

    public override void CompleteSent() => TrySetResult(default!);

    public override void Fail(Exception error) => TrySetException(error);

    protected abstract TResult Decode(ReadOnlyMemory<byte> body);

    /// <summary>A decoded result nobody will read (the caller cancelled): release what it holds.</summary>
    protected virtual void Abandon(TResult result)
    {
    }

    private bool TrySetResult(TResult result)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return false;
        }

        _cancellation.Unregister();
        _core.SetResult(result);
        return true;
    }

    private bool TrySetException(Exception error)
    {
        if (Interlocked.Exchange(ref _done, 1) != 0)
        {
            return false;
        }

        _cancellation.Unregister();
        _core.SetException(error);
        return true;
    }

    TResult IValueTaskSource<TResult>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<TResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<TResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}

/// <summary>Decodes the response into a generated message (which must not keep slices of the body).</summary>
internal sealed class PendingMessage<TResponse> : PendingRequest<TResponse>
    where TResponse : IKafkaMessage, new()
{
    protected override TResponse Decode(ReadOnlyMemory<byte> body)
    {
        var response = new TResponse();
        var reader = new KafkaReader(body);
        response.Read(ref reader, ApiVersion);
        return response;
    }
}

/// <summary>
/// Fetch responses carry record sets as slices of the body, so the body is copied into a rented
/// buffer that the <see cref="FetchResult"/> owns until it is disposed.
/// </summary>
internal sealed class PendingFetch : PendingRequest<FetchResponseHandle>
{
    protected override FetchResponseHandle Decode(ReadOnlyMemory<byte> body)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(body.Length, 1));
        try
        {
            body.Span.CopyTo(buffer);
            var response = new FetchResponse();
            var reader = new KafkaReader(new ReadOnlyMemory<byte>(buffer, 0, body.Length));
            response.Read(ref reader, ApiVersion);
            return new FetchResponseHandle(response, buffer);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    protected override void Abandon(FetchResponseHandle result) => result.Dispose();
}

/// <summary>
/// ApiVersions is answered in v0 when the broker does not know the version asked for (KIP-511);
/// the error code comes first in every version, so it is peeked before choosing how to decode.
/// </summary>
internal sealed class PendingApiVersions : PendingRequest<ApiVersionsResponse>
{
    protected override ApiVersionsResponse Decode(ReadOnlyMemory<byte> body)
    {
        short version = ApiVersion;
        if (body.Length >= 2 && System.Buffers.Binary.BinaryPrimitives.ReadInt16BigEndian(body.Span) == (short)ErrorCode.UnsupportedVersion)
        {
            version = 0;
        }

        var response = new ApiVersionsResponse();
        var reader = new KafkaReader(body);
        response.Read(ref reader, version);
        return response;
    }
}

