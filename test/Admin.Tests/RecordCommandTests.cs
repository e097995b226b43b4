using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

[Collection("broker")]
public sealed class RecordCommandTests(BrokerFixture fixture)
{
    private string B => fixture.Bootstrap;

    [Theory]
    [InlineData("none")]
    [InlineData("gzip")]
    [InlineData("snappy")]
    [InlineData("lz4")]
    [InlineData("zstd")]
    public async Task Produced_lines_come_back_with_keys_headers_and_offsets(string compression)
    {
        string topic = BrokerFixture.Unique("lines-" + compression);
        await AdminCli.TextAsync(B, "topics", "create", topic, "--partitions", "3");
        string input = string.Join('\n', Enumerable.Range(0, 20).Select(i => $"user{i % 4}:value {i}")) + "\n";
        ClientResult produced = await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--key-separator", ":",
            "--header", "source=test", "--header", "n=1", "--compression", compression, "--output", "json"], input);
        produced.EnsureSuccess();
        JsonElement summary = AdminCli.Parse(produced);
        Assert.Equal(20, summary.GetProperty("records").GetInt64());

        ClientResult consumed = await AdminCli.RunAsync(["admin", "consume", topic, "--bootstrap", B, "--from", "beginning", "--exit-at-end", "--output", "json"]);
        consumed.EnsureSuccess();
        var records = consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(20, records.Count);
        // Records of one key share a partition (murmur2, as Kafka's producer) and keep their order.
        foreach (var byKey in records.GroupBy(r => r.GetProperty("key").GetString()))
        {
            Assert.Single(byKey.Select(r => r.GetProperty("partition").GetInt32()).Distinct());
            var values = byKey.Select(r => int.Parse(r.GetProperty("value").GetString()!["value ".Length..])).ToList();
            Assert.Equal(values.Order(), values);
        }

        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"value {i}").Order(), records.Select(r => r.GetProperty("value").GetString()!).Order());
        Assert.All(records, r =>
        {
            Assert.Equal("test", r.GetProperty("headers").GetProperty("source").GetString());
            Assert.Equal("1", r.GetProperty("headers").GetProperty("n").GetString());
        });
        // The JSON summary's partitions and offsets are the ones the records have.
        foreach (JsonElement p in summary.GetProperty("partitions").EnumerateArray())
        {
            var mine = records.Where(r => r.GetProperty("partition").GetInt32() == p.GetProperty("partition").GetInt32()).Select(r => r.GetProperty("offset").GetInt64()).ToList();
            Assert.Equal(p.GetProperty("records").GetInt64(), mine.Count);
            Assert.Equal(p.GetProperty("first_offset").GetInt64(), mine.Min());
            Assert.Equal(p.GetProperty("last_offset").GetInt64(), mine.Max());
        }

        // The text format shows the same facts.
        ClientResult text = await AdminCli.RunAsync(["admin", "consume", topic, "--bootstrap", B, "--from", "beginning", "--exit-at-end",
            "--format", "{partition}|{offset}|{key}|{value}|{headers}"]);
        text.EnsureSuccess();
        var lines = text.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToList();
        var expected = records.Select(r => $"{r.GetProperty("partition").GetInt32()}|{r.GetProperty("offset").GetInt64()}|{r.GetProperty("key").GetString()}|{r.GetProperty("value").GetString()}|source=test,n=1").Order().ToList();
        Assert.Equal(expected, lines);
    }

    [Fact]
    public async Task Consume_from_an_offset_a_time_or_the_end_with_a_count_and_one_partition()
    {
        string topic = BrokerFixture.Unique("positions");
        await AdminCli.TextAsync(B, "topics", "create", topic, "--partitions", "2");
        (await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--partition", "0", "--key", "k"], "a\nb\nc\n")).EnsureSuccess();
        await Task.Delay(50);
        long between = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Task.Delay(50);
        (await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--partition", "0", "--acks", "1"], "d\ne\n")).EnsureSuccess();
        (await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--partition", "1"], "x\n")).EnsureSuccess();

        async Task<string> Consume(params string[] extra)
        {
            ClientResult r = await AdminCli.RunAsync(["admin", "consume", topic, "--bootstrap", B, "--exit-at-end", "--format", "{partition}:{offset}:{key}:{value}", .. extra]);
            r.EnsureSuccess();
            return string.Join(' ', r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
        }

        Assert.Equal("0:1:k:b 0:2:k:c 0:3::d 0:4::e", await Consume("--from", "1", "--partition", "0"));
        Assert.Equal("0:3::d 0:4::e 1:0::x", await Consume("--from=@" + between));
        Assert.Equal("0:3::d 0:4::e 1:0::x", await Consume("--from", "@" + DateTimeOffset.FromUnixTimeMilliseconds(between).UtcDateTime.ToString("O")));
        Assert.Equal("", await Consume("--from", "end"));
        Assert.Equal("0:0:k:a 0:1:k:b", await Consume("--from", "beginning", "--partition", "0", "--count", "2"));
    }

    [Fact]
    public async Task Consume_with_a_group_continues_where_it_stopped_and_leaves_no_lag()
    {
        string topic = BrokerFixture.Unique("grouped");
        string group = BrokerFixture.Unique("cg");
        await AdminCli.TextAsync(B, "topics", "create", topic, "--partitions", "1");
        (await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B], string.Join('\n', Enumerable.Range(0, 10)) + "\n")).EnsureSuccess();

        ClientResult first = await AdminCli.RunAsync(["admin", "consume", topic, "--bootstrap", B, "--group", group, "--from", "beginning", "--count", "4"]);
        Assert.Equal("0\n1\n2\n3\n", first.EnsureSuccess().Stdout);
        JsonElement described = await AdminCli.JsonAsync(B, "groups", "describe", group);
        Assert.Equal(4, described.GetProperty("offsets")[0].GetProperty("committed_offset").GetInt64());
        Assert.Equal(6, described.GetProperty("total_lag").GetInt64());

        // Without --from, the group's committed offset is the start.
        ClientResult rest = await AdminCli.RunAsync(["admin", "consume", topic, "--bootstrap", B, "--group", group, "--exit-at-end"]);
        Assert.Equal("4\n5\n6\n7\n8\n9\n", rest.EnsureSuccess().Stdout);
        described = await AdminCli.JsonAsync(B, "groups", "describe", group);
        Assert.Equal(0, described.GetProperty("total_lag").GetInt64());
    }
}
