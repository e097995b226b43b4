using KafScale.Cluster.Tests.Harness;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>
/// An idempotent producer (confluent-kafka, enable.idempotence=true) keeps producing while the
/// leader of some partitions is killed: its retries across the leader change write nothing twice.
/// </summary>
public sealed class IdempotentFailoverTests(ITestOutputHelper output) : ClusterTest(output)
{
    private const int Partitions = 6;

    [Fact]
    public async Task Idempotent_production_through_a_leader_kill_stores_every_acknowledged_record_exactly_once()
    {
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("idempotent-failover");
            await cluster.CreateTopicAsync(topic, Partitions);
            var before = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, Partitions, rate: 300, idempotent: true);
            await producer.WaitForAcksAsync(900, TimeSpan.FromSeconds(60));

            int victimId = before[0].Leader;
            var victim = (await cluster.NodeOfAsync(victimId, cluster.Brokers[0]))!;
            var survivor = cluster.Running(skip: victim.Index);
            int[] moved = [.. before.Where(kv => kv.Value.Leader == victimId).Select(kv => kv.Key)];
            long killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            int ackedAtKill = producer.AckCount;
            await victim.Process.KillAsync();

            await TestCluster.WaitUntilAsync(() => Task.FromResult(moved.All(producer.FirstAcksAfter(killedAt).ContainsKey)),
                TimeSpan.FromSeconds(60), "acknowledgements from the new leaders of the killed broker's partitions");
            var firstAcks = producer.FirstAcksAfter(killedAt);
            Output.WriteLine($"killed broker {victimId} (leader of partitions {string.Join(',', moved)}) after {ackedAtKill} acks; " +
                $"first acknowledged write to each of them after {moved.Max(p => firstAcks[p].TimeMs - killedAt) / 1000.0:0.00} s");

            await producer.WaitForAcksAsync(producer.AckCount + 900, TimeSpan.FromSeconds(60));
            int produced = await producer.StopAsync();
            Assert.Empty(producer.Errors);
            var fatal = producer.ClientErrors.Where(e => e.Contains("\"fatal\":true", StringComparison.Ordinal)).ToArray();
            Assert.True(fatal.Length == 0, "fatal producer errors:\n" + string.Join('\n', fatal));

            var acks = producer.Acks;
            Assert.Equal(produced, acks.Length);
            Assert.Equal(produced, acks.Select(a => a.Index).Distinct().Count());

            var stored = await Ledger.ReadAllAsync(survivor.Address, topic, Partitions);
            Output.WriteLine(Ledger.Verify(acks, stored));

            // Offsets unique, and every value (acknowledged or not) stored once: no retry was written twice.
            var repeatedOffsets = stored.GroupBy(r => (r.Partition, r.Offset)).Where(g => g.Count() > 1).Select(g => $"{g.Key.Partition}@{g.Key.Offset}").ToArray();
            Assert.True(repeatedOffsets.Length == 0, "offsets read twice: " + string.Join(", ", repeatedOffsets.Take(20)));
            var duplicates = stored.GroupBy(r => r.Value).Where(g => g.Count() > 1)
                .Select(g => $"{g.Key} at {string.Join(" and ", g.Select(r => $"{r.Partition}@{r.Offset}"))}").ToArray();
            if (duplicates.Length > 0)
                throw new XunitException($"{duplicates.Length} records stored more than once, e.g.:\n{string.Join('\n', duplicates.Take(20))}");
            var ackedValues = acks.Select(a => $"v-{a.Index}").ToHashSet();
            var strays = stored.Where(r => !ackedValues.Contains(r.Value)).Select(r => $"{r.Value} at {r.Partition}@{r.Offset}").ToArray();
            Assert.True(strays.Length == 0, "records stored that were never acknowledged: " + string.Join(", ", strays.Take(20)));
            Assert.Equal(acks.Length, stored.Count);
            // Each partition's offsets are dense: nothing was skipped either.
            foreach (var g in stored.GroupBy(r => r.Partition))
            {
                long[] offsets = [.. g.Select(r => r.Offset).Order()];
                Assert.True(offsets[^1] - offsets[0] + 1 == offsets.Length, $"partition {g.Key} has gaps between offsets {offsets[0]} and {offsets[^1]} ({offsets.Length} records)");
            }
            Output.WriteLine($"{produced} records produced, {acks.Length} acknowledged, {stored.Count} stored, each once");

            var after = await TestCluster.LeadersAsync(survivor, topic);
            Assert.All(moved, p => Assert.True(after[p].Leader != victimId && after[p].Epoch > before[p].Epoch, $"partition {p} did not move"));
        }, new ClusterOptions { Storage = StorageKind.ConditionalS3 });
    }
}
