using System.Buffers;

namespace KafScale.Protocol.Tests;

public class PrimitiveTests
{
    [Theory]
    [InlineData(0u, "00")]
    [InlineData(1u, "01")]
    [InlineData(127u, "7F")]
    [InlineData(128u, "8001")]
    [InlineData(300u, "AC02")]
    [InlineData(16384u, "808001")]
    [InlineData(uint.MaxValue, "FFFFFFFF0F")]
    public void Unsigned_varints_use_7_bit_groups_least_significant_first(uint value, string hex)
    {
        using var writer = new KafkaWriter();
        writer.WriteUnsignedVarInt(value);
        Assert.Equal(hex, Convert.ToHexString(writer.WrittenSpan));
        Assert.Equal(hex.Length / 2, KafkaWriter.SizeOfUnsignedVarInt(value));

        var reader = new KafkaReader(writer.ToArray());
        Assert.Equal(value, reader.ReadUnsignedVarInt());
        Assert.Equal(0, reader.Remaining);
    }

    [Theory]
    [InlineData(0, "00")]
    [InlineData(-1, "01")]
    [InlineData(1, "02")]
    [InlineData(-64, "7F")]
    [InlineData(64, "8001")]
    [InlineData(int.MinValue, "FFFFFFFF0F")]
    public void Signed_varints_are_zigzag_encoded(int value, string hex)
    {
        using var writer = new KafkaWriter();
        writer.WriteVarInt(value);
        Assert.Equal(hex, Convert.ToHexString(writer.WrittenSpan));
        var reader = new KafkaReader(writer.ToArray());
        Assert.Equal(value, reader.ReadVarInt());
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData(1234567890123L)]
    public void Varlongs_round_trip(long value)
    {
        using var writer = new KafkaWriter();
        writer.WriteVarLong(value);
        var reader = new KafkaReader(writer.ToArray());
        Assert.Equal(value, reader.ReadVarLong());
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void A_varint_longer_than_five_bytes_is_malformed()
    {
        Assert.Throws<KafkaProtocolException>(() => new KafkaReader(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }).ReadUnsignedVarInt());
        Assert.Throws<KafkaProtocolException>(() => new KafkaReader(new byte[] { 0x80, 0x80 }).ReadUnsignedVarInt());
    }

    [Fact]
    public void Fixed_width_integers_are_big_endian()
    {
        using var writer = new KafkaWriter();
        writer.WriteInt16(0x0102);
        writer.WriteInt32(0x03040506);
        writer.WriteInt64(0x0708090A0B0C0D0E);
        writer.WriteUInt16(0xFFFE);
        writer.WriteUInt32(0xFFFFFFFD);
        writer.WriteDouble(1.5);
        writer.WriteBool(true);
        writer.WriteInt8(-2);
        Assert.Equal("0102" + "03040506" + "0708090A0B0C0D0E" + "FFFE" + "FFFFFFFD" + "3FF8000000000000" + "01" + "FE", Convert.ToHexString(writer.WrittenSpan));

        var reader = new KafkaReader(writer.ToArray());
        Assert.Equal(0x0102, reader.ReadInt16());
        Assert.Equal(0x03040506, reader.ReadInt32());
        Assert.Equal(0x0708090A0B0C0D0E, reader.ReadInt64());
        Assert.Equal(0xFFFE, reader.ReadUInt16());
        Assert.Equal(0xFFFFFFFD, reader.ReadUInt32());
        Assert.Equal(1.5, reader.ReadDouble());
        Assert.True(reader.ReadBool());
        Assert.Equal(-2, reader.ReadInt8());
    }

    [Fact]
    public void Uuids_are_written_most_significant_byte_first()
    {
        var id = Guid.Parse("01234567-89ab-cdef-0011-223344556677");
        using var writer = new KafkaWriter();
        writer.WriteUuid(id);
        Assert.Equal("0123456789ABCDEF0011223344556677", Convert.ToHexString(writer.WrittenSpan));
        Assert.Equal(id, new KafkaReader(writer.ToArray()).ReadUuid());
    }

    [Fact]
    public void Strings_are_utf8_with_int16_or_compact_lengths_and_null_markers()
    {
        using var writer = new KafkaWriter();
        writer.WriteString("é", compact: false);
        writer.WriteNullableString(null, compact: false);
        writer.WriteString("é", compact: true);
        writer.WriteNullableString(null, compact: true);
        writer.WriteNullableString("", compact: true);
        Assert.Equal("0002C3A9" + "FFFF" + "03C3A9" + "00" + "01", Convert.ToHexString(writer.WrittenSpan));

        var reader = new KafkaReader(writer.ToArray());
        Assert.Equal("é", reader.ReadString());
        Assert.Null(reader.ReadNullableString());
        Assert.Equal("é", reader.ReadCompactString());
        Assert.Null(reader.ReadCompactNullableString());
        Assert.Equal("", reader.ReadCompactNullableString());
    }

    [Fact]
    public void A_null_where_a_value_is_required_throws()
    {
        Assert.Throws<KafkaProtocolException>(() => new KafkaReader(new byte[] { 0xFF, 0xFF }).ReadString());
        Assert.Throws<KafkaProtocolException>(() => new KafkaReader(new byte[] { 0x00 }).ReadCompactString());
        Assert.Throws<KafkaProtocolException>(() => new KafkaReader(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }).ReadBytes(compact: false));
    }

    [Fact]
    public void Strings_longer_than_the_kafka_limit_are_refused_on_write()
    {
        using var writer = new KafkaWriter();
        Assert.Throws<KafkaProtocolException>(() => writer.WriteString(new string('x', 40000), compact: true));
    }

    [Fact]
    public void Huge_declared_lengths_throw_before_allocating()
    {
        byte[][] forged =
        [
            [0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3],  // int32 array / bytes length 2^31-1
            [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1],  // compact length 2^32-2
            [0x7F, 0xFF, 1, 2],                 // int16 string length 32767
        ];
        var produce = new Messages.ProduceRequest();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            Assert.Throws<KafkaProtocolException>(() => new KafkaReader(forged[0]).ReadArrayLength(compact: false));
            Assert.Throws<KafkaProtocolException>(() => new KafkaReader(forged[0]).ReadBytes(compact: false));
            Assert.Throws<KafkaProtocolException>(() => new KafkaReader(forged[1]).ReadArrayLength(compact: true));
            Assert.Throws<KafkaProtocolException>(() => new KafkaReader(forged[1]).ReadCompactString());
            Assert.Throws<KafkaProtocolException>(() => new KafkaReader(forged[2]).ReadString());
            // A Produce v3 body whose topic array claims 2^31-1 entries.
            Assert.Throws<KafkaProtocolException>(() =>
            {
                var reader = new KafkaReader(new byte[] { 0xFF, 0xFF, 0, 1, 0, 0, 0, 1, 0x7F, 0xFF, 0xFF, 0xFF, 0 });
                produce.Read(ref reader, 3);
            });
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 4 * 1024 * 1024, $"{allocated} bytes allocated");
    }

    [Fact]
    public void Array_counts_are_checked_against_the_minimum_element_size()
    {
        // 3 int64 elements need 24 bytes; only 16 follow.
        byte[] bytes = [0, 0, 0, 3, .. new byte[16]];
        Assert.Throws<KafkaProtocolException>(() => new KafkaReader(bytes).ReadArrayLength(compact: false, minElementSize: 8));
        Assert.Equal(3, new KafkaReader(bytes).ReadArrayLength(compact: false, minElementSize: 4));
    }

    [Fact]
    public void Tagged_field_sections_are_skipped_and_bounded()
    {
        var reader = new KafkaReader(new byte[] { 0x02, 0x00, 0x01, 0xAA, 0x05, 0x00, 0x42 });
        reader.SkipTaggedFields();
        Assert.Equal(0x42, reader.ReadUInt8());

        // Declares a 9-byte field with 1 byte left.
        Assert.Throws<KafkaProtocolException>(() => new KafkaReader(new byte[] { 0x01, 0x00, 0x09, 0xAA }).SkipTaggedFields());
    }

    [Fact]
    public void Writer_grows_past_its_initial_capacity_and_reset_keeps_the_buffer()
    {
        using var writer = new KafkaWriter(64);
        for (int i = 0; i < 10_000; i++)
        {
            writer.WriteInt32(i);
        }

        Assert.Equal(40_000, writer.WrittenCount);
        var reader = new KafkaReader(writer.ToArray());
        for (int i = 0; i < 10_000; i++)
        {
            Assert.Equal(i, reader.ReadInt32());
        }

        int capacity = writer.Capacity;
        writer.Reset();
        Assert.Equal(0, writer.WrittenCount);
        Assert.Equal(capacity, writer.Capacity);
    }

    [Fact]
    public void Writer_is_an_IBufferWriter()
    {
        using var writer = new KafkaWriter(16);
        IBufferWriter<byte> buffer = writer;
        Span<byte> span = buffer.GetSpan(100);
        Assert.True(span.Length >= 100);
        span[0] = 7;
        buffer.Advance(1);
        buffer.Write(new byte[] { 8, 9 });
        Assert.Equal(new byte[] { 7, 8, 9 }, writer.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Advance(-1));
    }

    [Fact]
    public void Size_prefix_is_reserved_and_patched()
    {
        using var writer = new KafkaWriter();
        writer.WriteInt8(1); // bytes before the frame are untouched
        int mark = writer.BeginSizePrefix();
        writer.WriteInt64(0);
        writer.WriteInt16(0);
        writer.EndSizePrefix(mark);
        Assert.Equal("01" + "0000000A" + "00000000000000000000", Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void A_reserved_varint_that_outgrows_one_byte_moves_the_bytes_after_it()
    {
        using var writer = new KafkaWriter(16);
        int mark = writer.ReserveUnsignedVarInt();
        for (int i = 0; i < 300; i++)
        {
            writer.WriteUInt8((byte)i);
        }

        writer.PatchUnsignedVarInt(mark, 300);
        byte[] bytes = writer.ToArray();
        Assert.Equal(302, bytes.Length);
        var reader = new KafkaReader(bytes);
        Assert.Equal(300u, reader.ReadUnsignedVarInt());
        for (int i = 0; i < 300; i++)
        {
            Assert.Equal((byte)i, reader.ReadUInt8());
        }
    }

    [Fact]
    public void Tagged_field_size_is_patched_after_the_value()
    {
        using var writer = new KafkaWriter();
        int mark = writer.BeginTaggedField(3);
        writer.WriteRaw(new byte[200]);
        writer.EndTaggedField(mark);
        Assert.Equal("03" + "C801", Convert.ToHexString(writer.WrittenSpan[..3]));
        Assert.Equal(203, writer.WrittenCount);
    }

    [Fact]
    public void A_span_reader_reports_records_as_a_range()
    {
        ReadOnlySpan<byte> bytes = [0, 0, 0, 2, 0xAB, 0xCD, 0xFF, 0xFF, 0xFF, 0xFF];
        var reader = new KafkaReader(bytes);
        Assert.Equal(2, reader.ReadRecordsRange(compact: false, out int offset));
        Assert.Equal(4, offset);
        Assert.Equal(-1, reader.ReadRecordsRange(compact: false, out offset));
        Assert.Equal(-1, offset);
    }
}
