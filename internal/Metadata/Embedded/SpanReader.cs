using System.Buffers.Binary;
using System.Text;

namespace KafScale.Metadata.Embedded;

/// <summary>Reads what <see cref="ByteWriter"/> wrote; malformed input (after a good CRC) is a format bug.</summary>
internal ref struct SpanReader
{
    private readonly ReadOnlySpan<byte> _span;
    private int _position;

    public SpanReader(ReadOnlySpan<byte> span)
    {
        _span = span;
        _position = 0;
    }

    public readonly bool End => _position >= _span.Length;

    public byte ReadByte() => Take(1)[0];

    public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public ulong ReadVarUInt()
    {
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = ReadByte();
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return result;
        }
        throw Malformed();
    }

    public byte[] ReadBytes()
    {
        ulong length = ReadVarUInt();
        if (length > int.MaxValue) throw Malformed();
        return Take((int)length).ToArray();
    }

    public string ReadString()
    {
        ulong length = ReadVarUInt();
        if (length > int.MaxValue) throw Malformed();
        ReadOnlySpan<byte> utf8 = Take((int)length);
        try
        {
            return KeyEncoding.Utf8.GetString(utf8);
        }
        catch (DecoderFallbackException)
        {
            // Keys are written as valid UTF-8 only (KeyEncoding), so bytes that are not are damage.
            throw Malformed();
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if ((uint)count > (uint)(_span.Length - _position)) throw Malformed();
        ReadOnlySpan<byte> result = _span.Slice(_position, count);
        _position += count;
        return result;
    }

    private static InvalidDataException Malformed() =>
        new("A metadata record is malformed although its checksum matched; the file was written by an incompatible version.");
}
