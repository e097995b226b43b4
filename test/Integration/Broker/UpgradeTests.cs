using System.Text.Json;
using KafScale.Integration.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Broker;

/// <summary>
/// A data directory written by an earlier release (test/Integration/Fixtures/upgrade-*, made by
/// tools/upgrade-fixture/make-fixture.sh with that release's binary) opens unchanged: every record,
/// the group's committed offsets, and writes that go on where the old broker stopped.
/// </summary>
public sealed class UpgradeTests(ITestOutputHelper output) : BrokerTest(output)
{
    private const long BaseTs = 1_750_000_000_000;

    public static TheoryData<string> Releases => new() { "0.1.0" };

    /// <summary>The records write_data.py wrote: a pure function of their index.</summary>
    private static List<TestRecord> Orders(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new TestRecord($"k-{i}", $"orders-{i}", [], i % 3, BaseTs + i))];

    private static List<TestRecord> Events(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new TestRecord(null, string.Concat(Enumerable.Repeat($"event-{i}", 1 + i % 4)), [new Header("n", $"{i}")], 0, BaseTs + 1000L * i))];

    [Theory]
    [MemberData(nameof(Releases))]
    public Task A_data_directory_of_an_earlier_release_opens_with_every_record_and_committed_offset(string release) =>
        WithBrokerAsync(async broker =>
        {
            var kcat = KafkaClient.ByName("kcat");
            RecordAssert.SamePerPartition(Orders(180), await kcat.ConsumeAsync(broker.Bootstrap, "orders"));
            var events = await kcat.ConsumeAsync(broker.Bootstrap, "events");
            RecordAssert.SamePerPartition(Events(80), events);
            Assert.Equal(Events(80).Select(r => r.Timestamp!.Value), events.Select(r => r.Timestamp));

            ClientResult lag = (await ClientRunner.PythonAsync("admin-kafka-python.py", ["lag", broker.Bootstrap, "upgrade-group"])).EnsureSuccess();
            var committed = lag.Lines("result").Single().GetProperty("offsets").EnumerateArray()
                .Select(o => (o.GetProperty("topic").GetString(), o.GetProperty("partition").GetInt32(), o.GetProperty("committed").GetInt64(), o.GetProperty("end").GetInt64()))
                .OrderBy(o => o.Item2);
            Assert.Equal([("orders", 0, 17L, 60L), ("orders", 1, 42L, 60L), ("orders", 2, 60L, 60L)], committed);

            // Writes go on at the old log ends, through a restart of the new broker.
            var more = Enumerable.Range(180, 30).Select(i => new TestRecord($"k-{i}", $"orders-{i}", [], i % 3)).ToList();
            (await KafkaClient.ByName("confluent-kafka").ProduceAsync(broker.Bootstrap, "orders", more)).EnsureSuccess();
            Assert.Equal(0, await broker.TerminateAsync());
            await broker.RestartAsync();
            RecordAssert.SamePerPartition([.. Orders(180), .. more], await kcat.ConsumeAsync(broker.Bootstrap, "orders"));
        }, new BrokerOptions { SeedDataDir = Path.Combine(RepoPaths.Root, "test", "Integration", "Fixtures", $"upgrade-{release}") });
}
