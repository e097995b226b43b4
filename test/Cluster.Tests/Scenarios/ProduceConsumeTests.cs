using System.Text.Json;
using KafScale.Cluster.Tests.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>Three brokers sharing etcd and an object store: every client produces and consumes through all of them.</summary>
public sealed class ProduceConsumeTests(ITestOutputHelper output) : ClusterTest(output)
{
    private const int Partitions = 6;

    [Fact]
    public async Task Metadata_points_each_partition_at_one_live_broker_and_every_broker_agrees()
    {
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("meta");
            await cluster.CreateTopicAsync(topic, 12, via: cluster.Brokers[2]);

            var leaders = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));

            var metadata = await TestCluster.MetadataAsync(cluster.Brokers[1], topic);
            Assert.Equal(3, metadata.Brokers.Count);
            Assert.Equal(cluster.Brokers.Select(b => b.KafkaPort).Order(), metadata.Brokers.Select(b => b.Port).Order());
            Assert.All(metadata.Brokers, b => Assert.Equal("127.0.0.1", b.Host));
            Assert.Equal(metadata.Brokers.Min(b => b.NodeId), metadata.ControllerId);
            Assert.All(leaders.Values, l => Assert.Contains(l.Leader, metadata.Brokers.Select(b => b.NodeId)));
            Assert.All(leaders.Values, l => Assert.True(l.Epoch >= 1));
            // Rendezvous spreads 12 partitions over 3 brokers: each leads some.
            Assert.Equal(3, leaders.Values.Select(l => l.Leader).Distinct().Count());
            Output.WriteLine(string.Join(", ", leaders.OrderBy(kv => kv.Key).Select(kv => $"p{kv.Key}->{kv.Value.Leader}@{kv.Value.Epoch}")));

            // Every broker names the same coordinator for a group: the leader of its shard.
            var coordinators = new List<(int Node, int Port)>();
            foreach (var b in cluster.Brokers)
            {
                await using var connection = await RawKafkaConnection.ConnectAsync(b.KafkaPort);
                var found = await connection.SendAsync<FindCoordinatorResponse>(ApiKeys.FindCoordinator, 3, new FindCoordinatorRequest { Key = "orders-app", KeyType = 0 });
                Assert.Equal(0, found.ErrorCode);
                coordinators.Add((found.NodeId, found.Port));
            }
            Assert.Single(coordinators.Distinct());
            Assert.Contains(metadata.Brokers, b => b.NodeId == coordinators[0].Node && b.Port == coordinators[0].Port);

            // Upstream KafScale's cluster view is kept in etcd for its processors.
            string snapshot = "";
            await TestCluster.WaitUntilAsync(async () =>
            {
                snapshot = await cluster.Etcd.GetAsync("/kafscale/metadata/snapshot") ?? "";
                return snapshot.Contains(topic, StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(10), "the metadata snapshot to name the topic");
            using var doc = JsonDocument.Parse(snapshot);
            var root = doc.RootElement;
            Assert.Equal(3, root.GetProperty("Brokers").GetArrayLength());
            Assert.Equal(metadata.ControllerId, root.GetProperty("ControllerID").GetInt32());
            var snapTopic = root.GetProperty("Topics").EnumerateArray().Single(t => t.GetProperty("Name").GetString() == topic);
            Assert.Equal(16, snapTopic.GetProperty("TopicID").GetArrayLength());
            foreach (var p in snapTopic.GetProperty("Partitions").EnumerateArray())
                Assert.Equal(leaders[p.GetProperty("PartitionIndex").GetInt32()].Leader, p.GetProperty("LeaderID").GetInt32());
        }, new ClusterOptions { ExplicitBrokerIds = false });
    }

    [Theory]
    [InlineData("kafka-python")]
    [InlineData("confluent-kafka")]
    [InlineData("kcat")]
    public async Task A_client_produces_through_one_broker_and_consumes_through_another(string clientName)
    {
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic(clientName);
            await cluster.CreateTopicAsync(topic, Partitions, via: cluster.Brokers[0]);
            await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            var client = KafkaClient.ByName(clientName);
            var records = TestData.Mixed(120, Partitions, clientName, client.CanProduceNullHeaderValues);

            (await client.ProduceAsync(cluster.Brokers[1].Address, topic, records)).EnsureSuccess();
            var consumed = await client.ConsumeAsync(cluster.Brokers[2].Address, topic, [.. Enumerable.Range(0, Partitions)]);

            RecordAssert.SamePerPartition(records, consumed);
        });
    }
}
