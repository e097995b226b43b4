using System.Collections.Concurrent;
using System.IO.Pipelines;
using KafScale.Protocol;

namespace KafScale.Broker.Network;

/// <summary>
/// A complete response frame (size prefix, header, body) in a pooled writer, handed from a
/// handler to the connection's write loop, which returns the writer to the pool.
/// </summary>
internal sealed class ResponseFrame : IDisposable
{
    private static readonly ConcurrentBag<KafkaWriter> Pool = [];
    private KafkaWriter? _writer;

    private ResponseFrame(KafkaWriter writer) => _writer = writer;

    public KafkaWriter Writer => _writer ?? throw new ObjectDisposedException(nameof(ResponseFrame));

    public static ResponseFrame Rent()
    {
        if (!Pool.TryTake(out var writer)) writer = new KafkaWriter();
        writer.Reset();
        return new ResponseFrame(writer);
    }

    public ReadOnlySpan<byte> Bytes => Writer.WrittenSpan;

    public void CopyTo(PipeWriter output)
    {
        var span = Writer.WrittenSpan;
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
        var writer = Interlocked.Exchange(ref _writer, null);
        if (writer is null) return;
        // Very large buffers are not kept: one huge fetch must not pin memory forever.
        if (writer.Capacity <= 8 * 1024 * 1024 && Pool.Count < 256) Pool.Add(writer);
    }
}
