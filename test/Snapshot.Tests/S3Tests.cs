using System.Text.Json;

namespace KafScale.Snapshot.Tests;

/// <summary>The same commands with the broker's S3 options, against s3rver: the bucket is read directly.</summary>
public sealed class S3Tests
{
    [Fact]
    public async Task SegmentsAndSnapshotsReadAndWriteTheBucket()
    {
        string root = Cli.TempDir("snap-s3");
        // The binary takes S3 credentials from the environment only, like the broker.
        Environment.SetEnvironmentVariable("KAFSCALE_S3_ACCESS_KEY", S3rverServer.AccessKey);
        Environment.SetEnvironmentVariable("KAFSCALE_S3_SECRET_KEY", S3rverServer.SecretKey);
        try
        {
            await using S3rverServer s3 = await S3rverServer.StartAsync(root, "kfs-snap");
            string[] s3Args = ["--s3-bucket", s3.Bucket, "--s3-endpoint", s3.Endpoint, "--s3-path-style", "true"];
            await using BrokerProcess broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info", ExtraArguments = s3Args });
            string input = string.Concat(Enumerable.Range(0, 100).Select(i => $"k{i}:v{i}\n"));
            ClientResult produced = await ClientRunner.KcatAsync(["-b", broker.Bootstrap, "-t", "s3topic", "-P", "-K:", "-X", "batch.num.messages=30"], input);
            Assert.True(produced.ExitCode == 0, produced.ToString());
            Assert.Equal(0, await broker.TerminateAsync());
            Assert.False(Directory.Exists(Path.Combine(broker.DataDir, "objects", "default", "s3topic")));

            string[] storage = ["--data-dir", broker.DataDir, .. s3Args];
            string[] partition = ["--topic", "s3topic", "--partition", "0"];
            ClientResult verify = await Cli.OkAsync(["admin", "segments", "verify", .. partition, .. storage]);
            Assert.Contains("100 records verified", verify.Stdout);
            JsonElement list = await Cli.JsonAsync(["admin", "segments", "list", .. partition, "--output", "json", .. storage]);
            Assert.Equal(100, list.GetProperty("total_records").GetInt64());
            JsonElement dump = await Cli.JsonAsync(["admin", "segments", "dump", .. partition, "--output", "json", "--from-offset", "99", .. storage]);
            JsonElement last = dump.GetProperty("segments").EnumerateArray().SelectMany(s => s.GetProperty("batches").EnumerateArray())
                .SelectMany(b => b.GetProperty("records").EnumerateArray()).Single();
            Assert.Equal("v99", last.GetProperty("value").GetString());

            string id = SnapshotRoundTripTests.LastLine((await Cli.OkAsync(["snapshot", "create", .. storage])).Stdout);
            JsonElement snapshots = await Cli.JsonAsync(["snapshot", "list", "--output", "json", .. storage]);
            JsonElement entry = Assert.Single(snapshots.GetProperty("snapshots").EnumerateArray());
            Assert.Equal(id, entry.GetProperty("id").GetString());
            Assert.True(entry.GetProperty("complete").GetBoolean());

            Directory.Delete(Path.Combine(broker.DataDir, "metadata"), recursive: true);
            await Cli.OkAsync(["snapshot", "restore", id, .. storage]);
            await broker.RestartAsync();
            ClientResult consumed = await ClientRunner.KcatAsync(["-b", broker.Bootstrap, "-t", "s3topic", "-C", "-o", "beginning", "-e", "-f", "%k=%s\n"]);
            Assert.True(consumed.ExitCode == 0, consumed.ToString());
            Assert.Equal(Enumerable.Range(0, 100).Select(i => $"k{i}=v{i}"), consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            Cli.TryDelete(root);
        }
    }
}
