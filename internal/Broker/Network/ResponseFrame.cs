using System.Collections.Concurrent;
using System.IO.Pipelines;
using KafScale.Protocol;
using KafScale.Protocol.HotPath;

namespace KafScale.Broker.Network;

/// <summary>
/// A complete response frame (size prefix, header, body) in a pooled writer, handed from a
/// handler to the connection's write loop, which disposes it back into the pool. Frames, their
/// writers and the hot-path response writers bound to them are all reused.
/// </summary>
internal sealed class ResponseFrame : IDisposable
{
    private const int MaxPooled = 64;
    /// <summary>Frames that grew larger give their buffer back, so one huge fetch does not pin memory.</summary>
    private const int MaxPooledCapacity = 1024 * 1024;
    private static readonly ConcurrentBag<ResponseFrame> Pool = [];

    private KafkaWriter _writer = new(4096, BufferPools.Responses);
    private ProduceResponseWriter? _produce;
    private FetchResponseWriter? _fetch;
    private int _rented;

    private ResponseFrame() { }

    public KafkaWriter Writer => _writer;
    public ProduceResponseWriter Produce => _produce ??= new ProduceResponseWriter(_writer);
    public FetchResponseWriter Fetch => _fetch ??= new FetchResponseWriter(_writer);
    public ReadOnlySpan<byte> Bytes => _writer.WrittenSpan;

    public static ResponseFrame Rent()
    {
        if (!Pool.TryTake(out var frame)) frame = new ResponseFrame();
        frame._writer.Reset();
        frame._rented = 1;
        return frame;
    }

    public void CopyTo(PipeWriter output)
    {
        var span = _writer.WrittenSpan;
        while (span.Length > 0)
        {
            var dest = output.GetSpan(Math.Min(span.Length, 1 << 20));
            int n = Math.Min(dest.Length, span.Length);
            span[..n].CopyTo(dest);
            output.Advance(n);
            span = span[n..];
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _rented, 0) == 0) return;
        if (Pool.Count >= MaxPooled)
        {
            _writer.Dispose();
            return;
        }
        if (_writer.Capacity > MaxPooledCapacity)
        {
            _writer.Dispose();
            _writer = new KafkaWriter(4096, BufferPools.Responses);
            _produce = null;
            _fetch = null;
        }
        Pool.Add(this);
    }
}
