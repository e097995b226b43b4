using KafScale.Integration.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Groups;

/// <summary>kafkajs consumer groups: joins, a clean leave and a member lost to its session timeout.</summary>
public sealed class KafkajsGroupTests(ITestOutputHelper output) : BrokerTest(output)
{
    private const int Partitions = 6;
    private static readonly TimeSpan RebalanceLimit = TimeSpan.FromSeconds(60);

    [Fact]
    public Task A_group_of_three_survives_a_join_a_clean_leave_and_a_killed_member_and_ends_with_every_record_read_and_lag_0() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("kafkajs-group");
            string group = NewTopic("kafkajs-g");
            await RawRequests.CreateTopicAsync(broker, topic, Partitions);
            var produced = new List<string>(await GroupChecks.ProduceAsync(broker, topic, Partitions, "before", 120));
            var members = new List<GroupMember>();
            GroupMember Start(string name)
            {
                GroupMember m = GroupMember.Node(name, "group_kafkajs.js", ["member", "--bootstrap", broker.Bootstrap, "--topic", topic, "--group", group, "--name", name]);
                members.Add(m);
                return m;
            }

            try
            {
                GroupMember a = Start("a");
                GroupMember b = Start("b");
                await WaitForSplitAsync([a, b]);

                GroupMember c = Start("c");
                await WaitForSplitAsync([a, b, c]);
                produced.AddRange(await GroupChecks.ProduceAsync(broker, topic, Partitions, "three", 120));

                await a.StopAsync();
                await WaitForSplitAsync([b, c]);
                produced.AddRange(await GroupChecks.ProduceAsync(broker, topic, Partitions, "two", 120));

                // No LeaveGroup: only the end of b's 6 s session gives its partitions to c.
                await b.KillAsync();
                await WaitForSplitAsync([c]);
                produced.AddRange(await GroupChecks.ProduceAsync(broker, topic, Partitions, "one", 120));

                await Eventually.HoldsAsync(
                    () => GroupChecks.Compare(produced, members.SelectMany(m => m.Values)).Missing.Count == 0,
                    RebalanceLimit,
                    () => $"records never read: {string.Join(", ", GroupChecks.Compare(produced, members.SelectMany(m => m.Values)).Missing.Take(20))}\n{Describe(members)}",
                    [c]);

                // kafkajs commits after each batch: lag reaches 0 without stopping the member.
                IReadOnlyDictionary<int, long> highWatermarks = await GroupChecks.HighWatermarksAsync(broker, topic, Partitions);
                IReadOnlyDictionary<int, double> lags = new Dictionary<int, double>();
                await Eventually.HoldsAsync(async () =>
                {
                    lags = await GroupChecks.LagMetricAsync(broker, group, topic);
                    return lags.Count == Partitions && lags.Values.All(l => l == 0);
                }, RebalanceLimit, () => $"kafka_consumergroup_lag of {group}: {string.Join(", ", lags.OrderBy(l => l.Key).Select(l => $"p{l.Key}={l.Value}"))}");

                ClientResult fetched = (await ClientRunner.NodeAsync("group_kafkajs.js",
                    ["offsets", "--bootstrap", broker.Bootstrap, "--topic", topic, "--group", group])).EnsureSuccess();
                Dictionary<int, long> adminOffsets = fetched.Lines("result").ToDictionary(r => r.GetProperty("partition").GetInt32(), r => r.GetProperty("offset").GetInt64());
                Assert.Equal(highWatermarks.OrderBy(h => h.Key), adminOffsets.OrderBy(o => o.Key));
                Assert.Equal(highWatermarks.Values.Sum(), produced.Count);

                await c.StopAsync();
                Assert.Equal(highWatermarks.OrderBy(h => h.Key), (await GroupChecks.CommittedAsync(broker, group, topic, Partitions)).OrderBy(o => o.Key));
            }
            catch (Exception)
            {
                Output.WriteLine(Describe(members));
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

    private static Task WaitForSplitAsync(IReadOnlyList<GroupMember> running) => GroupMember.WaitForSplitAsync(running, Partitions, RebalanceLimit);

    private static string Describe(IEnumerable<GroupMember> members) => GroupMember.DescribeAll(members);
}
