using KafScale.Common;

namespace KafScale.Parquet.Tests;

/// <summary>
/// The RLE / bit-packing hybrid against vectors from the Parquet encoding specification (the
/// bit-packing example packs 0..7 at width 3 into 0x88 0xC6 0xFA), hand-worked runs, and a
/// decoder written from the same specification for random sequences.
/// </summary>
public class RleHybridEncoderTests
{
    private static byte[] Encode(int[] values, int bitWidth)
    {
        using var buffer = new PooledBufferWriter(64);
        int n = RleHybridEncoder.Encode(values, bitWidth, buffer);
        Assert.Equal(buffer.WrittenCount, n);
        return buffer.ToArray();
    }

    [Fact]
    public void SpecBitPackingExample()
    {
        // One group of 8: header (1 << 1) | 1 = 0x03.
        Assert.Equal(new byte[] { 0x03, 0x88, 0xC6, 0xFA }, Encode([0, 1, 2, 3, 4, 5, 6, 7], 3));
    }

    [Fact]
    public void LongRepeatsBecomeRleRuns()
    {
        // 100 zeros at width 1: header 100 << 1 = 200 = 0xC8 0x01, value in one byte.
        Assert.Equal(new byte[] { 0xC8, 0x01, 0x00 }, Encode(Enumerable.Repeat(0, 100).ToArray(), 1));
        // Ten ones: header 20 = 0x14, value 0x01.
        Assert.Equal(new byte[] { 0x14, 0x01 }, Encode(Enumerable.Repeat(1, 10).ToArray(), 1));
        // Width 9 needs two value bytes: 300 = 0x2C 0x01; eight repeats: header 16 = 0x10.
        Assert.Equal(new byte[] { 0x10, 0x2C, 0x01 }, Encode(Enumerable.Repeat(300, 8).ToArray(), 9));
        // Width 17 needs three value bytes.
        Assert.Equal(new byte[] { 0x12, 0x01, 0x00, 0x01 }, Encode(Enumerable.Repeat(65537, 9).ToArray(), 17));
    }

    [Fact]
    public void ShortSequencesArePaddedToAGroup()
    {
        // 1,0,1 at width 1: LSB first 0b101 = 0x05, the rest of the group padded with zeros.
        Assert.Equal(new byte[] { 0x03, 0x05 }, Encode([1, 0, 1], 1));
        // Seven ones (shorter than an RLE run): 0x7F.
        Assert.Equal(new byte[] { 0x03, 0x7F }, Encode([1, 1, 1, 1, 1, 1, 1], 1));
    }

    [Fact]
    public void MixedRunsSwitchAtGroupBoundaries()
    {
        // 0,1 x4 (bit-packed 0b10101010 = 0xAA), then twelve 1s (RLE: header 24 = 0x18, value 1).
        int[] values = [0, 1, 0, 1, 0, 1, 0, 1, .. Enumerable.Repeat(1, 12)];
        Assert.Equal(new byte[] { 0x03, 0xAA, 0x18, 0x01 }, Encode(values, 1));
        // Twelve 2s at width 2 (RLE 0x18 0x02) then 3,0,3 (bit-packed: 0b11_00_11 = 0x33, then a zero byte).
        int[] second = [.. Enumerable.Repeat(2, 12), 3, 0, 3];
        Assert.Equal(new byte[] { 0x18, 0x02, 0x03, 0x33, 0x00 }, Encode(second, 2));
    }

    [Fact]
    public void ThirtyTwoBitValues()
    {
        int[] values = [-1, 0, int.MaxValue, 1, 2, 3, 4, 5];
        byte[] bytes = Encode(values, 32);
        Assert.Equal(1 + 32, bytes.Length);
        Assert.Equal(values, Decode(bytes, 32, values.Length));
    }

    [Fact]
    public void BitWidths()
    {
        Assert.Equal(1, RleHybridEncoder.BitWidth(0));
        Assert.Equal(1, RleHybridEncoder.BitWidth(1));
        Assert.Equal(2, RleHybridEncoder.BitWidth(2));
        Assert.Equal(2, RleHybridEncoder.BitWidth(3));
        Assert.Equal(3, RleHybridEncoder.BitWidth(4));
        Assert.Equal(8, RleHybridEncoder.BitWidth(255));
        Assert.Equal(9, RleHybridEncoder.BitWidth(256));
        Assert.Equal(31, RleHybridEncoder.BitWidth(int.MaxValue));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    [InlineData(5, 4)]
    [InlineData(12, 5)]
    [InlineData(20, 6)]
    public void RandomSequencesRoundTrip(int bitWidth, int seed)
    {
        var random = new Random(seed);
        for (int round = 0; round < 50; round++)
        {
            int n = random.Next(0, 2000);
            var values = new int[n];
            int max = (1 << bitWidth) - 1;
            for (int i = 0; i < n; i++)
            {
                // Runs of random length, so both run kinds appear.
                if (i > 0 && random.Next(3) > 0)
                    values[i] = values[i - 1];
                else
                    values[i] = random.Next(0, max + 1);
            }
            Assert.Equal(values, Decode(Encode(values, bitWidth), bitWidth, n));
        }
    }

    /// <summary>A decoder written from the specification's grammar.</summary>
    internal static int[] Decode(ReadOnlySpan<byte> data, int bitWidth, int count)
    {
        var result = new List<int>(count);
        int pos = 0;
        while (result.Count < count)
        {
            uint header = 0;
            int shift = 0;
            while (true)
            {
                byte b = data[pos++];
                header |= (uint)(b & 0x7F) << shift;
                if (b < 0x80)
                    break;
                shift += 7;
            }
            if ((header & 1) == 0)
            {
                int run = (int)(header >> 1);
                int value = 0;
                for (int i = 0; i < (bitWidth + 7) / 8; i++)
                    value |= data[pos++] << (8 * i);
                for (int i = 0; i < run; i++)
                    result.Add(value);
            }
            else
            {
                int values = (int)(header >> 1) * 8;
                long bitPos = 0;
                for (int i = 0; i < values; i++)
                {
                    long v = 0;
                    for (int bit = 0; bit < bitWidth; bit++, bitPos++)
                    {
                        int b = (data[pos + (int)(bitPos / 8)] >> (int)(bitPos % 8)) & 1;
                        v |= (long)b << bit;
                    }
                    if (result.Count < count)
                        result.Add((int)v);
                }
                pos += (int)(header >> 1) * bitWidth;
            }
        }
        Assert.Equal(data.Length, pos);
        return result.ToArray();
    }
}
