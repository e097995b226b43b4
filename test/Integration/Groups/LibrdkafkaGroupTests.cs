using System.Globalization;
using System.Text.Json;
using KafScale.Integration.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Groups;

/// <summary>
/// librdkafka consumer groups (kcat -G and confluent-kafka) with the eager "range" and the
/// incremental "cooperative-sticky" assignment strategies.
/// </summary>
public sealed class LibrdkafkaGroupTests(ITestOutputHelper output) : BrokerTest(output)
{
    private static readonly TimeSpan RebalanceLimit = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Strategies => new() { "range", "cooperative-sticky" };

    [Theory]
    [MemberData(nameof(Strategies))]
    public Task Confluent_kafka_members_committing_synchronously_read_every_record_exactly_once_across_joins_and_leaves(string strategy) =>
        WithBrokerAsync(async broker =>
        {
            const int Partitions = 6;
            string topic = NewTopic("rdkafka-group");
            string group = NewTopic($"rdkafka-{strategy}");
            await RawRequests.CreateTopicAsync(broker, topic, Partitions);
            var produced = new List<string>(await GroupChecks.ProduceAsync(broker, topic, Partitions, "before", 300));
            var members = new List<GroupMember>();
            GroupMember Start(string name)
            {
                GroupMember m = GroupMember.Python(name, "group_confluent_kafka.py",
                    ["member", "--bootstrap", broker.Bootstrap, "--topic", topic, "--group", group, "--name", name, "--strategy", strategy]);
                members.Add(m);
                return m;
            }

            using var feedStop = new CancellationTokenSource();
            Task<List<string>>? feed = null;
            try
            {
                GroupMember m1 = Start("m1"), m2 = Start("m2"), m3 = Start("m3");
                await GroupMember.WaitForSplitAsync([m1, m2, m3], Partitions, RebalanceLimit);

                // Records keep arriving through every rebalance that follows.
                feed = FeedAsync(broker, topic, Partitions, feedStop.Token);
                GroupMember m4 = Start("m4");
                await GroupMember.WaitForSplitAsync([m1, m2, m3, m4], Partitions, RebalanceLimit);
                await m1.StopAsync();
                await GroupMember.WaitForSplitAsync([m2, m3, m4], Partitions, RebalanceLimit);
                await m2.StopAsync();
                await GroupMember.WaitForSplitAsync([m3, m4], Partitions, RebalanceLimit);
                feedStop.Cancel();
                produced.AddRange(await feed);
                produced.AddRange(await GroupChecks.ProduceAsync(broker, topic, Partitions, "after", 60));

                await Eventually.HoldsAsync(
                    () => GroupChecks.Compare(produced, members.SelectMany(m => m.Values)).Missing.Count == 0,
                    RebalanceLimit,
                    () => $"records never read: {string.Join(", ", GroupChecks.Compare(produced, members.SelectMany(m => m.Values)).Missing.Take(20))}",
                    [m3, m4]);
                await m3.StopAsync();
                await m4.StopAsync();

                (IReadOnlyList<string> duplicates, IReadOnlyList<string> missing) = GroupChecks.Compare(produced, members.SelectMany(m => m.Values));
                Assert.True(duplicates.Count == 0 && missing.Count == 0,
                    $"{duplicates.Count} records read twice ({string.Join(", ", duplicates.Take(20))}), {missing.Count} never read");
                Assert.True(members.All(m => m.Values.Count > 0), "a member read nothing: " + string.Join(", ", members.Select(m => $"{m.Name}={m.Values.Count}")));
                IReadOnlyDictionary<int, long> highWatermarks = await GroupChecks.HighWatermarksAsync(broker, topic, Partitions);
                Assert.Equal(produced.Count, highWatermarks.Values.Sum());
                Assert.Equal(highWatermarks.OrderBy(h => h.Key), (await GroupChecks.CommittedAsync(broker, group, topic, Partitions)).OrderBy(o => o.Key));
                Output.WriteLine($"{produced.Count} records; " + string.Join(", ", members.Select(m =>
                    $"{m.Name} read {m.Values.Count}, {m.Lines("commit_failed").Count} commits refused, {m.Lines("assignment").Count} assignments")));
            }
            catch (Exception)
            {
                Output.WriteLine(GroupMember.DescribeAll(members));
                throw;
            }
            finally
            {
                feedStop.Cancel();
                if (feed is not null)
                {
                    try { await feed; } catch (Exception) { }
                }

                foreach (GroupMember m in members)
                {
                    await m.DisposeAsync();
                }
            }
        }, NoInitialRebalanceDelay);

    [Fact]
    public Task Members_committing_synchronously_read_every_record_exactly_once_across_a_kill_9_and_restart_of_the_broker() =>
        WithBrokerAsync(async broker =>
        {
            const int Partitions = 4;
            string topic = NewTopic("rdkafka-crash");
            string group = NewTopic("rdkafka-crash-g");
            await RawRequests.CreateTopicAsync(broker, topic, Partitions);
            var produced = new List<string>(await GroupChecks.ProduceAsync(broker, topic, Partitions, "before", 200));
            GroupMember[] members = new[] { "m1", "m2" }.Select(name => GroupMember.Python(name, "group_confluent_kafka.py",
                ["member", "--bootstrap", broker.Bootstrap, "--topic", topic, "--group", group, "--name", name, "--strategy", "range"])).ToArray();
            try
            {
                await GroupMember.WaitForSplitAsync(members, Partitions, RebalanceLimit);
                await Eventually.HoldsAsync(() => members.Sum(m => m.Values.Count) >= produced.Count, RebalanceLimit,
                    () => $"read {members.Sum(m => m.Values.Count)} of {produced.Count} before the crash", members);

                // The group's generation and offsets live in the metadata store: the members go
                // on after the restart (or rejoin) and start from what they committed.
                await broker.Kill9Async();
                await broker.RestartAsync();
                produced.AddRange(await GroupChecks.ProduceAsync(broker, topic, Partitions, "after", 200));

                await Eventually.HoldsAsync(
                    () => GroupChecks.Compare(produced, members.SelectMany(m => m.Values)).Missing.Count == 0,
                    RebalanceLimit,
                    () => $"records never read: {string.Join(", ", GroupChecks.Compare(produced, members.SelectMany(m => m.Values)).Missing.Take(20))}",
                    members);
                foreach (GroupMember m in members)
                {
                    await m.StopAsync();
                }

                (IReadOnlyList<string> duplicates, _) = GroupChecks.Compare(produced, members.SelectMany(m => m.Values));
                Assert.True(duplicates.Count == 0, $"{duplicates.Count} records read twice: {string.Join(", ", duplicates.Take(20))}");
                IReadOnlyDictionary<int, long> highWatermarks = await GroupChecks.HighWatermarksAsync(broker, topic, Partitions);
                Assert.Equal(highWatermarks.OrderBy(h => h.Key), (await GroupChecks.CommittedAsync(broker, group, topic, Partitions)).OrderBy(o => o.Key));
            }
            catch (Exception)
            {
                Output.WriteLine(GroupMember.DescribeAll(members));
                throw;
            }
            finally
            {
                foreach (GroupMember m in members)
                {
                    await m.DisposeAsync();
                }
            }
        }, NoInitialRebalanceDelay);

    [Theory]
    [MemberData(nameof(Strategies))]
    public Task Kcat_balanced_consumers_split_the_partitions_and_a_later_member_resumes_at_the_committed_offsets(string strategy) =>
        WithBrokerAsync(async broker =>
        {
            const int Partitions = 4;
            string topic = NewTopic("kcat-group");
            string group = NewTopic($"kcat-{strategy}");
            await RawRequests.CreateTopicAsync(broker, topic, Partitions);
            IReadOnlyList<string> first = await GroupChecks.ProduceAsync(broker, topic, Partitions, "first", 200);

            // Started together, both join the group's first generation (the initial rebalance
            // delay waits for them, so this test keeps the broker's 3 s default); -e ends each
            // once its partitions are read to the end.
            ClientResult[] pair = await Task.WhenAll(KcatMemberAsync(broker, topic, group, strategy), KcatMemberAsync(broker, topic, group, strategy));

            string[][] read = pair.Select(r => Payloads(r.EnsureSuccess())).ToArray();
            (IReadOnlyList<string> duplicates, IReadOnlyList<string> missing) = GroupChecks.Compare(first, read.SelectMany(r => r));
            Assert.True(duplicates.Count == 0 && missing.Count == 0,
                $"{duplicates.Count} records read twice ({string.Join(", ", duplicates.Take(20))}), {missing.Count} never read\n{pair[0]}\n{pair[1]}");
            Assert.True(read.All(r => r.Length > 0), $"one kcat read everything ({read[0].Length} and {read[1].Length}): the partitions were not split");
            IReadOnlyDictionary<int, long> highWatermarks = await GroupChecks.HighWatermarksAsync(broker, topic, Partitions);
            Assert.Equal(highWatermarks.OrderBy(h => h.Key), (await GroupChecks.CommittedAsync(broker, group, topic, Partitions)).OrderBy(o => o.Key));

            IReadOnlyList<string> second = await GroupChecks.ProduceAsync(broker, topic, Partitions, "second", 100);
            ClientResult later = (await KcatMemberAsync(broker, topic, group, strategy)).EnsureSuccess();

            Assert.Equal(second.Order(), Payloads(later).Order());
        });

    private static Task<ClientResult> KcatMemberAsync(BrokerProcess broker, string topic, string group, string strategy) =>
        ClientRunner.KcatAsync(
            ["-b", broker.Bootstrap, "-G", group, "-X", $"partition.assignment.strategy={strategy}", "-X", "auto.offset.reset=earliest",
             "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500", "-e", "-J", "-q", topic],
            timeout: TimeSpan.FromSeconds(60));

    private static string[] Payloads(ClientResult result) =>
        result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("payload").GetString()!)
            .ToArray();

    /// <summary>Produces a record to every partition each 50 ms until cancelled; returns their values.</summary>
    private static async Task<List<string>> FeedAsync(BrokerProcess broker, string topic, int partitions, CancellationToken stop)
    {
        var values = new List<string>();
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        for (int round = 0; !stop.IsCancellationRequested && round < 2_000; round++)
        {
            for (int p = 0; p < partitions; p++)
            {
                string value = $"live-{round.ToString(CultureInfo.InvariantCulture)}-{p.ToString(CultureInfo.InvariantCulture)}";
                using var builder = new KafScale.Records.RecordBatchBuilder();
                builder.Add(null, System.Text.Encoding.UTF8.GetBytes(value), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                var response = await RawRequests.ProduceAsync(connection, topic, p, builder.Build());
                Assert.True(response.ErrorCode == 0, $"Produce {topic}/{p}: error {response.ErrorCode}");
                values.Add(value);
            }

            try
            {
                await Task.Delay(50, stop);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        return values;
    }
}
