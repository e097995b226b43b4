using KafScale.Protocol.Tests.Support;

namespace KafScale.Protocol.Tests;

/// <summary>Every message of every schema, in every version it lists, in two shapes.</summary>
public class GeneratedMessageTests
{
    public static TheoryData<string, short, FillMode> AllMessageVersions()
    {
        var data = new TheoryData<string, short, FillMode>();
        foreach (TestSchema schema in TestSchema.All)
        {
            for (int v = schema.Valid.Lo; v <= schema.Valid.Hi; v++)
            {
                data.Add(schema.Name, (short)v, FillMode.AllValues);
                data.Add(schema.Name, (short)v, FillMode.NullsAndDefaults);
            }
        }

        return data;
    }

    private static (TestSchema Schema, IKafkaMessage Message) Filled(string name, short version, FillMode mode)
    {
        TestSchema schema = TestSchema.Get(name);
        IKafkaMessage message = schema.NewInstance();
        new MessageFiller(schema, version, mode, seed: version * 100).Fill(message);
        return (schema, message);
    }

    private static byte[] Write(IKafkaMessage message, short version)
    {
        using var writer = new KafkaWriter(16);
        message.Write(writer, version);
        return writer.ToArray();
    }

    [Theory]
    [MemberData(nameof(AllMessageVersions))]
    public void Write_then_read_gives_an_equal_message_and_identical_bytes(string name, short version, FillMode mode)
    {
        (TestSchema schema, IKafkaMessage original) = Filled(name, version, mode);
        byte[] first = Write(original, version);

        IKafkaMessage decoded = schema.NewInstance();
        var reader = new KafkaReader(first);
        decoded.Read(ref reader, version);

        Assert.Equal(0, reader.Remaining);
        Assert.Null(DeepCompare.FirstDifference(original, decoded));
        Assert.Equal(first, Write(decoded, version));
    }

    [Theory]
    [MemberData(nameof(AllMessageVersions))]
    public void Generated_write_matches_the_reference_encoder(string name, short version, FillMode mode)
    {
        (TestSchema schema, IKafkaMessage message) = Filled(name, version, mode);

        byte[] expected = ReferenceEncoder.Encode(schema, message, version);

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(Write(message, version)));
    }

    [Theory]
    [MemberData(nameof(AllMessageVersions))]
    public void Every_truncation_throws_KafkaProtocolException_and_nothing_else(string name, short version, FillMode mode)
    {
        (TestSchema schema, IKafkaMessage message) = Filled(name, version, mode);
        byte[] bytes = Write(message, version);

        for (int length = 0; length < bytes.Length; length++)
        {
            IKafkaMessage target = schema.NewInstance();
            var truncated = new ReadOnlyMemory<byte>(bytes, 0, length);
            Exception? error = Record.Exception(() =>
            {
                var reader = new KafkaReader(truncated);
                target.Read(ref reader, version);
            });
            Assert.True(error is KafkaProtocolException, $"length {length}/{bytes.Length}: {error?.GetType().Name ?? "no exception"}");
        }
    }

    [Theory]
    [MemberData(nameof(AllMessageVersions))]
    public void Corrupted_bytes_either_decode_or_throw_KafkaProtocolException(string name, short version, FillMode mode)
    {
        (TestSchema schema, IKafkaMessage message) = Filled(name, version, mode);
        byte[] bytes = Write(message, version);
        var random = new Random(name.Length * 31 + version);

        for (int round = 0; round < 40 && bytes.Length > 0; round++)
        {
            byte[] corrupt = (byte[])bytes.Clone();
            int position = random.Next(corrupt.Length);
            corrupt[position] = (byte)(round % 3 == 0 ? 0xFF : round % 3 == 1 ? 0x7F : random.Next(256));
            IKafkaMessage target = schema.NewInstance();
            Exception? error = Record.Exception(() =>
            {
                var reader = new KafkaReader(corrupt);
                target.Read(ref reader, version);
            });
            Assert.True(error is null or KafkaProtocolException, $"byte {position}: {error}");
        }
    }

    [Fact]
    public void Versions_outside_the_schema_range_are_refused_on_read_and_write()
    {
        var produce = new Messages.ProduceRequest();
        using var writer = new KafkaWriter();

        var tooHigh = Assert.Throws<KafkaProtocolException>(() => produce.Write(writer, 12));
        Assert.Equal(ErrorCode.UnsupportedVersion, tooHigh.ErrorCode);
        Assert.Throws<KafkaProtocolException>(() =>
        {
            var reader = new KafkaReader(new byte[64]);
            produce.Read(ref reader, -1);
        });
    }

    [Fact]
    public void Null_in_a_version_that_forbids_it_is_refused_on_write()
    {
        // TransactionalId is nullable from v3 but ProduceRequest.TopicData is never nullable.
        var produce = new Messages.ProduceRequest { TopicData = null! };
        using var writer = new KafkaWriter();
        Assert.ThrowsAny<Exception>(() => produce.Write(writer, 9));

        // MetadataRequest.Topics is nullable from v1 only.
        var metadata = new Messages.MetadataRequest { Topics = null };
        Assert.Throws<KafkaProtocolException>(() => metadata.Write(writer, 0));
        writer.Reset();
        metadata.Write(writer, 1);
        Assert.Equal(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF }, writer.WrittenSpan.ToArray());
    }

    [Fact]
    public void Unknown_tagged_fields_are_skipped_on_read()
    {
        // ApiVersionsRequest v3: compact strings "a" and "b", then one unknown tag 7 of 3 bytes.
        byte[] bytes = [0x02, (byte)'a', 0x02, (byte)'b', 0x01, 0x07, 0x03, 0xAA, 0xBB, 0xCC];
        var request = new Messages.ApiVersionsRequest();
        var reader = new KafkaReader(bytes);

        request.Read(ref reader, 3);

        Assert.Equal("a", request.ClientSoftwareName);
        Assert.Equal("b", request.ClientSoftwareVersion);
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void Tagged_fields_are_written_only_when_they_differ_from_their_default()
    {
        var response = new Messages.ApiVersionsResponse { FinalizedFeaturesEpoch = -1, ZkMigrationReady = false };
        using var writer = new KafkaWriter();
        response.Write(writer, 3);
        Assert.Equal(0x00, writer.WrittenSpan[^1]); // empty tagged-field section

        writer.Reset();
        response.FinalizedFeaturesEpoch = 5;
        response.Write(writer, 3);
        // ..., count 1, tag 1, size 8, int64 5
        Assert.Equal(new byte[] { 0x01, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 5 }, writer.WrittenSpan[^11..].ToArray());

        var decoded = new Messages.ApiVersionsResponse();
        var reader = new KafkaReader(writer.WrittenMemory);
        decoded.Read(ref reader, 3);
        Assert.Equal(5, decoded.FinalizedFeaturesEpoch);
        Assert.False(decoded.ZkMigrationReady);
    }

    [Fact]
    public void Records_are_read_as_a_slice_of_the_input_not_a_copy()
    {
        var request = new Messages.ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 1000,
            TopicData =
            [
                new() { Name = "t", PartitionData = [new() { Index = 0, Records = new byte[] { 1, 2, 3 } }] },
            ],
        };
        using var writer = new KafkaWriter();
        request.Write(writer, 9);
        byte[] buffer = writer.ToArray();

        var decoded = new Messages.ProduceRequest();
        var reader = new KafkaReader(buffer);
        decoded.Read(ref reader, 9);

        ReadOnlyMemory<byte> records = decoded.TopicData[0].PartitionData[0].Records!.Value;
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(records, out ArraySegment<byte> segment));
        Assert.Same(buffer, segment.Array);
        Assert.Equal(new byte[] { 1, 2, 3 }, records.ToArray());
    }

    [Fact]
    public void Defaults_from_the_schema_are_applied()
    {
        var metadata = new Messages.MetadataRequest();
        Assert.True(metadata.AllowAutoTopicCreation);
        var fetch = new Messages.FetchRequest();
        Assert.Equal(-1, fetch.ReplicaId);
        Assert.Equal(0x7fffffff, fetch.MaxBytes);
        Assert.Null(new Messages.ProduceRequest().TransactionalId);
        Assert.Equal(-1, new Messages.FetchResponse.PartitionData().LastStableOffset);
        Assert.Equal("", new Messages.ProduceRequest.TopicProduceData().Name);
    }

    [Fact]
    public void Every_schema_is_generated_and_covered()
    {
        Assert.Equal(109, TestSchema.All.Count);
        Assert.All(TestSchema.All, s => Assert.NotNull(s.ClrType));
        int versions = TestSchema.All.Sum(s => s.Valid.Hi - s.Valid.Lo + 1);
        Assert.True(versions > 400, $"{versions} versions");
    }
}
