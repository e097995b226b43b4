using System.Text;
using KafScale.Common;

namespace KafScale.Records.Tests;

public class TestVectorTests
{
    [Fact]
    public void Crc32c_of_the_check_string_is_E3069283()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
    }

    [Fact]
    public void Crc32c_appended_in_pieces_equals_crc_of_the_whole()
    {
        byte[] data = TestBatches.Payload(3, 1001);
        uint state = 0xFFFFFFFF;
        state = Crc32C.Append(state, data.AsSpan(0, 13));
        state = Crc32C.Append(state, data.AsSpan(13, 500));
        state = Crc32C.Append(state, data.AsSpan(513));
        Assert.Equal(Crc32C.Compute(data), ~state);
    }

    [Fact]
    public void Builder_reproduces_the_70_byte_vector_batch()
    {
        using var b = new RecordBatchBuilder { PartitionLeaderEpoch = 0 };
        b.Add(null, "hi"u8.ToArray(), TestBatches.VectorTimestamp);
        byte[] batch = b.Build();
        Assert.Equal(70, batch.Length);
        Assert.Equal(TestBatches.VectorBatchHex, Convert.ToHexString(batch).ToLowerInvariant());
    }

    [Fact]
    public void Header_of_the_vector_batch_has_every_field_at_its_offset()
    {
        var h = new RecordBatchHeader(TestBatches.VectorBatch());
        Assert.Equal(0, h.BaseOffset);
        Assert.Equal(58, h.BatchLength);
        Assert.Equal(70, h.TotalSize);
        Assert.Equal(0, h.PartitionLeaderEpoch);
        Assert.Equal(2, h.Magic);
        Assert.Equal(0xbbcc4115u, h.Crc);
        Assert.Equal(0, h.Attributes);
        Assert.Equal(0, h.LastOffsetDelta);
        Assert.Equal(TestBatches.VectorTimestamp, h.BaseTimestamp);
        Assert.Equal(TestBatches.VectorTimestamp, h.MaxTimestamp);
        Assert.Equal(-1, h.ProducerId);
        Assert.Equal(-1, h.ProducerEpoch);
        Assert.Equal(-1, h.BaseSequence);
        Assert.Equal(1, h.RecordCount);
        Assert.Equal(CompressionType.None, h.Compression);
        Assert.Equal(TimestampType.Create, h.TimestampType);
        Assert.False(h.IsTransactional);
        Assert.False(h.IsControl);
        Assert.Equal(0, h.LastOffset);
    }

    [Fact]
    public void Vector_batch_reads_back_as_one_record_with_null_key_and_value_hi()
    {
        List<Record> records = RecordBatchReader.ReadAll(TestBatches.VectorBatch());
        Record r = Assert.Single(records);
        Assert.Equal(0, r.Offset);
        Assert.Equal(TestBatches.VectorTimestamp, r.Timestamp);
        Assert.Null(r.Key);
        Assert.Equal("hi"u8.ToArray(), r.Value);
        Assert.Empty(r.Headers);
    }

    [Fact]
    public void Attribute_bits_decode_to_codec_timestamp_type_transactional_and_control()
    {
        byte[] batch = TestBatches.VectorBatch();
        batch[22] = 0x3B; // 0b0011_1011: lz4, log-append, transactional, control
        var h = new RecordBatchHeader(batch);
        Assert.Equal(CompressionType.Lz4, h.Compression);
        Assert.Equal(TimestampType.LogAppend, h.TimestampType);
        Assert.True(h.IsTransactional);
        Assert.True(h.IsControl);
    }
}
