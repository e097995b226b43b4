using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Clients;

[Collection(ClientLibraryCollection.Name)]
public sealed class AcksTests(ITestOutputHelper output) : BrokerTest(output)
{
    public static TheoryData<string, string> ClientAcks()
    {
        var data = new TheoryData<string, string>();
        foreach (string client in new[] { "kcat", "kafka-python", "confluent-kafka", "kafkajs" })
        {
            foreach (string acks in new[] { "0", "1", "all" })
            {
                data.Add(client, acks);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ClientAcks))]
    public Task Every_record_produced_with_any_acks_setting_is_readable(string clientName, string acks) =>
        WithBrokerAsync(async broker =>
        {
            KafkaClient client = KafkaClient.ByName(clientName);
            string topic = NewTopic($"acks{acks}");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 2);
            IReadOnlyList<TestRecord> records = TestData.Mixed(40, partitions: 2, clientName, client.CanProduceNullHeaderValues, headerBlock: 20);

            ClientResult produced = (await client.ProduceAsync(broker.Bootstrap, topic, records, acks: acks)).EnsureSuccess();
            if (acks == "0")
            {
                // Nothing tells an acks=0 producer when its records are appended.
                await RawRequests.WaitForHighWatermarksAsync(broker, topic, 2, records.Count, TimeSpan.FromSeconds(30));
            }
            else if (clientName != "kcat")
            {
                Assert.All(produced.Lines("ack"), a => Assert.True(a.GetProperty("offset").GetInt64() >= 0, $"acks={acks} but no offset: {a}"));
            }

            RecordAssert.SamePerPartition(records, await client.ConsumeAsync(broker.Bootstrap, topic));
        });

    [Fact]
    public Task A_Produce_with_acks_0_gets_no_answer_and_the_next_request_on_the_connection_is_answered() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("acks0-raw");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);

            int produceId = connection.NextCorrelationId();
            ProduceRequest produce = RawRequests.ProduceRequestFor(topic, 0, RawRequests.Batch("fire-and-forget", 0, 5), acks: 0);
            await connection.SendFrameAsync(RawKafkaConnection.EncodeRequest(ApiKeys.Produce, RawRequests.ProduceVersion, produceId, produce));
            int versionsId = connection.NextCorrelationId();
            await connection.SendFrameAsync(RawKafkaConnection.EncodeRequest(ApiKeys.ApiVersions, 3, versionsId,
                new ApiVersionsRequest { ClientSoftwareName = "kafscale-it", ClientSoftwareVersion = "1" }));

            byte[] frame = await connection.ReadFrameAsync() ?? throw new InvalidDataException("connection closed");
            ApiVersionsResponse versions = RawKafkaConnection.DecodeResponse<ApiVersionsResponse>(frame, ApiKeys.ApiVersions, 3, versionsId);
            Assert.Equal(0, versions.ErrorCode);
            await RawRequests.WaitForHighWatermarksAsync(broker, topic, 1, 5, TimeSpan.FromSeconds(30));
            List<KafScale.Records.Record> stored = await RawRequests.ReadPartitionAsync(broker, topic, 0);
            Assert.Equal(Enumerable.Range(0, 5).Select(i => $"fire-and-forget-{i}"),
                stored.Select(r => System.Text.Encoding.UTF8.GetString(r.Value!)));
        });

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    public Task A_Produce_with_acks_1_or_all_is_answered_with_consecutive_base_offsets(short acks) =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("acks-raw");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);

            for (int round = 0; round < 3; round++)
            {
                ProduceResponse response = await connection.SendAsync<ProduceResponse>(ApiKeys.Produce, RawRequests.ProduceVersion,
                    RawRequests.ProduceRequestFor(topic, 0, RawRequests.Batch("acked", round * 4, 4), acks));
                ProduceResponse.PartitionProduceResponse p = Assert.Single(Assert.Single(response.Responses).PartitionResponses);
                Assert.Equal(0, p.ErrorCode);
                Assert.Equal(round * 4, p.BaseOffset);
            }

            Assert.Equal(12, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
        });
}
