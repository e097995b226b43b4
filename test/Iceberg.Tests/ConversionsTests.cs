using System.Text;

namespace KafScale.Iceberg.Tests;

public sealed class ConversionsTests
{
    [Fact]
    public void Single_value_serialization_is_little_endian_and_utf8()
    {
        Assert.Equal("01", Hex(Conversions.ToBytes(IcebergPrimitive.Boolean, true)));
        Assert.Equal("D2040000", Hex(Conversions.ToBytes(IcebergPrimitive.Int, 1234)));
        Assert.Equal("D204000000000000", Hex(Conversions.ToBytes(IcebergPrimitive.Long, 1234L)));
        Assert.Equal("0000803F", Hex(Conversions.ToBytes(IcebergPrimitive.Float, 1.0f)));
        Assert.Equal("000000000000F03F", Hex(Conversions.ToBytes(IcebergPrimitive.Double, 1.0)));
        Assert.Equal("FFFFFFFF", Hex(Conversions.ToBytes(IcebergPrimitive.Date, -1)));
        Assert.Equal("68C3A9", Hex(Conversions.ToBytes(IcebergPrimitive.String, "hé")));
        Assert.Equal(1234L, Conversions.FromBytes(IcebergPrimitive.Timestamptz, Conversions.ToBytes(IcebergPrimitive.Timestamptz, 1234L)));
    }

    [Fact]
    public void String_bounds_are_cut_to_16_code_points_and_the_upper_bound_incremented()
    {
        string text = "abcdefghijklmnopqrstuvwxyz";
        byte[] lower = Conversions.TruncateLower(IcebergPrimitive.String, Encoding.UTF8.GetBytes(text));
        Assert.Equal("abcdefghijklmnop", Encoding.UTF8.GetString(lower));
        byte[] upper = Conversions.TruncateUpper(IcebergPrimitive.String, Encoding.UTF8.GetBytes(text))!;
        Assert.Equal("abcdefghijklmnoq", Encoding.UTF8.GetString(upper));

        // Multi-byte code points count as one character each.
        string wide = new string('é', 20);
        Assert.Equal(new string('é', 16), Encoding.UTF8.GetString(Conversions.TruncateLower(IcebergPrimitive.String, Encoding.UTF8.GetBytes(wide))));
        Assert.Equal(new string('é', 15) + "ê", Encoding.UTF8.GetString(Conversions.TruncateUpper(IcebergPrimitive.String, Encoding.UTF8.GetBytes(wide))!));

        // The largest code point cannot be incremented: the one before it is.
        string top = "a" + string.Concat(Enumerable.Repeat(char.ConvertFromUtf32(0x10FFFF), 16)) + "z";
        Assert.Equal("b", Encoding.UTF8.GetString(Conversions.TruncateUpper(IcebergPrimitive.String, Encoding.UTF8.GetBytes(top))!));

        // A short value is kept whole.
        Assert.Equal("short", Encoding.UTF8.GetString(Conversions.TruncateUpper(IcebergPrimitive.String, Encoding.UTF8.GetBytes("short"))!));
    }

    [Fact]
    public void Binary_bounds_are_cut_to_16_bytes_and_the_upper_bound_incremented()
    {
        byte[] value = Enumerable.Range(1, 20).Select(i => (byte)i).ToArray();
        Assert.Equal(value[..16], Conversions.TruncateLower(IcebergPrimitive.Binary, value));
        byte[] upper = Conversions.TruncateUpper(IcebergPrimitive.Binary, value)!;
        Assert.Equal(16, upper.Length);
        Assert.Equal(17, upper[15]);

        byte[] ff = [.. Enumerable.Repeat((byte)1, 14), 0xFF, 0xFF, 0xFF, 0xFF];
        Assert.Equal(new byte[] { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2 }, Conversions.TruncateUpper(IcebergPrimitive.Binary, ff));
        Assert.Null(Conversions.TruncateUpper(IcebergPrimitive.Binary, Enumerable.Repeat((byte)0xFF, 17).ToArray()));
    }

    [Fact]
    public void Time_transforms_count_from_the_epoch()
    {
        long micros = new DateTimeOffset(2024, 3, 15, 13, 30, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;
        Assert.Equal(19797, Transforms.ApplyTime("day", IcebergPrimitive.Timestamptz, micros));
        Assert.Equal(19797 * 24 + 13, Transforms.ApplyTime("hour", IcebergPrimitive.Timestamptz, micros));
        Assert.Equal((2024 - 1970) * 12 + 2, Transforms.ApplyTime("month", IcebergPrimitive.Timestamptz, micros));
        Assert.Equal(2024 - 1970, Transforms.ApplyTime("year", IcebergPrimitive.Timestamptz, micros));
        Assert.Equal(-1, Transforms.ApplyTime("day", IcebergPrimitive.Timestamp, -1));
        Assert.Equal(-1, Transforms.ApplyTime("hour", IcebergPrimitive.Timestamp, -1));
        Assert.Equal(-1, Transforms.ApplyTime("month", IcebergPrimitive.Date, -1));
        Assert.Throws<IcebergException>(() => new PartitionSpec(0, [new PartitionField(1, 1000, "b", "bucket[16]")]));
    }

    private static string Hex(byte[] b) => Convert.ToHexString(b);
}
