using System.Buffers;
using System.Text;

namespace KafScale.Parquet;

/// <summary>
/// The Thrift compact protocol, only as far as Parquet's FileMetaData and PageHeader need it:
/// structs with short-form (delta) or long-form field headers, zigzag varint i16/i32/i64,
/// length-prefixed binary, booleans folded into the field type, and lists. Fields must be written
/// in the order the caller chooses; the delta form is used whenever the id grows by 1..15.
/// </summary>
internal struct ThriftCompactWriter
{
    // Compact protocol type codes.
    public const byte BooleanTrue = 1;
    public const byte BooleanFalse = 2;
    public const byte Byte = 3;
    public const byte I16 = 4;
    public const byte I32 = 5;
    public const byte I64 = 6;
    public const byte Double = 7;
    public const byte Binary = 8;
    public const byte List = 9;
    public const byte Set = 10;
    public const byte Map = 11;
    public const byte Struct = 12;

    private const int MaxDepth = 16;

    private readonly IBufferWriter<byte> _output;
    private short _lastFieldId;
    private int _depth;
    private ShortStack _stack;

    public ThriftCompactWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _lastFieldId = 0;
        _depth = 0;
        _stack = default;
    }

    [System.Runtime.CompilerServices.InlineArray(MaxDepth)]
    private struct ShortStack
    {
        private short _element;
    }

    /// <summary>Starts a struct as the value of field <paramref name="fieldId"/>.</summary>
    public void BeginStructField(short fieldId)
    {
        FieldHeader(fieldId, Struct);
        BeginStruct();
    }

    /// <summary>Starts a struct that is a list element (or the top-level value).</summary>
    public void BeginStruct()
    {
        if (_depth == MaxDepth)
            throw new InvalidOperationException("thrift: structs nested too deeply");
        _stack[_depth++] = _lastFieldId;
        _lastFieldId = 0;
    }

    /// <summary>Writes the stop byte and returns to the enclosing struct.</summary>
    public void EndStruct()
    {
        WriteByte(0);
        if (_depth > 0)
            _lastFieldId = _stack[--_depth];
    }

    public void BoolField(short fieldId, bool value) => FieldHeader(fieldId, value ? BooleanTrue : BooleanFalse);

    public void I16Field(short fieldId, short value)
    {
        FieldHeader(fieldId, I16);
        WriteVarint(ZigZag(value));
    }

    public void I32Field(short fieldId, int value)
    {
        FieldHeader(fieldId, I32);
        WriteVarint(ZigZag(value));
    }

    public void I64Field(short fieldId, long value)
    {
        FieldHeader(fieldId, I64);
        WriteVarint(ZigZag(value));
    }

    public void BinaryField(short fieldId, ReadOnlySpan<byte> value)
    {
        FieldHeader(fieldId, Binary);
        WriteBinary(value);
    }

    public void StringField(short fieldId, string value)
    {
        FieldHeader(fieldId, Binary);
        WriteString(value);
    }

    /// <summary>Starts a list field; then write <paramref name="count"/> elements of <paramref name="elementType"/>.</summary>
    public void ListField(short fieldId, byte elementType, int count)
    {
        FieldHeader(fieldId, List);
        ListHeader(elementType, count);
    }

    public void ListHeader(byte elementType, int count)
    {
        if (count < 0)
            throw new ArgumentOutOfRangeException(nameof(count));
        if (count < 15)
        {
            WriteByte((byte)((count << 4) | elementType));
        }
        else
        {
            WriteByte((byte)(0xF0 | elementType));
            WriteVarint((uint)count);
        }
    }

    /// <summary>An i32 list element (or an enum).</summary>
    public void WriteI32(int value) => WriteVarint(ZigZag(value));

    public void WriteI64(long value) => WriteVarint(ZigZag(value));

    public void WriteBinary(ReadOnlySpan<byte> value)
    {
        WriteVarint((uint)value.Length);
        Span<byte> span = _output.GetSpan(value.Length);
        value.CopyTo(span);
        _output.Advance(value.Length);
    }

    public void WriteString(string value)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        WriteVarint((uint)length);
        Span<byte> span = _output.GetSpan(length);
        Encoding.UTF8.GetBytes(value, span);
        _output.Advance(length);
    }

    private void FieldHeader(short fieldId, byte type)
    {
        int delta = fieldId - _lastFieldId;
        if (delta > 0 && delta <= 15)
        {
            WriteByte((byte)((delta << 4) | type));
        }
        else
        {
            WriteByte(type);
            WriteVarint(ZigZag(fieldId));
        }
        _lastFieldId = fieldId;
    }

    private void WriteByte(byte value)
    {
        _output.GetSpan(1)[0] = value;
        _output.Advance(1);
    }

    private void WriteVarint(ulong value)
    {
        Span<byte> span = _output.GetSpan(10);
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        _output.Advance(i);
    }

    internal static uint ZigZag(int value) => (uint)((value << 1) ^ (value >> 31));

    internal static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));
}
