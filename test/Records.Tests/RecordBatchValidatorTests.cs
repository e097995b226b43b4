using System.Buffers.Binary;

namespace KafScale.Records.Tests;

public class RecordBatchValidatorTests
{
    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    [Fact]
    public void A_single_good_batch_is_ok_and_summarised()
    {
        byte[] batch = TestBatches.Mixed(CompressionType.None, records: 5);
        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(batch, out BatchSummary s));
        Assert.Equal(1, s.BatchCount);
        Assert.Equal(5, s.RecordCount);
        Assert.Equal(new RecordBatchHeader(batch).MaxTimestamp, s.MaxTimestamp);
        Assert.Equal(BatchProblem.None, s.Problem);
    }

    [Fact]
    public void Several_batches_back_to_back_are_ok_and_summed()
    {
        using var idempotent = new RecordBatchBuilder { ProducerId = 42, ProducerEpoch = 3, BaseSequence = 10 };
        idempotent.Add([1], [2], 1000);
        idempotent.Add([1], [2], 5000);
        using var transactional = new RecordBatchBuilder(CompressionType.Gzip) { ProducerId = 42, ProducerEpoch = 3, BaseSequence = 12, IsTransactional = true };
        transactional.Add(null, [9], 2000);
        byte[] mixed = TestBatches.Mixed(CompressionType.None, records: 4);
        byte[] blob = Concat(idempotent.Build(), transactional.Build(), mixed);

        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(blob, out BatchSummary s));
        Assert.Equal(3, s.BatchCount);
        Assert.Equal(7, s.RecordCount);
        Assert.Equal(42, s.FirstProducerId);
        Assert.Equal(3, s.FirstProducerEpoch);
        Assert.Equal(10, s.FirstBaseSequence);
        Assert.Equal(new RecordBatchHeader(mixed).MaxTimestamp, s.MaxTimestamp);
        Assert.True(s.AnyTransactional);
        Assert.False(s.AnyControl);
    }

    [Fact]
    public void Every_single_bit_flip_covered_by_length_magic_or_crc_is_detected()
    {
        byte[][] batches = [TestBatches.Mixed(CompressionType.None), TestBatches.Mixed(CompressionType.Zstd), TestBatches.VectorBatch()];
        foreach (byte[] original in batches)
        {
            for (int i = 0; i < original.Length; i++)
            {
                // baseOffset (0-7) and partitionLeaderEpoch (12-15) lie outside Kafka's CRC by
                // design: the broker overwrites both. See the next test.
                if (i < 8 || (i >= 12 && i < 16))
                    continue;
                for (int bit = 0; bit < 8; bit++)
                {
                    byte[] flipped = (byte[])original.Clone();
                    flipped[i] ^= (byte)(1 << bit);
                    BatchValidationResult r = RecordBatchValidator.Validate(flipped, out _);
                    Assert.True(r != BatchValidationResult.Ok, $"flip of bit {bit} in byte {i} went undetected");
                }
            }
        }
    }

    [Fact]
    public void Base_offset_and_leader_epoch_are_outside_the_crc_as_in_kafka()
    {
        byte[] batch = TestBatches.VectorBatch();
        batch[3] ^= 0x10;
        batch[14] ^= 0x01;
        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(batch, out _));
    }

    [Fact]
    public void Every_truncation_is_corrupt()
    {
        byte[] batch = TestBatches.Mixed(CompressionType.None);
        for (int length = 1; length < batch.Length; length++)
        {
            BatchValidationResult r = RecordBatchValidator.Validate(batch.AsSpan(0, length), out BatchSummary s);
            Assert.True(r == BatchValidationResult.CorruptMessage, $"truncation to {length} bytes gave {r}");
            Assert.NotEqual(BatchProblem.None, s.Problem);
        }
    }

    [Fact]
    public void An_empty_blob_is_an_invalid_record()
    {
        Assert.Equal(BatchValidationResult.InvalidRecord, RecordBatchValidator.Validate([], out BatchSummary s));
        Assert.Equal(BatchProblem.NoBatches, s.Problem);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void A_magic_other_than_2_is_unsupported(byte magic)
    {
        byte[] batch = TestBatches.VectorBatch();
        batch[RecordBatch.MagicOffset] = magic;
        Assert.Equal(BatchValidationResult.UnsupportedMagic, RecordBatchValidator.Validate(batch, out BatchSummary s));
        Assert.Equal(BatchProblem.UnsupportedMagic, s.Problem);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(60)]
    [InlineData(500)]
    public void Trailing_bytes_after_the_last_batch_are_corrupt(int extra)
    {
        byte[] blob = Concat(TestBatches.VectorBatch(), new byte[extra]);
        blob[70 + Math.Min(extra - 1, RecordBatch.MagicOffset)] = 2; // looks like magic 2 when long enough
        BatchValidationResult r = RecordBatchValidator.Validate(blob, out BatchSummary s);
        Assert.Equal(BatchValidationResult.CorruptMessage, r);
        Assert.Equal(1, s.ProblemBatchIndex);
        Assert.Equal(70, s.ProblemPosition);
    }

    [Fact]
    public void A_bad_crc_is_reported_as_crc_mismatch()
    {
        byte[] batch = TestBatches.VectorBatch();
        batch[RecordBatch.CrcOffset] ^= 1;
        Assert.Equal(BatchValidationResult.CorruptMessage, RecordBatchValidator.Validate(batch, out BatchSummary s));
        Assert.Equal(BatchProblem.CrcMismatch, s.Problem);
    }

    [Fact]
    public void A_record_count_that_disagrees_with_the_records_is_invalid_even_with_a_good_crc()
    {
        byte[] batch = TestBatches.Mixed(CompressionType.None, records: 3);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatch.RecordCountOffset), 2);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatch.LastOffsetDeltaOffset), 1);
        RecordBatch.UpdateCrc(batch);
        Assert.Equal(BatchValidationResult.InvalidRecord, RecordBatchValidator.Validate(batch, out BatchSummary s));
        Assert.Equal(BatchProblem.RecordCountMismatch, s.Problem);
    }

    [Fact]
    public void A_last_offset_delta_that_disagrees_with_the_count_is_invalid()
    {
        byte[] batch = TestBatches.Mixed(CompressionType.None, records: 3);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatch.LastOffsetDeltaOffset), 5);
        RecordBatch.UpdateCrc(batch);
        Assert.Equal(BatchValidationResult.InvalidRecord, RecordBatchValidator.Validate(batch, out BatchSummary s));
        Assert.Equal(BatchProblem.LastOffsetDeltaMismatch, s.Problem);
    }

    [Fact]
    public void Zero_or_negative_record_counts_are_invalid()
    {
        foreach (int count in new[] { 0, -1 })
        {
            byte[] batch = TestBatches.VectorBatch();
            BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatch.RecordCountOffset), count);
            BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatch.LastOffsetDeltaOffset), count - 1);
            RecordBatch.UpdateCrc(batch);
            Assert.Equal(BatchValidationResult.InvalidRecord, RecordBatchValidator.Validate(batch, out BatchSummary s));
            Assert.Equal(BatchProblem.InvalidRecordCount, s.Problem);
        }
    }

    [Fact]
    public void A_record_offset_delta_out_of_sequence_is_invalid()
    {
        byte[] batch = TestBatches.VectorBatch();
        // record: length(0x10) attributes(0) timestampDelta(0) offsetDelta(0) ... at bytes 61..
        batch[RecordBatch.RecordsOffset + 3] = 0x02; // offsetDelta 1
        RecordBatch.UpdateCrc(batch);
        Assert.Equal(BatchValidationResult.InvalidRecord, RecordBatchValidator.Validate(batch, out BatchSummary s));
        Assert.Equal(BatchProblem.RecordOffsetDeltaMismatch, s.Problem);
    }

    [Fact]
    public void A_record_length_past_the_batch_is_invalid()
    {
        byte[] batch = TestBatches.VectorBatch();
        batch[RecordBatch.RecordsOffset] = 0x7E; // 63 bytes, only 9 remain
        RecordBatch.UpdateCrc(batch);
        Assert.Equal(BatchValidationResult.InvalidRecord, RecordBatchValidator.Validate(batch, out BatchSummary s));
        Assert.Equal(BatchProblem.InvalidRecordLength, s.Problem);
    }

    [Fact]
    public void Problem_position_points_at_the_bad_batch()
    {
        byte[] bad = TestBatches.VectorBatch();
        bad[40] ^= 4;
        byte[] blob = Concat(TestBatches.VectorBatch(), TestBatches.VectorBatch(), bad);
        Assert.Equal(BatchValidationResult.CorruptMessage, RecordBatchValidator.Validate(blob, out BatchSummary s));
        Assert.Equal(2, s.ProblemBatchIndex);
        Assert.Equal(140, s.ProblemPosition);
    }

    [Fact]
    public void Validation_allocates_nothing()
    {
        byte[] blob = Concat(TestBatches.Mixed(CompressionType.None, records: 50), TestBatches.Mixed(CompressionType.Snappy), TestBatches.VectorBatch());
        RecordBatchValidator.Validate(blob, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
            RecordBatchValidator.Validate(blob, out _);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
