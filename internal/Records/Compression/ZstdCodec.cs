using System.Buffers;
using System.Runtime.InteropServices;

namespace KafScale.Records;

/// <summary>
/// zstd frames. Decompression streams, because Java producers' frames often omit the content
/// size. A decompression context is kept per thread: creating one costs far more than a batch.
/// </summary>
internal static unsafe class ZstdCodec
{
    /// <summary>Kafka's default zstd level.</summary>
    public const int DefaultLevel = 3;

    private const int ChunkSize = 128 * 1024;

    [ThreadStatic]
    private static DStreamHandle? t_stream;

    public static void Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        ZstdNative.EnsureLoaded();
        DStreamHandle stream = t_stream ??= DStreamHandle.Create();
        nint zds = stream.DangerousGetHandle();
        nuint rc = ZstdNative.ZSTD_initDStream(zds);
        if (ZstdNative.ZSTD_isError(rc) != 0)
            throw new InvalidOperationException("zstd: cannot initialise a decompression stream: " + ZstdNative.ErrorName(rc));

        fixed (byte* src = source)
        {
            ZstdNative.InBuffer input = new() { Src = src, Size = (nuint)source.Length, Pos = 0 };
            while (true)
            {
                Span<byte> span = destination.GetSpan(ChunkSize);
                nuint remaining;
                nuint produced;
                fixed (byte* dst = span)
                {
                    ZstdNative.OutBuffer output = new() { Dst = dst, Size = (nuint)span.Length, Pos = 0 };
                    remaining = ZstdNative.ZSTD_decompressStream(zds, &output, &input);
                    produced = output.Pos;
                }
                if (ZstdNative.ZSTD_isError(remaining) != 0)
                {
                    // The context is unusable after an error; drop it.
                    t_stream = null;
                    stream.Dispose();
                    throw new InvalidDataException("zstd: " + ZstdNative.ErrorName(remaining));
                }
                destination.Advance((int)produced);
                bool inputDone = input.Pos == input.Size;
                if (remaining == 0)
                {
                    // A frame ended; further frames may follow.
                    if (inputDone)
                        return;
                    continue;
                }
                if (inputDone && produced < (nuint)span.Length)
                    throw new InvalidDataException("zstd: the frame is truncated");
            }
        }
    }

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int level)
    {
        ZstdNative.EnsureLoaded();
        nuint bound = ZstdNative.ZSTD_compressBound((nuint)source.Length);
        if (bound > int.MaxValue)
            throw new ArgumentException("zstd: input too large", nameof(source));
        Span<byte> output = destination.GetSpan((int)bound);
        nuint written;
        fixed (byte* src = source)
        fixed (byte* dst = output)
            written = ZstdNative.ZSTD_compress(dst, (nuint)output.Length, src, (nuint)source.Length, level);
        if (ZstdNative.ZSTD_isError(written) != 0)
            throw new InvalidOperationException("zstd: " + ZstdNative.ErrorName(written));
        destination.Advance((int)written);
    }

    private sealed class DStreamHandle : SafeHandle
    {
        private DStreamHandle() : base(0, ownsHandle: true) { }

        public static DStreamHandle Create()
        {
            var h = new DStreamHandle();
            h.SetHandle(ZstdNative.ZSTD_createDStream());
            if (h.IsInvalid)
                throw new OutOfMemoryException("zstd: cannot create a decompression stream");
            return h;
        }

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            ZstdNative.ZSTD_freeDStream(handle);
            return true;
        }
    }
}
