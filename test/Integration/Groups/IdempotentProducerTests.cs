using System.Text;
using System.Text.Json;
using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Groups;

/// <summary>
/// Idempotent producers (KIP-98) on one broker: raw batches with producer id, epoch and
/// sequence, and librdkafka's idempotent producer.
/// </summary>
public sealed class IdempotentProducerTests(ITestOutputHelper output) : BrokerTest(output)
{
    private const short InitProducerIdVersion = 4;
    private const short OutOfOrderSequenceNumber = 45;
    private const short NotLeaderOrFollower = 6;
    private const short InvalidProducerEpoch = 47;
    private const short TransactionalIdAuthorizationFailed = 53;

    [Fact]
    public Task A_batch_sent_twice_is_answered_with_its_first_base_offset_and_stored_once() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("idem-dup");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            (long pid, short epoch) = await InitProducerIdAsync(connection);

            // A plain batch first, so the idempotent ones do not start at offset 0.
            Assert.Equal(0, (await RawRequests.ProduceAsync(connection, topic, 0, RawRequests.Batch("plain", 0, 3))).BaseOffset);
            byte[] first = IdempotentBatch("a", pid, epoch, sequence: 0, count: 5);
            byte[] second = IdempotentBatch("b", pid, epoch, sequence: 5, count: 5);
            AssertAppended(await RawRequests.ProduceAsync(connection, topic, 0, first), 3);
            AssertAppended(await RawRequests.ProduceAsync(connection, topic, 0, second), 8);

            AssertAppended(await RawRequests.ProduceAsync(connection, topic, 0, second), 8);
            AssertAppended(await RawRequests.ProduceAsync(connection, topic, 0, first), 3);

            Assert.Equal(13, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
            await AssertStoredAsync(broker, topic, 0,
                [.. Values("plain", 0, 3), .. Values("a", 0, 5), .. Values("b", 5, 5)]);
        });

    [Fact]
    public Task A_retry_on_another_connection_while_the_first_write_awaits_its_flush_gets_the_same_offset_once_durable() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("idem-pending");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using RawKafkaConnection first = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            await using RawKafkaConnection retry = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            (long pid, short epoch) = await InitProducerIdAsync(first);
            byte[] batch = IdempotentBatch("pending", pid, epoch, 0, 5);

            // As a client whose request timed out does: the same batch again, on a new connection,
            // while the first is still waiting for the flush interval.
            Task<ProduceResponse.PartitionProduceResponse> original = RawRequests.ProduceAsync(first, topic, 0, batch);
            await Task.Delay(200);
            Task<ProduceResponse.PartitionProduceResponse> duplicate = RawRequests.ProduceAsync(retry, topic, 0, batch);

            AssertAppended(await original, 0);
            AssertAppended(await duplicate, 0);
            Assert.Equal(5, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
            await AssertStoredAsync(broker, topic, 0, Values("pending", 0, 5));
        }, new BrokerOptions { FlushIntervalMs = 1_500 });

    [Fact]
    public Task A_sequence_gap_is_refused_with_OUT_OF_ORDER_SEQUENCE_NUMBER_and_nothing_is_stored() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("idem-gap");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            (long pid, short epoch) = await InitProducerIdAsync(connection);
            AssertAppended(await RawRequests.ProduceAsync(connection, topic, 0, IdempotentBatch("a", pid, epoch, 0, 5)), 0);

            ProduceResponse.PartitionProduceResponse gap = await RawRequests.ProduceAsync(connection, topic, 0, IdempotentBatch("gap", pid, epoch, 10, 5));

            Assert.Equal(OutOfOrderSequenceNumber, gap.ErrorCode);
            Assert.Equal(5, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
            // The producer can go on from where it really is.
            AssertAppended(await RawRequests.ProduceAsync(connection, topic, 0, IdempotentBatch("a", pid, epoch, 5, 5)), 5);
            await AssertStoredAsync(broker, topic, 0, Values("a", 0, 10));
        });

    [Fact]
    public Task A_batch_of_an_older_producer_epoch_is_refused_with_INVALID_PRODUCER_EPOCH() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("idem-epoch");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            (long pid, short epoch) = await InitProducerIdAsync(connection);
            AssertAppended(await RawRequests.ProduceAsync(connection, topic, 0, IdempotentBatch("e0", pid, epoch, 0, 5)), 0);
            // A bumped epoch starts its sequences again at 0.
            AssertAppended(await RawRequests.ProduceAsync(connection, topic, 0, IdempotentBatch("e1", pid, (short)(epoch + 1), 0, 5)), 5);

            ProduceResponse.PartitionProduceResponse stale = await RawRequests.ProduceAsync(connection, topic, 0, IdempotentBatch("stale", pid, epoch, 5, 5));

            Assert.Equal(InvalidProducerEpoch, stale.ErrorCode);
            Assert.Equal(10, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
            await AssertStoredAsync(broker, topic, 0, [.. Values("e0", 0, 5), .. Values("e1", 0, 5)]);
        });

    [Fact]
    public Task A_transactional_InitProducerId_is_refused_with_TRANSACTIONAL_ID_AUTHORIZATION_FAILED_and_librdkafka_gives_up_at_once() =>
        WithBrokerAsync(async broker =>
        {
            await using (RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                InitProducerIdResponse refused = await connection.SendAsync<InitProducerIdResponse>(ApiKeys.InitProducerId, InitProducerIdVersion,
                    new InitProducerIdRequest { TransactionalId = "kafscale-it-tx", TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 });
                Assert.Equal(TransactionalIdAuthorizationFailed, refused.ErrorCode);
                Assert.Equal(-1, refused.ProducerId);

                // Without a transactional id, every call is a new producer.
                (long a, short epochA) = await InitProducerIdAsync(connection);
                (long b, _) = await InitProducerIdAsync(connection);
                Assert.Equal(0, epochA);
                Assert.NotEqual(a, b);
            }

            string topic = NewTopic("idem-tx");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            TestRecord[] records = [new TestRecord("k", "v", [], 0)];
            string stdin = records[0].ToJsonLine() + "\n";
            // The fatal error must end init_transactions well before its own 60 s limit: the
            // runner's limit is the bound, so a client left retrying fails the test by timing out.
            ClientResult result = await ClientRunner.PythonAsync("confluent_kafka_client.py",
                ["produce", "--bootstrap", broker.Bootstrap, "--topic", topic, "--transactional-id", "kafscale-it-tx", "--timeout-ms", "60000"],
                stdin, timeout: TimeSpan.FromSeconds(45));

            Assert.False(result.TimedOut, $"the transactional producer kept waiting:\n{result}");
            JsonElement error = Assert.Single(result.Lines("error"));
            Assert.Equal(TransactionalIdAuthorizationFailed, error.GetProperty("error_code").GetInt32());
            Assert.True(error.GetProperty("fatal").GetBoolean(), $"librdkafka did not treat the refusal as fatal: {error}");
            Assert.Equal(0, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
        });

    [Fact]
    public Task A_batch_resent_after_kill_9_and_a_restart_gets_its_original_offset_and_is_not_written_twice() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("idem-crash");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 2);
            var batches = new List<(int Partition, byte[] Batch, long BaseOffset)>();
            long pid;
            short epoch;
            await using (RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                (pid, epoch) = await InitProducerIdAsync(connection);
                for (int i = 0; i < 8; i++)
                {
                    byte[] batch = IdempotentBatch("p0", pid, epoch, i * 10, 10);
                    ProduceResponse.PartitionProduceResponse acked = await RawRequests.ProduceAsync(connection, topic, 0, batch);
                    AssertAppended(acked, i * 10);
                    batches.Add((0, batch, acked.BaseOffset));
                }

                for (int i = 0; i < 3; i++)
                {
                    byte[] batch = IdempotentBatch("p1", pid, epoch, i * 10, 10);
                    ProduceResponse.PartitionProduceResponse acked = await RawRequests.ProduceAsync(connection, topic, 1, batch);
                    AssertAppended(acked, i * 10);
                    batches.Add((1, batch, acked.BaseOffset));
                }
            }

            await broker.Kill9Async();
            await broker.RestartAsync();

            await using (RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                // The last acknowledged batch of each partition, and the oldest of the five retained on partition 0.
                foreach ((int partition, byte[] batch, long baseOffset) in new[] { batches[7], batches[3], batches[10] })
                {
                    ProduceResponse.PartitionProduceResponse resent = await RawRequests.ProduceAsync(connection, topic, partition, batch);
                    Assert.True(resent.ErrorCode == 0 && resent.BaseOffset == baseOffset,
                        $"the batch first written to partition {partition} at {baseOffset} was answered after the restart with error {resent.ErrorCode} at {resent.BaseOffset}");
                }

                Assert.Equal(80, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
                Assert.Equal(30, await RawRequests.ListOffsetAsync(broker, topic, 1, -1));

                // The producer state came back with the log: the next sequence still fits. A gap
                // before this term wrote for the producer is "not written, retry" (the producer
                // still holds what the earlier term refused); after that it is Kafka's gap error.
                Assert.Equal(NotLeaderOrFollower, (await RawRequests.ProduceAsync(connection, topic, 0, IdempotentBatch("gap", pid, epoch, 95, 5))).ErrorCode);
                AssertAppended(await RawRequests.ProduceAsync(connection, topic, 0, IdempotentBatch("p0", pid, epoch, 80, 10)), 80);
                Assert.Equal(OutOfOrderSequenceNumber, (await RawRequests.ProduceAsync(connection, topic, 0, IdempotentBatch("gap", pid, epoch, 95, 5))).ErrorCode);
            }

            await AssertStoredAsync(broker, topic, 0, Values("p0", 0, 90));
            await AssertStoredAsync(broker, topic, 1, Values("p1", 0, 30));
        });

    [Fact]
    public Task Confluent_kafka_idempotent_producer_gets_every_record_acknowledged_once_with_no_duplicates() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("idem-rdkafka");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 3);
            IReadOnlyList<TestRecord> records = Enumerable.Range(0, 3000)
                .Select(i => new TestRecord($"k-{i}", $"idempotent-{i}", [], i % 3))
                .ToArray();
            string stdin = string.Concat(records.Select(r => r.ToJsonLine() + "\n"));

            ClientResult result = (await ClientRunner.PythonAsync("confluent_kafka_client.py",
                ["produce", "--bootstrap", broker.Bootstrap, "--topic", topic, "--idempotent", "--acks", "all"], stdin)).EnsureSuccess();

            IReadOnlyList<JsonElement> acks = result.Lines("ack");
            Assert.Equal(records.Count, acks.Count);
            var ackedAt = acks.ToDictionary(a => a.GetProperty("index").GetInt32(), a => (a.GetProperty("partition").GetInt32(), a.GetProperty("offset").GetInt64()));
            for (int p = 0; p < 3; p++)
            {
                (List<KafScale.Records.Record> stored, List<RecordBatchHeader> headers) = await ReadWithHeadersAsync(broker, topic, p);
                string[] expected = records.Where(r => r.Partition == p).Select(r => r.Value!).ToArray();
                Assert.Equal(expected, stored.Select(r => Encoding.UTF8.GetString(r.Value!)).ToArray());
                Assert.Equal(Enumerable.Range(0, expected.Length).Select(i => (long)i), stored.Select(r => r.Offset));

                // One producer, and its sequences run on without a gap or a repeat from 0.
                Assert.Single(headers.Select(h => (h.ProducerId, h.ProducerEpoch)).Distinct());
                Assert.True(headers[0].ProducerId >= 0, "librdkafka sent batches without a producer id");
                int next = 0;
                foreach (RecordBatchHeader h in headers)
                {
                    Assert.Equal(next, h.BaseSequence);
                    next += h.LastOffsetDelta + 1;
                }
            }

            // Each record was acknowledged at the offset it is stored at.
            var nextOffset = new long[3];
            for (int i = 0; i < records.Count; i++)
            {
                int expectedPartition = records[i].Partition!.Value;
                Assert.Equal((expectedPartition, nextOffset[expectedPartition]++), ackedAt[i]);
            }
        });

    [Fact]
    public Task Confluent_kafka_idempotent_producer_writes_every_record_once_when_the_broker_is_killed_and_restarted_mid_stream() =>
        WithBrokerAsync(async broker =>
        {
            const int Partitions = 3;
            const int Count = 20_000;
            string topic = NewTopic("idem-restart");
            await RawRequests.CreateTopicAsync(broker, topic, Partitions);
            await using GroupMember producer = GroupMember.Python("producer", "confluent_kafka_client.py",
                ["produce-loop", "--bootstrap", broker.Bootstrap, "--topic", topic, "--partitions", "3", "--count", Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                 "--idempotent", "--acks", "all", "--timeout-ms", "90000"]);

            // Killed with requests in flight: those the log kept are retried by librdkafka and
            // must be recognised from the producer state rebuilt at startup, not written again.
            await Eventually.HoldsAsync(() => producer.Lines("ack").Count >= 4_000, TimeSpan.FromSeconds(60),
                () => $"only {producer.Lines("ack").Count} acks", [producer]);
            await broker.Kill9Async();
            await broker.RestartAsync();
            await producer.StopAsync(TimeSpan.FromSeconds(120));

            IReadOnlyList<JsonElement> acks = producer.Lines("ack");
            Assert.Equal(Count, acks.Count);
            for (int p = 0; p < Partitions; p++)
            {
                var acked = acks.Where(a => a.GetProperty("partition").GetInt32() == p)
                    .ToDictionary(a => a.GetProperty("offset").GetInt64(), a => a.GetProperty("value").GetString()!);
                List<KafScale.Records.Record> stored = await RawRequests.ReadPartitionAsync(broker, topic, p);
                Assert.True(stored.Count == acked.Count,
                    $"partition {p} holds {stored.Count} records for {acked.Count} acknowledged: " +
                    string.Join(", ", stored.GroupBy(r => Encoding.UTF8.GetString(r.Value!)).Where(g => g.Count() > 1).Take(5).Select(g => $"{g.Key[..12]} at {string.Join("/", g.Select(r => r.Offset))}")));
                foreach (KafScale.Records.Record r in stored)
                {
                    Assert.True(acked.TryGetValue(r.Offset, out string? value) && value == Encoding.UTF8.GetString(r.Value!),
                        $"partition {p} offset {r.Offset} holds a record not acknowledged there");
                }
            }
        });

    private static async Task<(long ProducerId, short Epoch)> InitProducerIdAsync(RawKafkaConnection connection)
    {
        InitProducerIdResponse response = await connection.SendAsync<InitProducerIdResponse>(ApiKeys.InitProducerId, InitProducerIdVersion,
            new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 });
        Assert.True(response.ErrorCode == 0, $"InitProducerId: error {response.ErrorCode}");
        Assert.True(response.ProducerId >= 0, $"InitProducerId gave producer id {response.ProducerId}");
        return (response.ProducerId, response.ProducerEpoch);
    }

    /// <summary>A batch of records "{prefix}-{sequence}" .. as an idempotent producer sends it.</summary>
    private static byte[] IdempotentBatch(string prefix, long producerId, short epoch, int sequence, int count)
    {
        using var builder = new RecordBatchBuilder { ProducerId = producerId, ProducerEpoch = epoch, BaseSequence = sequence };
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (string value in Values(prefix, sequence, count))
        {
            builder.Add(Encoding.UTF8.GetBytes("k"), Encoding.UTF8.GetBytes(value), now);
        }

        return builder.Build();
    }

    private static IEnumerable<string> Values(string prefix, int first, int count) =>
        Enumerable.Range(first, count).Select(i => $"{prefix}-{i}");

    private static void AssertAppended(ProduceResponse.PartitionProduceResponse response, long expectedBaseOffset) =>
        Assert.True(response.ErrorCode == 0 && response.BaseOffset == expectedBaseOffset,
            $"expected the batch at {expectedBaseOffset}; the broker answered error {response.ErrorCode} at {response.BaseOffset}");

    private static async Task AssertStoredAsync(BrokerProcess broker, string topic, int partition, IEnumerable<string> expected)
    {
        List<KafScale.Records.Record> stored = await RawRequests.ReadPartitionAsync(broker, topic, partition);
        Assert.Equal(expected.ToArray(), stored.Select(r => Encoding.UTF8.GetString(r.Value!)).ToArray());
        Assert.Equal(Enumerable.Range(0, stored.Count).Select(i => (long)i), stored.Select(r => r.Offset));
    }

    private static async Task<(List<KafScale.Records.Record> Records, List<RecordBatchHeader> Headers)> ReadWithHeadersAsync(BrokerProcess broker, string topic, int partition)
    {
        var records = new List<KafScale.Records.Record>();
        var headers = new List<RecordBatchHeader>();
        long highWatermark = await RawRequests.ListOffsetAsync(broker, topic, partition, -1);
        long offset = 0;
        while (offset < highWatermark)
        {
            FetchResponse.PartitionData data = await RawRequests.FetchAsync(broker, topic, partition, offset);
            Assert.True(data.ErrorCode == 0, $"Fetch {topic}/{partition}@{offset}: error {data.ErrorCode}");
            List<KafScale.Records.Record> batch = RawRequests.DecodeWholeBatches(data.Records?.ToArray() ?? [], out List<RecordBatchHeader> batchHeaders);
            Assert.True(batch.Count > 0, $"Fetch {topic}/{partition}@{offset} returned no whole batch below the high watermark {highWatermark}");
            records.AddRange(batch);
            headers.AddRange(batchHeaders);
            offset = batch[^1].Offset + 1;
        }

        return (records, headers);
    }
}
