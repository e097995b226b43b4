using System.Buffers;
using System.Buffers.Binary;

namespace KafScale.Records;

/// <summary>
/// Snappy as Kafka clients write it: librdkafka and others send one raw snappy block; Java
/// producers send snappy-java's "xerial" stream (16-byte header starting 0x82 'SNAPPY' 0x00,
/// then blocks of int32 length + raw snappy block). We read both and write the xerial form,
/// which every client reads.
/// </summary>
internal static class SnappyCodec
{
    private static ReadOnlySpan<byte> XerialMagic => [0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0];
    private const int XerialHeaderSize = 16;
    private const int XerialVersion = 1;
    private const int XerialCompatibleVersion = 1;

    /// <summary>Block size snappy-java uses by default, and so Java producers.</summary>
    private const int XerialBlockSize = 32 * 1024;

    public static void Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
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
                DecodeBlock(rest.Slice(4, length), destination);
                rest = rest.Slice(4 + length);
            }
            return;
        }
        DecodeBlock(source, destination);
    }

    private static void DecodeBlock(ReadOnlySpan<byte> block, IBufferWriter<byte> destination)
    {
        if (block.IsEmpty)
            return;
        byte[] decoded;
        try
        {
            decoded = IronSnappy.Snappy.Decode(block);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException("snappy: " + e.Message, e);
        }
        destination.Write(decoded);
    }

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        Span<byte> header = destination.GetSpan(XerialHeaderSize);
        XerialMagic.CopyTo(header);
        BinaryPrimitives.WriteInt32BigEndian(header.Slice(8), XerialVersion);
        BinaryPrimitives.WriteInt32BigEndian(header.Slice(12), XerialCompatibleVersion);
        destination.Advance(XerialHeaderSize);

        while (!source.IsEmpty)
        {
            ReadOnlySpan<byte> chunk = source.Slice(0, Math.Min(XerialBlockSize, source.Length));
            byte[] block = IronSnappy.Snappy.Encode(chunk);
            Span<byte> length = destination.GetSpan(4);
            BinaryPrimitives.WriteInt32BigEndian(length, block.Length);
            destination.Advance(4);
            destination.Write(block);
            source = source.Slice(chunk.Length);
        }
    }
}
