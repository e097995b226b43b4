using KafScale.Integration.Harness;
using KafScale.Protocol.Messages;
using KafScale.Records;
using Xunit;
using Record = KafScale.Records.Record;
using Xunit.Abstractions;

namespace KafScale.Integration.Clients;

[Collection(ClientLibraryCollection.Name)]
public sealed class CompressionTests(ITestOutputHelper output) : BrokerTest(output)
{
    /// <summary>Every codec of every client, as far as the installed client offers it.</summary>
    public static TheoryData<string, string> ClientCodecs()
    {
        var data = new TheoryData<string, string>();
        foreach (string client in new[] { "kcat", "kafka-python", "confluent-kafka", "kafkajs" })
        {
            foreach (string codec in KafkaClient.ByName(client).Codecs)
            {
                data.Add(client, codec);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ClientCodecs))]
    public Task Compressed_batches_are_stored_as_sent_and_read_back_exactly(string clientName, string codec) =>
        WithBrokerAsync(async broker =>
        {
            KafkaClient client = KafkaClient.ByName(clientName);
            string topic = NewTopic($"compress-{codec}");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 2);
            IReadOnlyList<TestRecord> records = TestData.Compressible(120, partitions: 2, codec);

            (await client.ProduceAsync(broker.Bootstrap, topic, records, compression: codec)).EnsureSuccess();
            IReadOnlyList<ConsumedRecord> consumed = await client.ConsumeAsync(broker.Bootstrap, topic);

            RecordAssert.SamePerPartition(records, consumed);

            // The client really compressed, and the broker kept the batches as they came.
            FetchResponse.PartitionData data = await RawRequests.FetchAsync(broker, topic, partition: 0, offset: 0);
            Assert.Equal(0, data.ErrorCode);
            List<Record> stored = RawRequests.DecodeWholeBatches(data.Records?.ToArray() ?? [], out List<RecordBatchHeader> batches);
            Assert.NotEmpty(batches);
            CompressionType expected = Enum.Parse<CompressionType>(codec, ignoreCase: true);
            // librdkafka sends lz4 only to brokers that advertise FindCoordinator v0 (its "LZ4" feature
            // check); otherwise it quietly sends the records uncompressed.
            Assert.All(batches, b => Assert.True(expected == b.Compression,
                $"a batch of partition 0 is stored with compression {b.Compression}; {clientName} was asked for {codec}"));
            Assert.Equal(
                records.Where(r => r.Partition == 0).Select(r => r.Value).Take(stored.Count),
                stored.Select(r => r.Value is null ? null : System.Text.Encoding.UTF8.GetString(r.Value)));
        });
}
