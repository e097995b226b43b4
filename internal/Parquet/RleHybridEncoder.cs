using System.Buffers;
using System.Numerics;

namespace KafScale.Parquet;

/// <summary>
/// Parquet's RLE / bit-packing hybrid (used for definition levels and dictionary indices).
/// A repeated value of at least 8 becomes an RLE run (header = count &lt;&lt; 1, then the value in
/// ceil(width / 8) little-endian bytes); everything else goes into bit-packed runs of groups of 8
/// values (header = groups &lt;&lt; 1 | 1, values packed least significant bit first). The last
/// group is padded with zeros; readers know the value count from the page header.
/// </summary>
internal static class RleHybridEncoder
{
    private const int MinRleRun = 8;

    /// <summary>The bit width that holds every value in 0..maxValue (at least 1).</summary>
    public static int BitWidth(int maxValue) => maxValue <= 0 ? 1 : 32 - BitOperations.LeadingZeroCount((uint)maxValue);

    /// <summary>Appends the runs for <paramref name="values"/> and returns the number of bytes written.</summary>
    public static int Encode(ReadOnlySpan<int> values, int bitWidth, IBufferWriter<byte> output)
    {
        if (bitWidth < 1 || bitWidth > 32)
            throw new ArgumentOutOfRangeException(nameof(bitWidth));
        int written = 0;
        int n = values.Length;
        int i = 0;
        while (i < n)
        {
            int run = RunLength(values, i, int.MaxValue);
            if (run >= MinRleRun)
            {
                written += WriteRleRun(values[i], run, bitWidth, output);
                i += run;
                continue;
            }

            // Bit-pack groups of 8 until a long enough repeat starts at a group boundary.
            int start = i;
            int groups = 0;
            while (true)
            {
                groups++;
                i += 8;
                if (i >= n || RunLength(values, i, MinRleRun) >= MinRleRun)
                    break;
            }
            written += WriteBitPackedRun(values.Slice(start, Math.Min(groups * 8, n - start)), groups, bitWidth, output);
            if (i > n)
                i = n;
        }
        return written;
    }

    private static int RunLength(ReadOnlySpan<int> values, int start, int limit)
    {
        int value = values[start];
        int j = start + 1;
        int end = (int)Math.Min((long)values.Length, (long)start + limit);
        while (j < end && values[j] == value)
            j++;
        return j - start;
    }

    private static int WriteRleRun(int value, int count, int bitWidth, IBufferWriter<byte> output)
    {
        int valueBytes = (bitWidth + 7) / 8;
        Span<byte> span = output.GetSpan(10 + 4);
        int pos = WriteVarint(span, (uint)count << 1);
        for (int b = 0; b < valueBytes; b++)
            span[pos++] = (byte)(value >> (8 * b));
        output.Advance(pos);
        return pos;
    }

    private static int WriteBitPackedRun(ReadOnlySpan<int> values, int groups, int bitWidth, IBufferWriter<byte> output)
    {
        int dataBytes = groups * bitWidth; // 8 values of bitWidth bits = bitWidth bytes per group
        Span<byte> span = output.GetSpan(5 + dataBytes);
        int pos = WriteVarint(span, ((uint)groups << 1) | 1);
        Span<byte> data = span.Slice(pos, dataBytes);
        data.Clear();
        ulong buffer = 0;
        int bits = 0;
        int o = 0;
        ulong mask = bitWidth == 32 ? uint.MaxValue : (1UL << bitWidth) - 1;
        int total = groups * 8;
        for (int k = 0; k < total; k++)
        {
            ulong v = k < values.Length ? (uint)values[k] & mask : 0;
            buffer |= v << bits;
            bits += bitWidth;
            while (bits >= 8)
            {
                data[o++] = (byte)buffer;
                buffer >>= 8;
                bits -= 8;
            }
        }
        output.Advance(pos + dataBytes);
        return pos + dataBytes;
    }

    private static int WriteVarint(Span<byte> span, uint value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[i++] = (byte)value;
        return i;
    }
}
