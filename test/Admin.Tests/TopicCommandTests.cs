using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

[Collection("broker")]
public sealed class TopicCommandTests(BrokerFixture fixture)
{
    private string B => fixture.Bootstrap;

    private static JsonElement Config(JsonElement describe, string name) =>
        describe.GetProperty("configs").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    [Fact]
    public async Task Create_list_describe_alter_grow_and_delete_a_topic_in_text_and_json()
    {
        string topic = BrokerFixture.Unique("orders");

        string created = await AdminCli.TextAsync(B, "topics", "create", topic, "--partitions", "3", "--config", "retention.ms=86400000");
        Assert.Equal($"created topic '{topic}' with 3 partition(s)\n", created);

        // list: the same topic and count in both outputs.
        string listText = await AdminCli.TextAsync(B, "topics", "list");
        string[] row = AdminCli.Table(listText, "TOPIC").Single(r => r[0] == topic);
        JsonElement listJson = await AdminCli.JsonAsync(B, "topics", "list");
        JsonElement listed = listJson.GetProperty("topics").EnumerateArray().Single(t => t.GetProperty("name").GetString() == topic);
        Assert.Equal(3, listed.GetProperty("partitions").GetInt32());
        Assert.Equal("3", row[1]);
        Assert.Equal(listed.GetProperty("topic_id").GetString(), row[2]);

        // describe after some records: offsets per partition and the config set at creation.
        await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--partition", "1"], "a\nb\nc\n");
        JsonElement describe = await AdminCli.JsonAsync(B, "topics", "describe", topic);
        string describeText = await AdminCli.TextAsync(B, "topics", "describe", topic);
        var partitions = describe.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], partitions.Select(p => p.GetProperty("partition").GetInt32()));
        Assert.Equal([0L, 3L, 0L], partitions.Select(p => p.GetProperty("latest_offset").GetInt64()));
        var textRows = AdminCli.Table(describeText, "PARTITION");
        Assert.Equal(["0", "3", "0"], textRows.Select(r => r[4]));
        Assert.Equal(partitions.Select(p => p.GetProperty("leader").GetInt32().ToString()), textRows.Select(r => r[1]));
        Assert.Equal("86400000", Config(describe, "retention.ms").GetProperty("value").GetString());
        Assert.False(Config(describe, "retention.ms").GetProperty("default").GetBoolean());
        Assert.Equal(["retention.ms", "86400000", "dynamic-topic"], AdminCli.Table(describeText, "CONFIG").Single(r => r[0] == "retention.ms"));

        // alter-config: set one key, return another to its default.
        string altered = await AdminCli.TextAsync(B, "topics", "alter-config", topic, "--set", "retention.bytes=1048576", "--delete", "retention.ms");
        Assert.Contains("retention.bytes=1048576", altered);
        describe = await AdminCli.JsonAsync(B, "topics", "describe", topic);
        Assert.Equal("1048576", Config(describe, "retention.bytes").GetProperty("value").GetString());
        Assert.True(Config(describe, "retention.ms").GetProperty("default").GetBoolean());

        // add-partitions: --count partitions more.
        JsonElement grown = await AdminCli.JsonAsync(B, "topics", "add-partitions", topic, "--count", "2");
        Assert.Equal(5, grown.GetProperty("partitions").GetInt32());
        describe = await AdminCli.JsonAsync(B, "topics", "describe", topic);
        Assert.Equal(5, describe.GetProperty("partitions").GetArrayLength());

        // delete.
        JsonElement deleted = await AdminCli.JsonAsync(B, "topics", "delete", topic);
        Assert.Equal("deleted", deleted.GetProperty("action").GetString());
        listJson = await AdminCli.JsonAsync(B, "topics", "list");
        Assert.DoesNotContain(listJson.GetProperty("topics").EnumerateArray(), t => t.GetProperty("name").GetString() == topic);
        ClientResult describeGone = await AdminCli.RunAsync(["admin", "topics", "describe", topic, "--bootstrap", B]);
        Assert.Equal(1, describeGone.ExitCode);
        Assert.Equal($"kafscale admin topics describe: topic '{topic}' does not exist", describeGone.Stderr.Trim());
    }

    [Fact]
    public async Task Creating_an_existing_topic_fails_with_the_kafka_error()
    {
        string topic = BrokerFixture.Unique("twice");
        await AdminCli.TextAsync(B, "topics", "create", topic, "--partitions", "1");
        ClientResult again = await AdminCli.RunAsync(["admin", "topics", "create", topic, "--partitions", "1", "--bootstrap", B]);
        Assert.Equal(1, again.ExitCode);
        Assert.Single(again.Stderr.Trim().Split('\n'));
        Assert.Contains("TOPIC_ALREADY_EXISTS (36)", again.Stderr);
        Assert.Equal("", again.Stdout);
    }

    [Fact]
    public async Task Offsets_reports_earliest_latest_and_the_offset_at_a_time()
    {
        string topic = BrokerFixture.Unique("times");
        await AdminCli.TextAsync(B, "topics", "create", topic, "--partitions", "2");
        await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--partition", "0"], "one\ntwo\n");
        await Task.Delay(50);
        long between = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Task.Delay(50);
        await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--partition", "0"], "three\n");

        JsonElement json = await AdminCli.JsonAsync(B, "offsets", topic, "--time", between.ToString());
        Assert.Equal(between, json.GetProperty("time_ms").GetInt64());
        JsonElement p0 = json.GetProperty("partitions")[0], p1 = json.GetProperty("partitions")[1];
        Assert.Equal((0L, 3L, 2L), (p0.GetProperty("earliest").GetInt64(), p0.GetProperty("latest").GetInt64(), p0.GetProperty("at_time").GetProperty("offset").GetInt64()));
        Assert.Equal((0L, 0L, -1L), (p1.GetProperty("earliest").GetInt64(), p1.GetProperty("latest").GetInt64(), p1.GetProperty("at_time").GetProperty("offset").GetInt64()));

        string iso = DateTimeOffset.FromUnixTimeMilliseconds(between).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ");
        string text = await AdminCli.TextAsync(B, "offsets", topic, "--time", iso);
        var rows = AdminCli.Table(text, "PARTITION");
        Assert.Equal(["0", "0", "3", "2"], rows[0][..4]);
        Assert.Equal(["1", "0", "0", "-"], rows[1][..4]);

        JsonElement plain = await AdminCli.JsonAsync(B, "offsets", topic);
        Assert.False(plain.GetProperty("partitions")[0].TryGetProperty("at_time", out _));
    }
}
