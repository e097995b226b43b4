using System.Buffers;
using System.IO.Compression;

namespace KafScale.Common;

/// <summary>gzip (RFC 1952) through the BCL's zlib, one member per call.</summary>
public static class GzipCodec
{
    private const int ChunkSize = 64 * 1024;

    // A complete gzip member holding nothing; the BCL encoder writes no bytes at all for empty input.
    private static ReadOnlySpan<byte> EmptyMember => [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];

    public static unsafe void Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        if (source.IsEmpty)
            throw new InvalidDataException("gzip: empty input");
        fixed (byte* p = source)
        {
            using var input = new UnmanagedMemoryStream(p, source.Length);
            using var gzip = new GZipStream(input, CompressionMode.Decompress);
            try
            {
                while (true)
                {
                    Span<byte> span = destination.GetSpan(ChunkSize);
                    int n = gzip.Read(span);
                    if (n == 0)
                        break;
                    destination.Advance(n);
                }
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException("gzip: " + e.Message, e);
            }
        }
    }

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int? level)
    {
        if (source.IsEmpty)
        {
            destination.Write(EmptyMember);
            return;
        }
        using var output = new BufferWriterStream(destination);
        using (var gzip = level is int l
            ? new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = l }, leaveOpen: true)
            : new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(source);
        }
    }
}
