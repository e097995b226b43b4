using System.Numerics;
using System.Text;

namespace KafScale.Metadata.Etcd.Protocol;

/// <summary>
/// Protobuf wire types, and field tags as (field number &lt;&lt; 3) | wire type. Every tag in
/// these messages fits in one varint byte except Compare.range_end (field 64, two bytes).
/// </summary>
internal static class Wire
{
    public const uint Varint = 0;
    public const uint Fixed64 = 1;
    public const uint Len = 2;
    public const uint StartGroup = 3;
    public const uint EndGroup = 4;
    public const uint Fixed32 = 5;
}

/// <summary>Encoded sizes, for writing a message into an array of exactly its size.</summary>
internal static class ProtoSize
{
    /// <summary>1 byte per started group of 7 bits: 1 for 0..127, up to 10 for 64 bits.</summary>
    public static int Varint(ulong value) => BitOperations.Log2(value | 1) / 7 + 1;

    public static int Tag(int field) => Varint((uint)field << 3);

    /// <summary>int64 is a plain varint of its two's complement: a negative number takes 10 bytes.</summary>
    public static int Int64Field(int field, long value) => Tag(field) + Varint((ulong)value);

    /// <summary>Enums are int32, sign-extended to 64 bits on the wire like int32 itself.</summary>
    public static int EnumField(int field, int value) => Tag(field) + Varint((ulong)(long)value);

    public static int BoolField(int field) => Tag(field) + 1;

    public static int LengthDelimitedField(int field, int length) => Tag(field) + Varint((uint)length) + length;

    public static int StringField(int field, string value) => LengthDelimitedField(field, Encoding.UTF8.GetByteCount(value));

    public static int MessageField(int field, IProtoMessage message) => LengthDelimitedField(field, message.CalculateSize());
}

/// <summary>
/// Writes protobuf fields into a span sized by <see cref="IProtoMessage.CalculateSize"/>. Which
/// fields to write (proto3 leaves out scalars at their default, but writes whatever a oneof or a
/// message field is set to) is the message's business; these write unconditionally.
/// </summary>
internal ref struct ProtoWriter
{
    private readonly Span<byte> _buffer;
    private int _position;

    public ProtoWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        _position = 0;
    }

    public readonly int Position => _position;

    public void WriteVarint(ulong value)
    {
        Span<byte> buffer = _buffer;
        int position = _position;
        while (value >= 0x80)
        {
            buffer[position++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[position++] = (byte)value;
        _position = position;
    }

    public void WriteTag(int field, uint wireType) => WriteVarint(((uint)field << 3) | wireType);

    public void WriteInt64(int field, long value)
    {
        WriteTag(field, Wire.Varint);
        WriteVarint((ulong)value);
    }

    public void WriteUInt64(int field, ulong value)
    {
        WriteTag(field, Wire.Varint);
        WriteVarint(value);
    }

    public void WriteEnum(int field, int value)
    {
        WriteTag(field, Wire.Varint);
        WriteVarint((ulong)(long)value);
    }

    public void WriteBool(int field, bool value)
    {
        WriteTag(field, Wire.Varint);
        WriteVarint(value ? 1u : 0u);
    }

    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, Wire.Len);
        WriteVarint((uint)value.Length);
        value.CopyTo(_buffer[_position..]);
        _position += value.Length;
    }

    public void WriteString(int field, string value)
    {
        WriteTag(field, Wire.Len);
        WriteVarint((uint)Encoding.UTF8.GetByteCount(value));
        _position += Encoding.UTF8.GetBytes(value, _buffer[_position..]);
    }

    public void WriteMessage(int field, IProtoMessage message)
    {
        WriteTag(field, Wire.Len);
        WriteVarint((uint)message.CalculateSize());
        message.WriteTo(ref this);
    }
}
