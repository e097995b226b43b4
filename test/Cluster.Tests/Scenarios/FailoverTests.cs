using System.Diagnostics;
using KafScale.Cluster.Tests.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>docs/architecture.md, "Leadership and fencing": a broker dies, its partitions move to the survivors, nothing acknowledged is lost.</summary>
public sealed class FailoverTests(ITestOutputHelper output) : ClusterTest(output)
{
    private const int Partitions = 6;

    /// <summary>The broker to kill (partition 0's leader), its process, a broker that stays, and the partitions the victim leads.</summary>
    private sealed record Victim(int Id, BrokerNode Node, BrokerNode Survivor, int[] Led);

    private static async Task<Victim> LeaderOfPartitionZeroAsync(TestCluster cluster, Dictionary<int, (int Leader, int Epoch)> leaders)
    {
        int id = leaders[0].Leader;
        var node = (await cluster.NodeOfAsync(id, cluster.Brokers[0]))!;
        return new Victim(id, node, cluster.Running(skip: node.Index), [.. leaders.Where(kv => kv.Value.Leader == id).Select(kv => kv.Key)]);
    }

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

            var (victimId, victim, survivor, moved) = await LeaderOfPartitionZeroAsync(cluster, before);
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

    [Fact]
    public async Task A_killed_leaders_partitions_are_reported_without_a_leader_before_its_lease_runs_out()
    {
        // A long lease, so that what the survivors report can be seen while it still runs.
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("unreachable");
            await cluster.CreateTopicAsync(topic, Partitions);
            var before = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            var (victimId, victim, survivor, moved) = await LeaderOfPartitionZeroAsync(cluster, before);
            // A peer counts as down only once it was reached: the survivors connect twice a
            // second, and the last of them may have started a moment ago.
            await Task.Delay(TimeSpan.FromSeconds(2));
            var clock = Stopwatch.StartNew();
            await victim.Process.KillAsync();

            await TestCluster.WaitUntilAsync(async () =>
            {
                var response = await TestCluster.MetadataAsync(survivor, topic);
                // Its registration (and so its lease) is still there: only its silence can explain a missing leader.
                Assert.True(response.Brokers.Any(b => b.NodeId == victimId),
                    $"broker {victimId}'s lease ran out after {clock.Elapsed.TotalSeconds:0.0} s before its partitions were reported without a leader");
                var partitions = Assert.Single(response.Topics, t => t.Name == topic).Partitions.ToDictionary(p => p.PartitionIndex);
                Assert.All(before.Keys.Except(moved), p => Assert.NotEqual(-1, partitions[p].LeaderId));
                return moved.All(p => partitions[p].LeaderId == -1 && partitions[p].ErrorCode == (short)KafScale.Protocol.ErrorCode.LeaderNotAvailable);
            }, TimeSpan.FromSeconds(10), "the killed broker's partitions reported without a leader");
            Output.WriteLine($"killed broker {victimId}: its partitions {string.Join(',', moved)} had no leader in metadata after {clock.Elapsed.TotalSeconds:0.00} s (lease TTL {cluster.Options.LeaseTtlMs} ms)");

            // Once the lease is gone, the survivors take them over as before.
            await TestCluster.WaitUntilAsync(async () =>
            {
                var now = await TestCluster.LeadersAsync(survivor, topic);
                return moved.All(p => now[p].Leader >= 0 && now[p].Leader != victimId);
            }, TimeSpan.FromSeconds(60), "new leaders in metadata");
        }, new ClusterOptions { LeaseTtlMs = 20_000 });
    }

    [Fact]
    public async Task A_killed_broker_restarted_at_once_leaves_its_partitions_with_the_others_until_its_rebalance_delay_ends()
    {
        const int delayMs = 6000;
        await WithClusterAsync(3, async cluster =>
        {
            const int partitions = 12;
            string topic = NewTopic("comeback");
            await cluster.CreateTopicAsync(topic, partitions);
            // The first broker takes everything while the others are new. Once every broker leads
            // something all are settled, and the leaders are rendezvous hashing's over all three.
            var before = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(40), l => l.Values.Select(v => v.Leader).Distinct().Count() == 3);
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, partitions, rate: 200);
            await producer.WaitForAcksAsync(400, TimeSpan.FromSeconds(60));

            int victimId = before.Values.GroupBy(v => v.Leader).OrderByDescending(g => g.Count()).First().Key;
            var victim = (await cluster.NodeOfAsync(victimId, cluster.Brokers[0]))!;
            int[] moved = [.. before.Where(kv => kv.Value.Leader == victimId).Select(kv => kv.Key)];
            long killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await victim.Process.KillAsync();
            // Back at once: it registers again as soon as its old lease expires, which is when
            // its partitions become free. They go to the other brokers, not to it.
            await victim.StartAsync(TimeSpan.FromSeconds(60));
            var rejoined = Stopwatch.StartNew();
            var survivor = cluster.Running(skip: victim.Index);
            await TestCluster.WaitUntilAsync(async () =>
            {
                var now = await TestCluster.LeadersAsync(survivor, topic);
                // Its earlier term may still show for a moment; a new term of it must not.
                Assert.All(moved, p => Assert.False(now[p].Leader == victimId && now[p].Epoch > before[p].Epoch, $"the restarted broker took partition {p} back at once"));
                return moved.All(p => now[p].Leader >= 0 && now[p].Leader != victimId);
            }, TimeSpan.FromSeconds(30), "the other brokers lead the partitions of the restarted one");
            await TestCluster.WaitUntilAsync(() => Task.FromResult(moved.All(producer.FirstAcksAfter(killedAt).ContainsKey)),
                TimeSpan.FromSeconds(30), "acknowledgements from the interim leaders");
            var interim = await TestCluster.LeadersAsync(survivor, topic);
            Assert.All(moved, p => Assert.NotEqual(victimId, interim[p].Leader));

            // Once the delay has passed they move back to it: the same brokers are live, so the
            // same leaders as before.
            await TestCluster.WaitUntilAsync(async () =>
            {
                var now = await TestCluster.LeadersAsync(survivor, topic);
                return before.All(kv => now[kv.Key].Leader == kv.Value.Leader);
            }, TimeSpan.FromSeconds(40), "the restarted broker leads its partitions again");
            Assert.True(rejoined.ElapsedMilliseconds >= delayMs - 1000, $"partitions moved back {rejoined.ElapsedMilliseconds} ms after the broker listened again, within its {delayMs} ms delay");

            int acked = producer.AckCount;
            await producer.WaitForAcksAsync(acked + 400, TimeSpan.FromSeconds(60));
            await producer.StopAsync();
            Assert.Empty(producer.Errors);
            var read = await Ledger.ReadAllAsync(survivor.Address, topic, partitions);
            Output.WriteLine(Ledger.Verify(producer.Acks, read));
        }, new ClusterOptions { LeaderRebalanceDelayMs = delayMs });
    }
}
