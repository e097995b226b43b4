using System.Buffers;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace KafScale.Common;

/// <summary>
/// zstd frames through ZstdSharp (managed). Decompression streams, because Java producers' frames
/// often omit the content size. Contexts are kept per thread: creating one costs far more than a
/// batch, and a context is not thread-safe.
/// </summary>
public static unsafe class ZstdCodec
{
    /// <summary>Kafka's default zstd level.</summary>
    public const int DefaultLevel = 3;

    private const int ChunkSize = 128 * 1024;

    [ThreadStatic]
    private static Compressor? t_compressor;

    [ThreadStatic]
    private static DecompressionContext? t_decompression;

    /// <summary>Appends one zstd frame holding <paramref name="source"/> (with its content size).</summary>
    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int level = DefaultLevel)
    {
        Compressor compressor = t_compressor ??= new Compressor(level);
        if (compressor.Level != level)
            compressor.Level = level;
        Span<byte> output = destination.GetSpan(Compressor.GetCompressBound(source.Length));
        int written;
        try
        {
            written = compressor.Wrap(source, output);
        }
        catch
        {
            // Its state after a failure is unknown: the next call starts from a new one.
            t_compressor = null;
            compressor.Dispose();
            throw;
        }
        destination.Advance(written);
    }

    /// <summary>Appends the content of the zstd frames in <paramref name="source"/>.</summary>
    /// <exception cref="InvalidDataException">The data is not whole, valid zstd frames.</exception>
    public static void Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        if (source.IsEmpty)
            throw new InvalidDataException("zstd: empty input");
        DecompressionContext context = t_decompression ??= new DecompressionContext();
        bool failed = true;
        try
        {
            context.Reset();
            fixed (byte* src = source)
            {
                ZSTD_inBuffer_s input = new() { src = src, size = (nuint)source.Length, pos = 0 };
                while (true)
                {
                    Span<byte> span = destination.GetSpan(ChunkSize);
                    nuint remaining;
                    nuint produced;
                    fixed (byte* dst = span)
                    {
                        ZSTD_outBuffer_s output = new() { dst = dst, size = (nuint)span.Length, pos = 0 };
                        remaining = Methods.ZSTD_decompressStream(context.Pointer, &output, &input);
                        produced = output.pos;
                    }
                    if (Methods.ZSTD_isError(remaining))
                        throw new InvalidDataException("zstd: " + Methods.ZSTD_getErrorName(remaining));
                    destination.Advance((int)produced);
                    bool inputDone = input.pos == input.size;
                    if (remaining == 0)
                    {
                        // A frame ended; further frames may follow.
                        if (inputDone)
                            break;
                        continue;
                    }
                    if (inputDone && produced < (nuint)span.Length)
                        throw new InvalidDataException("zstd: the frame is truncated");
                }
            }
            failed = false;
        }
        finally
        {
            if (failed)
            {
                // A context is unusable after an error (and after an exception thrown from inside
                // it): drop it so the next call on this thread starts from a new one.
                t_decompression = null;
                context.Dispose();
            }
        }
    }

    /// <summary>A decompression context (ZSTD_DCtx), freed by the finalizer if a thread dies holding one.</summary>
    private sealed class DecompressionContext : IDisposable
    {
        public ZSTD_DCtx_s* Pointer { get; private set; }

        public DecompressionContext()
        {
            Pointer = Methods.ZSTD_createDCtx();
            if (Pointer == null)
                throw new OutOfMemoryException("zstd: cannot create a decompression context");
        }

        public void Reset()
        {
            nuint rc = Methods.ZSTD_DCtx_reset(Pointer, ZSTD_ResetDirective.ZSTD_reset_session_only);
            if (Methods.ZSTD_isError(rc))
                throw new InvalidOperationException("zstd: cannot reset a decompression context: " + Methods.ZSTD_getErrorName(rc));
        }

        ~DecompressionContext() => Free();

        public void Dispose()
        {
            Free();
            GC.SuppressFinalize(this);
        }

        private void Free()
        {
            if (Pointer != null)
            {
                Methods.ZSTD_freeDCtx(Pointer);
                Pointer = null;
            }
        }
    }
}
