using KafScale.Cluster.Tests.Harness;
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
