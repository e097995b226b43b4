using System.Buffers;

namespace KafScale.Records;

/// <summary>
/// LZ4 in the LZ4 frame format, which Kafka uses for magic 2 batches. We write what Kafka's Java
/// producer writes: 64 KB independent blocks, no content size, no checksums beyond the header's.
/// </summary>
internal static unsafe class Lz4Codec
{
    private const int ChunkSize = 64 * 1024;

    public static void Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        Lz4Native.EnsureLoaded();
        nint dctx = 0;
        nuint rc = Lz4Native.LZ4F_createDecompressionContext(&dctx, Lz4Native.FrameVersion);
        if (Lz4Native.LZ4F_isError(rc) != 0)
            throw new InvalidOperationException("lz4: cannot create a decompression context: " + Lz4Native.ErrorName(rc));
        try
        {
            fixed (byte* src = source)
            {
                int consumed = 0;
                while (true)
                {
                    Span<byte> output = destination.GetSpan(ChunkSize);
                    nuint srcSize = (nuint)(source.Length - consumed);
                    nuint dstSize = (nuint)output.Length;
                    nuint hint;
                    fixed (byte* dst = output)
                        hint = Lz4Native.LZ4F_decompress(dctx, dst, &dstSize, src + consumed, &srcSize, null);
                    if (Lz4Native.LZ4F_isError(hint) != 0)
                        throw new InvalidDataException("lz4: " + Lz4Native.ErrorName(hint));
                    destination.Advance((int)dstSize);
                    consumed += (int)srcSize;
                    if (hint == 0)
                    {
                        // A frame ended; Kafka sends one, but concatenated frames are legal.
                        if (consumed == source.Length)
                            break;
                        continue;
                    }
                    if (srcSize == 0 && dstSize == 0)
                        throw new InvalidDataException("lz4: the frame is truncated");
                }
            }
        }
        finally
        {
            Lz4Native.LZ4F_freeDecompressionContext(dctx);
        }
    }

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int level)
    {
        Lz4Native.EnsureLoaded();
        Lz4Native.Preferences preferences = default;
        preferences.BlockSizeId = Lz4Native.BlockSize64KB;
        preferences.BlockMode = Lz4Native.BlockIndependent;
        preferences.CompressionLevel = level;
        nuint bound = Lz4Native.LZ4F_compressFrameBound((nuint)source.Length, &preferences);
        if (bound > int.MaxValue)
            throw new ArgumentException("lz4: input too large", nameof(source));
        Span<byte> output = destination.GetSpan((int)bound);
        nuint written;
        fixed (byte* src = source)
        fixed (byte* dst = output)
            written = Lz4Native.LZ4F_compressFrame(dst, (nuint)output.Length, src, (nuint)source.Length, &preferences);
        if (Lz4Native.LZ4F_isError(written) != 0)
            throw new InvalidOperationException("lz4: " + Lz4Native.ErrorName(written));
        destination.Advance((int)written);
    }
}
