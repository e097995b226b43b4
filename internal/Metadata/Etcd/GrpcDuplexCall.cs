using System.Net;
using KafScale.Metadata.Etcd.Protocol;

namespace KafScale.Metadata.Etcd;

/// <summary>
/// A bidirectional gRPC stream over one HTTP/2 request: the request body stays open and carries
/// our messages as we write them, while the response body carries the server's. The server may
/// send its response headers only after our first message, so the request is started without
/// waiting for them.
/// </summary>
internal sealed class GrpcDuplexCall : IAsyncDisposable
{
    private readonly DuplexContent _content;
    private readonly Task<HttpResponseMessage> _responseTask;
    private readonly CancellationTokenSource _cts;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private HttpResponseMessage? _response;
    private GrpcFrameReader? _reader;
    private int _disposed;

    private GrpcDuplexCall(DuplexContent content, Task<HttpResponseMessage> responseTask, CancellationTokenSource cts, string endpoint)
    {
        _content = content;
        _responseTask = responseTask;
        _cts = cts;
        Endpoint = endpoint;
    }

    public string Endpoint { get; }

    public static GrpcDuplexCall Start(HttpClient http, HttpRequestMessage request, string endpoint, CancellationToken cancellationToken)
    {
        var content = new DuplexContent();
        request.Content = content;
        content.Headers.ContentType = EtcdGrpcChannel.GrpcContentType;
        var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task<HttpResponseMessage> responseTask = http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        return new GrpcDuplexCall(content, responseTask, cts, endpoint);
    }

    public async Task WriteAsync(IProtoMessage message, CancellationToken cancellationToken)
    {
        byte[] frame = GrpcFraming.Frame(message);
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Task<Stream> streamTask = _content.RequestStream;
            if (!streamTask.IsCompleted)
            {
                // A failed connection shows up on the response task while the body never opens.
                await Task.WhenAny(streamTask, _responseTask).WaitAsync(cancellationToken).ConfigureAwait(false);
                if (!streamTask.IsCompleted)
                {
                    await _responseTask.ConfigureAwait(false);
                    throw new IOException($"etcd at {Endpoint} ended the stream before it could be written to.");
                }
            }
            Stream stream = await streamTask.ConfigureAwait(false);
            await stream.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>The next message from the server; null when it ended the stream with OK.</summary>
    public async Task<byte[]?> ReadAsync(CancellationToken cancellationToken)
    {
        if (_reader is null)
        {
            _response = await _responseTask.WaitAsync(cancellationToken).ConfigureAwait(false);
            EtcdGrpcChannel.EnsureGrpcResponse(_response, Endpoint);
            _reader = new GrpcFrameReader(await _response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
        }
        byte[]? message = await _reader.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
        if (message is null) EtcdGrpcChannel.ThrowIfNotOk(_response!, Endpoint);
        return message;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _content.Complete();
        _cts.Cancel();
        try
        {
            using HttpResponseMessage _ = await _responseTask.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The call is being abandoned; how it ended no longer matters.
        }
        _response?.Dispose();
        _cts.Dispose();
    }

    /// <summary>A request body that stays open until Complete, written to from outside.</summary>
    private sealed class DuplexContent : HttpContent
    {
        private readonly TaskCompletionSource<Stream> _stream = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<Stream> RequestStream => _stream.Task;

        public void Complete() => _done.TrySetResult();

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            _stream.TrySetResult(stream);
            using (cancellationToken.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), _done))
                await _done.Task.ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
