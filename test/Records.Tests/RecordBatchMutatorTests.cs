
namespace KafScale.Records.Tests;

public class RecordBatchMutatorTests
{
    [Fact]
    public void Patching_the_base_offset_keeps_the_crc_valid_and_shifts_record_offsets()
    {
        byte[] batch = TestBatches.Mixed(CompressionType.None, records: 3);
        RecordBatch.PatchBaseOffset(batch, 1_000_000_000_000);
        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(batch, out _));
        var header = new RecordBatchHeader(batch);
        Assert.Equal(1_000_000_000_000, header.BaseOffset);
        Assert.Equal(1_000_000_000_002, header.LastOffset);
        Assert.Equal([1_000_000_000_000, 1_000_000_000_001, 1_000_000_000_002], RecordBatchReader.ReadAll(batch).Select(r => r.Offset));
    }

    [Fact]
    public void Setting_the_partition_leader_epoch_keeps_the_crc_valid()
    {
        byte[] batch = TestBatches.VectorBatch();
        RecordBatch.SetPartitionLeaderEpoch(batch, 17);
        Assert.Equal(17, new RecordBatchHeader(batch).PartitionLeaderEpoch);
        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(batch, out _));
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Lz4)]
    public void Log_append_time_sets_the_flag_and_max_timestamp_and_every_record_reads_it(CompressionType codec)
    {
        byte[] batch = TestBatches.Mixed(codec, records: 4);
        long baseTimestamp = new RecordBatchHeader(batch).BaseTimestamp;
        const long appendTime = 1800000000000;

        RecordBatch.SetLogAppendTime(batch, appendTime);

        var h = new RecordBatchHeader(batch);
        Assert.Equal(TimestampType.LogAppend, h.TimestampType);
        Assert.Equal(appendTime, h.MaxTimestamp);
        Assert.Equal(baseTimestamp, h.BaseTimestamp);
        Assert.Equal(codec, h.Compression);
        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(batch, out _));
        List<Record> records = RecordBatchReader.ReadAll(batch);
        Assert.Equal(4, records.Count);
        Assert.All(records, r => Assert.Equal(appendTime, r.Timestamp));
        Assert.All(records, r => Assert.Equal(TimestampType.LogAppend, r.TimestampType));
    }

    [Fact]
    public void A_builder_made_log_append_time_batch_decodes_with_the_append_time()
    {
        using var b = new RecordBatchBuilder(CompressionType.Gzip) { TimestampType = TimestampType.LogAppend, MaxTimestampOverride = 99 };
        b.Add(null, [1], 5);
        b.Add(null, [2], 6);
        Assert.All(RecordBatchReader.ReadAll(b.Build()), r => Assert.Equal(99, r.Timestamp));
    }
}
