using System.Text;
using System.Text.Json;
using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using Xunit;
using Record = KafScale.Records.Record;
using Xunit.Abstractions;

namespace KafScale.Integration.Broker;

/// <summary>What survives a crash (SIGKILL) and a clean stop (SIGTERM), on the same data directory.</summary>
public sealed class DurabilityTests(ITestOutputHelper output) : BrokerTest(output)
{
    [Fact]
    public Task Every_record_acknowledged_with_acks_all_survives_kill_9_during_production() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("crash");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 3);

            IReadOnlyList<JsonElement> acks;
            await using (RunningClient producer = ClientRunner.StartPython("confluent_kafka_client.py",
                ["produce-loop", "--bootstrap", broker.Bootstrap, "--topic", topic, "--partitions", "3",
                 "--acks", "all", "--value-bytes", "200", "--timeout-ms", "60000"]))
            {
                await producer.WaitForLinesAsync("ack", 2000, TimeSpan.FromSeconds(120));
                await broker.Kill9Async();
                await producer.KillAsync();
                acks = producer.Lines("ack");
                Output.WriteLine($"{acks.Count} records acknowledged before the broker was killed");
            }

            await broker.RestartAsync();

            var stored = new Dictionary<(int Partition, long Offset), Record>();
            for (int p = 0; p < 3; p++)
            {
                List<Record> records = await RawRequests.ReadPartitionAsync(broker, topic, p);
                for (int i = 0; i < records.Count; i++)
                {
                    Assert.True(records[i].Offset == i, $"partition {p}: record #{i} is at offset {records[i].Offset} (a hole in the log)");
                    stored[(p, records[i].Offset)] = records[i];
                }
            }

            var missing = new List<string>();
            foreach (JsonElement ack in acks)
            {
                int partition = ack.GetProperty("partition").GetInt32();
                long offset = ack.GetProperty("offset").GetInt64();
                string value = ack.GetProperty("value").GetString()!;
                if (!stored.TryGetValue((partition, offset), out Record? record))
                {
                    missing.Add($"p{partition}@{offset} ({value[..Math.Min(12, value.Length)]}...) is gone");
                }
                else if (Encoding.UTF8.GetString(record.Value!) != value)
                {
                    missing.Add($"p{partition}@{offset} holds another record than the one acknowledged there");
                }
            }

            Assert.True(missing.Count == 0,
                $"{missing.Count} of {acks.Count} acknowledged records were lost:\n{string.Join("\n", missing.Take(30))}");
        });

    [Fact]
    public Task Sigterm_exits_0_and_every_record_produced_before_is_readable_after_a_restart() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("sigterm");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 3);
            IReadOnlyList<TestRecord> records = TestData.Mixed(90, partitions: 3, "confluent-kafka");
            (await KafkaClient.ByName("confluent-kafka").ProduceAsync(broker.Bootstrap, topic, records)).EnsureSuccess();

            int exitCode = await broker.TerminateAsync();

            Assert.Equal(0, exitCode);
            await broker.RestartAsync();
            RecordAssert.SamePerPartition(records, await KafkaClient.ByName("kcat").ConsumeAsync(broker.Bootstrap, topic));
        });

    [Fact]
    public Task Sigterm_flushes_records_still_waiting_for_the_flush_interval() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("sigterm-pending");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            await using (RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort))
            {
                for (int batch = 0; batch < 5; batch++)
                {
                    ProduceRequest produce = RawRequests.ProduceRequestFor(topic, 0, RawRequests.Batch("pending", batch * 10, 10), acks: 0);
                    await connection.SendFrameAsync(RawKafkaConnection.EncodeRequest(ApiKeys.Produce, RawRequests.ProduceVersion, connection.NextCorrelationId(), produce));
                }

                // Requests on a connection are handled in order: once this is answered, the produces were taken in.
                await connection.SendAsync<ApiVersionsResponse>(ApiKeys.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "kafscale-it", ClientSoftwareVersion = "1" });
            }

            int exitCode = await broker.TerminateAsync();

            Assert.Equal(0, exitCode);
            await broker.RestartAsync();
            List<Record> stored = await RawRequests.ReadPartitionAsync(broker, topic, 0);
            Assert.Equal(Enumerable.Range(0, 50).Select(i => $"pending-{i}"), stored.Select(r => Encoding.UTF8.GetString(r.Value!)));
        }, new BrokerOptions { FlushIntervalMs = 60_000 });

    [Fact]
    public Task Topics_and_their_configs_survive_a_restart() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("restart-config");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 2, new Dictionary<string, string> { ["retention.ms"] = "123456789" });
            Assert.Equal(0, await broker.TerminateAsync());

            await broker.RestartAsync();

            MetadataResponse.MetadataResponseTopic metadata = await RawRequests.TopicMetadataAsync(broker, topic);
            Assert.Equal(0, metadata.ErrorCode);
            Assert.Equal(2, metadata.Partitions.Count);
            JsonElement described = await KafkaClient.Script("confluent-kafka").AdminAsync(broker.Bootstrap, topic, "describe-configs");
            Assert.Equal("123456789", described.GetProperty("configs").GetProperty("retention.ms").GetString());
        });
}
