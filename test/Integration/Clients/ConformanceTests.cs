using System.Globalization;
using System.Text.Json;
using KafScale.Integration.Harness;
using KafScale.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Clients;

/// <summary>
/// Admin calls Kafka 4.0 clients make that a broker without replicas still answers as Kafka
/// does: broker configs, manual partition assignments, reassignments, and the Metadata answer
/// to the request that creates a topic.
/// </summary>
[Collection(ClientLibraryCollection.Name)]
public sealed class ConformanceTests(ITestOutputHelper output) : BrokerTest(output)
{
    private const short InvalidReplicaAssignment = 39;

    private static async Task<int> BrokerIdAsync(BrokerProcess broker)
    {
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        MetadataResponse metadata = await connection.SendAsync<MetadataResponse>(3, 12, new MetadataRequest { Topics = [], AllowAutoTopicCreation = false });
        return Assert.Single(metadata.Brokers).NodeId;
    }

    [Theory]
    [MemberData(nameof(ScriptClients))]
    public Task Describing_a_broker_answers_its_settings_read_only(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            ScriptClient client = KafkaClient.Script(clientName);
            string id = (await BrokerIdAsync(broker)).ToString(CultureInfo.InvariantCulture);

            JsonElement described = await client.AdminAsync(broker.Bootstrap, "unused", "describe-broker-configs", "--broker-id", id);

            Assert.True(described.GetProperty("error_code").GetInt32() == 0, $"describe failed: {described}");
            JsonElement configs = described.GetProperty("configs");
            Assert.Equal("3", configs.GetProperty("num.partitions").GetString());
            Assert.Equal("false", configs.GetProperty("auto.create.topics.enable").GetString());
            Assert.Equal("1", configs.GetProperty("default.replication.factor").GetString());
            Assert.Equal("1", configs.GetProperty("min.insync.replicas").GetString());
            Assert.Equal("1048588", configs.GetProperty("message.max.bytes").GetString());
            Assert.Equal("604800000", configs.GetProperty("log.retention.ms").GetString());
            Assert.Equal(id, configs.GetProperty("node.id").GetString());
            Assert.All(described.GetProperty("read_only").EnumerateObject(), p => Assert.True(p.Value.GetBoolean(), $"{p.Name} is not read-only"));
        }, new BrokerOptions { AutoCreateTopics = false, DefaultPartitions = 3 });

    [Theory]
    [MemberData(nameof(ScriptClients))]
    public Task Create_partitions_refuses_an_assignment_to_an_unknown_broker_and_accepts_one_to_the_broker(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            ScriptClient client = KafkaClient.Script(clientName);
            string topic = NewTopic("assign");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            int id = await BrokerIdAsync(broker);

            JsonElement refused = await client.AdminAsync(broker.Bootstrap, topic, "create-partitions", "--partitions", "2",
                "--assignment", (id + 1000).ToString(CultureInfo.InvariantCulture));
            JsonElement miscounted = await client.AdminAsync(broker.Bootstrap, topic, "create-partitions", "--partitions", "3",
                "--assignment", id.ToString(CultureInfo.InvariantCulture));

            Assert.True(refused.GetProperty("error_code").GetInt32() == InvalidReplicaAssignment, $"expected INVALID_REPLICA_ASSIGNMENT: {refused}");
            Assert.True(miscounted.GetProperty("error_code").GetInt32() == InvalidReplicaAssignment, $"expected INVALID_REPLICA_ASSIGNMENT: {miscounted}");
            Assert.Single((await RawRequests.TopicMetadataAsync(broker, topic)).Partitions);

            JsonElement grown = await client.AdminAsync(broker.Bootstrap, topic, "create-partitions", "--partitions", "2",
                "--assignment", id.ToString(CultureInfo.InvariantCulture));
            Assert.True(grown.GetProperty("error_code").GetInt32() == 0, $"create-partitions failed: {grown}");
            Assert.Equal(2, (await RawRequests.TopicMetadataAsync(broker, topic)).Partitions.Count);
        }, new BrokerOptions { AutoCreateTopics = false });

    [Fact]
    public Task Kafkajs_lists_no_reassignments_and_reassigns_only_to_the_lease_holder() =>
        WithBrokerAsync(async broker =>
        {
            ScriptClient client = KafkaClient.Script("kafkajs");
            string topic = NewTopic("reassign");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 2);
            string id = (await BrokerIdAsync(broker)).ToString(CultureInfo.InvariantCulture);

            JsonElement listed = await client.AdminAsync(broker.Bootstrap, topic, "list-reassignments", "--partition", "0", "--partition", "1");
            JsonElement same = await client.AdminAsync(broker.Bootstrap, topic, "reassign", "--partition", "0", "--partition", "1", "--replicas", id);
            JsonElement elsewhere = await client.AdminAsync(broker.Bootstrap, topic, "reassign", "--partition", "0", "--replicas", "4711");

            Assert.Empty(listed.GetProperty("topics").EnumerateArray());
            Assert.True(same.GetProperty("error_code").GetInt32() == 0, $"a reassignment to the leader failed: {same}");
            Assert.True(elsewhere.GetProperty("error_code").GetInt32() == InvalidReplicaAssignment, $"expected INVALID_REPLICA_ASSIGNMENT: {elsewhere}");
        });

    [Theory]
    [MemberData(nameof(ScriptClients))]
    public Task Producing_to_an_unknown_topic_gets_through_the_LEADER_NOT_AVAILABLE_of_its_creation(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            KafkaClient client = KafkaClient.ByName(clientName);
            string topic = NewTopic("autocreate");
            TestRecord[] records = [new TestRecord("k", "v", [], Partition: 0), new TestRecord("k2", "v2", [], Partition: 1)];

            (await client.ProduceAsync(broker.Bootstrap, topic, records)).EnsureSuccess();

            MetadataResponse.MetadataResponseTopic metadata = await RawRequests.TopicMetadataAsync(broker, topic);
            Assert.Equal(0, metadata.ErrorCode);
            Assert.Equal(2, metadata.Partitions.Count);
            RecordAssert.SamePerPartition(records, await client.ConsumeAsync(broker.Bootstrap, topic));
        }, new BrokerOptions { AutoCreateTopics = true, DefaultPartitions = 2 });
}
