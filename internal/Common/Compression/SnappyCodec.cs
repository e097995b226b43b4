using System.Buffers;
using System.Buffers.Binary;

namespace KafScale.Common;

/// <summary>
/// Snappy through Snappier (managed). Two framings: a raw snappy block (Parquet pages, Avro blocks,
/// and what librdkafka sends to Kafka), and snappy-java's "xerial" stream that Java producers send
/// (16-byte header starting 0x82 'SNAPPY' 0x00, then blocks of int32 length + raw snappy block).
/// </summary>
public static class SnappyCodec
{
    private static ReadOnlySpan<byte> XerialMagic => [0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0];
    private const int XerialHeaderSize = 16;
    private const int XerialVersion = 1;
    private const int XerialCompatibleVersion = 1;

    /// <summary>Block size snappy-java uses by default, and so Java producers.</summary>
    private const int XerialBlockSize = 32 * 1024;

    /// <summary>Output bytes per input byte no valid block exceeds (a 3-byte copy element makes at most 64).</summary>
    private const int MaxExpansion = 22;

    /// <summary>Appends one raw snappy block holding <paramref name="source"/>.</summary>
    public static void CompressBlock(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        Span<byte> output = destination.GetSpan(Snappier.Snappy.GetMaxCompressedLength(source.Length));
        destination.Advance(Snappier.Snappy.Compress(source, output));
    }

    /// <summary>Appends the content of one raw snappy block.</summary>
    /// <exception cref="InvalidDataException">The block is not valid snappy.</exception>
    public static void DecompressBlock(ReadOnlySpan<byte> block, IBufferWriter<byte> destination)
    {
        if (block.IsEmpty)
            return;
        int length;
        try
        {
            length = Snappier.Snappy.GetUncompressedLength(block);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException("snappy: " + e.Message, e);
        }
        // The length is a claim at the front of the block, read before anything is decoded. No
        // snappy element expands more than a 3-byte copy to 64 bytes, so a claim beyond that ratio
        // is a corrupt block, refused before the output buffer is sized by it.
        if (length < 0 || length > (long)block.Length * MaxExpansion)
            throw new InvalidDataException($"snappy: a {block.Length}-byte block claims {length} bytes uncompressed");
        try
        {
            Span<byte> output = destination.GetSpan(Math.Max(length, 1));
            destination.Advance(Snappier.Snappy.Decompress(block, output));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Snappier reports corrupt input as InvalidDataException, and some malformed
            // lengths as argument or range errors; all of them mean a corrupt block here.
            throw new InvalidDataException("snappy: " + e.Message, e);
        }
    }

    /// <summary>Decompresses what a Kafka client wrote: the xerial stream, or else one raw block.</summary>
    /// <exception cref="InvalidDataException">The data is not valid snappy.</exception>
    public static void DecompressKafka(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        if (source.Length >= XerialHeaderSize && source.StartsWith(XerialMagic))
        {
            ReadOnlySpan<byte> rest = source.Slice(XerialHeaderSize);
            while (!rest.IsEmpty)
            {
                if (rest.Length < 4)
                    throw new InvalidDataException("snappy: truncated xerial block length");
                int length = BinaryPrimitives.ReadInt32BigEndian(rest);
                if (length < 0 || length > rest.Length - 4)
                    throw new InvalidDataException($"snappy: xerial block of {length} bytes does not fit in the {rest.Length - 4} remaining");
                DecompressBlock(rest.Slice(4, length), destination);
                rest = rest.Slice(4 + length);
            }
            return;
        }
        DecompressBlock(source, destination);
    }

    /// <summary>Writes the xerial stream, which every Kafka client reads.</summary>
    public static void CompressKafka(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        Span<byte> header = destination.GetSpan(XerialHeaderSize);
        XerialMagic.CopyTo(header);
        BinaryPrimitives.WriteInt32BigEndian(header.Slice(8), XerialVersion);
        BinaryPrimitives.WriteInt32BigEndian(header.Slice(12), XerialCompatibleVersion);
        destination.Advance(XerialHeaderSize);

        while (!source.IsEmpty)
        {
            ReadOnlySpan<byte> chunk = source.Slice(0, Math.Min(XerialBlockSize, source.Length));
            // Compress straight after the length field, then fill the length in.
            Span<byte> span = destination.GetSpan(4 + Snappier.Snappy.GetMaxCompressedLength(chunk.Length));
            int written = Snappier.Snappy.Compress(chunk, span.Slice(4));
            BinaryPrimitives.WriteInt32BigEndian(span, written);
            destination.Advance(4 + written);
            source = source.Slice(chunk.Length);
        }
    }
}
