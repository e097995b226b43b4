using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

[Collection("broker")]
public sealed class QuotaCommandTests(BrokerFixture fixture)
{
    private string B => fixture.Bootstrap;

    private static JsonElement? EntryOf(JsonElement describe, Func<JsonElement, bool> entity) =>
        describe.EnumerateArray().Where(e => entity(e.GetProperty("entity"))).Select(e => (JsonElement?)e).SingleOrDefault();

    /// <summary>The broker applies a change through its watch of the store; describe until it shows.</summary>
    private async Task<JsonElement> DescribeUntilAsync(Func<JsonElement, bool> done, params string[] args)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            JsonElement json = await AdminCli.JsonAsync(B, ["quotas", "describe", .. args]);
            if (done(json) || DateTime.UtcNow > deadline)
            {
                return json;
            }

            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Alter_and_describe_a_client_id_quota_in_text_and_json_then_delete_it()
    {
        string client = BrokerFixture.Unique("etl");
        string altered = await AdminCli.TextAsync(B, "quotas", "alter", "--client-id", client,
            "--add-config", "producer_byte_rate=1048576,consumer_byte_rate=2097152", "--add-config", "request_percentage=50");
        Assert.Equal($"altered quotas of client-id={client}: producer_byte_rate=1048576, consumer_byte_rate=2097152, request_percentage=50\n", altered);

        JsonElement json = await DescribeUntilAsync(j => j.GetArrayLength() == 1, "--client-id", client);
        JsonElement entry = json.EnumerateArray().Single();
        Assert.Equal(client, entry.GetProperty("entity").GetProperty("client-id").GetString());
        Assert.False(entry.GetProperty("entity").TryGetProperty("user", out _));
        Assert.Equal(1048576, entry.GetProperty("quotas").GetProperty("producer_byte_rate").GetDouble());
        Assert.Equal(2097152, entry.GetProperty("quotas").GetProperty("consumer_byte_rate").GetDouble());
        Assert.Equal(50, entry.GetProperty("quotas").GetProperty("request_percentage").GetDouble());

        string text = await AdminCli.TextAsync(B, "quotas", "describe", "--client-id", client);
        Assert.Equal([$"client-id={client}", "consumer_byte_rate=2097152,producer_byte_rate=1048576,request_percentage=50"], AdminCli.Table(text, "ENTITY").Single());

        // Without entity flags: every entity, ours among them.
        JsonElement all = await AdminCli.JsonAsync(B, "quotas", "describe");
        Assert.NotNull(EntryOf(all, e => e.TryGetProperty("client-id", out var c) && c.GetString() == client));

        JsonElement deleted = await AdminCli.JsonAsync(B, "quotas", "alter", "--client-id", client, "--delete-config", "producer_byte_rate,consumer_byte_rate", "--delete-config", "request_percentage");
        Assert.Equal("quotas_altered", deleted.GetProperty("action").GetString());
        JsonElement none = await DescribeUntilAsync(j => j.GetArrayLength() == 0, "--client-id", client);
        Assert.Equal(0, none.GetArrayLength());
        Assert.Equal($"no quotas are configured for client-id={client}\n", await AdminCli.TextAsync(B, "quotas", "describe", "--client-id", client));
    }

    [Fact]
    public async Task Default_entities_and_a_user_with_its_default_client_id()
    {
        string user = BrokerFixture.Unique("svc");
        // Rates far above anything the other tests of this broker send, so they stay unthrottled.
        await AdminCli.TextAsync(B, "quotas", "alter", "--user", user, "--client-defaults", "--add-config", "producer_byte_rate=1000000000000");
        await AdminCli.TextAsync(B, "quotas", "alter", "--user-defaults", "--client-defaults", "--add-config", "consumer_byte_rate=1000000000000");
        try
        {
            JsonElement userDefault = await DescribeUntilAsync(j => j.GetArrayLength() == 1, "--user", user, "--client-defaults");
            JsonElement entity = userDefault.EnumerateArray().Single().GetProperty("entity");
            Assert.Equal(user, entity.GetProperty("user").GetString());
            Assert.Equal(JsonValueKind.Null, entity.GetProperty("client-id").ValueKind);

            JsonElement defaults = await DescribeUntilAsync(j => j.GetArrayLength() == 1, "--user-defaults", "--client-defaults");
            Assert.Equal(1e12, defaults.EnumerateArray().Single().GetProperty("quotas").GetProperty("consumer_byte_rate").GetDouble());
            string text = await AdminCli.TextAsync(B, "quotas", "describe", "--user-defaults", "--client-defaults");
            Assert.Equal("user=<default>,client-id=<default>", AdminCli.Table(text, "ENTITY").Single()[0]);

            // Strict: the user alone has no quota of its own.
            Assert.Equal(0, (await AdminCli.JsonAsync(B, "quotas", "describe", "--user", user)).GetArrayLength());
        }
        finally
        {
            await AdminCli.TextAsync(B, "quotas", "alter", "--user", user, "--client-defaults", "--delete-config", "producer_byte_rate");
            await AdminCli.TextAsync(B, "quotas", "alter", "--user-defaults", "--client-defaults", "--delete-config", "consumer_byte_rate");
        }
    }

    [Fact]
    public async Task Validate_only_writes_nothing()
    {
        string client = BrokerFixture.Unique("dry");
        JsonElement validated = await AdminCli.JsonAsync(B, "quotas", "alter", "--client-id", client, "--add-config", "producer_byte_rate=1024", "--validate-only");
        Assert.Equal("quotas_validated", validated.GetProperty("action").GetString());
        await Task.Delay(500);
        Assert.Equal(0, (await AdminCli.JsonAsync(B, "quotas", "describe", "--client-id", client)).GetArrayLength());
    }

    [Theory]
    [InlineData("admin quotas alter --add-config producer_byte_rate=1", 2, "alter needs an entity")]
    [InlineData("admin quotas alter --client-id a", 2, "nothing to change")]
    [InlineData("admin quotas alter --client-id a --add-config fetch_rate=1", 2, "unknown quota key 'fetch_rate'")]
    [InlineData("admin quotas alter --client-id a --add-config producer_byte_rate=fast", 2, "invalid value 'fast' for producer_byte_rate")]
    [InlineData("admin quotas alter --client-id a --client-defaults --add-config producer_byte_rate=1", 2, "--client-id and --client-defaults exclude each other")]
    [InlineData("admin quotas describe --user a --user-defaults", 2, "--user and --user-defaults exclude each other")]
    [InlineData("admin quotas alter --client-id a --add-config producer_byte_rate=1.5", 1, "INVALID_REQUEST (42)")]
    [InlineData("admin quotas alter --client-id a --add-config request_percentage=-3", 1, "positive")]
    [InlineData("admin quotas", 2, "missing command: one of describe, alter")]
    public async Task Bad_input_is_one_line_on_stderr(string command, int exitCode, string contains)
    {
        ClientResult result = await AdminCli.RunAsync([.. command.Split(' '), "--bootstrap", B]);
        Assert.False(result.TimedOut, result.ToString());
        Assert.Equal(exitCode, result.ExitCode);
        string[] lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, result.ToString());
        Assert.Contains(contains, lines[0]);
        Assert.Equal("", result.Stdout);
    }
}

/// <summary>
/// A real client under a quota set with the CLI: librdkafka is told to back off and its throughput
/// settles at the quota. Its own broker, outside the "broker" collection: its 12 s of mostly waiting
/// run beside the other tests instead of after them.
/// </summary>
public sealed class QuotaEnforcementWithRealClientTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    [Fact]
    public async Task A_confluent_kafka_producer_over_its_producer_byte_rate_is_throttled_to_about_the_quota()
    {
        const double quota = 100_000;
        string client = BrokerFixture.Unique("rdkafka");
        string topic = BrokerFixture.Unique("quota");
        await AdminCli.TextAsync(fixture.Bootstrap, "topics", "create", topic, "--partitions", "1");
        await AdminCli.TextAsync(fixture.Bootstrap, "quotas", "alter", "--client-id", client, "--add-config", "producer_byte_rate=100000");
        await Task.Delay(500); // the broker's watch applies it; well under a second

        const double seconds = 12;
        ClientResult result = await ClientRunner.PythonAsync("quota_producer.py",
            ["--bootstrap", fixture.Bootstrap, "--topic", topic, "--client-id", client, "--seconds", "12", "--record-bytes", "1000"], timeout: TimeSpan.FromSeconds(60));
        result.EnsureSuccess();
        JsonElement outcome = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(0, outcome.GetProperty("errors").GetArrayLength());
        double bytes = outcome.GetProperty("bytes").GetDouble();
        Assert.True(outcome.GetProperty("throttle_max_ms").GetInt32() > 0, $"librdkafka saw no throttle: {result.Stdout}");
        // As the in-process test: up to 10 s of quota at once (the window), at least half of it over the run.
        Assert.True(bytes > quota * seconds * 0.5 && bytes < quota * (seconds + 10) * 1.5, $"{bytes} bytes in {seconds} s against {quota} B/s: {result.Stdout}");
    }
}
