using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

/// <summary>Groups made by a real client (kafka-python), described and reset by <c>kafscale admin</c>.</summary>
[Collection("broker")]
public sealed class GroupCommandTests(BrokerFixture fixture)
{
    private const string Script = "admin-kafka-python.py";

    private string B => fixture.Bootstrap;

    private async Task<string> TopicWithRecordsAsync(string prefix, int partitions, int perPartition)
    {
        string topic = BrokerFixture.Unique(prefix);
        await AdminCli.TextAsync(B, "topics", "create", topic, "--partitions", partitions.ToString());
        for (int p = 0; p < partitions; p++)
        {
            string lines = string.Join('\n', Enumerable.Range(0, perPartition + p).Select(i => $"p{p}-{i}")) + "\n";
            (await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--partition", p.ToString()], lines)).EnsureSuccess();
        }

        return topic;
    }

    [Fact]
    public async Task Describe_reports_the_lag_kafka_python_reports()
    {
        string topic = await TopicWithRecordsAsync("lag", 3, 10);
        string group = BrokerFixture.Unique("py");
        (await ClientRunner.PythonAsync(Script, ["consume", B, topic, group, "17"])).EnsureSuccess();
        // More records after the commit: the lag grows past what was consumed.
        (await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--partition", "2"], "late1\nlate2\n")).EnsureSuccess();

        ClientResult python = (await ClientRunner.PythonAsync(Script, ["lag", B, group])).EnsureSuccess();
        var reference = python.Lines("result").Single().GetProperty("offsets").EnumerateArray()
            .Select(o => (o.GetProperty("topic").GetString()!, o.GetProperty("partition").GetInt32(), o.GetProperty("committed").GetInt64(),
                o.GetProperty("end").GetInt64(), o.GetProperty("lag").GetInt64()))
            .OrderBy(o => o.Item2).ToList();
        Assert.NotEmpty(reference);
        Assert.Equal(17, reference.Sum(r => r.Item3));

        JsonElement json = await AdminCli.JsonAsync(B, "groups", "describe", group);
        var ours = json.GetProperty("offsets").EnumerateArray()
            .Select(o => (o.GetProperty("topic").GetString()!, o.GetProperty("partition").GetInt32(), o.GetProperty("committed_offset").GetInt64(),
                o.GetProperty("end_offset").GetInt64(), o.GetProperty("lag").GetInt64()))
            .OrderBy(o => o.Item2).ToList();
        Assert.Equal(reference, ours);
        Assert.Equal(reference.Sum(r => r.Item5), json.GetProperty("total_lag").GetInt64());
        Assert.Equal("Empty", json.GetProperty("state").GetString());
        Assert.Equal("consumer", json.GetProperty("protocol_type").GetString());

        string text = await AdminCli.TextAsync(B, "groups", "describe", group);
        Assert.Equal(reference.Sum(r => r.Item5).ToString(), AdminCli.Field(text, "total lag"));
        var rows = AdminCli.Table(text, "TOPIC");
        Assert.Equal(reference.Select(r => $"{r.Item1} {r.Item2} {r.Item3} {r.Item4} {r.Item5} -"), rows.Select(r => string.Join(' ', r)));

        JsonElement list = await AdminCli.JsonAsync(B, "groups", "list");
        JsonElement listed = list.GetProperty("groups").EnumerateArray().Single(g => g.GetProperty("group").GetString() == group);
        Assert.Equal("Empty", listed.GetProperty("state").GetString());
        Assert.Contains(AdminCli.Table(await AdminCli.TextAsync(B, "groups", "list"), "GROUP"), r => r[0] == group && r[1] == "Empty");
    }

    [Fact]
    public async Task Reset_offsets_is_a_dry_run_until_execute_and_a_new_consumer_starts_at_the_reset_offsets()
    {
        string topic = await TopicWithRecordsAsync("reset", 2, 8);
        string group = BrokerFixture.Unique("py");
        (await ClientRunner.PythonAsync(Script, ["consume", B, topic, group, "6"])).EnsureSuccess();
        JsonElement before = await AdminCli.JsonAsync(B, "groups", "describe", group);

        // Dry run: the plan, nothing committed.
        ClientResult dry = await AdminCli.RunAsync(["admin", "groups", "reset-offsets", group, "--topic", topic, "--to-offset", "3", "--bootstrap", B]);
        dry.EnsureSuccess();
        Assert.Contains("dry run", dry.Stdout);
        Assert.Equal([["0", "3"], ["1", "3"]], AdminCli.Table(dry.Stdout, "TOPIC").Select(r => new[] { r[1], r[3] }));
        Assert.Equal(before.GetProperty("offsets").ToString(), (await AdminCli.JsonAsync(B, "groups", "describe", group)).GetProperty("offsets").ToString());

        // Executed: partition 0 to offset 3, partition 1 to the earliest.
        JsonElement executed = await AdminCli.JsonAsync(B, "groups", "reset-offsets", group, "--topic", $"{topic}:0", "--to-offset", "3", "--execute");
        Assert.True(executed.GetProperty("executed").GetBoolean());
        Assert.Equal(3, executed.GetProperty("partitions")[0].GetProperty("new_offset").GetInt64());
        await AdminCli.JsonAsync(B, "groups", "reset-offsets", group, "--topic", $"{topic}:1", "--to-earliest", "--execute");

        ClientResult python = (await ClientRunner.PythonAsync(Script, ["first", B, topic, group, "2"])).EnsureSuccess();
        JsonElement first = python.Lines("result").Single().GetProperty("first");
        Assert.Equal(3, first.GetProperty("0").GetInt64());
        Assert.Equal(0, first.GetProperty("1").GetInt64());
    }

    [Fact]
    public async Task Reset_offsets_to_a_datetime_to_latest_and_by_a_shift()
    {
        string topic = await TopicWithRecordsAsync("shift", 1, 5);
        long between = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 20;
        await Task.Delay(60);
        (await AdminCli.RunAsync(["admin", "produce", topic, "--bootstrap", B, "--partition", "0"], "later\n")).EnsureSuccess();
        string group = BrokerFixture.Unique("admin");

        async Task<long> Reset(params string[] how)
        {
            JsonElement plan = await AdminCli.JsonAsync(B, ["groups", "reset-offsets", group, "--topic", topic, "--execute", .. how]);
            long next = plan.GetProperty("partitions")[0].GetProperty("new_offset").GetInt64();
            JsonElement described = await AdminCli.JsonAsync(B, "groups", "describe", group);
            Assert.Equal(next, described.GetProperty("offsets")[0].GetProperty("committed_offset").GetInt64());
            return next;
        }

        Assert.Equal(5, await Reset("--to-datetime", DateTimeOffset.FromUnixTimeMilliseconds(between).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ")));
        Assert.Equal(6, await Reset("--to-latest"));
        Assert.Equal(2, await Reset("--shift-by", "-4"));
        Assert.Equal(0, await Reset("--shift-by", "-100"));
        Assert.Equal(6, await Reset("--to-offset", "1000"));

        JsonElement deleted = await AdminCli.JsonAsync(B, "groups", "delete", group);
        Assert.Equal("deleted", deleted.GetProperty("action").GetString());
        ClientResult gone = await AdminCli.RunAsync(["admin", "groups", "describe", group, "--bootstrap", B]);
        Assert.Equal(1, gone.ExitCode);
        Assert.Equal($"kafscale admin groups describe: group '{group}' does not exist", gone.Stderr.Trim());
    }

    [Fact]
    public async Task Describe_shows_a_live_members_assignment_and_resets_and_deletes_are_refused_while_it_is_there()
    {
        string topic = await TopicWithRecordsAsync("live", 2, 3);
        string group = BrokerFixture.Unique("py");
        await using RunningClient member = ClientRunner.StartPython(Script, ["member", B, topic, group, "60"]);
        await member.WaitForLinesAsync("assignment", 1, TimeSpan.FromSeconds(45));
        Assert.Equal([0, 1], member.Lines("assignment")[0].GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32()));

        JsonElement json = await AdminCli.JsonAsync(B, "groups", "describe", group);
        Assert.Equal("Stable", json.GetProperty("state").GetString());
        JsonElement m = Assert.Single(json.GetProperty("members").EnumerateArray());
        Assert.Equal("kafscale-admin-test", m.GetProperty("client_id").GetString());
        Assert.Equal([(topic, 0), (topic, 1)], m.GetProperty("assignment").EnumerateArray().Select(a => (a.GetProperty("topic").GetString()!, a.GetProperty("partition").GetInt32())));
        // No commits yet: the assigned partitions show up with their end offsets and no lag.
        var offsets = json.GetProperty("offsets").EnumerateArray().ToList();
        Assert.Equal([3L, 4L], offsets.Select(o => o.GetProperty("end_offset").GetInt64()));
        Assert.All(offsets, o =>
        {
            Assert.Equal(JsonValueKind.Null, o.GetProperty("committed_offset").ValueKind);
            Assert.Equal(JsonValueKind.Null, o.GetProperty("lag").ValueKind);
            Assert.Equal(m.GetProperty("member_id").GetString(), o.GetProperty("member_id").GetString());
        });

        string text = await AdminCli.TextAsync(B, "groups", "describe", group);
        Assert.Equal("1", AdminCli.Field(text, "members"));
        string[] memberRow = Assert.Single(AdminCli.Table(text, "MEMBER"));
        Assert.Equal([m.GetProperty("member_id").GetString()!, "kafscale-admin-test"], memberRow[..2]);
        Assert.Equal($"{topic}-0,{topic}-1", memberRow[^1]);

        ClientResult reset = await AdminCli.RunAsync(["admin", "groups", "reset-offsets", group, "--topic", topic, "--to-earliest", "--execute", "--bootstrap", B]);
        Assert.Equal(1, reset.ExitCode);
        Assert.Contains("has 1 active member(s)", reset.Stderr);
        ClientResult delete = await AdminCli.RunAsync(["admin", "groups", "delete", group, "--bootstrap", B]);
        Assert.Equal(1, delete.ExitCode);
        Assert.Contains("NON_EMPTY_GROUP (68)", delete.Stderr);
    }
}
