using KafScale.Common;

namespace KafScale.Parquet.Tests;

/// <summary>
/// Byte vectors worked out by hand from the Thrift compact protocol specification: a field header
/// is one byte (id delta &lt;&lt; 4 | type) when the id grows by 1..15, else the type byte and the
/// zigzag varint id; integers are zigzag varints; binary is a varint length and the bytes; lists
/// have a (size &lt;&lt; 4 | element type) byte below 15 elements, else 0xF_ and a varint size; a
/// struct ends with a 0 byte; booleans live in the field header (1 true, 2 false).
/// </summary>
public class ThriftCompactWriterTests
{
    private static byte[] Encode(Action<PooledBufferWriter> write)
    {
        using var buffer = new PooledBufferWriter(64);
        write(buffer);
        return buffer.ToArray();
    }

    [Fact]
    public void I32FieldsUseShortHeadersAndZigzag()
    {
        byte[] bytes = Encode(b =>
        {
            var w = new ThriftCompactWriter(b);
            w.BeginStruct();
            w.I32Field(1, 1);     // 0x15, zigzag(1) = 2
            w.I32Field(2, -1);    // delta 1: 0x15, zigzag(-1) = 1
            w.I32Field(3, 64);    // 0x15, zigzag(64) = 128 = 0x80 0x01
            w.EndStruct();
        });
        Assert.Equal(new byte[] { 0x15, 0x02, 0x15, 0x01, 0x15, 0x80, 0x01, 0x00 }, bytes);
    }

    [Fact]
    public void LargeOrDecreasingIdsUseLongHeaders()
    {
        byte[] bytes = Encode(b =>
        {
            var w = new ThriftCompactWriter(b);
            w.BeginStruct();
            w.I32Field(1, 0);     // 0x15 0x00
            w.I32Field(20, 0);    // delta 19: 0x05, zigzag(20) = 40 = 0x28, value 0x00
            w.I32Field(3, 0);     // smaller id: 0x05, zigzag(3) = 6, value 0x00
            w.EndStruct();
        });
        Assert.Equal(new byte[] { 0x15, 0x00, 0x05, 0x28, 0x00, 0x05, 0x06, 0x00, 0x00 }, bytes);
    }

    [Fact]
    public void I64I16BoolAndBinary()
    {
        byte[] bytes = Encode(b =>
        {
            var w = new ThriftCompactWriter(b);
            w.BeginStruct();
            w.I64Field(1, 300);             // 0x16, zigzag 600 = 0xD8 0x04
            w.BoolField(2, true);           // 0x11
            w.BoolField(3, false);          // 0x12
            w.BinaryField(4, "abc"u8);      // 0x18, 0x03, 'a' 'b' 'c'
            w.I16Field(7, 3);               // delta 3: 0x34, zigzag 6
            w.I64Field(8, -9_000_000_000);  // 0x16, zigzag = 17_999_999_999
            w.EndStruct();
        });
        byte[] expected =
        [
            0x16, 0xD8, 0x04,
            0x11,
            0x12,
            0x18, 0x03, (byte)'a', (byte)'b', (byte)'c',
            0x34, 0x06,
            0x16, 0xFF, 0xE7, 0x88, 0x87, 0x43,
            0x00,
        ];
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void ZigzagVarintOfLargeValues()
    {
        // 17_999_999_999 = 0x4_30E2_33FF: 7-bit groups from the low end 0x7F,0x67,0x08,0x07,0x43,
        // so the varint is FF E7 88 87 43 (continuation bit on all but the last).
        Assert.Equal(17_999_999_999UL, ThriftCompactWriter.ZigZag(-9_000_000_000L));
        Assert.Equal(uint.MaxValue, ThriftCompactWriter.ZigZag(int.MinValue));
        Assert.Equal(uint.MaxValue - 1, ThriftCompactWriter.ZigZag(int.MaxValue));
        byte[] bytes = Encode(b =>
        {
            var w = new ThriftCompactWriter(b);
            w.WriteI64(long.MinValue);      // zigzag = 2^64 - 1: nine 0xFF then 0x01
        });
        Assert.Equal(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, bytes);
    }

    [Fact]
    public void ShortAndLongLists()
    {
        byte[] shortList = Encode(b =>
        {
            var w = new ThriftCompactWriter(b);
            w.BeginStruct();
            w.ListField(2, ThriftCompactWriter.I32, 3);   // 0x29, then (3 << 4) | 5 = 0x35
            w.WriteI32(1);
            w.WriteI32(2);
            w.WriteI32(3);
            w.EndStruct();
        });
        Assert.Equal(new byte[] { 0x29, 0x35, 0x02, 0x04, 0x06, 0x00 }, shortList);

        byte[] longList = Encode(b =>
        {
            var w = new ThriftCompactWriter(b);
            w.ListHeader(ThriftCompactWriter.Binary, 20);  // 0xF8, varint 20
        });
        Assert.Equal(new byte[] { 0xF8, 0x14 }, longList);

        byte[] fourteen = Encode(b => new ThriftCompactWriter(b).ListHeader(ThriftCompactWriter.Struct, 14));
        Assert.Equal(new byte[] { 0xEC }, fourteen);
        byte[] fifteen = Encode(b => new ThriftCompactWriter(b).ListHeader(ThriftCompactWriter.Struct, 15));
        Assert.Equal(new byte[] { 0xFC, 0x0F }, fifteen);
    }

    [Fact]
    public void NestedStructsRestoreTheOuterFieldId()
    {
        byte[] bytes = Encode(b =>
        {
            var w = new ThriftCompactWriter(b);
            w.BeginStruct();
            w.BeginStructField(1);   // 0x1C
            w.I32Field(5, 7);        // inner ids start again at 0: 0x55, 0x0E
            w.EndStruct();           // 0x00
            w.I32Field(2, 1);        // delta from 1 (the outer id), not from 5: 0x15, 0x02
            w.BeginStructField(3);   // 0x1C
            w.BeginStructField(1);   // 0x1C (empty struct)
            w.EndStruct();           // 0x00
            w.EndStruct();           // 0x00
            w.EndStruct();           // 0x00
        });
        Assert.Equal(new byte[] { 0x1C, 0x55, 0x0E, 0x00, 0x15, 0x02, 0x1C, 0x1C, 0x00, 0x00, 0x00 }, bytes);
    }

    [Fact]
    public void StringsAreUtf8WithVarintLength()
    {
        byte[] bytes = Encode(b =>
        {
            var w = new ThriftCompactWriter(b);
            w.BeginStruct();
            w.StringField(4, "é");   // 0x48, length 2, C3 A9
            w.EndStruct();
        });
        Assert.Equal(new byte[] { 0x48, 0x02, 0xC3, 0xA9, 0x00 }, bytes);
    }

    [Fact]
    public void TooDeepNestingIsRefused()
    {
        using var buffer = new PooledBufferWriter(64);
        Assert.Throws<InvalidOperationException>(() =>
        {
            var w = new ThriftCompactWriter(buffer);
            for (int i = 0; i < 17; i++)
                w.BeginStruct();
        });
    }
}
