using System.Text;
using KafScale.Common;

namespace KafScale.Records.Tests;

/// <summary>
/// The managed codecs of KafScale.Common against the C reference implementations, and the codec
/// behaviours the managed libraries need help with: concatenated LZ4 frames, truncation reported
/// as corrupt data, and a zstd context that must not be reused after an error.
/// </summary>
public class CommonCodecTests
{
    private static byte[] KafkaLikeRecords(int size)
    {
        var text = new StringBuilder();
        for (int i = 0; text.Length < size; i++)
            text.Append("{\"id\":").Append(i).Append(",\"user\":\"user-").Append(i % 97).Append("\",\"amount\":").Append(i * 37 % 1000).Append("}\n");
        return Encoding.ASCII.GetBytes(text.ToString(0, size));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(767)] // one byte short of three short lanes
    [InlineData(768)]
    [InlineData(4093)]
    [InlineData(24_576)] // three long lanes exactly
    [InlineData(25_351)] // three long lanes, three short ones, a tail
    [InlineData(100_003)]
    public void Crc32c_software_and_hardware_paths_agree(int size)
    {
        byte[] data = new byte[size];
        new Random(size).NextBytes(data);
        // Unaligned starts too: the hardware path reads words, the software path 8-byte slices.
        for (int skip = 0; skip < Math.Min(size, 3) + 1; skip++)
        {
            ReadOnlySpan<byte> span = data.AsSpan(Math.Min(skip, size));
            Assert.Equal(~Crc32C.AppendHardware(0xFFFFFFFFu, span), ~Crc32C.AppendSoftware(0xFFFFFFFFu, span));
            // A running checksum continued from any register, as pieces arrive.
            Assert.Equal(Crc32C.AppendHardware(0x1234_5678u, span), Crc32C.AppendSoftware(0x1234_5678u, span));
        }
        Assert.Equal(0xE3069283u, ~Crc32C.AppendSoftware(0xFFFFFFFFu, "123456789"u8));
        Assert.Equal(0xE3069283u, ~Crc32C.AppendHardware(0xFFFFFFFFu, "123456789"u8));
    }

    [Fact]
    public void Crc32c_lanes_agree_with_the_table_at_every_length_up_to_four_stripes()
    {
        // Every length from 0 to past four short stripes, at each start alignment: each boundary
        // between the lanes, the stripes and the tail is met.
        byte[] data = new byte[3 * 1024 + 8];
        new Random(42).NextBytes(data);
        for (int skip = 0; skip < 8; skip++)
        {
            for (int length = 0; length + skip <= data.Length; length += 1)
            {
                ReadOnlySpan<byte> span = data.AsSpan(skip, length);
                uint expected = Crc32C.AppendSoftware(0xFFFFFFFFu, span);
                uint actual = Crc32C.AppendHardware(0xFFFFFFFFu, span);
                if (expected != actual)
                    Assert.Fail($"length {length} at offset {skip}: {actual:X8}, the table gives {expected:X8}");
            }
        }
    }

    [Fact]
    public void Lz4_output_is_a_kafka_frame_the_reference_reads()
    {
        byte[] data = KafkaLikeRecords(300_000);
        using var compressed = new PooledBufferWriter();
        Lz4Codec.Compress(data, compressed);
        byte[] frame = compressed.ToArray();
        // FLG: version 01, block independence set, no block/content checksum, no content size.
        Assert.Equal(new byte[] { 0x04, 0x22, 0x4D, 0x18 }, frame[..4]);
        Assert.Equal(0x60, frame[4]);
        // BD: 64 KB maximum block size.
        Assert.Equal(0x40, frame[5]);
        Assert.Equal(data, ReferenceCodecs.Run("lz4.frame.decompress(data)", frame));
    }

    [Fact]
    public void Lz4_reads_chained_blocks_and_checksums_from_the_reference()
    {
        byte[] data = KafkaLikeRecords(500_000);
        byte[] frame = ReferenceCodecs.Run(
            "lz4.frame.compress(data, block_size=lz4.frame.BLOCKSIZE_MAX64KB, block_linked=True, content_checksum=True, block_checksum=True, store_size=True)", data);
        using var output = new PooledBufferWriter();
        Lz4Codec.Decompress(frame, output);
        Assert.Equal(data, output.ToArray());
    }

    [Fact]
    public void Lz4_reads_independent_blocks_with_checksums_and_content_size_from_the_reference()
    {
        byte[] data = KafkaLikeRecords(300_000);
        byte[] frame = ReferenceCodecs.Run(
            "lz4.frame.compress(data, block_size=lz4.frame.BLOCKSIZE_MAX64KB, block_linked=False, content_checksum=True, block_checksum=True, store_size=True)", data);
        using var output = new PooledBufferWriter(1024);
        Lz4Codec.Decompress(frame, output);
        Assert.Equal(data, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Lz4_reads_uncompressed_blocks_of_independent_frames()
    {
        // Random bytes do not compress, so the encoder stores the blocks as they are (high bit of the size set).
        byte[] data = new byte[150_000];
        new Random(7).NextBytes(data);
        byte[] frame = ReferenceCodecs.Run("lz4.frame.compress(data, block_size=lz4.frame.BLOCKSIZE_MAX64KB, block_linked=False)", data);
        using var output = new PooledBufferWriter(1024);
        Lz4Codec.Decompress(frame, output);
        Assert.Equal(data, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Lz4_reads_concatenated_frames()
    {
        byte[] first = KafkaLikeRecords(70_000);
        byte[] second = Encoding.ASCII.GetBytes("a second frame, from another writer");
        using var compressed = new PooledBufferWriter();
        Lz4Codec.Compress(first, compressed);
        compressed.Write(ReferenceCodecs.Run("lz4.frame.compress(data)", second));
        Lz4Codec.Compress([], compressed);
        using var output = new PooledBufferWriter();
        Lz4Codec.Decompress(compressed.WrittenSpan, output);
        Assert.Equal(first.Concat(second).ToArray(), output.ToArray());
    }

    [Theory]
    [InlineData("lz4")]
    [InlineData("zstd")]
    [InlineData("snappy")]
    public void Every_truncation_is_reported_as_corrupt_data(string codec)
    {
        byte[] data = KafkaLikeRecords(150_000);
        using var compressed = new PooledBufferWriter();
        Compress(codec, data, compressed);
        byte[] whole = compressed.ToArray();
        var cuts = new SortedSet<int> { 0, 1, 4, 5, 6, 7, 10, 15, whole.Length - 1, whole.Length - 4, whole.Length / 2 };
        for (int cut = 16; cut < whole.Length; cut += 997)
            cuts.Add(cut);
        foreach (int cut in cuts)
        {
            using var output = new PooledBufferWriter();
            var e = Xunit.Record.Exception(() => Decompress(codec, whole.AsSpan(0, cut), output));
            // Snappy's xerial framing has no end mark: a cut at a block boundary reads as fewer blocks.
            if (e is null && codec == "snappy")
            {
                Assert.NotEqual(data.Length, output.WrittenCount);
                continue;
            }
            Assert.True(e is InvalidDataException, $"{codec} cut at {cut} of {whole.Length}: {e?.GetType().Name ?? "no exception"} {e?.Message}");
            Assert.StartsWith(codec + ":", e!.Message);
        }
    }

    [Fact]
    public void Zstd_starts_a_new_context_after_an_error()
    {
        byte[] data = KafkaLikeRecords(200_000);
        using var compressed = new PooledBufferWriter();
        ZstdCodec.Compress(data, compressed);
        byte[] frame = compressed.ToArray();
        byte[] garbled = (byte[])frame.Clone();
        for (int i = garbled.Length / 2; i < garbled.Length / 2 + 16; i++)
            garbled[i] ^= 0xA5;

        for (int round = 0; round < 3; round++)
        {
            using (var scratch = new PooledBufferWriter())
                Assert.Throws<InvalidDataException>(() => ZstdCodec.Decompress(garbled, scratch));
            using (var scratch = new PooledBufferWriter())
                Assert.Throws<InvalidDataException>(() => ZstdCodec.Decompress(frame.AsSpan(0, frame.Length - 3), scratch));
            // The same thread, so the same per-thread context slot: it must decode cleanly.
            using var output = new PooledBufferWriter();
            ZstdCodec.Decompress(frame, output);
            Assert.Equal(data, output.ToArray());
        }
    }

    [Fact]
    public void Zstd_interoperates_with_the_reference_both_ways()
    {
        byte[] data = KafkaLikeRecords(400_000);
        using var compressed = new PooledBufferWriter();
        ZstdCodec.Compress(data, compressed, level: 3);
        Assert.Equal(data, ReferenceCodecs.Run("zstandard.ZstdDecompressor().decompress(data)", compressed.ToArray()));

        // Two streamed frames (no content size), back to back.
        byte[] streamed = ReferenceCodecs.Run(
            "(lambda o: o.compress(data) + o.flush())(zstandard.ZstdCompressor(level=5).compressobj()) * 2", data);
        using var output = new PooledBufferWriter();
        ZstdCodec.Decompress(streamed, output);
        Assert.Equal(data.Concat(data).ToArray(), output.ToArray());
    }

    [Fact]
    public void Snappy_blocks_interoperate_with_the_reference_both_ways()
    {
        byte[] data = KafkaLikeRecords(100_000);
        using var compressed = new PooledBufferWriter();
        SnappyCodec.CompressBlock(data, compressed);
        Assert.Equal(data, ReferenceCodecs.Run("snappy.decompress(data)", compressed.ToArray()));

        using var output = new PooledBufferWriter();
        SnappyCodec.DecompressBlock(ReferenceCodecs.Run("snappy.compress(data)", data), output);
        Assert.Equal(data, output.ToArray());
    }

    [Fact]
    public void Codecs_allocate_little_once_warm()
    {
        byte[] data = KafkaLikeRecords(1 << 20);
        using var compressed = new PooledBufferWriter(2 << 20);
        using var output = new PooledBufferWriter(2 << 20);
        foreach (string codec in new[] { "lz4", "zstd", "snappy" })
        {
            for (int warm = 0; warm < 3; warm++)
                RoundTrip(codec, data, compressed, output);
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10; i++)
                RoundTrip(codec, data, compressed, output);
            long perRoundTrip = (GC.GetAllocatedBytesForCurrentThread() - before) / 10;
            // A 1 MiB batch: the buffers are pooled, so what is left is a few small objects.
            Assert.True(perRoundTrip < 16 * 1024, $"{codec} allocates {perRoundTrip} bytes per 1 MiB round trip");
        }
    }

    private static void RoundTrip(string codec, byte[] data, PooledBufferWriter compressed, PooledBufferWriter output)
    {
        compressed.Clear();
        output.Clear();
        Compress(codec, data, compressed);
        Decompress(codec, compressed.WrittenSpan, output);
        Assert.Equal(data.Length, output.WrittenCount);
    }

    private static void Compress(string codec, ReadOnlySpan<byte> data, PooledBufferWriter destination)
    {
        switch (codec)
        {
            case "lz4": Lz4Codec.Compress(data, destination); break;
            case "zstd": ZstdCodec.Compress(data, destination); break;
            case "snappy": SnappyCodec.CompressKafka(data, destination); break;
            case "gzip": GzipCodec.Compress(data, destination, null); break;
        }
    }

    private static void Decompress(string codec, ReadOnlySpan<byte> data, PooledBufferWriter destination)
    {
        switch (codec)
        {
            case "lz4": Lz4Codec.Decompress(data, destination); break;
            case "zstd": ZstdCodec.Decompress(data, destination); break;
            case "snappy": SnappyCodec.DecompressKafka(data, destination); break;
            case "gzip": GzipCodec.Decompress(data, destination); break;
        }
    }
}
