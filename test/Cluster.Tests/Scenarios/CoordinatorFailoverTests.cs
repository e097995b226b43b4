using System.Diagnostics;
using System.Text.Json;
using KafScale.Cluster.Tests.Harness;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>
/// The broker coordinating a consumer group is killed: another broker becomes the coordinator,
/// the group re-forms there and goes on from its committed offsets.
/// </summary>
public sealed class CoordinatorFailoverTests(ITestOutputHelper output) : ClusterTest(output)
{
    private const int Partitions = 6;

    private readonly record struct Line(int Partition, long Offset, long TimeMs, string? Value);

    [Fact]
    public async Task Killing_the_group_coordinator_moves_the_group_to_a_live_broker_which_resumes_from_the_committed_offsets()
    {
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("coordinator-failover");
            string group = NewTopic("group");
            await cluster.CreateTopicAsync(topic, Partitions);
            await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));

            int coordinatorId = -1;
            await TestCluster.WaitUntilAsync(async () =>
            {
                var c = await GroupRequests.FindCoordinatorAsync(cluster.Brokers[0], group);
                coordinatorId = c.NodeId;
                return c.ErrorCode == 0 && c.NodeId >= 0;
            }, TimeSpan.FromSeconds(20), "a coordinator for the group");
            var victim = await cluster.NodeOfAsync(coordinatorId, cluster.Brokers[0])
                ?? throw new XunitException($"coordinator {coordinatorId} is not a broker in metadata");

            string stopFile = Path.Combine(Path.GetTempPath(), "kafscale-group-stop-" + Guid.NewGuid().ToString("N"));
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, Partitions, rate: 150, idempotent: true);
            var members = new List<RunningClient>();
            try
            {
                for (int i = 0; i < 2; i++)
                    members.Add(RunningClient.Start(ClientRunner.StartInfo(ClientRunner.Python,
                        [Script, "member", "--bootstrap", cluster.Bootstrap, "--topic", topic, "--group", group, "--name", $"member-{i}", "--stop-file", stopFile])));

                await TestCluster.WaitUntilAsync(() => Task.FromResult(Committed(members).Select(l => l.Partition).Distinct().Count() == Partitions && Committed(members).Count >= 400),
                    TimeSpan.FromSeconds(90), "the group to commit 400 records on every partition");
                EnsureRunning(members);

                var survivor = cluster.Running(skip: victim.Index);
                long killedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var clock = Stopwatch.StartNew();
                await victim.Process.KillAsync();
                var committedBeforeKill = Committed(members).Where(l => l.TimeMs <= killedAt)
                    .GroupBy(l => l.Partition).ToDictionary(g => g.Key, g => g.Max(l => l.Offset) + 1);

                // The group moves: FindCoordinator names another broker, which is alive.
                int newCoordinatorId = -1;
                double coordinatorSeconds = -1;
                await TestCluster.WaitUntilAsync(async () =>
                {
                    var c = await GroupRequests.FindCoordinatorAsync(survivor, group);
                    if (c.ErrorCode != 0 || c.NodeId < 0 || c.NodeId == coordinatorId) return false;
                    var live = (await TestCluster.MetadataAsync(survivor)).Brokers.Select(b => b.NodeId).ToHashSet();
                    if (!live.Contains(c.NodeId)) return false;
                    newCoordinatorId = c.NodeId;
                    coordinatorSeconds = clock.Elapsed.TotalSeconds;
                    return true;
                }, TimeSpan.FromSeconds(60), "FindCoordinator to name a live broker other than the killed one");
                var newCoordinator = await cluster.NodeOfAsync(newCoordinatorId, survivor)
                    ?? throw new XunitException($"new coordinator {newCoordinatorId} is not a broker in metadata");
                Assert.True(newCoordinator.Process.IsServing, $"the new coordinator {newCoordinator} is not running");
                Output.WriteLine($"killed coordinator broker {coordinatorId} ({victim}); FindCoordinator named broker {newCoordinatorId} after {coordinatorSeconds:0.00} s");

                // ...and the group commits again on every partition.
                await TestCluster.WaitUntilAsync(() => Task.FromResult(Committed(members).Where(l => l.TimeMs > killedAt).Select(l => l.Partition).Distinct().Count() == Partitions),
                    TimeSpan.FromSeconds(90), "commits on every partition after the kill");
                EnsureRunning(members);
                var firstCommitAfter = Committed(members).Where(l => l.TimeMs > killedAt).GroupBy(l => l.Partition).ToDictionary(g => g.Key, g => g.Min(l => l.TimeMs));
                double resumedSeconds = (firstCommitAfter.Values.Max() - killedAt) / 1000.0;
                double firstResumedSeconds = (firstCommitAfter.Values.Min() - killedAt) / 1000.0;

                await producer.WaitForAcksAsync(producer.AckCount + 600, TimeSpan.FromSeconds(60));
                await producer.StopAsync();
                Assert.Empty(producer.Errors);

                var stored = await Ledger.ReadAllAsync(survivor.Address, topic, Partitions);
                var highWatermarks = Enumerable.Range(0, Partitions).ToDictionary(p => p, p => stored.Where(r => r.Partition == p).Select(r => r.Offset + 1).DefaultIfEmpty(0).Max());
                await TestCluster.WaitUntilAsync(() => Task.FromResult(highWatermarks.All(hw =>
                        Committed(members).Where(l => l.Partition == hw.Key).Select(l => l.Offset + 1).DefaultIfEmpty(0).Max() >= hw.Value)),
                    TimeSpan.FromSeconds(90), "the group to commit up to the high watermarks " + string.Join(", ", highWatermarks.Select(kv => $"p{kv.Key}:{kv.Value}")));
                EnsureRunning(members);

                var finalCommitted = await GroupRequests.CommittedAsync(newCoordinator, group, topic, Partitions);
                var rebalances = members.Sum(m => m.Lines("assignment").Count(a => a.GetProperty("t").GetInt64() > killedAt));
                var failedCommits = members.Sum(m => m.Lines("commit_failed").Count(a => a.GetProperty("t").GetInt64() > killedAt));

                await File.WriteAllTextAsync(stopFile, "stop");
                foreach (var m in members) await m.WaitForLinesAsync("done", 1, TimeSpan.FromSeconds(60));

                var committed = Committed(members);
                var fetched = members.SelectMany(m => m.Lines("fetched")).Select(e => new Line(e.GetProperty("p").GetInt32(), e.GetProperty("o").GetInt64(), e.GetProperty("t").GetInt64(), null)).ToList();

                // Final committed offsets are the high watermarks.
                foreach (var (p, hw) in highWatermarks)
                    Assert.True(finalCommitted.TryGetValue(p, out long c) && c == hw, $"partition {p}: committed offset {(finalCommitted.TryGetValue(p, out long x) ? x : -1)} at the new coordinator, high watermark {hw}");

                // After the kill, nothing committed before it is handed out again: consumption resumes at or after the committed offset.
                var rewound = fetched.Where(l => l.TimeMs > killedAt && committedBeforeKill.TryGetValue(l.Partition, out long c) && l.Offset < c)
                    .Select(l => $"{l.Partition}@{l.Offset} (committed {committedBeforeKill[l.Partition]})").ToArray();
                Assert.True(rewound.Length == 0, $"{rewound.Length} records committed before the kill were consumed again after it, e.g. {string.Join(", ", rewound.Take(20))}");

                // Nothing lost: every stored record, every acknowledged one included, was consumed and committed.
                var consumedValues = committed.Select(l => l.Value!).ToHashSet();
                var committedOffsets = committed.Select(l => (l.Partition, l.Offset)).ToHashSet();
                var missing = stored.Where(r => !committedOffsets.Contains((r.Partition, r.Offset)) || !consumedValues.Contains(r.Value)).Select(r => $"{r.Value} at {r.Partition}@{r.Offset}").ToArray();
                Assert.True(missing.Length == 0, $"{missing.Length} stored records never consumed, e.g. {string.Join(", ", missing.Take(20))}");
                var lostAcks = producer.Acks.Where(a => !consumedValues.Contains($"v-{a.Index}")).Select(a => $"v-{a.Index}").ToArray();
                Assert.True(lostAcks.Length == 0, $"{lostAcks.Length} acknowledged records never consumed, e.g. {string.Join(", ", lostAcks.Take(20))}");

                int fetchedTwice = fetched.Count - fetched.Select(l => (l.Partition, l.Offset)).Distinct().Count();
                int committedTwice = committed.Count - committedOffsets.Count;
                Output.WriteLine($"killed coordinator broker {coordinatorId} ({victim}) after {committedBeforeKill.Values.Sum()} committed records; " +
                    $"FindCoordinator named broker {newCoordinatorId} after {coordinatorSeconds:0.00} s; first commit after the kill at {firstResumedSeconds:0.00} s, " +
                    $"commits on every partition after {resumedSeconds:0.00} s (lease TTL {cluster.Options.LeaseTtlMs} ms); " +
                    $"{rebalances} assignment changes and {failedCommits} failed commits after the kill");
                Output.WriteLine($"{stored.Count} records stored, {committed.Count} committed by the group ({committedTwice} committed twice), " +
                    $"{fetched.Count} handed to the application ({fetchedTwice} re-deliveries within the uncommitted window); final offsets " +
                    string.Join(", ", finalCommitted.OrderBy(kv => kv.Key).Select(kv => $"p{kv.Key}:{kv.Value}")));
            }
            catch (Exception)
            {
                foreach (var m in members) Output.WriteLine($"--- {m.CommandLine} ---\n{Describe(m)}");
                Output.WriteLine($"--- producer stderr ---\n{producer.Stderr}");
                throw;
            }
            finally
            {
                foreach (var m in members) await m.DisposeAsync();
                try { File.Delete(stopFile); } catch (IOException) { }
            }
        }, new ClusterOptions { Storage = StorageKind.ConditionalS3 });
    }

    private static string Script => Path.Combine(RepoPaths.Root, "test", "Cluster.Tests", "Clients", "group_client.py");

    private static List<Line> Committed(IEnumerable<RunningClient> members) =>
        [.. members.SelectMany(m => m.Lines("committed")).Select(e => new Line(e.GetProperty("p").GetInt32(), e.GetProperty("o").GetInt64(), e.GetProperty("t").GetInt64(), e.GetProperty("v").GetString()))];

    private static void EnsureRunning(IEnumerable<RunningClient> members)
    {
        foreach (var m in members)
            if (m.HasExited) throw new XunitException($"{m.CommandLine} exited\n{Describe(m)}");
    }

    private static string Describe(RunningClient m)
    {
        var other = new[] { "assignment", "commit_failed", "client_error", "done" }.SelectMany(t => m.Lines(t))
            .OrderBy(e => e.TryGetProperty("t", out JsonElement t) ? t.GetInt64() : long.MaxValue).Select(e => e.GetRawText()).TakeLast(40);
        string stderr = m.Stderr;
        if (stderr.Length > 6000) stderr = "... " + stderr[^6000..];
        return $"{m.Lines("committed").Count} committed; other lines:\n  {string.Join("\n  ", other)}\nstderr:\n{stderr}";
    }
}
