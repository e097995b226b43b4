using System.Buffers.Binary;
using KafScale.Records;
using KafScale.Storage.Wal;

namespace KafScale.Storage.Tests;

public class WalFormatTests
{
    /// <summary>
    /// The test vector of docs/storage-format.md ("WAL objects"): broker 1, created 1700000000123,
    /// sequence 7; chunk 0 = orders-0 epoch 3, the .kfs vector's batch at offset 0; chunk 1 =
    /// payments-2 epoch 4, the same batch at offsets 7 and 8. Written by hand from the layout.
    /// </summary>
    public const string VectorHex =
        "4b57414c00010000000000010000018bcfe5687b000000000000000700000002" +
        "00000000000000000000003a0000000002bbcc41150000000000000000018bcf" +
        "e568000000018bcfe56800ffffffffffffffffffffffffffff00000001100000" +
        "00010468690000000000000000070000003a0000000002bbcc41150000000000" +
        "000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff00" +
        "00000110000000010468690000000000000000080000003a0000000002bbcc41" +
        "150000000000000000018bcfe568000000018bcfe56800ffffffffffffffffff" +
        "ffffffffff0000000110000000010468690000112233445566778899aabbccdd" +
        "eeff00066f726465727300000000000000030000000000000000000000000000" +
        "0000000000000000002000000046cd81aadd0000018bcfe56800000000010f1e" +
        "2d3c4b5a69788796a5b4c3d2e1f000087061796d656e74730000000200000004" +
        "0000000000000007000000000000000800000000000000660000008cb8df786b" +
        "0000018bcfe56800000000020000009acc6bdd1757454e44";

    public static readonly Guid OrdersId = new("00112233-4455-6677-8899-aabbccddeeff");
    public static readonly Guid PaymentsId = new("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");

    internal static byte[] VectorBatchAt(long baseOffset)
    {
        byte[] batch = Convert.FromHexString(Batches.VectorBatchHex);
        RecordBatch.PatchBaseOffset(batch, baseOffset);
        return batch;
    }

    internal static WalObjectBuilder VectorBuilder()
    {
        var builder = new WalObjectBuilder(brokerId: 1, createdAtMs: 1700000000123, sequence: 7);
        builder.AddChunk(OrdersId, "orders", 0, 3, [VectorBatchAt(0)]);
        builder.AddChunk(PaymentsId, "payments", 2, 4, [VectorBatchAt(7), VectorBatchAt(8)]);
        return builder;
    }

    [Fact]
    public void The_documented_vector_decodes_field_by_field()
    {
        byte[] bytes = Convert.FromHexString(VectorHex);
        Assert.Equal(408, bytes.Length);
        WalFooter footer = WalReader.OpenVerified(bytes);
        Assert.Equal(1, footer.BrokerId);
        Assert.Equal(1700000000123, footer.CreatedAtMs);
        Assert.Equal(7, footer.Sequence);
        Assert.Equal(2, footer.Chunks.Count);
        Assert.Equal(new WalChunkInfo(OrdersId, "orders", 0, 3, 0, 0, 32, 70, 0xcd81aadd, 1700000000000, 1), footer.Chunks[0]);
        Assert.Equal(new WalChunkInfo(PaymentsId, "payments", 2, 4, 7, 8, 102, 140, 0xb8df786b, 1700000000000, 2), footer.Chunks[1]);

        // Header fields one by one, and the trailer.
        Assert.Equal(WalFormat.HeaderMagic, BinaryPrimitives.ReadUInt32BigEndian(bytes));
        Assert.Equal("KWAL"u8.ToArray(), bytes[..4]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(4)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(6)));
        Assert.Equal(2, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(28)));
        (int footerLength, uint footerCrc) = WalReader.ReadTrailer(bytes.AsSpan(bytes.Length - WalFormat.TrailerSize));
        Assert.Equal(154, footerLength);
        Assert.Equal(0xcc6bdd17u, footerCrc);
        Assert.Equal("WEND"u8.ToArray(), bytes[^4..]);

        // The chunk bytes are the batches exactly as they will be in the .kfs.
        Assert.Equal(VectorBatchAt(0), WalReader.ChunkBytes(bytes, footer.Chunks[0]).ToArray());
        Assert.Equal([.. VectorBatchAt(7), .. VectorBatchAt(8)], WalReader.ChunkBytes(bytes, footer.Chunks[1]).ToArray());
        // The topic id is in Kafka's UUID byte order (big-endian), as on the wire.
        Assert.Equal(Convert.FromHexString("00112233445566778899aabbccddeeff"), bytes.AsSpan(242, 16).ToArray());

        // Reading the way a remote reader does: the tail, then the table, header fields from the key.
        WalFooter remote = WalReader.ParseFooter(bytes.AsSpan(bytes.Length - 12 - footerLength, footerLength), footerCrc, bytes.Length, 1, 1700000000123, 7);
        Assert.Equal(footer.Chunks, remote.Chunks);
    }

    [Fact]
    public void The_builder_writes_exactly_the_documented_vector()
    {
        WalObjectBuilder builder = VectorBuilder();
        Assert.Equal(2, builder.ChunkCount);
        Assert.Equal(408, builder.Length);
        (byte[] bytes, IReadOnlyList<WalChunkInfo> chunks) = builder.Build();
        Assert.Equal(VectorHex, Convert.ToHexStringLower(bytes));
        Assert.Equal(WalReader.Open(bytes).Chunks, chunks);
        // Build again: a new array with the same bytes.
        (byte[] again, _) = builder.Build();
        Assert.NotSame(bytes, again);
        Assert.Equal(bytes, again);
    }

    [Fact]
    public void Many_partitions_and_codecs_round_trip_and_their_batches_slice_back_out()
    {
        var builder = new WalObjectBuilder(3, 1_750_000_000_000, 42);
        var expected = new List<(string Topic, int Partition, List<ReadOnlyMemory<byte>> Batches)>();
        for (int p = 0; p < 12; p++)
        {
            string topic = p % 2 == 0 ? "events" : "topic.with-ü";
            List<ReadOnlyMemory<byte>> batches = Batches.Chain(100L * p, 1 + p % 3, 5, 2);
            builder.AddChunk(p % 2 == 0 ? OrdersId : PaymentsId, topic, p, p / 4, batches);
            expected.Add((topic, p, batches));
        }
        (byte[] bytes, IReadOnlyList<WalChunkInfo> built) = builder.Build();
        Assert.Equal(builder.Length, bytes.Length);
        WalFooter footer = WalReader.OpenVerified(bytes);
        Assert.Equal(built, footer.Chunks);
        Assert.Equal(3, footer.BrokerId);
        for (int i = 0; i < expected.Count; i++)
        {
            WalChunkInfo c = footer.Chunks[i];
            (string topic, int partition, List<ReadOnlyMemory<byte>> batches) = expected[i];
            int records = 1 + i % 3 + 5 + 2;
            Assert.Equal(topic, c.Topic);
            Assert.Equal(partition, c.Partition);
            Assert.Equal(i / 4, c.LeaderEpoch);
            Assert.Equal(100L * i, c.FirstOffset);
            Assert.Equal(100L * i + records - 1, c.LastOffset);
            Assert.Equal(records, c.RecordCount);
            Assert.Equal(batches.Max(b => new RecordBatchHeader(b.Span).MaxTimestamp), c.MaxTimestamp);
            byte[] chunk = WalReader.ChunkBytes(bytes, c).ToArray();
            Assert.Equal(batches.SelectMany(b => b.ToArray()), chunk);
            Assert.Null(WalReader.DescribeBatchProblem(chunk, c));

            // The middle batch alone, and all of them.
            long secondBase = 100L * i + 1 + i % 3;
            Assert.Equal(batches[1].ToArray(), WalChain.Slice(chunk, secondBase, secondBase + 5)!.Value.ToArray());
            Assert.Equal(chunk, WalChain.Slice(chunk, c.FirstOffset, c.LastOffset + 1)!.Value.ToArray());
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(12)]
    public async Task Parts_are_the_built_object_piece_by_piece_and_a_gathered_create_stores_exactly_those_bytes(int partitions)
    {
        var builder = new WalObjectBuilder(3, 1_750_000_000_000, 42);
        for (int p = 0; p < partitions; p++)
            builder.AddChunk(OrdersId, "events", p, 1, Batches.Chain(1000L * p, 1 + p % 3, 300, 2));
        (byte[] bytes, IReadOnlyList<WalChunkInfo> chunks) = builder.Build();
        (ReadOnlyMemory<byte>[] parts, IReadOnlyList<WalChunkInfo> partChunks) = builder.BuildParts();

        Assert.Equal(chunks, partChunks);
        Assert.Equal(partitions + 2, parts.Length);
        Assert.Equal(bytes, parts.SelectMany(p => p.ToArray()));
        for (int i = 0; i < partitions; i++)
            Assert.Equal(WalReader.ChunkBytes(bytes, chunks[i]).ToArray(), parts[i + 1].ToArray());

        string dir = Directory.CreateTempSubdirectory("kafscale-wal-").FullName;
        try
        {
            await using var store = new LocalDirectoryObjectStore(dir);
            string key = WalKeys.Key("default", 1_750_000_000_000, 42, 3);
            Assert.True(await store.CreateIfAbsentAsync(key, parts, CancellationToken.None));
            Assert.False(await store.CreateIfAbsentAsync(key, parts, CancellationToken.None));
            Assert.Equal(bytes, await store.GetAsync(key, CancellationToken.None));
            Assert.Equal(chunks, WalReader.OpenVerified(bytes).Chunks);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Chunk_parts_even_small_ones_are_allocated_where_young_collections_do_not_copy_them()
    {
        var builder = new WalObjectBuilder(3, 1_750_000_000_000, 43);
        for (int p = 0; p < 4; p++) builder.AddChunk(OrdersId, "events", p, 1, Batches.Chain(10L * p, 1, 100, 1));
        (ReadOnlyMemory<byte>[] parts, _) = builder.BuildParts();
        for (int i = 1; i < parts.Length - 1; i++)
        {
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(parts[i], out var chunk));
            Assert.True(chunk.Array!.Length < 85_000, $"chunk {i} has {chunk.Array.Length} bytes; the test wants small ones");
            // A small array from an ordinary allocation would be in generation 0 here.
            Assert.Equal(GC.MaxGeneration, GC.GetGeneration(chunk.Array));
        }
    }

    [Fact]
    public async Task A_gathered_create_through_the_default_of_the_interface_copies_the_parts_in_order()
    {
        var store = new RecordingStore();
        ReadOnlyMemory<byte>[] parts = [new byte[] { 1, 2 }, Array.Empty<byte>(), new byte[] { 3 }, new byte[] { 4, 5, 6 }];
        Assert.True(await ((IObjectStore)store).CreateIfAbsentAsync("k", parts, CancellationToken.None));
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, store.Created);
    }

    /// <summary>A store with only the single-buffer create, to exercise the interface's default gathered create.</summary>
    private sealed class RecordingStore : IObjectStore
    {
        public byte[]? Created;
        public string Kind => "recording";
        public bool SupportsConditionalCreate => true;
        public Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<bool> CreateIfAbsentAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            Created = data.ToArray();
            return Task.FromResult(true);
        }
        public Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<int> ReadRangeAsync(string key, long offset, Memory<byte> destination, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<long?> GetSizeAsync(string key, CancellationToken cancellationToken) => throw new NotSupportedException();
        public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task DeleteAsync(string key, CancellationToken cancellationToken) => throw new NotSupportedException();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public void An_empty_object_is_valid()
    {
        (byte[] bytes, IReadOnlyList<WalChunkInfo> chunks) = new WalObjectBuilder(0, 0, 0).Build();
        Assert.Empty(chunks);
        Assert.Equal(WalFormat.MinimumObjectSize, bytes.Length);
        Assert.Empty(WalReader.OpenVerified(bytes).Chunks);
    }

    [Fact]
    public void The_builder_refuses_malformed_batches()
    {
        var b = new WalObjectBuilder(1, 1, 1);
        byte[] ok = VectorBatchAt(0);
        Assert.Throws<ArgumentException>(() => b.AddChunk(OrdersId, "t", 0, 0, []));
        Assert.Throws<ArgumentException>(() => b.AddChunk(OrdersId, "t", 0, 0, [ReadOnlyMemory<byte>.Empty]));
        Assert.Throws<ArgumentException>(() => b.AddChunk(OrdersId, "t", 0, 0, [ok.AsMemory(0, 69)]));              // cut
        Assert.Throws<ArgumentException>(() => b.AddChunk(OrdersId, "t", 0, 0, [(byte[])[.. ok, 0, 0, 0]]));          // trailing bytes
        Assert.Throws<ArgumentException>(() => b.AddChunk(OrdersId, "t", 0, 0, [ok, VectorBatchAt(2)]));             // gap
        Assert.Throws<ArgumentException>(() => b.AddChunk(OrdersId, "t", 0, 0, [ok, VectorBatchAt(0)]));             // overlap
        byte[] magic1 = VectorBatchAt(0);
        magic1[RecordBatch.MagicOffset] = 1;
        Assert.Throws<ArgumentException>(() => b.AddChunk(OrdersId, "t", 0, 0, [magic1]));
        Assert.Throws<ArgumentException>(() => b.AddChunk(OrdersId, "", 0, 0, [ok]));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.AddChunk(OrdersId, "t", -1, 0, [ok]));
        Assert.Equal(0, b.ChunkCount);
        Assert.Equal(WalFormat.MinimumObjectSize, b.Length);

        // Several memories of one partition, the first holding two batches: one chunk.
        b.AddChunk(OrdersId, "t", 0, 0, [(byte[])[.. VectorBatchAt(0), .. VectorBatchAt(1)], ReadOnlyMemory<byte>.Empty, VectorBatchAt(2)]);
        Assert.Equal(1, b.ChunkCount);
        WalChunkInfo c = WalReader.OpenVerified(b.Build().Bytes).Chunks[0];
        Assert.Equal((0L, 2L, 3, 210), (c.FirstOffset, c.LastOffset, c.RecordCount, c.Length));
    }

    [Fact]
    public void Tail_read_size_is_64_KiB_or_the_object()
    {
        Assert.Equal(44, WalReader.TailReadSize(44));
        Assert.Equal(65536, WalReader.TailReadSize(65536));
        Assert.Equal(65536, WalReader.TailReadSize(10L << 30));
    }

    [Fact]
    public async Task A_tail_read_finds_the_footer_of_an_object_in_the_store()
    {
        string dir = Directory.CreateTempSubdirectory("kafscale-wal-").FullName;
        try
        {
            await using var store = new LocalDirectoryObjectStore(dir);
            byte[] bytes = VectorBuilder().Build().Bytes;
            string key = WalKeys.Key("default", 1700000000123, 7, 1);
            await store.PutAsync(key, bytes, CancellationToken.None);
            long size = (await store.GetSizeAsync(key, CancellationToken.None))!.Value;
            byte[] tail = new byte[WalReader.TailReadSize(size)];
            Assert.Equal(tail.Length, await store.ReadRangeAsync(key, size - tail.Length, tail, CancellationToken.None));
            (int footerLength, uint crc) = WalReader.ReadTrailer(tail);
            Assert.True(WalKeys.TryParse(key, out long created, out long sequence, out int broker));
            WalFooter footer = WalReader.ParseFooter(tail.AsSpan(tail.Length - 12 - footerLength, footerLength), crc, size, broker, created, sequence);
            Assert.Equal(WalReader.Open(bytes), footer, new FooterComparer());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class FooterComparer : IEqualityComparer<WalFooter>
    {
        public bool Equals(WalFooter? x, WalFooter? y) =>
            x is not null && y is not null && (x.BrokerId, x.CreatedAtMs, x.Sequence) == (y.BrokerId, y.CreatedAtMs, y.Sequence) && x.Chunks.SequenceEqual(y.Chunks);

        public int GetHashCode(WalFooter obj) => obj.BrokerId;
    }
}
