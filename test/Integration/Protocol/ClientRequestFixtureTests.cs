using System.Buffers.Binary;
using System.Text;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;
using Xunit;
using Record = KafScale.Records.Record;

namespace KafScale.Integration.Protocol;

/// <summary>
/// Request frames recorded from real clients (test/clients/capture_fixtures.sh), decoded with the
/// repository's codec: the request header, then the message of the version the client chose. Each
/// client created topic fixture-&lt;client&gt; (3 partitions, retention.ms=86400000), produced k0..k2 /
/// v0..v2 with header h=x to partition 1 with acks=all, and fetched partition 1 from offset 0.
/// </summary>
public sealed class ClientRequestFixtureTests
{
    public static TheoryData<string> AllFixtures()
    {
        var data = new TheoryData<string>();
        foreach (string path in Directory.GetFiles(RepoPaths.Fixtures, "*.bin").Order())
        {
            data.Add(Path.GetFileName(path));
        }

        return data;
    }

    [Fact]
    public void Fixtures_of_every_client_and_api_are_present()
    {
        string[] names = Directory.Exists(RepoPaths.Fixtures)
            ? Directory.GetFiles(RepoPaths.Fixtures, "*.bin").Select(p => Path.GetFileName(p)).ToArray()
            : [];
        foreach (string client in new[] { "kcat", "kafka-python", "kafkajs" })
        {
            foreach (string api in new[] { "apiversions", "metadata", "produce", "fetch" })
            {
                Assert.Contains(names, n => n.StartsWith($"{client}-{api}-v", StringComparison.Ordinal));
            }
        }

        Assert.Contains(names, n => n.StartsWith("kafka-python-createtopics-v", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("kafkajs-createtopics-v", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(AllFixtures))]
    public void Every_fixture_is_one_whole_frame_whose_header_names_the_api_and_version_in_its_file_name(string file)
    {
        Fixture f = Fixture.Load(file);

        Assert.Equal(f.ApiKey, f.Header.ApiKey);
        Assert.Equal(f.Version, f.Header.ApiVersion);
        Assert.True(ApiKeys.IsSupported(f.ApiKey, f.Version),
            $"{file}: KafScale does not accept {f.ApiKey} v{f.Version}, which this client sends");
        var header = new RequestHeader();
        var reader = new KafkaReader(f.Frame);
        header.Read(ref reader, f.Header.HeaderVersion);
        Assert.Equal(f.Header.BodyOffset, reader.Position);
        Assert.Equal(f.Header.CorrelationId, header.CorrelationId);
        Assert.Equal(f.Header.GetClientId(f.Frame.Span), header.ClientId);
    }

    [Theory]
    [InlineData("kcat-apiversions-v3.bin", "rdkafka", "librdkafka", "2.0.2")]
    [InlineData("kafka-python-apiversions-v0.bin", "kafscale-test-kafka-python", null, null)]
    [InlineData("kafkajs-apiversions-v2.bin", "kafscale-test-kafkajs", null, null)]
    public void ApiVersions_requests_decode_with_the_client_software_where_the_version_has_it(string file, string clientId, string? softwareName, string? softwareVersion)
    {
        Fixture f = Fixture.Load(file);

        var request = f.Body<ApiVersionsRequest>();

        Assert.Equal(clientId, f.ClientId);
        if (softwareName is not null)
        {
            Assert.Equal(softwareName, request.ClientSoftwareName);
            Assert.Equal(softwareVersion, request.ClientSoftwareVersion);
        }
    }

    [Theory]
    [InlineData("kcat-metadata-v4.bin", "fixture-kcat", true)]
    [InlineData("kafka-python-metadata-v0.bin", "", false)]
    [InlineData("kafka-python-metadata-v1.bin", null, false)]
    [InlineData("kafka-python-metadata-v5.bin", null, false)]
    [InlineData("kafkajs-metadata-v6.bin", null, false)]
    public void Metadata_requests_decode_to_the_topics_asked_for(string file, string? topic, bool allowAutoTopicCreation)
    {
        Fixture f = Fixture.Load(file);

        var request = f.Body<MetadataRequest>();

        // Every topic is null from v1 on and an empty list in v0; "" stands for that empty list.
        if (topic is null)
        {
            Assert.Null(request.Topics);
        }
        else if (topic.Length == 0)
        {
            Assert.Empty(request.Topics!);
        }
        else
        {
            Assert.Equal(topic, Assert.Single(request.Topics!).Name);
        }

        if (f.Version >= 4)
        {
            Assert.Equal(allowAutoTopicCreation, request.AllowAutoTopicCreation);
        }
    }

    [Theory]
    [InlineData("kcat-produce-v7.bin", "fixture-kcat")]
    [InlineData("kafka-python-produce-v7.bin", "fixture-kafka-python")]
    [InlineData("kafkajs-produce-v7.bin", "fixture-kafkajs")]
    public void Produce_requests_decode_to_one_batch_of_the_three_records_with_acks_all(string file, string topic)
    {
        Fixture f = Fixture.Load(file);

        var request = f.Body<ProduceRequest>();

        Assert.Null(request.TransactionalId);
        Assert.Equal(-1, request.Acks);
        Assert.True(request.TimeoutMs > 0);
        ProduceRequest.TopicProduceData t = Assert.Single(request.TopicData);
        Assert.Equal(topic, t.Name);
        ProduceRequest.PartitionProduceData p = Assert.Single(t.PartitionData);
        Assert.Equal(1, p.Index);
        byte[] batch = p.Records!.Value.ToArray();
        var header = new RecordBatchHeader(batch);
        Assert.Equal(batch.Length, header.TotalSize);
        Assert.Equal(2, header.Magic);
        Assert.True(RecordBatch.IsCrcValid(batch), $"{file}: the batch CRC does not match");
        Assert.Equal(3, header.RecordCount);
        Assert.Equal(2, header.LastOffsetDelta);
        Assert.Equal(CompressionType.None, header.Compression);
        Assert.False(header.IsTransactional);
        List<Record> records = RecordBatchReader.ReadAll(batch);
        Assert.Equal(["k0", "k1", "k2"], records.Select(r => Encoding.UTF8.GetString(r.Key!)));
        Assert.Equal(["v0", "v1", "v2"], records.Select(r => Encoding.UTF8.GetString(r.Value!)));
        Assert.All(records, r =>
        {
            RecordHeader h = Assert.Single(r.Headers);
            Assert.Equal("h", h.Key);
            Assert.Equal("x", Encoding.UTF8.GetString(h.Value!));
        });
    }

    [Theory]
    [InlineData("kcat-fetch-v11.bin", "fixture-kcat", 500, 1)]
    [InlineData("kafka-python-fetch-v4.bin", "fixture-kafka-python", 200, 0)]
    [InlineData("kafkajs-fetch-v11.bin", "fixture-kafkajs", 200, 1)]
    public void Fetch_requests_decode_to_partition_1_of_the_fixture_topic_from_offset_0(string file, string topic, int maxWaitMs, sbyte isolationLevel)
    {
        Fixture f = Fixture.Load(file);

        var request = f.Body<FetchRequest>();

        Assert.Equal(-1, request.ReplicaId);
        Assert.Equal(maxWaitMs, request.MaxWaitMs);
        Assert.Equal(1, request.MinBytes);
        Assert.Equal(isolationLevel, request.IsolationLevel); // each client's default: 1 read_committed, 0 read_uncommitted
        if (f.Version >= 7)
        {
            Assert.Equal(0, request.SessionId); // a full fetch, no fetch session (KIP-227)
            Assert.Equal(-1, request.SessionEpoch);
        }

        Assert.True(request.MaxBytes > 0);
        FetchRequest.FetchTopic t = Assert.Single(request.Topics);
        Assert.Equal(topic, t.Topic);
        FetchRequest.FetchPartition p = Assert.Single(t.Partitions);
        Assert.Equal(1, p.Partition);
        Assert.Equal(0, p.FetchOffset);
        Assert.True(p.PartitionMaxBytes > 0);
        Assert.Empty(request.ForgottenTopicsData);
    }

    [Theory]
    [InlineData("kafka-python-createtopics-v3.bin", "fixture-kafka-python")]
    [InlineData("kafkajs-createtopics-v3.bin", "fixture-kafkajs")]
    public void CreateTopics_requests_decode_to_three_partitions_with_the_retention_config(string file, string topic)
    {
        Fixture f = Fixture.Load(file);

        var request = f.Body<CreateTopicsRequest>();

        Assert.False(request.ValidateOnly);
        CreateTopicsRequest.CreatableTopic t = Assert.Single(request.Topics);
        Assert.Equal(topic, t.Name);
        Assert.Equal(3, t.NumPartitions);
        Assert.Equal(1, t.ReplicationFactor);
        Assert.Empty(t.Assignments);
        CreateTopicsRequest.CreatableTopicConfig c = Assert.Single(t.Configs);
        Assert.Equal("retention.ms", c.Name);
        Assert.Equal("86400000", c.Value);
    }

    /// <summary>One recorded frame: file name "&lt;client&gt;-&lt;api&gt;-v&lt;version&gt;.bin", bytes with the size prefix.</summary>
    private sealed class Fixture
    {
        private static readonly Dictionary<string, short> ApiByName = new()
        {
            ["produce"] = ApiKeys.Produce,
            ["fetch"] = ApiKeys.Fetch,
            ["listoffsets"] = ApiKeys.ListOffsets,
            ["metadata"] = ApiKeys.Metadata,
            ["apiversions"] = ApiKeys.ApiVersions,
            ["createtopics"] = ApiKeys.CreateTopics,
        };

        private Fixture(string file, ReadOnlyMemory<byte> frame, short apiKey, short version)
        {
            File = file;
            Frame = frame;
            ApiKey = apiKey;
            Version = version;
            Header = KafkaRequestHeader.Parse(frame.Span);
        }

        public string File { get; }

        public ReadOnlyMemory<byte> Frame { get; }

        public short ApiKey { get; }

        public short Version { get; }

        public KafkaRequestHeader Header { get; }

        public string? ClientId => Header.GetClientId(Frame.Span);

        public static Fixture Load(string file)
        {
            string path = Path.Combine(RepoPaths.Fixtures, file);
            Assert.True(System.IO.File.Exists(path), $"fixture {file} is missing: run test/clients/capture_fixtures.sh");
            byte[] bytes = System.IO.File.ReadAllBytes(path);
            Assert.True(bytes.Length >= 4 + KafkaRequestHeader.FixedPartLength, $"{file}: {bytes.Length} bytes is no request frame");
            Assert.Equal(bytes.Length - 4, BinaryPrimitives.ReadInt32BigEndian(bytes));

            string stem = Path.GetFileNameWithoutExtension(file);
            int v = stem.LastIndexOf("-v", StringComparison.Ordinal);
            int a = stem.LastIndexOf('-', v - 1);
            string api = stem[(a + 1)..v];
            short version = short.Parse(stem[(v + 2)..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(ApiByName.TryGetValue(api, out short apiKey), $"{file}: unknown api name {api}");
            return new Fixture(file, bytes.AsMemory(4), apiKey, version);
        }

        /// <summary>Decodes the body and checks that it uses the frame to its last byte.</summary>
        public T Body<T>()
            where T : IKafkaMessage, new()
        {
            var body = new T();
            var reader = new KafkaReader(Frame.Slice(Header.BodyOffset));
            body.Read(ref reader, Version);
            Assert.True(reader.End, $"{File}: {reader.Remaining} bytes left after the {typeof(T).Name} v{Version} body");
            return body;
        }
    }
}
