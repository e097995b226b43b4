using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

/// <summary>
/// --bootstrap and --output are options of <c>admin</c> itself: accepted before the command, after
/// it, or mixed, as Kafka's and Redpanda's tools accept connection options anywhere.
/// </summary>
[Collection("broker")]
public sealed class OptionPlacementTests(BrokerFixture fixture)
{
    private static IEnumerable<string> TopicNames(JsonElement list) =>
        list.GetProperty("topics").EnumerateArray().Select(t => t.GetProperty("name").GetString()!);

    [Fact]
    public async Task Connection_and_output_options_work_before_after_and_around_the_command()
    {
        string topic = BrokerFixture.Unique("placed");
        // Created with --bootstrap before the command words: it reached the fixture's broker.
        (await AdminCli.RunAsync(["admin", "--bootstrap", fixture.Bootstrap, "topics", "create", topic, "--partitions", "2"])).EnsureSuccess();

        string[][] placements =
        [
            ["admin", "--bootstrap", fixture.Bootstrap, "--output", "json", "topics", "list"],
            ["admin", "topics", "list", "--bootstrap", fixture.Bootstrap, "--output", "json"],
            ["admin", "--output", "json", "topics", "--bootstrap", fixture.Bootstrap, "list"],
            ["admin", "--bootstrap=" + fixture.Bootstrap, "topics", "list", "--output=json"],
        ];
        foreach (string[] args in placements)
        {
            ClientResult result = await AdminCli.RunAsync(args);
            result.EnsureSuccess();
            Assert.Contains(topic, TopicNames(AdminCli.Parse(result)));
        }

        // A command with an argument and options of its own, the shared ones first.
        ClientResult describe = await AdminCli.RunAsync(["admin", "--output", "json", "--bootstrap", fixture.Bootstrap, "topics", "describe", topic]);
        Assert.Equal(2, AdminCli.Parse(describe.EnsureSuccess()).GetProperty("partitions").GetArrayLength());
    }

    [Fact]
    public async Task The_environment_still_supplies_what_no_flag_gives()
    {
        string topic = BrokerFixture.Unique("envplaced");
        (await AdminCli.RunAsync(["admin", "--bootstrap", fixture.Bootstrap, "topics", "create", topic])).EnsureSuccess();
        ClientResult result = await ClientRunner.RunAsync("env",
            [$"KAFSCALE_BOOTSTRAP={fixture.Bootstrap}", "KAFSCALE_OUTPUT=json", RepoPaths.Binary, "admin", "topics", "list"]);
        Assert.Contains(topic, TopicNames(AdminCli.Parse(result.EnsureSuccess())));

        // A flag before the command still wins over the environment.
        ClientResult text = await ClientRunner.RunAsync("env",
            [$"KAFSCALE_BOOTSTRAP={fixture.Bootstrap}", "KAFSCALE_OUTPUT=json", RepoPaths.Binary, "admin", "--output", "text", "topics", "list"]);
        Assert.Contains(AdminCli.Table(text.EnsureSuccess().Stdout, "TOPIC"), r => r[0] == topic);
    }

    [Fact]
    public async Task A_bad_value_before_the_command_is_a_usage_error_naming_the_flag()
    {
        ClientResult result = await AdminCli.RunAsync(["admin", "--bootstrap", "no-port", "topics", "list"]);
        Assert.Equal(AdminExitCodes.Usage, result.ExitCode);
        Assert.Contains("invalid value 'no-port' for --bootstrap", result.Stderr);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData("topics", "list")]
    [InlineData("groups", "reset-offsets")]
    [InlineData("cluster", "health")]
    [InlineData("produce")]
    [InlineData("segments", "verify")]
    public async Task Help_of_a_command_shows_the_shared_options(params string[] command)
    {
        ClientResult result = await AdminCli.RunAsync(["admin", .. command, "--help"]);
        string help = result.EnsureSuccess().Stdout;
        Assert.Contains("--bootstrap <bootstrap>", help);
        Assert.Contains("--output <output>", help);
        Assert.Contains("KAFSCALE_BOOTSTRAP", help);
        Assert.Contains("KAFSCALE_OUTPUT", help);
    }

    [Fact]
    public async Task Segments_takes_output_and_its_storage_options_anywhere_and_ignores_bootstrap()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"kafscale-placement-{Guid.NewGuid():N}");
        // One object where --data-dir says: listing it shows the option was read, wherever it stood.
        string partition = Path.Combine(dir, "objects", "default", "t", "0");
        Directory.CreateDirectory(partition);
        await File.WriteAllBytesAsync(Path.Combine(partition, "segment-00000000000000000000.kfs"), new byte[100]);
        try
        {
            string[][] placements =
            [
                ["admin", "--output", "json", "segments", "--data-dir", dir, "list", "--topic", "t", "--partition", "0"],
                ["admin", "segments", "list", "--topic", "t", "--partition", "0", "--data-dir", dir, "--output", "json"],
                // An alias that always passes --bootstrap keeps working for segments.
                ["admin", "--bootstrap", "127.0.0.1:1", "segments", "list", "--topic", "t", "--partition", "0", "--data-dir", dir, "--output", "json"],
            ];
            foreach (string[] args in placements)
            {
                JsonElement list = AdminCli.Parse((await AdminCli.RunAsync(args)).EnsureSuccess());
                Assert.Equal("t", list.GetProperty("topic").GetString());
                Assert.Equal(100, list.GetProperty("segments").EnumerateArray().Single().GetProperty("size_bytes").GetInt64());
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
