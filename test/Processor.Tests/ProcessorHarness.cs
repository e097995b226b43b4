using System.Globalization;
using System.Text;
using System.Text.Json;
using KafScale.TestSupport;
using Xunit.Sdk;

namespace KafScale.Processor.Tests;

/// <summary>Runs the built binary's processor, produces with kcat, and reads tables with processor-table.mjs (DuckDB, hyparquet, avsc).</summary>
public static class ProcessorHarness
{
    public static string NewTempDir(string what)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"kafscale-proc-{what}-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void EnsureBinary()
    {
        if (!File.Exists(RepoPaths.Binary))
            throw new XunitException($"the kafscale binary is missing at {RepoPaths.Binary}: build it with scripts/build.sh");
    }

    /// <summary>Runs `kafscale processor iceberg ARGS` to its end.</summary>
    public static Task<ClientResult> RunAsync(IEnumerable<string> args, TimeSpan? timeout = null)
    {
        EnsureBinary();
        return ClientRunner.RunAsync(RepoPaths.Binary, ["processor", "iceberg", .. args], timeout: timeout ?? TimeSpan.FromSeconds(120));
    }

    public static async Task<ClientResult> RunOnceOkAsync(IEnumerable<string> args)
    {
        var r = await RunAsync([.. args, "--once", "--http", "off"]);
        if (r.ExitCode != 0 || r.TimedOut) throw new XunitException($"processor failed: {r}");
        return r;
    }

    /// <summary>A long-running processor (polling mode) whose /metrics port tells when it is up.</summary>
    public static async Task<(ServerProcess Process, int HttpPort)> StartAsync(string root, string name, IEnumerable<string> args)
    {
        EnsureBinary();
        int port = ServerProcess.FreePort();
        string[] all = ["processor", "iceberg", .. args, "--http", $"127.0.0.1:{port}"];
        var p = new ServerProcess(name, RepoPaths.Binary, () => all, Path.Combine(root, name + ".log"));
        await p.StartAsync(port);
        return (p, port);
    }

    /// <summary>The table as an engine sees it (see test/clients/processor-table.mjs).</summary>
    public static async Task<JsonElement> ReadTableAsync(string location, string? s3rverDir = null, params string[] queries)
    {
        var args = new List<string> { "--table", location };
        if (s3rverDir is not null) { args.Add("--s3rver-dir"); args.Add(s3rverDir); }
        foreach (var q in queries) { args.Add("--query"); args.Add(q); }
        var r = (await ClientRunner.NodeAsync("processor-table.mjs", args, timeout: TimeSpan.FromSeconds(60))).EnsureSuccess();
        return r.Lines("table").Single();
    }

    /// <summary>Produces "key\tvalue" lines to one partition with kcat (acks=all), with a codec and optional headers.</summary>
    public static Task ProduceAsync(string bootstrap, string topic, int partition, IEnumerable<(string? Key, string Value)> records,
        string codec = "none", params string[] headers) => ProduceAsync(bootstrap, topic, partition, records, codec, headers, []);

    /// <summary>As above, with extra librdkafka properties (e.g. batch.num.messages=100).</summary>
    public static async Task ProduceAsync(string bootstrap, string topic, int partition, IEnumerable<(string? Key, string Value)> records,
        string codec, string[] headers, string[] properties)
    {
        var args = new List<string>
        {
            "-P", "-b", bootstrap, "-t", topic, "-p", partition.ToString(CultureInfo.InvariantCulture),
            "-K", "\t", "-X", "acks=-1", "-X", $"compression.codec={codec}", "-X", "linger.ms=5",
        };
        foreach (var h in headers) { args.Add("-H"); args.Add(h); }
        foreach (var p in properties) { args.Add("-X"); args.Add(p); }
        var input = new StringBuilder();
        foreach (var (k, v) in records) input.Append(k is null ? "" : k + "\t").Append(v).Append('\n');
        var r = await ClientRunner.KcatAsync(args, input.ToString(), TimeSpan.FromSeconds(120));
        if (r.ExitCode != 0 || r.TimedOut) throw new XunitException($"kcat failed: {r}");
    }

    public static long Long(this JsonElement e, string name) => e.GetProperty(name).GetInt64();

    /// <summary>First value of the first row of query i.</summary>
    public static JsonElement Query(this JsonElement table, int i) => table.GetProperty("queries")[i][0].EnumerateObject().First().Value;
}
