using System.Collections.Concurrent;
using KafScale.Cluster.Tests.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>
/// docs/architecture.md, "Leadership and fencing", the fences: a leader paused past its lease
/// (SIGSTOP) while another broker takes its partitions over and accepts writes, then resumed
/// (SIGCONT). Whatever the paused broker still had in flight must neither overwrite nor lose an
/// acknowledged record.
/// </summary>
public sealed class SplitBrainTests(ITestOutputHelper output) : ClusterTest(output)
{
    private const int Partitions = 4;

    [Fact]
    public async Task A_leader_paused_past_its_lease_and_resumed_overwrites_and_loses_nothing_on_a_shared_directory_store()
    {
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("split");
            await cluster.CreateTopicAsync(topic, Partitions);
            var before = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, Partitions, rate: 300);
            await producer.WaitForAcksAsync(600, TimeSpan.FromSeconds(60));

            int pausedId = before[0].Leader;
            var paused = (await cluster.NodeOfAsync(pausedId, cluster.Brokers[0]))!;
            var survivor = cluster.Running(skip: paused.Index);
            int[] taken = [.. before.Where(kv => kv.Value.Leader == pausedId).Select(kv => kv.Key)];
            long pausedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            paused.Process.Pause();
            try
            {
                await TestCluster.WaitUntilAsync(() => Task.FromResult(taken.All(producer.FirstAcksAfter(pausedAt + 1000).ContainsKey)),
                    TimeSpan.FromSeconds(30), "writes acknowledged by the new leaders");
                var duringPause = await Ledger.ReadAllAsync(survivor.Address, topic, Partitions);
                await Task.Delay(1000);
                paused.Process.Resume();
                long resumedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                await TestCluster.WaitUntilAsync(() => Task.FromResult(producer.FirstAcksAfter(resumedAt + 2000).Count == Partitions),
                    TimeSpan.FromSeconds(30), "writes to every partition after the resume");
                await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(30));
                await producer.StopAsync();
                Assert.True(producer.Errors.Length == 0, $"delivery failures:\n{string.Join('\n', producer.Errors.Take(10))}");

                var final = await Ledger.ReadAllAsync(survivor.Address, topic, Partitions);
                Output.WriteLine(Ledger.Verify(producer.Acks, final));
                Ledger.SameWhereBothRead(duringPause, final);
                Assert.Contains("may have lapsed", paused.Process.Log());
            }
            finally
            {
                if (paused.Process.IsRunning) try { paused.Process.Resume(); } catch (InvalidOperationException) { }
            }
        }, new ClusterOptions { FlushIntervalMs = 100 });
    }

    /// <summary>
    /// Holds every PUT under the prefix whose body holds <paramref name="needle"/> until released:
    /// the first attempt and any retry of it alike, so the upload the test means cannot land early
    /// however the client retries. Other PUTs (an earlier upload reaching the store late) pass.
    /// </summary>
    private sealed class PutHold(string prefix, string suffix, byte[] needle)
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource<string> Arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task BeforePut(ConditionalS3TestDouble.PutRequest put)
        {
            if (!put.Key.StartsWith(prefix, StringComparison.Ordinal) || !put.Key.EndsWith(suffix, StringComparison.Ordinal)) return Task.CompletedTask;
            if (put.Body.AsSpan().IndexOf(needle) < 0) return Task.CompletedTask;
            Arrived.TrySetResult(put.Key);
            return _gate.Task;
        }

        public void Release() => _gate.TrySetResult();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task On_S3_with_conditional_create_a_deposed_leaders_late_WAL_object_never_counts_over_the_new_leaders_writes(bool landsFirst)
    {
        await WithClusterAsync(2, async cluster =>
        {
            string topic = NewTopic(landsFirst ? "early" : "late");
            await cluster.CreateTopicAsync(topic, 1);
            var before = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            var old = (await cluster.NodeOfAsync(before[0].Leader, cluster.Brokers[0]))!;
            var next = cluster.Running(skip: old.Index);
            var acked = await RawProduce.ProduceToLeaderAsync(old, topic, 0, "acked-0", "acked-1");
            Assert.Equal(0, acked.Error);

            var hold = new PutHold("default/!wal/", ".wal", "late-from-the-old-leader"u8.ToArray());
            cluster.S3Double!.BeforePut = hold.BeforePut;
            // The old leader takes a record and starts its WAL upload, which the store holds.
            var late = RawProduce.ProduceAsync(old, topic, 0, "late-from-the-old-leader");
            string key = await hold.Arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
            old.Process.Pause();
            try
            {
                await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(30), l => l[0].Leader != before[0].Leader);
                // Metadata names the new leader as soon as it holds the lease, before its open has
                // listed the store; an object landing during the open would rightly be adopted.
                // Wait for the open to finish, so the held object lands after the listing.
                await TestCluster.WaitUntilAsync(() => Task.FromResult(cluster.Brokers[next.Index].Process.Log().Contains($"leading {topic}-0 ")),
                    TimeSpan.FromSeconds(30), "the new leader's open");
                // The new leader listed the store at takeover: the held object is not in its chain,
                // whether it lands before the new leader writes offset 2 or after.
                if (landsFirst) hold.Release();
                var fresh = await RawProduce.ProduceToLeaderAsync(next, topic, 0, "new-leader-0", "new-leader-1");
                hold.Release();
                Assert.Equal(0, fresh.Error);
                Assert.Equal(2, fresh.BaseOffset);
                await Task.Delay(500);
                old.Process.Resume();
                var lateResult = await late.WaitAsync(TimeSpan.FromSeconds(60));
                Output.WriteLine($"WAL object {key}; the old leader answered its producer with error {lateResult.Error}; the new leader acknowledged at offset {fresh.BaseOffset}");
                // REQUEST_TIMED_OUT: the batch went into an upload, so its fate is unknown to the old
                // leader; the client retries on the new leader (docs/architecture.md, "The write path").
                Assert.Equal(7, lateResult.Error);

                // The new leader dies with its records still unsealed: the old broker takes the
                // partition back and rebuilds it from the WAL, where both epochs wrote offset 2.
                await cluster.Brokers[next.Index].Process.KillAsync();
                await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(30), l => l[0].Leader == before[0].Leader);
                var stored = await Ledger.ReadAllAsync(old.Address, topic, 1);
                var values = stored.OrderBy(r => r.Offset).Select(r => r.Value).ToList();
                Output.WriteLine(string.Join(", ", stored.OrderBy(r => r.Offset).Select(r => $"{r.Offset}:{r.Value}")));
                Assert.Equal(["acked-0", "acked-1", "new-leader-0", "new-leader-1"], values);
            }
            finally
            {
                hold.Release();
                if (old.Process.IsRunning) try { old.Process.Resume(); } catch (InvalidOperationException) { }
            }
        }, new ClusterOptions { Storage = StorageKind.ConditionalS3, FlushIntervalMs = 10 });
    }
}
