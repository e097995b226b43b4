using System.Diagnostics;
using KafScale.Cluster.Tests.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>docs/architecture.md, "Leadership and fencing": a broker dies, its partitions move to the survivors, nothing acknowledged is lost.</summary>
public sealed class FailoverTests(ITestOutputHelper output) : ClusterTest(output)
{
    private const int Partitions = 6;

    [Fact]
    public async Task Killing_a_leader_during_acks_all_production_loses_no_acknowledged_record_and_its_partitions_are_writable_within_10_seconds()
    {
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("failover");
            await cluster.CreateTopicAsync(topic, Partitions);
            var before = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, Partitions, rate: 300);
            await producer.WaitForAcksAsync(900, TimeSpan.FromSeconds(60));

            int victimId = before[0].Leader;
            var victim = (await cluster.NodeOfAsync(victimId, cluster.Brokers[0]))!;
            var survivor = cluster.Running(skip: victim.Index);
            int[] moved = [.. before.Where(kv => kv.Value.Leader == victimId).Select(kv => kv.Key)];
            long killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var clock = Stopwatch.StartNew();
            await victim.Process.KillAsync();

            // When metadata names a live new leader for every partition the dead broker led...
            double metadataSeconds = -1;
            await TestCluster.WaitUntilAsync(async () =>
            {
                var now = await TestCluster.LeadersAsync(survivor, topic);
                bool done = moved.All(p => now[p].Leader >= 0 && now[p].Leader != victimId);
                if (done) metadataSeconds = clock.Elapsed.TotalSeconds;
                return done;
            }, TimeSpan.FromSeconds(30), "new leaders in metadata");
            // ...and when the producer has an acknowledgement from each of them.
            await TestCluster.WaitUntilAsync(() => Task.FromResult(moved.All(producer.FirstAcksAfter(killedAt).ContainsKey)),
                TimeSpan.FromSeconds(30), "acknowledgements from the new leaders");
            var firstAcks = producer.FirstAcksAfter(killedAt);
            double writableSeconds = moved.Max(p => firstAcks[p].TimeMs - killedAt) / 1000.0;
            Output.WriteLine($"killed broker {victimId} (leader of partitions {string.Join(',', moved)}): new leaders in metadata after {metadataSeconds:0.00} s, " +
                $"first acknowledged write to each of them after {writableSeconds:0.00} s (lease TTL {cluster.Options.LeaseTtlMs} ms)");
            Assert.True(writableSeconds < 10, $"partitions of the killed broker were writable again only after {writableSeconds:0.00} s");

            int acked = producer.AckCount;
            await producer.WaitForAcksAsync(acked + 900, TimeSpan.FromSeconds(60));
            var firstRead = await Ledger.ReadAllAsync(survivor.Address, topic, Partitions);
            await producer.StopAsync();
            Assert.Empty(producer.Errors);

            var finalRead = await Ledger.ReadAllAsync(survivor.Address, topic, Partitions);
            Output.WriteLine(Ledger.Verify(producer.Acks, finalRead));
            Ledger.SameWhereBothRead(firstRead, finalRead);
            var after = await TestCluster.LeadersAsync(survivor, topic);
            Assert.All(moved, p => Assert.True(after[p].Epoch > before[p].Epoch, $"partition {p} kept its leader epoch"));
        });
    }
}
