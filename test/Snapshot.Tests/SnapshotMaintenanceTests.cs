using System.Globalization;
using System.Text;
using System.Text.Json;
using KafScale.Metadata.Embedded;

namespace KafScale.Snapshot.Tests;

/// <summary>list, prune and schedule through the binary, on an embedded store made in-process.</summary>
public sealed class SnapshotMaintenanceTests
{
    private static async Task<string> DataDirWithMetadataAsync()
    {
        string dataDir = Cli.TempDir("snap-maint");
        await using EmbeddedMetadataStore store = await EmbeddedMetadataStore.OpenAsync(Path.Combine(dataDir, "metadata"), CancellationToken.None);
        await store.PutAsync("/kafscale/cluster/id", Encoding.UTF8.GetBytes("test-cluster"), 0, CancellationToken.None);
        await store.PutAsync("/kafscale/topics/t/config", Encoding.UTF8.GetBytes("{\"partitions\":1}"), 0, CancellationToken.None);
        long lease = await store.GrantLeaseAsync(TimeSpan.FromMinutes(1), CancellationToken.None);
        await store.PutAsync("/kafscale/brokers/0", Encoding.UTF8.GetBytes("{}"), lease, CancellationToken.None);
        return dataDir;
    }

    private static async Task<List<string>> IdsAsync(string dataDir)
    {
        JsonElement list = await Cli.JsonAsync("snapshot", "list", "--data-dir", dataDir, "--output", "json");
        return list.GetProperty("snapshots").EnumerateArray().Select(s => s.GetProperty("id").GetString()!).ToList();
    }

    [Fact]
    public async Task PruneKeepsTheNewestNAndDropsThoseOlderThanADuration()
    {
        string dataDir = await DataDirWithMetadataAsync();
        try
        {
            var made = new List<string>();
            for (int i = 0; i < 3; i++)
                made.Add(SnapshotRoundTripTests.LastLine((await Cli.OkAsync("snapshot", "create", "--data-dir", dataDir)).Stdout));
            Assert.Equal(3, made.Distinct().Count());

            // Two snapshots from 10 and 8 days ago (copies of a real one under older ids).
            string dir = Path.Combine(dataDir, "objects", "default", "_snapshots");
            var old = new List<string>();
            foreach (int days in new[] { 10, 8 })
            {
                string oldId = SnapshotRepository.NewId(DateTimeOffset.UtcNow.AddDays(-days));
                foreach (string suffix in new[] { ".metadata.jsonl", ".metadata.jsonl.sha256" })
                    File.Copy(Path.Combine(dir, made[0] + suffix), Path.Combine(dir, oldId + suffix));
                old.Add(oldId);
            }
            Assert.Equal([.. old, .. made], await IdsAsync(dataDir));

            // The list shows what each holds.
            ClientResult text = await Cli.OkAsync("snapshot", "list", "--data-dir", dataDir);
            Assert.StartsWith("ID", text.Stdout);
            Assert.Contains(made[2], text.Stdout);
            JsonElement json = await Cli.JsonAsync("snapshot", "list", "--data-dir", dataDir, "--output", "json");
            JsonElement first = json.GetProperty("snapshots")[2];
            Assert.Equal("embedded", first.GetProperty("source").GetString());
            Assert.Equal(2, first.GetProperty("keys").GetInt64()); // the leased broker key is left out
            Assert.True(first.GetProperty("complete").GetBoolean());

            ClientResult dry = await Cli.OkAsync("snapshot", "prune", "--older-than", "7d", "--dry-run", "--data-dir", dataDir);
            Assert.Contains("would delete 2 snapshot(s)", dry.Stdout);
            Assert.Equal(5, (await IdsAsync(dataDir)).Count);

            await Cli.OkAsync("snapshot", "prune", "--older-than", "7d", "--data-dir", dataDir);
            Assert.Equal(made, await IdsAsync(dataDir));

            await Cli.OkAsync("snapshot", "prune", "--keep", "2", "--data-dir", dataDir);
            Assert.Equal(made[1..], await IdsAsync(dataDir));
            Assert.False(File.Exists(Path.Combine(dir, made[0] + ".metadata.jsonl")));

            ClientResult none = await Cli.RunAsync("snapshot", "prune", "--data-dir", dataDir);
            Assert.Equal(2, none.ExitCode);
            ClientResult badAge = await Cli.RunAsync("snapshot", "prune", "--older-than", "7 days", "--data-dir", dataDir);
            Assert.Equal(2, badAge.ExitCode);
            Assert.Contains("--older-than", badAge.Stderr);
        }
        finally { Cli.TryDelete(dataDir); }
    }

    [Fact]
    public async Task ScheduleWritesSnapshotsPeriodicallyAndExposesTheirAge()
    {
        string dataDir = await DataDirWithMetadataAsync();
        int port = ServerProcess.FreePort();
        var schedule = new ServerProcess("schedule", RepoPaths.Binary,
            () => ["snapshot", "schedule", "--interval", "1s", "--http", $"127.0.0.1:{port}", "--data-dir", dataDir, "--keep", "50"],
            Path.Combine(dataDir, "schedule.log"));
        try
        {
            await schedule.StartAsync(port);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            string metrics = "";
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                metrics = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
                if (Metric(metrics, "kafscale_snapshot_runs_total{result=\"ok\"}") >= 3) break;
                await Task.Delay(200);
            }
            Assert.True(Metric(metrics, "kafscale_snapshot_runs_total{result=\"ok\"}") >= 3, metrics + schedule.Log());
            double age = Metric(metrics, "kafscale_snapshot_age_seconds");
            Assert.True(age >= 0 && age < 60, metrics);
            Assert.Equal(2, Metric(metrics, "kafscale_snapshot_last_keys"));
            Assert.Equal(0, Metric(metrics, "kafscale_snapshot_runs_total{result=\"error\"}"));
            using HttpResponseMessage health = await http.GetAsync($"http://127.0.0.1:{port}/healthz");
            Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);

            List<string> ids = await IdsAsync(dataDir);
            Assert.True(ids.Count >= 3, string.Join(",", ids));
            Assert.Equal(ids.Count, ids.Distinct().Count());

            Assert.Equal(0, await schedule.TerminateAsync());
        }
        finally
        {
            await schedule.DisposeAsync();
            Cli.TryDelete(dataDir);
        }
    }

    [Fact]
    public async Task BadScheduleAndCreateOptionsExitTwo()
    {
        ClientResult interval = await Cli.RunAsync("snapshot", "schedule", "--interval", "5x");
        Assert.Equal(2, interval.ExitCode);
        Assert.Contains("--interval", interval.Stderr);
        ClientResult native = await Cli.RunAsync("snapshot", "create", "--etcd-native", "--data-dir", Path.GetTempPath());
        Assert.Equal(2, native.ExitCode);
        Assert.Contains("--etcd-endpoints", native.Stderr);
        string empty = Cli.TempDir("snap-none");
        try
        {
            ClientResult missing = await Cli.RunAsync("snapshot", "create", "--data-dir", empty);
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("no embedded metadata store", missing.Stderr);
        }
        finally { Cli.TryDelete(empty); }
    }

    private static double Metric(string text, string name)
    {
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
                return double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
        }
        return double.NaN;
    }
}
