using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace KafScale.Protocol;

/// <summary>
/// Big-endian cursor over one Kafka message. Every length read from the wire is checked against
/// <see cref="Remaining"/> before anything is allocated or sliced, and every failure is a
/// <see cref="KafkaProtocolException"/>. Records are returned as slices of the input (never copied);
/// strings and bytes are copied because they are small control-plane values.
/// </summary>
public ref struct KafkaReader
{
    /// <summary>Kafka caps every string (int16 length, and compact strings likewise) at this many bytes.</summary>
    public const int MaxStringLength = short.MaxValue;

    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private readonly bool _hasMemory;
    private int _position;

    public KafkaReader(ReadOnlyMemory<byte> buffer)
    {
        _memory = buffer;
        _span = buffer.Span;
        _hasMemory = true;
        _position = 0;
    }

    /// <summary>Same as the memory constructor; exists so that an array never binds to the span one.</summary>
    public KafkaReader(byte[] buffer)
        : this(new ReadOnlyMemory<byte>(buffer))
    {
    }

    /// <summary>
    /// A reader over a span only (hot paths). Everything works except <see cref="ReadRecords"/>,
    /// which needs memory to slice; use <see cref="ReadRecordsRange"/> instead.
    /// </summary>
    public KafkaReader(ReadOnlySpan<byte> buffer)
    {
        _memory = default;
        _span = buffer;
        _hasMemory = false;
        _position = 0;
    }

    public readonly int Position => _position;

    public readonly int Remaining => _span.Length - _position;

    public readonly int Length => _span.Length;

    public readonly bool End => _position >= _span.Length;

    /// <summary>The whole input this reader walks (empty for a span-only reader).</summary>
    public readonly ReadOnlyMemory<byte> Memory => _memory;

    public readonly ReadOnlySpan<byte> Span => _span;

    public readonly ReadOnlySpan<byte> RemainingSpan => _span.Slice(_position);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ReadOnlySpan<byte> Take(int count)
    {
        int position = _position;
        if ((uint)count > (uint)(_span.Length - position))
        {
            KafkaProtocolException.ThrowTruncated(count, _span.Length - position);
        }

        _position = position + count;
        return _span.Slice(position, count);
    }

    public void Skip(int count) => Take(count);

    public ReadOnlySpan<byte> ReadRawSpan(int count) => Take(count);

    public sbyte ReadInt8() => (sbyte)Take(1)[0];

    public byte ReadUInt8() => Take(1)[0];

    public short ReadInt16() => BinaryPrimitives.ReadInt16BigEndian(Take(2));

    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4));

    public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(Take(8));

    public double ReadDouble() => BinaryPrimitives.ReadDoubleBigEndian(Take(8));

    public bool ReadBool() => Take(1)[0] != 0;

    /// <summary>Kafka UUIDs are 16 bytes, most significant first; the Guid keeps that order.</summary>
    public Guid ReadUuid() => new(Take(16), bigEndian: true);

    public uint ReadUnsignedVarInt()
    {
        uint result = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (_position >= _span.Length)
            {
                KafkaProtocolException.ThrowTruncated(1, 0);
            }

            byte b = _span[_position++];
            // The fifth byte may carry only the top 4 bits of a 32-bit value.
            if (shift == 28 && b > 0x0F)
            {
                KafkaProtocolException.ThrowMalformedVarInt();
            }

            result |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }
    }

    public int ReadVarInt()
    {
        uint raw = ReadUnsignedVarInt();
        return (int)(raw >> 1) ^ -(int)(raw & 1);
    }

    public ulong ReadUnsignedVarLong()
    {
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (_position >= _span.Length)
            {
                KafkaProtocolException.ThrowTruncated(1, 0);
            }

            byte b = _span[_position++];
            if (shift == 63 && b > 0x01)
            {
                KafkaProtocolException.ThrowMalformedVarInt();
            }

            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return result;
            }
        }
    }

    public long ReadVarLong()
    {
        ulong raw = ReadUnsignedVarLong();
        return (long)(raw >> 1) ^ -(long)(raw & 1);
    }

    // ---- lengths -------------------------------------------------------------------------

    /// <summary>
    /// Reads an array length (int32, or compact: unsigned varint of length + 1) and returns -1 for a
    /// null array. Rejects counts whose elements could not fit in what remains, so a forged count
    /// never drives an allocation.
    /// </summary>
    public int ReadArrayLength(bool compact, int minElementSize = 1)
    {
        long count;
        if (compact)
        {
            uint raw = ReadUnsignedVarInt();
            if (raw == 0)
            {
                return -1;
            }

            count = raw - 1L;
        }
        else
        {
            count = ReadInt32();
            if (count < 0)
            {
                return -1;
            }
        }

        if (count * Math.Max(minElementSize, 1) > Remaining)
        {
            KafkaProtocolException.ThrowInvalidLength("array", count, Remaining);
        }

        return (int)count;
    }

    /// <summary>Reads a bytes/records length (int32 or compact) and returns -1 for null.</summary>
    public int ReadBytesLength(bool compact)
    {
        long length;
        if (compact)
        {
            uint raw = ReadUnsignedVarInt();
            if (raw == 0)
            {
                return -1;
            }

            length = raw - 1L;
        }
        else
        {
            length = ReadInt32();
            if (length < 0)
            {
                return -1;
            }
        }

        if (length > Remaining)
        {
            KafkaProtocolException.ThrowInvalidLength("bytes", length, Remaining);
        }

        return (int)length;
    }

    /// <summary>Reads a string length (int16 or compact) and returns -1 for null.</summary>
    public int ReadStringLength(bool compact)
    {
        long length;
        if (compact)
        {
            uint raw = ReadUnsignedVarInt();
            if (raw == 0)
            {
                return -1;
            }

            length = raw - 1L;
        }
        else
        {
            length = ReadInt16();
            if (length < 0)
            {
                return -1;
            }
        }

        if (length > MaxStringLength || length > Remaining)
        {
            KafkaProtocolException.ThrowInvalidLength("string", length, Remaining);
        }

        return (int)length;
    }

    // ---- strings, bytes, records --------------------------------------------------------------

    public string? ReadNullableString(bool compact)
    {
        int length = ReadStringLength(compact);
        if (length < 0)
        {
            return null;
        }

        return length == 0 ? string.Empty : Encoding.UTF8.GetString(Take(length));
    }

    public string ReadString(bool compact)
    {
        string? value = ReadNullableString(compact);
        if (value is null)
        {
            KafkaProtocolException.ThrowUnexpectedNull("string");
        }

        return value;
    }

    public string ReadString() => ReadString(compact: false);

    public string? ReadNullableString() => ReadNullableString(compact: false);

    public string ReadCompactString() => ReadString(compact: true);

    public string? ReadCompactNullableString() => ReadNullableString(compact: true);

    /// <summary>The UTF-8 bytes of a string without decoding it; <paramref name="isNull"/> for null.</summary>
    public ReadOnlySpan<byte> ReadStringUtf8(bool compact, out bool isNull)
    {
        int length = ReadStringLength(compact);
        isNull = length < 0;
        return isNull ? default : Take(length);
    }

    public byte[]? ReadNullableBytes(bool compact)
    {
        int length = ReadBytesLength(compact);
        if (length < 0)
        {
            return null;
        }

        return length == 0 ? Array.Empty<byte>() : Take(length).ToArray();
    }

    public byte[] ReadBytes(bool compact)
    {
        byte[]? value = ReadNullableBytes(compact);
        if (value is null)
        {
            KafkaProtocolException.ThrowUnexpectedNull("bytes");
        }

        return value;
    }

    /// <summary>Records as a slice of the input buffer (not copied); null for null records.</summary>
    public ReadOnlyMemory<byte>? ReadRecords(bool compact)
    {
        if (!_hasMemory)
        {
            throw new InvalidOperationException("ReadRecords needs a reader built over ReadOnlyMemory<byte>; use ReadRecordsRange.");
        }

        int length = ReadBytesLength(compact);
        if (length < 0)
        {
            return null;
        }

        int start = _position;
        Take(length);
        return _memory.Slice(start, length);
    }

    /// <summary>Skips over records and returns their position in this reader's input; -1/-1 for null.</summary>
    public int ReadRecordsRange(bool compact, out int offset)
    {
        int length = ReadBytesLength(compact);
        if (length < 0)
        {
            offset = -1;
            return -1;
        }

        offset = _position;
        Take(length);
        return length;
    }

    // ---- tagged fields (KIP-482) --------------------------------------------------------------

    /// <summary>Number of tagged fields that follow; each takes at least two bytes (tag, size).</summary>
    public int ReadTaggedFieldCount()
    {
        uint count = ReadUnsignedVarInt();
        if (count > (uint)Remaining / 2)
        {
            KafkaProtocolException.ThrowInvalidLength("tagged field count", count, Remaining);
        }

        return (int)count;
    }

    public int ReadTaggedFieldSize()
    {
        uint size = ReadUnsignedVarInt();
        if (size > (uint)Remaining)
        {
            KafkaProtocolException.ThrowInvalidLength("tagged field", size, Remaining);
        }

        return (int)size;
    }

    /// <summary>Skips a whole tagged-field section (none of its tags are known to the caller).</summary>
    public void SkipTaggedFields()
    {
        int count = ReadTaggedFieldCount();
        for (int i = 0; i < count; i++)
        {
            ReadUnsignedVarInt();
            Take(ReadTaggedFieldSize());
        }
    }

    /// <summary>
    /// A reader over the next <paramref name="length"/> bytes, which this reader skips. Tagged fields
    /// are decoded through one so that a field can never read past its declared size.
    /// </summary>
    public KafkaReader ReadSubReader(int length)
    {
        int start = _position;
        Take(length);
        return _hasMemory
            ? new KafkaReader(_memory.Slice(start, length))
            : new KafkaReader(_span.Slice(start, length));
    }
}
