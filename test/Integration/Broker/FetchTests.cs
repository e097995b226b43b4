using System.Text;
using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;
using Xunit;
using Xunit.Abstractions;
using Record = KafScale.Records.Record;

namespace KafScale.Integration.Broker;

/// <summary>Fetch as the read path promises it: whole batches, long polls, Kafka's error codes.</summary>
public sealed class FetchTests(ITestOutputHelper output) : BrokerTest(output)
{
    [Fact]
    public Task A_long_polling_Fetch_at_the_end_of_the_log_is_answered_with_a_record_produced_while_it_waits() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("longpoll");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using RawKafkaConnection consumer = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            int correlationId = consumer.NextCorrelationId();
            // Waits up to a minute for one byte; the read below gives up earlier, so only a
            // broker that wakes the poll when data arrives passes.
            FetchRequest fetch = FetchFrom(topic, 0, offset: 0, maxWaitMs: 60_000, minBytes: 1, maxBytes: 1024 * 1024);
            await consumer.SendFrameAsync(RawKafkaConnection.EncodeRequest(ApiKeys.Fetch, RawRequests.FetchVersion, correlationId, fetch));

            await using (RawKafkaConnection producer = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                Assert.Equal(0, (await RawRequests.ProduceAsync(producer, topic, 0, RawRequests.Batch("awaited", 0, 1))).ErrorCode);
            }

            byte[] frame = await consumer.ReadFrameAsync(TimeSpan.FromSeconds(40))
                ?? throw new InvalidDataException("the broker closed the connection of a waiting Fetch");
            FetchResponse response = RawKafkaConnection.DecodeResponse<FetchResponse>(frame, ApiKeys.Fetch, RawRequests.FetchVersion, correlationId);
            FetchResponse.PartitionData data = Assert.Single(Assert.Single(response.Responses).Partitions);
            Assert.Equal(0, data.ErrorCode);
            Assert.Equal(1, data.HighWatermark);
            Record record = Assert.Single(RawRequests.DecodeWholeBatches(data.Records?.ToArray() ?? [], out _));
            Assert.Equal("awaited-0", Encoding.UTF8.GetString(record.Value!));
        });

    [Fact]
    public Task A_Fetch_from_inside_a_batch_returns_that_whole_batch_and_those_after_it() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("midbatch");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using (RawKafkaConnection producer = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                Assert.Equal(0, (await RawRequests.ProduceAsync(producer, topic, 0, RawRequests.Batch("r", 0, 5))).BaseOffset);
                Assert.Equal(5, (await RawRequests.ProduceAsync(producer, topic, 0, RawRequests.Batch("r", 5, 5))).BaseOffset);
            }

            FetchResponse.PartitionData data = await RawRequests.FetchAsync(broker, topic, 0, offset: 7);

            Assert.Equal(0, data.ErrorCode);
            Assert.Equal(10, data.HighWatermark);
            List<Record> records = RawRequests.DecodeWholeBatches(data.Records?.ToArray() ?? [], out List<RecordBatchHeader> batches);
            Assert.Equal(5, batches[0].BaseOffset);
            Assert.Equal(Enumerable.Range(5, 5).Select(i => (long)i), records.Select(r => r.Offset));
            Assert.Equal(Enumerable.Range(5, 5).Select(i => $"r-{i}"), records.Select(r => Encoding.UTF8.GetString(r.Value!)));
        });

    [Fact]
    public Task A_Fetch_with_limits_below_the_first_batch_still_returns_that_whole_batch() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("smallmax");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            using var builder = new RecordBatchBuilder();
            for (int i = 0; i < 10; i++)
            {
                builder.Add(Encoding.UTF8.GetBytes($"k{i}"), new byte[2000], DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            }

            byte[] batch = builder.Build();
            await using (RawKafkaConnection producer = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                Assert.Equal(0, (await RawRequests.ProduceAsync(producer, topic, 0, batch)).ErrorCode);
            }

            await using RawKafkaConnection consumer = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            FetchResponse response = await consumer.SendAsync<FetchResponse>(ApiKeys.Fetch, RawRequests.FetchVersion,
                FetchFrom(topic, 0, offset: 0, maxWaitMs: 0, minBytes: 0, maxBytes: 100));

            FetchResponse.PartitionData data = Assert.Single(Assert.Single(response.Responses).Partitions);
            Assert.Equal(0, data.ErrorCode);
            Assert.Equal(10, RawRequests.DecodeWholeBatches(data.Records?.ToArray() ?? [], out _).Count);
        });

    [Fact]
    public Task A_Fetch_beyond_the_high_watermark_is_answered_with_OFFSET_OUT_OF_RANGE() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("outofrange");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using (RawKafkaConnection producer = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                Assert.Equal(0, (await RawRequests.ProduceAsync(producer, topic, 0, RawRequests.Batch("r", 0, 3))).ErrorCode);
            }

            FetchResponse.PartitionData data = await RawRequests.FetchAsync(broker, topic, 0, offset: 50);

            Assert.Equal((short)ErrorCode.OffsetOutOfRange, data.ErrorCode);
            Assert.Equal(3, data.HighWatermark);
        });

    [Fact]
    public Task A_Fetch_of_a_partition_the_topic_does_not_have_is_answered_with_UNKNOWN_TOPIC_OR_PARTITION() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("fetch-nopartition");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);

            FetchResponse.PartitionData data = await RawRequests.FetchAsync(broker, topic, 3, offset: 0);

            Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, data.ErrorCode);
        });

    private static FetchRequest FetchFrom(string topic, int partition, long offset, int maxWaitMs, int minBytes, int maxBytes) => new()
    {
        ReplicaId = -1,
        MaxWaitMs = maxWaitMs,
        MinBytes = minBytes,
        MaxBytes = maxBytes,
        IsolationLevel = 0,
        SessionId = 0,
        SessionEpoch = -1,
        Topics =
        [
            new FetchRequest.FetchTopic
            {
                Topic = topic,
                Partitions =
                [
                    new FetchRequest.FetchPartition
                    {
                        Partition = partition,
                        CurrentLeaderEpoch = -1,
                        FetchOffset = offset,
                        LogStartOffset = -1,
                        PartitionMaxBytes = maxBytes,
                    },
                ],
            },
        ],
    };
}
