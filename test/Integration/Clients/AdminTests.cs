using System.Text.Json;
using KafScale.Integration.Harness;
using KafScale.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Clients;

/// <summary>Topic administration through each client's admin API, checked with raw Metadata.</summary>
[Collection(ClientLibraryCollection.Name)]
public sealed class AdminTests(ITestOutputHelper output) : BrokerTest(output)
{
    private const short UnknownTopicOrPartition = 3;
    private const short TopicAlreadyExists = 36;
    private const short InvalidConfig = 40;

    private static readonly BrokerOptions NoAutoCreate = new() { AutoCreateTopics = false, DefaultPartitions = 3 };

    [Theory]
    [MemberData(nameof(ScriptClients))]
    public Task Creating_a_topic_with_minus_one_partitions_gives_the_broker_default_count(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            ScriptClient client = KafkaClient.Script(clientName);
            string topic = NewTopic("defaults");

            JsonElement created = await client.AdminAsync(broker.Bootstrap, topic, "create", "--replication-factor", "-1");

            AssertNoError(created);
            MetadataResponse.MetadataResponseTopic metadata = await RawRequests.TopicMetadataAsync(broker, topic);
            Assert.Equal(0, metadata.ErrorCode);
            Assert.Equal([0, 1, 2], metadata.Partitions.Select(p => p.PartitionIndex).Order());
            JsonElement seen = await client.AdminAsync(broker.Bootstrap, topic, "metadata");
            Assert.Equal([0, 1, 2], seen.GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32()));
        }, NoAutoCreate);

    [Theory]
    [MemberData(nameof(ScriptClients))]
    public Task Validate_only_creation_answers_as_a_real_one_would_and_creates_nothing(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            ScriptClient client = KafkaClient.Script(clientName);
            string topic = NewTopic("validate");

            JsonElement valid = await client.AdminAsync(broker.Bootstrap, topic, "create", "--partitions", "2", "--validate-only");
            JsonElement invalid = await client.AdminAsync(broker.Bootstrap, topic + "-compact", "create", "--partitions", "2",
                "--config", "cleanup.policy=compact", "--validate-only");

            AssertNoError(valid);
            Assert.Equal(InvalidConfig, invalid.GetProperty("error_code").GetInt32());
            Assert.Equal(UnknownTopicOrPartition, (await RawRequests.TopicMetadataAsync(broker, topic)).ErrorCode);
            Assert.Equal(UnknownTopicOrPartition, (await RawRequests.TopicMetadataAsync(broker, topic + "-compact")).ErrorCode);
        }, NoAutoCreate);

    [Theory]
    [MemberData(nameof(ScriptClients))]
    public Task Topic_configs_are_described_and_altered_and_LogAppendTime_stamps_records_with_broker_time(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            ScriptClient client = KafkaClient.Script(clientName);
            string topic = NewTopic("configs");

            AssertNoError(await client.AdminAsync(broker.Bootstrap, topic, "create", "--partitions", "1",
                "--config", "retention.ms=3600000", "--config", "message.timestamp.type=LogAppendTime"));
            JsonElement described = await client.AdminAsync(broker.Bootstrap, topic, "describe-configs");

            AssertNoError(described);
            Assert.Equal("3600000", Config(described, "retention.ms"));
            Assert.Equal("LogAppendTime", Config(described, "message.timestamp.type"));

            const long ClientTimestamp = 1_000_000_000_000; // September 2001
            long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            TestRecord[] records = Enumerable.Range(0, 5)
                .Select(i => new TestRecord($"k{i}", $"v{i}", [], 0, ClientTimestamp + i))
                .ToArray();
            ClientResult produced = (await client.ProduceAsync(broker.Bootstrap, topic, records)).EnsureSuccess();
            IReadOnlyList<ConsumedRecord> consumed = await client.ConsumeAsync(broker.Bootstrap, topic);
            long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

            RecordAssert.SamePerPartition(records, consumed);
            Assert.All(consumed, r =>
            {
                Assert.True(r.LogAppendTime, $"{r.Describe()} is not marked LogAppendTime");
                Assert.InRange(r.Timestamp, before - 5_000, after + 5_000);
            });
            foreach (JsonElement ack in produced.Lines("ack"))
            {
                // A Produce answer to a LogAppendTime topic carries the broker's time (log_append_time_ms).
                if (ack.TryGetProperty("timestamp", out JsonElement ts) && ts.ValueKind == JsonValueKind.Number)
                {
                    Assert.Equal(consumed[ack.GetProperty("index").GetInt32()].Timestamp, ts.GetInt64());
                }
            }

            AssertNoError(await client.AdminAsync(broker.Bootstrap, topic, "alter-configs", "--config", "retention.ms=7200000"));
            JsonElement altered = await client.AdminAsync(broker.Bootstrap, topic, "describe-configs");
            Assert.Equal("7200000", Config(altered, "retention.ms"));
            // AlterConfigs replaces the whole set: what it does not name returns to the default.
            Assert.Equal("CreateTime", Config(altered, "message.timestamp.type"));
        }, NoAutoCreate);

    [Theory]
    [MemberData(nameof(ScriptClients))]
    public Task Create_partitions_grows_a_topic_and_delete_topics_removes_it(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            ScriptClient client = KafkaClient.Script(clientName);
            string topic = NewTopic("grow");
            AssertNoError(await client.AdminAsync(broker.Bootstrap, topic, "create", "--partitions", "2"));

            JsonElement again = await client.AdminAsync(broker.Bootstrap, topic, "create", "--partitions", "2");
            if (clientName == "kafkajs")
            {
                // kafkajs turns TOPIC_ALREADY_EXISTS into createTopics() == false.
                Assert.False(again.GetProperty("created").GetBoolean(), $"kafkajs created {topic} twice: {again}");
            }
            else
            {
                Assert.Equal(TopicAlreadyExists, again.GetProperty("error_code").GetInt32());
            }

            AssertNoError(await client.AdminAsync(broker.Bootstrap, topic, "create-partitions", "--partitions", "5"));
            JsonElement seen = await client.AdminAsync(broker.Bootstrap, topic, "metadata");
            Assert.Equal([0, 1, 2, 3, 4], seen.GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32()));
            await using (RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                ProduceResponse.PartitionProduceResponse p4 = await RawRequests.ProduceAsync(connection, topic, 4, RawRequests.Batch("grown", 0, 3));
                Assert.Equal(0, p4.ErrorCode);
                Assert.Equal(0, p4.BaseOffset);
            }

            AssertNoError(await client.AdminAsync(broker.Bootstrap, topic, "delete"));
            Assert.Equal(UnknownTopicOrPartition, (await RawRequests.TopicMetadataAsync(broker, topic)).ErrorCode);
        }, NoAutoCreate);

    [Theory]
    [MemberData(nameof(ScriptClients))]
    public Task Compacted_topics_are_refused_with_INVALID_CONFIG(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            ScriptClient client = KafkaClient.Script(clientName);
            string topic = NewTopic("compact");

            JsonElement refused = await client.AdminAsync(broker.Bootstrap, topic, "create", "--partitions", "1",
                "--config", "cleanup.policy=compact");

            Assert.Equal(InvalidConfig, refused.GetProperty("error_code").GetInt32());
            Assert.Equal(UnknownTopicOrPartition, (await RawRequests.TopicMetadataAsync(broker, topic)).ErrorCode);
        }, NoAutoCreate);

    [Fact]
    public Task Kcat_metadata_lists_the_advertised_broker_as_leader_of_every_partition() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("kcat-metadata");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 4);

            JsonElement metadata = await Kcat.MetadataAsync(broker.Bootstrap, topic);

            JsonElement brokerEntry = Assert.Single(metadata.GetProperty("brokers").EnumerateArray());
            Assert.Equal(broker.Bootstrap, brokerEntry.GetProperty("name").GetString());
            int brokerId = brokerEntry.GetProperty("id").GetInt32();
            JsonElement topicEntry = Assert.Single(metadata.GetProperty("topics").EnumerateArray());
            Assert.Equal(topic, topicEntry.GetProperty("topic").GetString());
            Assert.False(topicEntry.TryGetProperty("error", out _), $"kcat reports a topic error: {topicEntry}");
            JsonElement[] partitions = topicEntry.GetProperty("partitions").EnumerateArray().ToArray();
            Assert.Equal([0, 1, 2, 3], partitions.Select(p => p.GetProperty("partition").GetInt32()).Order());
            Assert.All(partitions, p => Assert.Equal(brokerId, p.GetProperty("leader").GetInt32()));
        });

    [Fact]
    public Task Producing_to_an_unknown_topic_creates_it_with_the_default_partition_count_when_auto_create_is_on() =>
        WithBrokerAsync(async broker =>
        {
            KafkaClient client = KafkaClient.ByName("confluent-kafka");
            string topic = NewTopic("autocreate");
            TestRecord[] records = [new TestRecord("k", "v", [], Partition: 0)];

            (await client.ProduceAsync(broker.Bootstrap, topic, records)).EnsureSuccess();

            MetadataResponse.MetadataResponseTopic metadata = await RawRequests.TopicMetadataAsync(broker, topic);
            Assert.Equal(0, metadata.ErrorCode);
            Assert.Equal(3, metadata.Partitions.Count);
            RecordAssert.SamePerPartition(records, await client.ConsumeAsync(broker.Bootstrap, topic));
        }, new BrokerOptions { AutoCreateTopics = true, DefaultPartitions = 3 });

    private static void AssertNoError(JsonElement result) =>
        Assert.True(result.GetProperty("error_code").GetInt32() == 0, $"admin operation failed: {result}");

    private static string? Config(JsonElement described, string name) =>
        described.GetProperty("configs").TryGetProperty(name, out JsonElement value) ? value.GetString() : null;
}
