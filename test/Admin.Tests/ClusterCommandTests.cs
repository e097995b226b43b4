using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

[Collection("broker")]
public sealed class ClusterCommandTests(BrokerFixture fixture)
{
    [Fact]
    public async Task ClusterInfo_text_and_json_name_the_same_broker_controller_and_cluster_id()
    {
        string text = await AdminCli.TextAsync(fixture.Bootstrap, "cluster", "info");
        JsonElement json = await AdminCli.JsonAsync(fixture.Bootstrap, "cluster", "info");

        string clusterId = json.GetProperty("cluster_id").GetString()!;
        Assert.False(string.IsNullOrEmpty(clusterId));
        Assert.Equal(clusterId, AdminCli.Field(text, "cluster id"));
        int controller = json.GetProperty("controller_id").GetInt32();
        Assert.Equal(controller.ToString(), AdminCli.Field(text, "controller"));

        JsonElement broker = Assert.Single(json.GetProperty("brokers").EnumerateArray());
        Assert.Equal(fixture.Broker.KafkaPort, broker.GetProperty("port").GetInt32());
        Assert.Equal("127.0.0.1", broker.GetProperty("host").GetString());
        Assert.True(broker.GetProperty("controller").GetBoolean());
        string[] row = Assert.Single(AdminCli.Table(text, "ID"));
        Assert.Equal([broker.GetProperty("id").GetInt32().ToString(), "127.0.0.1", fixture.Broker.KafkaPort.ToString(), "-", "yes"], row);
    }

    [Fact]
    public async Task ClusterHealth_is_healthy_with_exit_code_0_when_readyz_answers_and_every_partition_is_led()
    {
        string topic = BrokerFixture.Unique("health");
        await AdminCli.TextAsync(fixture.Bootstrap, "topics", "create", topic, "--partitions", "2");

        ClientResult text = await AdminCli.RunAsync(["admin", "cluster", "health", "--bootstrap", fixture.Bootstrap, "--http-port", fixture.Broker.HttpPort.ToString()]);
        Assert.Equal(0, text.ExitCode);
        Assert.Equal("HEALTHY", AdminCli.Field(text.Stdout, "status"));

        ClientResult jsonRun = await AdminCli.RunAsync(["admin", "cluster", "health", "--bootstrap", fixture.Bootstrap, "--output", "json",
            "--http-endpoints", $"0=127.0.0.1:{fixture.Broker.HttpPort}"]);
        Assert.Equal(0, jsonRun.ExitCode);
        JsonElement json = AdminCli.Parse(jsonRun);
        Assert.True(json.GetProperty("healthy").GetBoolean());
        JsonElement broker = Assert.Single(json.GetProperty("brokers").EnumerateArray());
        Assert.Equal(200, broker.GetProperty("readyz_status").GetInt32());
        Assert.Equal("ok", broker.GetProperty("object_store").GetString());
        Assert.Equal("ok", broker.GetProperty("metadata_store").GetString());
        int total = json.GetProperty("partitions").GetProperty("total").GetInt32();
        Assert.True(total >= 2);
        Assert.Equal(total, json.GetProperty("partitions").GetProperty("with_live_leader").GetInt32());
        Assert.Equal($"{total} of {total} have a live leader", AdminCli.Field(text.Stdout, "partitions"));
        Assert.Empty(json.GetProperty("problems").EnumerateArray());
    }

    [Fact]
    public async Task ClusterHealth_exits_10_when_a_brokers_readyz_cannot_be_reached()
    {
        (int closedPort, _) = BrokerProcess.FreePorts();
        ClientResult text = await AdminCli.RunAsync(["admin", "cluster", "health", "--bootstrap", fixture.Bootstrap, "--http-port", closedPort.ToString()]);
        Assert.Equal(10, text.ExitCode);
        Assert.Equal("UNHEALTHY", AdminCli.Field(text.Stdout, "status"));
        Assert.Contains($"broker 0: /readyz at 127.0.0.1:{closedPort} did not answer", text.Stdout);

        ClientResult jsonRun = await AdminCli.RunAsync(["admin", "cluster", "health", "--bootstrap", fixture.Bootstrap, "--http-port", closedPort.ToString(), "--output", "json"]);
        Assert.Equal(10, jsonRun.ExitCode);
        JsonElement json = AdminCli.Parse(jsonRun);
        Assert.False(json.GetProperty("healthy").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("brokers")[0].GetProperty("readyz_status").ValueKind);
        Assert.Contains(json.GetProperty("problems").EnumerateArray(), p => p.GetString()!.Contains("/readyz"));
    }

    [Fact]
    public async Task ClusterHealth_watch_reports_again_until_stopped()
    {
        // --watch runs until interrupted: two reports a second apart, and it is still running.
        await using RunningClient watch = RunningClient.Start(ClientRunner.StartInfo(RepoPaths.Binary, ["admin", "cluster", "health",
            "--bootstrap", fixture.Bootstrap, "--output", "json", "--http-port", fixture.Broker.HttpPort.ToString(), "--watch", "--interval", "1"]));
        await watch.WaitForOutputLinesAsync(2, TimeSpan.FromSeconds(30));
        Assert.False(watch.HasExited, $"--watch exited after two reports\n{watch.Stderr}");
        var reports = watch.OutputLines.Take(2).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(reports, r => Assert.True(r.GetProperty("healthy").GetBoolean()));
        Assert.NotEqual(reports[0].GetProperty("checked_at").GetString(), reports[1].GetProperty("checked_at").GetString());
    }
}
