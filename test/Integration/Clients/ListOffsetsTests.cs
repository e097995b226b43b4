using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using KafScale.Integration.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Clients;

/// <summary>
/// ListOffsets through each client: earliest, latest, and by time. Ten records at one-second steps
/// of create time, in three batches, so a lookup has to look inside batches and across them.
/// </summary>
[Collection(ClientLibraryCollection.Name)]
public sealed partial class ListOffsetsTests(ITestOutputHelper output) : BrokerTest(output)
{
    private const long T0 = 1_700_000_000_000;

    /// <summary>Query time, then the first offset whose timestamp is at or after it (null: none).</summary>
    private static readonly (long Time, long? Offset)[] Lookups =
    [
        (T0 - 5_000, 0),
        (T0, 0),
        (T0 + 1, 1),
        (T0 + 4_500, 5),
        (T0 + 7_000, 7),
        (T0 + 9_000, 9),
        (T0 + 9_001, null),
    ];

    [Theory]
    [MemberData(nameof(ScriptClients))]
    public Task Offsets_for_times_find_the_first_record_at_or_after_each_time_and_watermarks_are_earliest_and_latest(string clientName) =>
        WithBrokerAsync(async broker =>
        {
            string topic = await ProduceTimedRecordsAsync(broker);
            ScriptClient client = KafkaClient.Script(clientName);

            JsonElement result = Assert.Single(await client.OffsetsAsync(broker.Bootstrap, topic, 0, Lookups.Select(l => l.Time).ToArray()));

            Assert.Equal(0, result.GetProperty("earliest").GetInt64());
            Assert.Equal(10, result.GetProperty("latest").GetInt64());
            JsonElement[] found = result.GetProperty("times").EnumerateArray().ToArray();
            Assert.Equal(Lookups.Length, found.Length);
            for (int i = 0; i < Lookups.Length; i++)
            {
                long? offset = found[i].GetProperty("offset").ValueKind == JsonValueKind.Null ? null : found[i].GetProperty("offset").GetInt64();
                // kafkajs answers "no such record" with the latest offset instead of nothing.
                long? expected = Lookups[i].Offset ?? (clientName == "kafkajs" ? 10 : null);
                Assert.True(expected == offset, $"time {Lookups[i].Time}: expected offset {expected?.ToString() ?? "none"}, {clientName} got {offset?.ToString() ?? "none"}");
            }
        });

    [Fact]
    public Task Kcat_query_mode_finds_offsets_by_time() =>
        WithBrokerAsync(async broker =>
        {
            string topic = await ProduceTimedRecordsAsync(broker);

            foreach ((long time, long? expected) in Lookups)
            {
                ClientResult result = (await ClientRunner.KcatAsync(["-Q", "-b", broker.Bootstrap, "-t", $"{topic}:0:{time}"])).EnsureSuccess();
                Match m = KcatOffset().Match(result.Stdout);
                Assert.True(m.Success, $"unexpected kcat output: {result}");
                Assert.Equal(expected ?? -1, long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        });

    [Fact]
    public Task Raw_ListOffsets_answers_earliest_latest_and_by_time() =>
        WithBrokerAsync(async broker =>
        {
            string topic = await ProduceTimedRecordsAsync(broker);

            Assert.Equal(0, await RawRequests.ListOffsetAsync(broker, topic, 0, -2));
            Assert.Equal(10, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
            foreach ((long time, long? expected) in Lookups)
            {
                Assert.Equal(expected ?? -1, await RawRequests.ListOffsetAsync(broker, topic, 0, time));
            }
        });

    private static async Task<string> ProduceTimedRecordsAsync(BrokerProcess broker)
    {
        string topic = NewTopic("timed");
        await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        foreach ((int first, int count) in new[] { (0, 4), (4, 3), (7, 3) })
        {
            var response = await RawRequests.ProduceAsync(connection, topic, 0, RawRequests.Batch("timed", first, count, i => T0 + (i * 1000L)));
            Assert.Equal(0, response.ErrorCode);
            Assert.Equal(first, response.BaseOffset);
        }

        return topic;
    }

    [GeneratedRegex(@"\[0\]\s+offset\s+(-?\d+)")]
    private static partial Regex KcatOffset();
}
