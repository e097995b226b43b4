using System.Buffers;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>
/// A decoded FetchResponse whose record sets are slices of a rented buffer. Read the records,
/// then dispose: after that the slices point into memory that someone else may be using.
/// </summary>
public sealed class FetchResponseHandle : IDisposable
{
    private byte[]? _buffer;

    internal FetchResponseHandle(FetchResponse response, byte[] buffer)
    {
        Response = response;
        _buffer = buffer;
    }

    public FetchResponse Response { get; }

    public void Dispose()
    {
        byte[]? buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
