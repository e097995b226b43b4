using System.Collections.Concurrent;
using System.IO.Pipelines;
using KafScale.Protocol;
using KafScale.Protocol.HotPath;

namespace KafScale.Broker.Network;

/// <summary>
/// A complete response frame (size prefix, header, body) in a pooled writer, handed from a
/// handler to the connection's write loop, which disposes it back into the pool. Frames, their
/// writers and the hot-path response writers bound to them are all reused. A Fetch response may
/// leave record bytes out of the writer and name them as slices instead (<see cref="AddSlice"/>):
/// they go from the stored segment straight into the connection's pipe, and pooled read buffers
/// they point into are held (<see cref="Hold"/>) until the frame is disposed after that write.
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
    private readonly List<(int Position, ReadOnlyMemory<byte> Slice)> _slices = [];
    private readonly List<byte[]> _held = [];
    private int _sliceBytes;

    private ResponseFrame() { }

    public KafkaWriter Writer => _writer;
    public ProduceResponseWriter Produce => _produce ??= new ProduceResponseWriter(_writer);
    public FetchResponseWriter Fetch => _fetch ??= new FetchResponseWriter(_writer);
    /// <summary>The whole frame. With slices it is assembled into a new array (for tests and tools; the connection uses <see cref="CopyTo"/>).</summary>
    public ReadOnlySpan<byte> Bytes => _slices.Count == 0 ? _writer.WrittenSpan : Assemble();

    /// <summary>Bytes of the whole frame, slices included.</summary>
    public int Length => _writer.WrittenCount + _sliceBytes;

    /// <summary>Names bytes that follow what the writer holds so far, sent from <paramref name="slice"/> without a copy into the frame.</summary>
    public void AddSlice(ReadOnlyMemory<byte> slice)
    {
        _slices.Add((_writer.WrittenCount, slice));
        _sliceBytes += slice.Length;
    }

    /// <summary>Takes the pooled buffers that slices point into, returning them to the read pool when the frame is disposed; empties <paramref name="buffers"/>.</summary>
    public void Hold(List<byte[]> buffers)
    {
        _held.AddRange(buffers);
        buffers.Clear();
    }

    private byte[] Assemble()
    {
        var whole = new byte[Length];
        int from = 0, to = 0;
        var written = _writer.WrittenSpan;
        foreach (var (position, slice) in _slices)
        {
            written[from..position].CopyTo(whole.AsSpan(to));
            to += position - from;
            from = position;
            slice.Span.CopyTo(whole.AsSpan(to));
            to += slice.Length;
        }
        written[from..].CopyTo(whole.AsSpan(to));
        return whole;
    }

    public static ResponseFrame Rent()
    {
        if (!Pool.TryTake(out var frame)) frame = new ResponseFrame();
        frame._writer.Reset();
        frame._rented = 1;
        return frame;
    }

    public void CopyTo(PipeWriter output)
    {
        var written = _writer.WrittenSpan;
        int from = 0;
        foreach (var (position, slice) in _slices)
        {
            Write(output, written[from..position]);
            Write(output, slice.Span);
            from = position;
        }
        Write(output, written[from..]);
    }

    private static void Write(PipeWriter output, ReadOnlySpan<byte> span)
    {
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
        _slices.Clear();
        _sliceBytes = 0;
        foreach (var buffer in _held) BufferPools.Reads.Return(buffer);
        _held.Clear();
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
