
namespace KafScale.Records.Tests;

public class VarintTests
{
    [Theory]
    [InlineData(0, "00")]
    [InlineData(-1, "01")]
    [InlineData(1, "02")]
    [InlineData(63, "7e")]
    [InlineData(-64, "7f")]
    [InlineData(64, "8001")]
    [InlineData(int.MaxValue, "feffffff0f")]
    [InlineData(int.MinValue, "ffffffff0f")]
    public void Int32_values_encode_as_zigzag_varints(int value, string hex)
    {
        Span<byte> buffer = stackalloc byte[5];
        int n = Varint.WriteInt32(buffer, value);
        Assert.Equal(hex, Convert.ToHexString(buffer.Slice(0, n)).ToLowerInvariant());
        Assert.Equal(n, Varint.SizeOfInt32(value));
        int pos = 0;
        Assert.True(Varint.TryReadInt32(buffer.Slice(0, n), ref pos, out int back));
        Assert.Equal(value, back);
        Assert.Equal(n, pos);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(1700000000000L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    public void Int64_values_round_trip(long value)
    {
        Span<byte> buffer = stackalloc byte[10];
        int n = Varint.WriteInt64(buffer, value);
        Assert.Equal(n, Varint.SizeOfInt64(value));
        int pos = 0;
        Assert.True(Varint.TryReadInt64(buffer.Slice(0, n), ref pos, out long back));
        Assert.Equal(value, back);
    }

    [Fact]
    public void Over_long_and_truncated_varints_are_rejected()
    {
        int pos = 0;
        Assert.False(Varint.TryReadInt32([0x80, 0x80, 0x80, 0x80, 0x80, 0x01], ref pos, out _));
        pos = 0;
        Assert.False(Varint.TryReadInt32([0x80, 0x80], ref pos, out _));
        pos = 0;
        Assert.False(Varint.TryReadInt64([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], ref pos, out _));
        Assert.Equal(0, pos);
    }
}
