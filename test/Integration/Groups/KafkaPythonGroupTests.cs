using System.Text.Json;
using KafScale.Integration.Harness;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace KafScale.Integration.Groups;

/// <summary>kafka-python group consumers and KafkaAdminClient's consumer-group operations.</summary>
public sealed class KafkaPythonGroupTests(ITestOutputHelper output) : BrokerTest(output)
{
    private const int Partitions = 2;
    private const int NonEmptyGroup = 68;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public Task Admin_client_lists_describes_reads_the_offsets_of_and_deletes_a_consumer_group() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("kp-admin");
            string group = NewTopic("kp-admin-g");
            await RawRequests.CreateTopicAsync(broker, topic, Partitions);
            IReadOnlyList<string> produced = await GroupChecks.ProduceAsync(broker, topic, Partitions, "admin", 50);
            await using GroupMember member = GroupMember.Python("kp", "group_kafka_python.py",
                ["member", "--bootstrap", broker.Bootstrap, "--topic", topic, "--group", group, "--name", "kp-member"]);
            try
            {
                await Eventually.HoldsAsync(() => member.Values.Count >= produced.Count, Limit,
                    () => $"the member read {member.Values.Count} of {produced.Count} records", [member]);
                // The member commits after the poll that returned the records; wait for that too.
                await Eventually.HoldsAsync(async () => (await GroupChecks.CommittedAsync(broker, group, topic, Partitions)).Values.Sum() == produced.Count,
                    Limit, () => "the member's commit never arrived");

                JsonElement listed = await AdminAsync(broker, topic, group, "list");
                Assert.Contains(Groups(listed), g => g.SequenceEqual([group, "consumer"]));

                JsonElement stable = Assert.Single(Described(await AdminAsync(broker, topic, group, "describe")));
                Assert.Equal(0, stable.GetProperty("error_code").GetInt32());
                Assert.Equal("Stable", stable.GetProperty("state").GetString());
                Assert.Equal("consumer", stable.GetProperty("protocol_type").GetString());
                Assert.Equal("range", stable.GetProperty("protocol").GetString()); // kafka-python's first assignor
                JsonElement described = Assert.Single(stable.GetProperty("members").EnumerateArray());
                Assert.Equal("kp-member", described.GetProperty("client_id").GetString());
                Assert.StartsWith("kp-member-", described.GetProperty("member_id").GetString());
                Assert.Equal([topic], described.GetProperty("subscription").EnumerateArray().Select(t => t.GetString()));
                Assert.Equal([0, 1], described.GetProperty("assignment").GetProperty(topic).EnumerateArray().Select(p => p.GetInt32()));

                JsonElement offsets = await AdminAsync(broker, topic, group, "offsets");
                Assert.Equal([(topic, 0, 25L), (topic, 1, 25L)], Offsets(offsets));
                Assert.Equal([(0, 0.0), (1, 0.0)], (await GroupChecks.LagMetricAsync(broker, group, topic)).OrderBy(l => l.Key).Select(l => (l.Key, l.Value)));

                JsonElement refused = Assert.Single(Deleted(await AdminAsync(broker, topic, group, "delete")));
                Assert.Equal(NonEmptyGroup, refused.GetProperty("error_code").GetInt32());

                await member.StopAsync();

                JsonElement empty = Assert.Single(Described(await AdminAsync(broker, topic, group, "describe")));
                Assert.Equal("Empty", empty.GetProperty("state").GetString());
                Assert.Empty(empty.GetProperty("members").EnumerateArray());
                Assert.Equal([(topic, 0, 25L), (topic, 1, 25L)], Offsets(await AdminAsync(broker, topic, group, "offsets")));

                JsonElement deleted = Assert.Single(Deleted(await AdminAsync(broker, topic, group, "delete")));
                Assert.Equal(0, deleted.GetProperty("error_code").GetInt32());
                Assert.DoesNotContain(Groups(await AdminAsync(broker, topic, group, "list")), g => g[0] == group);
                Assert.Empty(Offsets(await AdminAsync(broker, topic, group, "offsets")));
                Assert.Empty(await GroupChecks.LagMetricAsync(broker, group, topic));
                Assert.All((await GroupChecks.CommittedAsync(broker, group, topic, Partitions)).Values, o => Assert.Equal(-1, o));
            }
            catch (Exception)
            {
                Output.WriteLine(member.Describe());
                throw;
            }
        }, NoInitialRebalanceDelay);

    [Theory]
    [InlineData("earliest")]
    [InlineData("latest")]
    public Task A_consumer_with_no_committed_offset_starts_where_auto_offset_reset_says(string reset) =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic($"kp-{reset}");
            string group = NewTopic($"kp-{reset}-g");
            await RawRequests.CreateTopicAsync(broker, topic, Partitions);
            IReadOnlyList<string> old = await GroupChecks.ProduceAsync(broker, topic, Partitions, "old", 20);
            await using GroupMember member = GroupMember.Python("kp", "group_kafka_python.py",
                ["member", "--bootstrap", broker.Bootstrap, "--topic", topic, "--group", group, "--name", "kp-reset", "--reset", reset]);
            try
            {
                // The driver prints the positions once the reset is applied, before it fetches.
                await Eventually.HoldsAsync(() => member.Lines("positions").Count > 0, Limit, () => "no positions line", [member]);
                JsonElement positions = member.Lines("positions")[0].GetProperty("positions");
                long expectedStart = reset == "earliest" ? 0 : 10;
                Assert.All(Enumerable.Range(0, Partitions), p => Assert.Equal(expectedStart, positions.GetProperty(p.ToString(System.Globalization.CultureInfo.InvariantCulture)).GetInt64()));

                IReadOnlyList<string> fresh = await GroupChecks.ProduceAsync(broker, topic, Partitions, "new", 6);
                string[] expected = reset == "earliest" ? [.. old, .. fresh] : [.. fresh];
                await Eventually.HoldsAsync(() => member.Values.Count >= expected.Length, Limit,
                    () => $"the member read {member.Values.Count} records, expected {expected.Length}", [member]);
                await member.StopAsync();

                Assert.Equal(expected.Order(), member.Values.Order());
                Assert.All(member.Lines("record"), r =>
                    Assert.True(r.GetProperty("offset").GetInt64() >= expectedStart, $"read {r} before the reset point {expectedStart}"));
                Assert.Equal([13L, 13L], (await GroupChecks.CommittedAsync(broker, group, topic, Partitions)).OrderBy(o => o.Key).Select(o => o.Value));
            }
            catch (Exception)
            {
                Output.WriteLine(member.Describe());
                throw;
            }
        }, NoInitialRebalanceDelay);

    private static async Task<JsonElement> AdminAsync(BrokerProcess broker, string topic, string group, string op)
    {
        ClientResult result = (await ClientRunner.PythonAsync("group_kafka_python.py",
            ["admin", "--bootstrap", broker.Bootstrap, "--topic", topic, "--group", group, "--op", op])).EnsureSuccess();
        JsonElement line = Assert.Single(result.Lines("result"));
        if (line.TryGetProperty("error", out JsonElement error))
        {
            throw new XunitException($"admin {op} failed: {error}\n{result}");
        }

        return line;
    }

    private static List<string[]> Groups(JsonElement listed) =>
        listed.GetProperty("groups").EnumerateArray().Select(g => g.EnumerateArray().Select(x => x.GetString()!).ToArray()).ToList();

    private static IEnumerable<JsonElement> Described(JsonElement result) => result.GetProperty("groups").EnumerateArray();

    private static IEnumerable<JsonElement> Deleted(JsonElement result) => result.GetProperty("deleted").EnumerateArray();

    private static List<(string Topic, int Partition, long Offset)> Offsets(JsonElement result) =>
        result.GetProperty("offsets").EnumerateArray()
            .Select(o => (o.GetProperty("topic").GetString()!, o.GetProperty("partition").GetInt32(), o.GetProperty("offset").GetInt64()))
            .ToList();
}
