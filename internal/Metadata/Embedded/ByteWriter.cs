using System.Buffers.Binary;

namespace KafScale.Metadata.Embedded;

/// <summary>A growable little-endian buffer whose written bytes can be patched (record headers).</summary>
internal sealed class ByteWriter
{
    private const int ShrinkAbove = 1 << 20;
    private byte[] _buffer;
    private int _length;

    public ByteWriter(int capacity = 4096) => _buffer = new byte[capacity];

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public Span<byte> WrittenSpanMutable => _buffer.AsSpan(0, _length);

    /// <summary>Forgets the content; a buffer inflated by one large batch is not kept forever.</summary>
    public void Clear()
    {
        _length = 0;
        if (_buffer.Length > ShrinkAbove) _buffer = new byte[4096];
    }

    public void Truncate(int length) => _length = length;

    public void WriteByte(byte value) => Reserve(1)[0] = value;

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value);

    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), value);

    public void WriteVarUInt(ulong value)
    {
        Span<byte> span = Reserve(10);
        int n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[n++] = (byte)value;
        _length -= 10 - n;
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteVarUInt((ulong)value.Length);
        value.CopyTo(Reserve(value.Length));
    }

    public void WriteRaw(ReadOnlySpan<byte> value) => value.CopyTo(Reserve(value.Length));

    public void WriteString(string value)
    {
        int count = KeyEncoding.Utf8.GetByteCount(value);
        WriteVarUInt((ulong)count);
        KeyEncoding.Utf8.GetBytes(value, Reserve(count));
    }

    private Span<byte> Reserve(int size)
    {
        if (_buffer.Length - _length < size)
        {
            int capacity = Math.Max(_buffer.Length * 2, _length + size);
            Array.Resize(ref _buffer, capacity);
        }
        Span<byte> span = _buffer.AsSpan(_length, size);
        _length += size;
        return span;
    }
}
