using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace KafScale.Protocol;

/// <summary>
/// Big-endian writer into a growable buffer rented from <see cref="ArrayPool{T}"/>. Reuse one per
/// connection: <see cref="Reset"/> keeps the buffer, so steady-state encoding allocates nothing.
/// Sizes that are only known at the end (frame size, tagged-field sizes, counts) are reserved and
/// patched later.
/// </summary>
public sealed class KafkaWriter : IBufferWriter<byte>, IDisposable
{
    private const int DefaultCapacity = 4096;

    private readonly ArrayPool<byte> _pool;
    private byte[] _buffer;
    private int _written;

    public KafkaWriter()
        : this(DefaultCapacity)
    {
    }

    public KafkaWriter(int initialCapacity)
        : this(initialCapacity, ArrayPool<byte>.Shared)
    {
    }

    /// <summary>A writer whose buffers come from <paramref name="pool"/> (a server bounds what it retains this way).</summary>
    public KafkaWriter(int initialCapacity, ArrayPool<byte> pool)
    {
        _pool = pool;
        _buffer = pool.Rent(Math.Max(initialCapacity, 64));
    }

    public int WrittenCount => _written;

    /// <summary>Same as <see cref="WrittenCount"/>: the offset the next byte goes to.</summary>
    public int Position => _written;

    public int Capacity => _buffer.Length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public void Reset() => _written = 0;

    public byte[] ToArray() => WrittenSpan.ToArray();

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = Array.Empty<byte>();
        _written = 0;
        if (buffer.Length > 0)
        {
            _pool.Return(buffer);
        }
    }

    // ---- IBufferWriter<byte> ------------------------------------------------------------------

    public void Advance(int count)
    {
        if (count < 0 || _written + count > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureCapacity(Math.Max(sizeHint, 1));
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureCapacity(Math.Max(sizeHint, 1));
        return _buffer.AsSpan(_written);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EnsureCapacity(int count)
    {
        if (_buffer.Length - _written < count)
        {
            Grow(count);
        }
    }

    private void Grow(int count)
    {
        long needed = (long)_written + count;
        if (needed > Array.MaxLength)
        {
            throw new InvalidOperationException("KafkaWriter cannot grow beyond Array.MaxLength.");
        }

        int newSize = (int)Math.Min(Math.Max(needed, Math.Max(_buffer.Length * 2L, DefaultCapacity)), Array.MaxLength);
        byte[] next = _pool.Rent(newSize);
        _buffer.AsSpan(0, _written).CopyTo(next);
        byte[] old = _buffer;
        _buffer = next;
        if (old.Length > 0)
        {
            _pool.Return(old);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Take(int count)
    {
        EnsureCapacity(count);
        Span<byte> span = _buffer.AsSpan(_written, count);
        _written += count;
        return span;
    }

    // ---- fixed-width primitives ---------------------------------------------------------------

    public void WriteInt8(sbyte value) => Take(1)[0] = (byte)value;

    public void WriteUInt8(byte value) => Take(1)[0] = value;

    public void WriteInt16(short value) => BinaryPrimitives.WriteInt16BigEndian(Take(2), value);

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Take(2), value);

    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32BigEndian(Take(4), value);

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Take(4), value);

    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64BigEndian(Take(8), value);

    public void WriteDouble(double value) => BinaryPrimitives.WriteDoubleBigEndian(Take(8), value);

    public void WriteBool(bool value) => Take(1)[0] = value ? (byte)1 : (byte)0;

    public void WriteUuid(Guid value) => value.TryWriteBytes(Take(16), bigEndian: true, out _);

    public void WriteRaw(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Take(bytes.Length));

    // ---- variable-length integers -------------------------------------------------------------

    public static int SizeOfUnsignedVarInt(uint value) => (BitOperations.Log2(value | 1) / 7) + 1;

    public void WriteUnsignedVarInt(uint value)
    {
        if (value < 0x80)
        {
            Take(1)[0] = (byte)value;
            return;
        }

        Span<byte> span = Take(SizeOfUnsignedVarInt(value));
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i] = (byte)value;
    }

    public void WriteVarInt(int value) => WriteUnsignedVarInt((uint)((value << 1) ^ (value >> 31)));

    public void WriteUnsignedVarLong(ulong value)
    {
        while (value >= 0x80)
        {
            WriteUInt8((byte)(value | 0x80));
            value >>= 7;
        }

        WriteUInt8((byte)value);
    }

    public void WriteVarLong(long value) => WriteUnsignedVarLong((ulong)((value << 1) ^ (value >> 63)));

    // ---- lengths ------------------------------------------------------------------------------

    /// <summary>Array length as int32, or compact (unsigned varint of count + 1); -1 writes null.</summary>
    public void WriteArrayLength(int count, bool compact)
    {
        if (compact)
        {
            WriteUnsignedVarInt((uint)(count + 1));
        }
        else
        {
            WriteInt32(count);
        }
    }

    /// <summary>Bytes/records length as int32 or compact; -1 writes null.</summary>
    public void WriteBytesLength(int length, bool compact)
    {
        if (compact)
        {
            WriteUnsignedVarInt((uint)(length + 1));
        }
        else
        {
            WriteInt32(length);
        }
    }

    private void WriteStringLength(int length, bool compact)
    {
        if (compact)
        {
            WriteUnsignedVarInt((uint)(length + 1));
        }
        else
        {
            WriteInt16((short)length);
        }
    }

    // ---- strings, bytes, records --------------------------------------------------------------

    public void WriteString(string value, bool compact)
    {
        int byteCount = Encoding.UTF8.GetByteCount(value);
        if (byteCount > KafkaReader.MaxStringLength)
        {
            throw new KafkaProtocolException($"String of {byteCount} bytes exceeds the Kafka limit of {KafkaReader.MaxStringLength}.", ErrorCode.InvalidRequest);
        }

        WriteStringLength(byteCount, compact);
        if (byteCount > 0)
        {
            Encoding.UTF8.GetBytes(value, Take(byteCount));
        }
    }

    public void WriteNullableString(string? value, bool compact)
    {
        if (value is null)
        {
            WriteStringLength(-1, compact);
        }
        else
        {
            WriteString(value, compact);
        }
    }

    public void WriteString(string value) => WriteString(value, compact: false);

    public void WriteNullableString(string? value) => WriteNullableString(value, compact: false);

    public void WriteCompactString(string value) => WriteString(value, compact: true);

    public void WriteCompactNullableString(string? value) => WriteNullableString(value, compact: true);

    /// <summary>A string already encoded as UTF-8 (hot paths echo topic names without decoding).</summary>
    public void WriteStringUtf8(ReadOnlySpan<byte> utf8, bool compact)
    {
        if (utf8.Length > KafkaReader.MaxStringLength)
        {
            throw new KafkaProtocolException($"String of {utf8.Length} bytes exceeds the Kafka limit of {KafkaReader.MaxStringLength}.", ErrorCode.InvalidRequest);
        }

        WriteStringLength(utf8.Length, compact);
        WriteRaw(utf8);
    }

    public void WriteBytes(ReadOnlySpan<byte> value, bool compact)
    {
        WriteBytesLength(value.Length, compact);
        WriteRaw(value);
    }

    public void WriteNullableBytes(byte[]? value, bool compact)
    {
        if (value is null)
        {
            WriteBytesLength(-1, compact);
        }
        else
        {
            WriteBytes(value, compact);
        }
    }

    public void WriteRecords(ReadOnlyMemory<byte>? records, bool compact)
    {
        if (records is { } value)
        {
            WriteBytes(value.Span, compact);
        }
        else
        {
            WriteBytesLength(-1, compact);
        }
    }

    // ---- reserved slots -----------------------------------------------------------------------

    /// <summary>Reserves 4 bytes and returns their offset, for <see cref="PatchInt32"/>.</summary>
    public int ReserveInt32()
    {
        int mark = _written;
        Take(4);
        return mark;
    }

    public void PatchInt32(int offset, int value)
    {
        if ((uint)offset > (uint)(_written - 4))
        {
            throw new ArgumentOutOfRangeException(nameof(offset));
        }

        BinaryPrimitives.WriteInt32BigEndian(_buffer.AsSpan(offset, 4), value);
    }

    /// <summary>Reserves a 4-byte size prefix; <see cref="EndSizePrefix"/> fills in the bytes written after it.</summary>
    public int BeginSizePrefix() => ReserveInt32();

    public void EndSizePrefix(int mark) => PatchInt32(mark, _written - mark - 4);

    /// <summary>
    /// Reserves one byte for an unsigned varint whose value is known later (a count or a size).
    /// Patch it with <see cref="PatchUnsignedVarInt"/> once nothing reserved after it is still open:
    /// a value needing more than one byte moves the bytes written since.
    /// </summary>
    public int ReserveUnsignedVarInt()
    {
        int mark = _written;
        Take(1);
        return mark;
    }

    public void PatchUnsignedVarInt(int mark, uint value)
    {
        if ((uint)mark >= (uint)_written)
        {
            throw new ArgumentOutOfRangeException(nameof(mark));
        }

        int size = SizeOfUnsignedVarInt(value);
        if (size > 1)
        {
            EnsureCapacity(size - 1);
            _buffer.AsSpan(mark + 1, _written - mark - 1).CopyTo(_buffer.AsSpan(mark + size));
            _written += size - 1;
        }

        Span<byte> span = _buffer.AsSpan(mark, size);
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i] = (byte)value;
    }

    // ---- tagged fields (KIP-482) --------------------------------------------------------------

    public void WriteEmptyTaggedFields() => Take(1)[0] = 0;

    /// <summary>Writes the tag and reserves its size; write the value, then call <see cref="EndTaggedField"/>.</summary>
    public int BeginTaggedField(uint tag)
    {
        WriteUnsignedVarInt(tag);
        return ReserveUnsignedVarInt();
    }

    public void EndTaggedField(int mark) => PatchUnsignedVarInt(mark, (uint)(_written - mark - 1));
}
