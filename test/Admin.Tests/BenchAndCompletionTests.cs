using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

[Collection("broker")]
public sealed class BenchAndCompletionTests(BrokerFixture fixture)
{
    [Fact]
    public async Task Bench_produce_then_consume_reports_the_records_it_moved()
    {
        string topic = BrokerFixture.Unique("bench");
        JsonElement produced = await AdminCli.JsonAsync(fixture.Bootstrap, "bench", "produce", "--topic", topic, "--records", "2000",
            "--record-size", "512", "--batch-records", "50", "--partitions", "2", "--compression", "lz4");
        Assert.Equal("produce", produced.GetProperty("mode").GetString());
        Assert.Equal(2000, produced.GetProperty("records").GetInt64());
        Assert.Equal(2000L * 512, produced.GetProperty("bytes").GetInt64());
        Assert.Equal(40, produced.GetProperty("requests").GetInt32());
        Assert.True(produced.GetProperty("records_per_sec").GetDouble() > 0);
        JsonElement latency = produced.GetProperty("latency_ms");
        Assert.True(latency.GetProperty("p50").GetDouble() <= latency.GetProperty("p99").GetDouble());
        Assert.True(latency.GetProperty("p99").GetDouble() <= latency.GetProperty("p999").GetDouble());

        JsonElement offsets = await AdminCli.JsonAsync(fixture.Bootstrap, "offsets", topic);
        Assert.Equal(2000, offsets.GetProperty("partitions").EnumerateArray().Sum(p => p.GetProperty("latest").GetInt64()));

        string text = await AdminCli.TextAsync(fixture.Bootstrap, "bench", "consume", "--topic", topic);
        Assert.Equal("consume", AdminCli.Field(text, "mode"));
        Assert.Equal("2000", AdminCli.Field(text, "records"));
        Assert.Matches(@"^p50 [0-9.]+  p99 [0-9.]+  p999 [0-9.]+  max [0-9.]+$", AdminCli.Field(text, "latency ms"));
    }

    private static async Task<string> CompletionAsync(string shell)
    {
        ClientResult result = await AdminCli.RunAsync(["completion", shell]);
        return result.EnsureSuccess().Stdout;
    }

    /// <summary>Asks the generated bash completion what it offers for a command line (the word being completed last).</summary>
    private static async Task<string[]> BashCompleteAsync(string script, params string[] words)
    {
        string file = Path.Combine(Path.GetTempPath(), $"kafscale-completion-{Guid.NewGuid():N}.bash");
        await File.WriteAllTextAsync(file, script);
        try
        {
            string array = string.Join(' ', words.Select(w => $"'{w}'"));
            string program = $"source '{file}'; COMP_WORDS=({array}); COMP_CWORD={words.Length - 1}; _kafscale; printf '%s\\n' \"${{COMPREPLY[@]}}\"";
            ClientResult result = await ClientRunner.RunAsync("bash", ["-c", program]);
            return result.EnsureSuccess().Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Bash_completion_follows_the_real_command_tree()
    {
        string script = await CompletionAsync("bash");
        Assert.Equal(["admin", "broker", "completion", "processor", "snapshot", "version"], (await BashCompleteAsync(script, "kafscale", "")).Order());
        Assert.Contains("topics", await BashCompleteAsync(script, "kafscale", "admin", ""));
        Assert.Equal(["reset-offsets"], await BashCompleteAsync(script, "kafscale", "admin", "groups", "re"));
        // Options of the command, the recursive --bootstrap and --output of admin included.
        string[] options = await BashCompleteAsync(script, "kafscale", "admin", "--output", "json", "groups", "reset-offsets", "--");
        Assert.Contains("--to-datetime", options);
        Assert.Contains("--bootstrap", options);
        Assert.Contains("--output", options);
        Assert.DoesNotContain("--http-port", options);
        Assert.DoesNotContain("-?", options);
        Assert.Equal(["text", "json"], await BashCompleteAsync(script, "kafscale", "admin", "topics", "list", "--output", ""));
        Assert.Equal(["lz4"], await BashCompleteAsync(script, "kafscale", "admin", "produce", "t", "--compression", "l"));
        Assert.Equal(["--listen", "--listeners"], await BashCompleteAsync(script, "kafscale", "broker", "--lis"));
    }

    [Fact]
    public async Task Zsh_and_fish_scripts_cover_every_command()
    {
        string zsh = await CompletionAsync("zsh");
        string fish = await CompletionAsync("fish");
        Assert.StartsWith("#compdef kafscale", zsh);
        // zsh runs the bash function through bashcompinit: bash itself must accept it.
        ClientResult syntax = await ClientRunner.RunAsync("bash", ["-n", "-c", zsh]);
        Assert.Equal(0, syntax.ExitCode);
        foreach (string path in new[] { "admin cluster health", "admin topics alter-config", "admin groups reset-offsets", "admin bench consume", "admin offsets" })
        {
            Assert.Contains($"'{path}')", zsh);
            Assert.Contains($"__kafscale_at \"{path}\"", fish);
        }

        Assert.Contains("-l to-datetime", fish);
        Assert.Contains("-l compression -x -a 'none gzip snappy lz4 zstd'", fish);
    }
}
