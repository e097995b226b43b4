using KafScale.Integration.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Clients;

[Collection(ClientLibraryCollection.Name)]
public sealed class ProduceConsumeTests(ITestOutputHelper output) : BrokerTest(output)
{
    [Theory]
    [MemberData(nameof(AllClients))]
    public Task Records_with_keys_headers_and_null_values_are_read_back_exactly_in_partition_order(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            KafkaClient client = KafkaClient.ByName(clientName);
            string topic = NewTopic("roundtrip");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 3);
            IReadOnlyList<TestRecord> records = TestData.Mixed(90, partitions: 3, clientName, client.CanProduceNullHeaderValues);

            ClientResult produced = (await client.ProduceAsync(broker.Bootstrap, topic, records)).EnsureSuccess();
            IReadOnlyList<ConsumedRecord> consumed = await client.ConsumeAsync(broker.Bootstrap, topic);

            RecordAssert.SamePerPartition(records, consumed);
            AssertAcksMatchOffsets(records, produced, consumed);
        });

    [Theory]
    [InlineData("confluent-kafka", "kcat")]
    [InlineData("kcat", "kafka-python")]
    [InlineData("kafka-python", "kafkajs")]
    [InlineData("kafkajs", "confluent-kafka")]
    public Task Records_produced_by_one_client_are_read_identically_by_another(string producerName, string consumerName) =>
        WithBrokerAsync(async broker =>
        {
            KafkaClient producer = KafkaClient.ByName(producerName);
            KafkaClient consumer = KafkaClient.ByName(consumerName);
            string topic = NewTopic("crossclient");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 2);
            IReadOnlyList<TestRecord> records = TestData.Mixed(60, partitions: 2, producerName, producer.CanProduceNullHeaderValues);

            (await producer.ProduceAsync(broker.Bootstrap, topic, records)).EnsureSuccess();
            IReadOnlyList<ConsumedRecord> consumed = await consumer.ConsumeAsync(broker.Bootstrap, topic);

            RecordAssert.SamePerPartition(records, consumed);
        });

    [Theory]
    [MemberData(nameof(AllClients))]
    public Task Consuming_only_assigned_partitions_returns_only_their_records(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            KafkaClient client = KafkaClient.ByName(clientName);
            string topic = NewTopic("assigned");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 3);
            IReadOnlyList<TestRecord> records = TestData.Mixed(30, partitions: 3, clientName, client.CanProduceNullHeaderValues);
            (await client.ProduceAsync(broker.Bootstrap, topic, records)).EnsureSuccess();

            IReadOnlyList<ConsumedRecord> consumed = await client.ConsumeAsync(broker.Bootstrap, topic, [2]);

            RecordAssert.SamePerPartition(records.Where(r => r.Partition == 2).ToArray(), consumed);
        });

    /// <summary>The offset each script client reports for a record is the offset it is read back at.</summary>
    private static void AssertAcksMatchOffsets(IReadOnlyList<TestRecord> records, ClientResult produced, IReadOnlyList<ConsumedRecord> consumed)
    {
        var acks = produced.Lines("ack");
        if (acks.Count == 0)
        {
            return; // kcat does not report offsets
        }

        Assert.Equal(records.Count, acks.Count);
        foreach (var ack in acks)
        {
            int index = ack.GetProperty("index").GetInt32();
            int partition = ack.GetProperty("partition").GetInt32();
            long offset = ack.GetProperty("offset").GetInt64();
            Assert.Equal(records[index].Partition, partition);
            ConsumedRecord at = Assert.Single(consumed, c => c.Partition == partition && c.Offset == offset);
            Assert.True(at.Key == records[index].Key && at.Value == records[index].Value,
                $"record #{index} was acknowledged at {partition}@{offset}, which holds {at.Describe()}");
        }
    }
}
