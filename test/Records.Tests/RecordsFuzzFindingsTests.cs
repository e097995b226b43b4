using KafScale.Common;

namespace KafScale.Records.Tests;

/// <summary>Inputs found by fuzzing the batch validator and reader (scripts/fuzz.sh records).</summary>
public class RecordsFuzzFindingsTests
{
    [Fact]
    public void A_header_count_the_record_cannot_hold_is_malformed_rather_than_an_array_of_that_size()
    {
        // The storage-format vector batch with its one record's header count (the last byte,
        // 0) set to int.MaxValue: the record grows 4 bytes, and so its length and the batch's.
        string hex = TestBatches.VectorBatchHex;
        Assert.EndsWith("100000000104686900", hex);
        string forged = hex[..16] + "0000003e" + hex[24..^18] + "1800000001046869" + "feffffff0f";
        byte[] batch = Convert.FromHexString(forged);
        RecordBatch.UpdateCrc(batch);

        // The record walk already refused it; the reader sized ToRecord's header array by it.
        Assert.Equal(BatchValidationResult.InvalidRecord, RecordBatchValidator.Validate(batch, out _));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => RecordBatchReader.ReadAll(batch));
        Assert.Contains("header count", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void A_snappy_block_claiming_more_than_snappy_can_expand_is_refused_before_its_buffer_is_sized()
    {
        // A raw snappy block starts with its uncompressed length as a varint: here 1 GiB, for
        // a block of 8 bytes. The codec used to ask the output buffer for the whole claim.
        byte[] block = [0x80, 0x80, 0x80, 0x80, 0x04, 0x00, 0x61, 0x62];
        using var output = new PooledBufferWriter();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => RecordCompression.Decompress(CompressionType.Snappy, block, output));
        Assert.Contains("claims", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void An_lz4_frame_asking_for_a_dictionary_is_invalid_data()
    {
        // Found by afl-fuzz: the frame header's dictionary-id bit (FLG 0x43: bit 0) sends the frame
        // to K4os' reader, which throws NotImplementedException for predefined dictionaries once
        // the header checksum matches (0x00 happens to be right for this descriptor); it escaped
        // the codec.
        byte[] frame = Convert.FromHexString("04224D18" + "4319" + "00000000" + "00" + "00000000");
        using var output = new PooledBufferWriter();
        var e = Assert.Throws<InvalidDataException>(() => RecordCompression.Decompress(CompressionType.Lz4, frame, output));
        Assert.StartsWith("lz4:", e.Message);
    }

    [Fact]
    public void Snappy_still_reads_a_block_that_expands_as_far_as_snappy_can()
    {
        // Zeros compress to one literal and then 64-byte copies of 3 bytes each, the largest
        // expansion the format has: the bound must let that through.
        byte[] zeros = new byte[1 << 20];
        using var compressed = new PooledBufferWriter();
        SnappyCodec.CompressBlock(zeros, compressed);
        Assert.True(compressed.WrittenCount * 20 < zeros.Length);
        using var output = new PooledBufferWriter();
        RecordCompression.Decompress(CompressionType.Snappy, compressed.WrittenSpan, output);
        Assert.Equal(zeros.Length, output.WrittenCount);
    }
}
