using KafScale.Cluster.Tests.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>Brokers leaving and joining gracefully: partitions are handed over (flush, then release), clients only retry.</summary>
public sealed class MembershipTests(ITestOutputHelper output) : ClusterTest(output)
{
    [Fact]
    public async Task A_rolling_restart_with_SIGTERM_gives_clients_only_retriable_errors_and_loses_nothing()
    {
        const int partitions = 12;
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("rolling");
            await cluster.CreateTopicAsync(topic, partitions);
            var initial = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, partitions, rate: 300);
            await producer.WaitForAcksAsync(600, TimeSpan.FromSeconds(60));

            foreach (var broker in cluster.Brokers)
            {
                var started = DateTime.UtcNow;
                Assert.Equal(0, await broker.Process.TerminateAsync());
                await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20), leaders => leaders.Values.All(l => l.Leader != broker.Index));
                Output.WriteLine($"broker {broker.Index} stopped; its partitions had new leaders after {(DateTime.UtcNow - started).TotalSeconds:0.00} s");
                int acked = producer.AckCount;
                await producer.WaitForAcksAsync(acked + 300, TimeSpan.FromSeconds(30));
                await broker.StartAsync();
                // The same three brokers: rendezvous gives every partition back to its first leader.
                await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(30), leaders => leaders.All(kv => kv.Value.Leader == initial[kv.Key].Leader));
                acked = producer.AckCount;
                await producer.WaitForAcksAsync(acked + 300, TimeSpan.FromSeconds(30));
            }

            await producer.StopAsync();
            Assert.True(producer.Errors.Length == 0, $"delivery failures reached the client:\n{string.Join('\n', producer.Errors.Take(10))}");
            Output.WriteLine($"client-level events during the restarts (retried by the client): {producer.ClientErrors.Length}");
            var stored = await Ledger.ReadAllAsync(cluster.Bootstrap, topic, partitions);
            Output.WriteLine(Ledger.Verify(producer.Acks, stored));
        });
    }

    [Fact]
    public async Task Scaling_out_from_two_to_three_brokers_moves_about_a_third_of_the_partitions_each_once()
    {
        const int partitions = 30;
        await WithClusterAsync(2, async cluster =>
        {
            string topic = NewTopic("scale");
            await cluster.CreateTopicAsync(topic, partitions);
            var before = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, partitions, rate: 200);
            await producer.WaitForAcksAsync(300, TimeSpan.FromSeconds(60));

            var added = await cluster.AddBrokerAsync();
            var after = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(30), leaders => leaders.Values.Any(l => l.Leader == added.Index));
            // Settle: nothing more moves.
            await Task.Delay(2000);
            var settled = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(10));
            Assert.Equal(after, settled);

            var moved = before.Keys.Where(p => after[p].Leader != before[p].Leader).ToList();
            Output.WriteLine($"{moved.Count} of {partitions} partitions moved to the new broker: {string.Join(',', moved)}");
            Assert.All(moved, p => Assert.Equal(added.Index, after[p].Leader));
            Assert.All(moved, p => Assert.Equal(before[p].Epoch + 1, after[p].Epoch));
            Assert.All(before.Keys.Except(moved), p => Assert.Equal(before[p], after[p]));
            Assert.InRange(moved.Count, 4, 18);

            int acked = producer.AckCount;
            await producer.WaitForAcksAsync(acked + 300, TimeSpan.FromSeconds(30));
            await producer.StopAsync();
            Assert.Empty(producer.Errors);
            var stored = await Ledger.ReadAllAsync(cluster.Bootstrap, topic, partitions);
            Output.WriteLine(Ledger.Verify(producer.Acks, stored));
        });
    }
}
