using System.Buffers.Binary;
using KafScale.Common;

namespace KafScale.Records.Tests;

public class CompressionTests
{
    public static TheoryData<CompressionType> AllCodecs =>
        [CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void Builder_validator_and_reader_round_trip_every_codec(CompressionType codec)
    {
        const int count = 40;
        byte[] batch = TestBatches.Mixed(codec, baseOffset: 100, records: count, valueSize: 3000);

        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(batch, out BatchSummary summary));
        Assert.Equal(count, summary.RecordCount);
        Assert.Equal(codec, new RecordBatchHeader(batch).Compression);

        byte[] expected = TestBatches.Mixed(CompressionType.None, baseOffset: 100, records: count, valueSize: 3000);
        List<Record> want = RecordBatchReader.ReadAll(expected);
        List<Record> got = RecordBatchReader.ReadAll(batch);
        Assert.Equal(count, got.Count);
        for (int i = 0; i < count; i++)
            AssertSame(want[i], got[i]);
        if (codec != CompressionType.None)
            Assert.True(batch.Length < expected.Length / 2, $"{codec} batch is {batch.Length} bytes, uncompressed {expected.Length}");
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void Large_payloads_cross_codec_block_boundaries(CompressionType codec)
    {
        byte[] value = new byte[300_000];
        new Random(7).NextBytes(value.AsSpan(0, 100_000)); // incompressible part, then a compressible one
        using var b = new RecordBatchBuilder(codec);
        b.Add([1, 2, 3], value, 1);
        b.Add(null, value.AsSpan(0, 70_000).ToArray(), 2);
        byte[] batch = b.Build();
        Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.Validate(batch, out _));
        List<Record> records = RecordBatchReader.ReadAll(batch);
        Assert.Equal(value, records[0].Value);
        Assert.Equal(value.AsSpan(0, 70_000).ToArray(), records[1].Value);
    }

    public static TheoryData<CompressionType> CompressingCodecs =>
        [CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd];

    [Theory]
    [MemberData(nameof(CompressingCodecs))]
    public void A_batch_that_decompresses_past_the_limit_is_refused_and_one_within_it_is_read(CompressionType codec)
    {
        // 2 MiB of zeros compress to a few KiB: a small batch that asks for a lot of memory.
        using var b = new RecordBatchBuilder(codec);
        b.Add(null, new byte[2 * 1024 * 1024], 1);
        byte[] batch = b.Build();
        Assert.True(batch.Length < 128 * 1024, $"{codec}: {batch.Length} bytes");

        var refused = Assert.Throws<InvalidDataException>(() =>
        {
            using var reader = new RecordBatchReader(batch, 1024 * 1024);
            reader.TryReadNext(out _);
        });
        Assert.Contains("more than 1048576 bytes", refused.Message, StringComparison.Ordinal);
        using var fits = new RecordBatchReader(batch, 3 * 1024 * 1024);
        Assert.True(fits.TryReadNext(out var record));
        Assert.Equal(2 * 1024 * 1024, record.Value.Length);
    }

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void Compress_and_decompress_are_inverse(CompressionType codec)
    {
        foreach (int size in new[] { 0, 1, 100, 65_536, 65_537, 200_001 })
        {
            byte[] data = TestBatches.Payload(size, size);
            using var compressed = new PooledBufferWriter();
            RecordCompression.Compress(codec, data, compressed);
            using var restored = new PooledBufferWriter();
            RecordCompression.Decompress(codec, compressed.WrittenSpan, restored);
            Assert.Equal(data, restored.WrittenSpan.ToArray());
        }
    }

    [Fact]
    public void Snappy_reads_a_raw_block_as_librdkafka_writes_it()
    {
        byte[] data = TestBatches.Payload(1, 5000);
        byte[] raw = ReferenceCodecs.Run("snappy.compress(data)", data);
        using var output = new PooledBufferWriter();
        RecordCompression.Decompress(CompressionType.Snappy, raw, output);
        Assert.Equal(data, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Snappy_reads_a_multi_block_xerial_stream_as_java_producers_write_it()
    {
        byte[] part1 = TestBatches.Payload(1, 32 * 1024);
        byte[] part2 = TestBatches.Payload(2, 1000);
        var stream = new List<byte>();
        stream.AddRange([0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        foreach (byte[] part in new[] { part1, part2 })
        {
            byte[] block = ReferenceCodecs.Run("snappy.compress(data)", part);
            byte[] length = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(length, block.Length);
            stream.AddRange(length);
            stream.AddRange(block);
        }
        using var output = new PooledBufferWriter();
        RecordCompression.Decompress(CompressionType.Snappy, stream.ToArray(), output);
        Assert.Equal(part1.Concat(part2).ToArray(), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Snappy_writes_the_xerial_header()
    {
        using var output = new PooledBufferWriter();
        RecordCompression.Compress(CompressionType.Snappy, new byte[10], output);
        Assert.Equal(Convert.FromHexString("82534E41505059000000000100000001"), output.WrittenSpan.Slice(0, 16).ToArray());
    }

    [Fact]
    public void Lz4_reads_a_frame_from_the_reference_tool_with_content_checksum()
    {
        // printf '...' | lz4 -c  (4 MB blocks, content checksum)
        byte[] frame = Convert.FromHexString("04224d186440a72f0000006e68656c6c6f200600f0156c7a34206672616d652066726f6d2074686520636f6d6d616e64206c696e6520746f6f6c000000001e88b23e");
        using var output = new PooledBufferWriter();
        RecordCompression.Decompress(CompressionType.Lz4, frame, output);
        Assert.Equal("hello hello hello hello lz4 frame from the command line tool"u8.ToArray(), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Zstd_reads_a_streamed_frame_without_content_size()
    {
        // printf '...' | zstd -c  (streamed: the frame header carries no content size)
        byte[] frame = Convert.FromHexString("28b52ffd0458950100b40268656c6c6f207a737464206672616d652066726f6d2074686520636f6d6d616e64206c696e6520746f6f6c0100f14a1177b23843");
        using var output = new PooledBufferWriter();
        RecordCompression.Decompress(CompressionType.Zstd, frame, output);
        Assert.Equal("hello hello hello hello zstd frame from the command line tool"u8.ToArray(), output.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Damaged_compressed_data_throws_invalid_data(CompressionType codec)
    {
        byte[] data = TestBatches.Payload(5, 10_000);
        using var compressed = new PooledBufferWriter();
        RecordCompression.Compress(codec, data, compressed);
        byte[] damaged = compressed.WrittenSpan.ToArray();
        // Truncate, and garble the middle.
        byte[] truncated = damaged.AsSpan(0, damaged.Length / 2).ToArray();
        for (int i = damaged.Length / 3; i < damaged.Length / 3 + 8; i++)
            damaged[i] ^= 0x5A;
        Assert.False(DecodesTo(codec, truncated, data), "a truncated stream decoded to the original");
        Assert.False(DecodesTo(codec, damaged, data), "a damaged stream decoded to the original");
    }

    /// <summary>
    /// Decodes and compares; damage must surface as InvalidDataException or as different output
    /// (snappy carries no checksum), never as another exception type or a crash.
    /// </summary>
    private static bool DecodesTo(CompressionType codec, byte[] input, byte[] expected)
    {
        using var output = new PooledBufferWriter();
        try
        {
            RecordCompression.Decompress(codec, input, output);
        }
        catch (InvalidDataException)
        {
            return false;
        }
        return output.WrittenSpan.SequenceEqual(expected);
    }

    private static void AssertSame(Record want, Record got)
    {
        Assert.Equal(want.Offset, got.Offset);
        Assert.Equal(want.Timestamp, got.Timestamp);
        Assert.Equal(want.Key, got.Key);
        Assert.Equal(want.Value, got.Value);
        Assert.Equal(want.Headers.Length, got.Headers.Length);
        for (int i = 0; i < want.Headers.Length; i++)
        {
            Assert.Equal(want.Headers[i].Key, got.Headers[i].Key);
            Assert.Equal(want.Headers[i].Value, got.Headers[i].Value);
        }
    }
}
