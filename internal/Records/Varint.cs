using System.Runtime.CompilerServices;

namespace KafScale.Records;

/// <summary>
/// Zig-zag variable-length integers of the Record format (protobuf style: 7 bits per byte,
/// high bit = more follows; at most 5 bytes for 32-bit and 10 bytes for 64-bit values).
/// </summary>
public static class Varint
{
    /// <summary>Reads a zig-zag varint at <paramref name="position"/> and advances it. False when truncated or longer than 5 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryReadInt32(ReadOnlySpan<byte> source, ref int position, out int value)
    {
        int pos = position;
        if ((uint)pos < (uint)source.Length)
        {
            byte b = source[pos];
            if (b < 0x80)
            {
                position = pos + 1;
                value = (b >> 1) ^ -(b & 1);
                return true;
            }
        }
        return TryReadInt32Slow(source, ref position, out value);
    }

    private static bool TryReadInt32Slow(ReadOnlySpan<byte> source, ref int position, out int value)
    {
        uint raw = 0;
        int pos = position;
        for (int shift = 0; shift < 35; shift += 7)
        {
            if ((uint)pos >= (uint)source.Length)
                break;
            byte b = source[pos++];
            raw |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                position = pos;
                value = (int)(raw >> 1) ^ -(int)(raw & 1);
                return true;
            }
        }
        value = 0;
        return false;
    }

    /// <summary>Reads a zig-zag varlong at <paramref name="position"/> and advances it. False when truncated or longer than 10 bytes.</summary>
    public static bool TryReadInt64(ReadOnlySpan<byte> source, ref int position, out long value)
    {
        ulong raw = 0;
        int pos = position;
        for (int shift = 0; shift < 70; shift += 7)
        {
            if ((uint)pos >= (uint)source.Length)
                break;
            byte b = source[pos++];
            raw |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                position = pos;
                value = (long)(raw >> 1) ^ -(long)(raw & 1);
                return true;
            }
        }
        value = 0;
        return false;
    }

    public static int SizeOfInt32(int value) => SizeOfUnsigned((uint)((value << 1) ^ (value >> 31)));

    public static int SizeOfInt64(long value)
    {
        ulong v = (ulong)((value << 1) ^ (value >> 63));
        int size = 1;
        while (v >= 0x80)
        {
            v >>= 7;
            size++;
        }
        return size;
    }

    private static int SizeOfUnsigned(uint v)
    {
        int size = 1;
        while (v >= 0x80)
        {
            v >>= 7;
            size++;
        }
        return size;
    }

    /// <summary>Writes a zig-zag varint; returns the bytes written.</summary>
    public static int WriteInt32(Span<byte> destination, int value)
    {
        uint v = (uint)((value << 1) ^ (value >> 31));
        int i = 0;
        while (v >= 0x80)
        {
            destination[i++] = (byte)(v | 0x80);
            v >>= 7;
        }
        destination[i++] = (byte)v;
        return i;
    }

    /// <summary>Writes a zig-zag varlong; returns the bytes written.</summary>
    public static int WriteInt64(Span<byte> destination, long value)
    {
        ulong v = (ulong)((value << 1) ^ (value >> 63));
        int i = 0;
        while (v >= 0x80)
        {
            destination[i++] = (byte)(v | 0x80);
            v >>= 7;
        }
        destination[i++] = (byte)v;
        return i;
    }
}
