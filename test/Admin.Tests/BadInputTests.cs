using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

/// <summary>Bad input: one clear line on stderr, nothing on stdout, exit code 2 for usage errors and 1 for an unreachable cluster.</summary>
[Collection("broker")]
public sealed class BadInputTests(BrokerFixture fixture)
{
    private static void OneLine(ClientResult result, int exitCode, string contains)
    {
        Assert.False(result.TimedOut, result.ToString());
        Assert.Equal(exitCode, result.ExitCode);
        string[] lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, result.ToString());
        Assert.Contains(contains, lines[0]);
        Assert.Equal("", result.Stdout);
    }

    [Theory]
    [InlineData("admin topics bogus", "'bogus'")]
    [InlineData("admin bogus", "'bogus'")]
    [InlineData("admin topics list --bogus", "'--bogus'")]
    [InlineData("admin topics", "missing command: one of list, describe, create, delete, alter-config, add-partitions")]
    [InlineData("admin topics list --output yaml", "invalid value 'yaml' for --output")]
    [InlineData("admin topics create t --partitions zero", "invalid value 'zero' for --partitions")]
    [InlineData("admin topics alter-config t --set novalue", "invalid value 'novalue' for --set: expected KEY=VALUE")]
    [InlineData("admin topics add-partitions t", "--count")]
    [InlineData("admin groups reset-offsets g --topic t --to-earliest --to-latest", "exactly one of")]
    [InlineData("admin groups reset-offsets g --topic t --to-datetime yesterday", "invalid value 'yesterday' for --to-datetime")]
    [InlineData("admin produce t --compression brotli", "invalid value 'brotli' for --compression")]
    [InlineData("admin produce t --acks 2", "invalid value '2' for --acks")]
    [InlineData("admin produce t --key k --key-separator :", "--key and --key-separator")]
    [InlineData("admin consume t --from somewhere", "invalid value 'somewhere' for --from")]
    [InlineData("admin consume t --format {colour}", "unknown field {colour}")]
    [InlineData("admin offsets t --time noon", "invalid value 'noon' for --time")]
    [InlineData("admin cluster health --http-endpoints 0=nowhere", "invalid value '0=nowhere' for --http-endpoints")]
    [InlineData("admin bench produce --record-size -1", "invalid value '-1' for --record-size")]
    [InlineData("completion tcsh", "tcsh")]
    public async Task Usage_errors_exit_2_with_one_line(string command, string contains)
    {
        string[] args = command.Split(' ');
        ClientResult result = await AdminCli.RunAsync(args[0] == "admin" ? [.. args, "--bootstrap", fixture.Bootstrap] : args);
        OneLine(result, 2, contains);
    }

    [Theory]
    [InlineData("nohostport")]
    [InlineData("127.0.0.1:notaport")]
    [InlineData("127.0.0.1:70000")]
    public async Task A_malformed_bootstrap_exits_2(string bootstrap)
    {
        ClientResult result = await AdminCli.RunAsync(["admin", "cluster", "info", "--bootstrap", bootstrap]);
        OneLine(result, 2, $"invalid value '{bootstrap}' for --bootstrap (KAFSCALE_BOOTSTRAP)");
    }

    [Fact]
    public async Task The_bootstrap_comes_from_the_environment_when_no_flag_is_given()
    {
        var info = ClientRunner.StartInfo(RepoPaths.Binary, ["admin", "cluster", "info", "--output", "json"]);
        info.Environment["KAFSCALE_BOOTSTRAP"] = fixture.Bootstrap;
        using var process = System.Diagnostics.Process.Start(info)!;
        process.StandardInput.Close();
        string stdout = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        Assert.Contains($"\"port\": {fixture.Broker.KafkaPort}", stdout);
    }

    [Fact]
    public async Task An_unreachable_broker_exits_1_with_one_line_naming_the_setting()
    {
        (int closed, _) = BrokerProcess.FreePorts();
        ClientResult result = await AdminCli.RunAsync(["admin", "topics", "list", "--bootstrap", $"127.0.0.1:{closed}"]);
        OneLine(result, 1, $"cannot reach the cluster at 127.0.0.1:{closed} (--bootstrap / KAFSCALE_BOOTSTRAP)");
    }

    [Fact]
    public async Task Missing_topics_and_groups_exit_1_with_the_reason()
    {
        OneLine(await AdminCli.RunAsync(["admin", "consume", "no-such-topic", "--bootstrap", fixture.Bootstrap]), 1, "topic 'no-such-topic' does not exist");
        OneLine(await AdminCli.RunAsync(["admin", "offsets", "no-such-topic", "--bootstrap", fixture.Bootstrap]), 1, "topic 'no-such-topic' does not exist");
        OneLine(await AdminCli.RunAsync(["admin", "topics", "delete", "no-such-topic", "--bootstrap", fixture.Bootstrap]), 1, "UNKNOWN_TOPIC_OR_PARTITION (3)");
        OneLine(await AdminCli.RunAsync(["admin", "groups", "delete", "no-such-group", "--bootstrap", fixture.Bootstrap]), 1, "GROUP_ID_NOT_FOUND (69)");
        OneLine(await AdminCli.RunAsync(["admin", "groups", "describe", "no-such-group", "--bootstrap", fixture.Bootstrap]), 1, "group 'no-such-group' does not exist");
    }
}
