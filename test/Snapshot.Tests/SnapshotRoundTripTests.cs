using System.Globalization;
using System.Text.Json;

namespace KafScale.Snapshot.Tests;

/// <summary>
/// create, wipe the metadata, restore, restart: against the real broker with the embedded store
/// and with etcd, checked with confluent-kafka (topic and its config, committed offsets with
/// metadata, every record).
/// </summary>
public sealed class SnapshotRoundTripTests
{
    private const string Topic = "orders";
    private const string Group = "g1";
    private const int Partitions = 3;
    private const int PerPartition = 60;

    [Fact]
    public async Task EmbeddedRoundTripBringsTopicsConfigsOffsetsAndRecordsBack()
    {
        await using BrokerProcess broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info" });
        string[] storage = ["--data-dir", broker.DataDir];
        await SetupAsync(broker);

        // Taken while the broker runs and holds the store's lock: a lock-free read of its files.
        ClientResult created = await Cli.OkAsync(["snapshot", "create", .. storage]);
        string id = LastLine(created.Stdout);
        Assert.Matches("^[0-9]{8}T[0-9]{9}Z$", id);
        Assert.Contains("source       embedded", created.Stdout);
        Assert.Equal(0, await broker.TerminateAsync());

        // Not into a store that holds keys.
        ClientResult refused = await Cli.RunAsync(["snapshot", "restore", id, .. storage]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("not empty", refused.Stderr);
        Assert.Contains("--force", refused.Stderr);

        Directory.Delete(Path.Combine(broker.DataDir, "metadata"), recursive: true);

        // A damaged copy is refused on its SHA-256 and writes nothing.
        string snapshots = Path.Combine(broker.DataDir, "objects", "default", "_snapshots");
        const string damaged = "20000101T000000000Z";
        File.Copy(Path.Combine(snapshots, id + ".metadata.jsonl"), Path.Combine(snapshots, damaged + ".metadata.jsonl"));
        File.Copy(Path.Combine(snapshots, id + ".metadata.jsonl.sha256"), Path.Combine(snapshots, damaged + ".metadata.jsonl.sha256"));
        byte[] bytes = File.ReadAllBytes(Path.Combine(snapshots, damaged + ".metadata.jsonl"));
        bytes[bytes.Length / 2] ^= 0x04;
        File.WriteAllBytes(Path.Combine(snapshots, damaged + ".metadata.jsonl"), bytes);
        ClientResult corrupt = await Cli.RunAsync(["snapshot", "restore", damaged, .. storage]);
        Assert.Equal(1, corrupt.ExitCode);
        Assert.Contains("SHA-256", corrupt.Stderr);
        Assert.Contains("damaged", corrupt.Stderr);
        Assert.Single(corrupt.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        ClientResult restored = await Cli.OkAsync(["snapshot", "restore", id, .. storage]);
        Assert.Contains("verified", restored.Stdout);
        await broker.RestartAsync();
        await CheckAsync(broker);
    }

    [Fact]
    public async Task EtcdRoundTripWithEtcdNativeSnapshot()
    {
        string root = Cli.TempDir("snap-etcd");
        try
        {
            await using EtcdServer etcd = await EtcdServer.StartAsync(root);
            await using BrokerProcess broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info", ExtraArguments = ["--etcd-endpoints", etcd.Endpoint] });
            string[] storage = ["--data-dir", broker.DataDir, "--etcd-endpoints", etcd.Endpoint];
            await SetupAsync(broker);

            ClientResult created = await Cli.OkAsync(["snapshot", "create", "--etcd-native", .. storage]);
            string id = LastLine(created.Stdout);
            Assert.Contains("source       etcd", created.Stdout);
            Assert.Contains("etcd-native", created.Stdout);

            // etcd's own tools accept the streamed database.
            string db = Path.Combine(broker.DataDir, "objects", "default", "_snapshots", id + ".etcd.db");
            ClientResult status = await ClientRunner.RunAsync("etcdctl", ["snapshot", "status", db, "-w", "json"]);
            Assert.True(status.ExitCode == 0, status.ToString());
            using (JsonDocument s = JsonDocument.Parse(status.Stdout))
            {
                Assert.True(s.RootElement.GetProperty("totalKey").GetInt64() > Partitions);
                Assert.True(s.RootElement.GetProperty("revision").GetInt64() > 1);
            }
            string dbSha = File.ReadAllText(db + ".sha256").Split(' ')[0];
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(db))), dbSha);
            ClientResult etcdRestore = await ClientRunner.RunAsync("etcdctl", ["snapshot", "restore", db, "--data-dir", Path.Combine(root, "restored-etcd")]);
            Assert.True(etcdRestore.ExitCode == 0, etcdRestore.ToString());

            // Never over a running cluster, not even with --force.
            ClientResult running = await Cli.RunAsync(["snapshot", "restore", id, "--force", .. storage]);
            Assert.Equal(1, running.ExitCode);
            Assert.Contains("stop every broker", running.Stderr);
            ClientResult brokers = await ClientRunner.RunAsync("etcdctl", ["--endpoints", etcd.Endpoint, "get", "--prefix", "--keys-only", "/kafscale/brokers/"]);
            Assert.Contains("/kafscale/brokers/", brokers.Stdout); // untouched

            Assert.Equal(0, await broker.TerminateAsync());
            ClientResult refused = await Cli.RunAsync(["snapshot", "restore", id, .. storage]);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("not empty", refused.Stderr);

            // Wipe KafScale's keys in etcd, then restore into the empty prefix.
            ClientResult wipe = await ClientRunner.RunAsync("etcdctl", ["--endpoints", etcd.Endpoint, "del", "--prefix", "/kafscale/"]);
            Assert.True(wipe.ExitCode == 0, wipe.ToString());
            Assert.Null(await etcd.GetAsync("/kafscale/topics/orders/config"));
            await Cli.OkAsync(["snapshot", "restore", id, .. storage]);
            Assert.NotNull(await etcd.GetAsync("/kafscale/topics/orders/config"));

            // Over a store that holds keys: only with --force.
            ClientResult forced = await Cli.OkAsync(["snapshot", "restore", id, "--force", .. storage]);
            Assert.Contains("existing key(s) (--force)", forced.Stdout);

            await broker.RestartAsync();
            await CheckAsync(broker);
        }
        finally { Cli.TryDelete(root); }
    }

    private static async Task SetupAsync(BrokerProcess broker)
    {
        JsonElement setup = await Cli.PythonAsync("setup", "--bootstrap", broker.Bootstrap, "--topic", Topic, "--partitions", Partitions.ToString(CultureInfo.InvariantCulture),
            "--records", PerPartition.ToString(CultureInfo.InvariantCulture), "--group", Group);
        Assert.Equal(Partitions * PerPartition, setup.GetProperty("produced").GetInt32());
    }

    private static async Task CheckAsync(BrokerProcess broker)
    {
        JsonElement check = await Cli.PythonAsync("check", "--bootstrap", broker.Bootstrap, "--topic", Topic, "--group", Group);
        Assert.True(check.GetProperty("topic_found").GetBoolean(), broker.Log());
        Assert.Equal(Partitions, check.GetProperty("partitions").GetInt32());
        Assert.Equal("3600000", check.GetProperty("retention_ms").GetString());
        for (int p = 0; p < Partitions; p++)
        {
            JsonElement commit = check.GetProperty("commits").GetProperty(p.ToString(CultureInfo.InvariantCulture));
            Assert.Equal(10 * (p + 1), commit.GetProperty("offset").GetInt64());
            Assert.Equal($"m-{p}", commit.GetProperty("metadata").GetString());
            Assert.Equal(PerPartition, check.GetProperty("ends").GetProperty(p.ToString(CultureInfo.InvariantCulture)).GetInt64());
        }
        var records = check.GetProperty("records").EnumerateArray().ToList();
        Assert.Equal(Partitions * PerPartition, records.Count);
        foreach (JsonElement r in records)
        {
            int p = r.GetProperty("p").GetInt32();
            long o = r.GetProperty("o").GetInt64();
            Assert.Equal($"k-{p}-{o}", r.GetProperty("k").GetString());
            Assert.Equal($"v-{p}-{o}", r.GetProperty("v").GetString());
        }
    }

    internal static string LastLine(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim();
}
