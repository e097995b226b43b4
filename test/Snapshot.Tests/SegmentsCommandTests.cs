using System.Text.Json;

namespace KafScale.Snapshot.Tests;

/// <summary>
/// One partition written by the real broker (150 records from kcat in three runs: uncompressed,
/// gzip, snappy), the broker stopped, and the objects kept; each test works on its own copy.
/// </summary>
public sealed class ProducedPartition : IAsyncLifetime
{
    public const string Topic = "segs";
    public const int Records = 150;

    private BrokerProcess? _broker;

    public string Objects { get; private set; } = "";

    public async Task InitializeAsync()
    {
        // --segment-ms 0: each flush is sealed as its own segment, so the partition has several.
        _broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info", ExtraArguments = ["--segment-ms", "0"] });
        string[] codecs = ["none", "gzip", "snappy"];
        for (int run = 0; run < 3; run++)
        {
            string input = string.Concat(Enumerable.Range(run * 50, 50).Select(i => $"key-{i}:value-{i}\n"));
            // -X linger.ms=0 and a small batch size: several batches per run.
            ClientResult r = await ClientRunner.KcatAsync(["-b", _broker.Bootstrap, "-t", Topic, "-P", "-K:", "-z", codecs[run],
                "-X", "batch.num.messages=20", "-X", "linger.ms=50"], input);
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        Assert.Equal(0, await _broker.TerminateAsync());
        Objects = Path.Combine(_broker.DataDir, "objects");
    }

    /// <summary>A private copy of the objects directory.</summary>
    public string Copy()
    {
        string dir = Cli.TempDir("segs");
        Cli.CopyDirectory(Objects, dir);
        return dir;
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null) await _broker.DisposeAsync();
    }
}

public sealed class SegmentsCommandTests(ProducedPartition produced) : IClassFixture<ProducedPartition>
{
    private static string[] Args(string verb, string objects, params string[] more) =>
        ["admin", "segments", verb, "--topic", ProducedPartition.Topic, "--partition", "0", "--objects-dir", objects, "--data-dir", objects, .. more];

    [Fact]
    public async Task ListShowsEverySegmentInTextAndJson()
    {
        string objects = produced.Copy();
        try
        {
            JsonElement json = await Cli.JsonAsync(Args("list", objects, "--output", "json"));
            var segments = json.GetProperty("segments").EnumerateArray().ToList();
            Assert.True(segments.Count >= 3, json.ToString());
            Assert.Equal(ProducedPartition.Records, json.GetProperty("total_records").GetInt64());
            Assert.Equal(0, segments[0].GetProperty("base_offset").GetInt64());
            Assert.Equal(ProducedPartition.Records - 1, segments[^1].GetProperty("last_offset").GetInt64());
            for (int i = 1; i < segments.Count; i++)
                Assert.Equal(segments[i - 1].GetProperty("last_offset").GetInt64() + 1, segments[i].GetProperty("base_offset").GetInt64());
            foreach (JsonElement s in segments)
            {
                Assert.True(s.GetProperty("index_entries").GetInt64() >= 1);
                Assert.True(File.Exists(Path.Combine(objects, s.GetProperty("key").GetString()!)));
                Assert.Equal(new FileInfo(Path.Combine(objects, s.GetProperty("key").GetString()!)).Length, s.GetProperty("size_bytes").GetInt64());
            }

            ClientResult text = await Cli.OkAsync(Args("list", objects));
            string[] lines = text.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.StartsWith("BASE_OFFSET", lines[0]);
            int keyColumn = lines[0].IndexOf("KEY", StringComparison.Ordinal);
            for (int i = 0; i < segments.Count; i++)
            {
                Assert.Equal(keyColumn, lines[i + 1].IndexOf("default/", StringComparison.Ordinal)); // aligned
                Assert.EndsWith(segments[i].GetProperty("key").GetString()!, lines[i + 1]);
                Assert.StartsWith(segments[i].GetProperty("base_offset").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture) + " ", lines[i + 1]);
            }
            Assert.Contains($"{segments.Count} segments, {ProducedPartition.Records} records", text.Stdout);
        }
        finally { Cli.TryDelete(objects); }
    }

    [Fact]
    public async Task DumpPrintsEveryRecordWithOffsetsTimestampsCodecAndPreviews()
    {
        string objects = produced.Copy();
        try
        {
            JsonElement json = await Cli.JsonAsync(Args("dump", objects, "--output", "json"));
            var records = new List<JsonElement>();
            var codecs = new HashSet<string>();
            foreach (JsonElement segment in json.GetProperty("segments").EnumerateArray())
            {
                foreach (JsonElement batch in segment.GetProperty("batches").EnumerateArray())
                {
                    codecs.Add(batch.GetProperty("codec").GetString()!);
                    Assert.True(batch.GetProperty("crc_ok").GetBoolean());
                    var inBatch = batch.GetProperty("records").EnumerateArray().ToList();
                    Assert.Equal(batch.GetProperty("records").GetArrayLength(), (int)(batch.GetProperty("last_offset").GetInt64() - batch.GetProperty("base_offset").GetInt64() + 1));
                    records.AddRange(inBatch);
                }
            }
            Assert.Equal(["gzip", "none", "snappy"], codecs.Order());
            Assert.Equal(Enumerable.Range(0, ProducedPartition.Records).Select(i => (long)i), records.Select(r => r.GetProperty("offset").GetInt64()));
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            for (int i = 0; i < records.Count; i++)
            {
                Assert.Equal($"key-{i}", records[i].GetProperty("key").GetString());
                Assert.Equal($"value-{i}", records[i].GetProperty("value").GetString());
                Assert.Equal("utf8", records[i].GetProperty("value_encoding").GetString());
                long ts = records[i].GetProperty("timestamp").GetInt64();
                Assert.InRange(ts, now - 3_600_000, now + 60_000);
            }

            // A window, and short previews.
            JsonElement window = await Cli.JsonAsync(Args("dump", objects, "--output", "json", "--from-offset", "100", "--max-records", "10", "--preview-bytes", "3"));
            var offsets = window.GetProperty("segments").EnumerateArray().SelectMany(s => s.GetProperty("batches").EnumerateArray())
                .SelectMany(b => b.GetProperty("records").EnumerateArray()).ToList();
            Assert.Equal(Enumerable.Range(100, 10).Select(i => (long)i), offsets.Select(r => r.GetProperty("offset").GetInt64()));
            Assert.Equal("key", offsets[0].GetProperty("key").GetString());
            Assert.True(offsets[0].GetProperty("key_truncated").GetBoolean());

            ClientResult text = await Cli.OkAsync(Args("dump", objects));
            Assert.Contains("OFFSET", text.Stdout);
            Assert.Contains("\"key-7\"", text.Stdout);
            Assert.Contains("\"value-149\"", text.Stdout);
            Assert.Contains("snappy", text.Stdout);
            ClientResult batches = await Cli.OkAsync(Args("dump", objects, "--batches-only"));
            Assert.Contains("BASE_OFFSET", batches.Stdout);
            Assert.DoesNotContain("value-7", batches.Stdout);
        }
        finally { Cli.TryDelete(objects); }
    }

    [Fact]
    public async Task CleanPartitionVerifiesWithExitZero()
    {
        string objects = produced.Copy();
        try
        {
            ClientResult text = await Cli.OkAsync(Args("verify", objects));
            Assert.Contains($"{ProducedPartition.Topic}/0: ok", text.Stdout);
            Assert.Contains($"{ProducedPartition.Records} records verified", text.Stdout);
            JsonElement json = await Cli.JsonAsync(Args("verify", objects, "--output", "json"));
            Assert.True(json.GetProperty("ok").GetBoolean());
            Assert.Equal(0, json.GetProperty("faults").GetArrayLength());
            Assert.Equal(ProducedPartition.Records, json.GetProperty("records").GetInt64());
        }
        finally { Cli.TryDelete(objects); }
    }

    [Fact]
    public async Task OneFlippedByteInARecordIsFoundWithItsSegmentBatchAndOffset()
    {
        string objects = produced.Copy();
        try
        {
            // The segment with the most batches; its last batch; a byte inside its records.
            JsonElement dump = await Cli.JsonAsync(Args("dump", objects, "--output", "json", "--batches-only"));
            JsonElement segment = dump.GetProperty("segments").EnumerateArray().OrderByDescending(s => s.GetProperty("batches").GetArrayLength()).First();
            var batches = segment.GetProperty("batches").EnumerateArray().ToList();
            int batchIndex = batches.Count - 1;
            JsonElement batch = batches[batchIndex];
            long position = batch.GetProperty("position").GetInt64() + batch.GetProperty("size_bytes").GetInt64() - 3;
            string key = segment.GetProperty("key").GetString()!;
            string path = Path.Combine(objects, key);
            byte[] bytes = File.ReadAllBytes(path);
            bytes[position] ^= 0x01;
            File.WriteAllBytes(path, bytes);

            ClientResult failed = await Cli.RunAsync(Args("verify", objects, "--output", "json"));
            Assert.Equal(1, failed.ExitCode);
            Assert.Contains(key, failed.Stderr);
            using JsonDocument doc = JsonDocument.Parse(failed.Stdout);
            Assert.False(doc.RootElement.GetProperty("ok").GetBoolean());
            var faults = doc.RootElement.GetProperty("faults").EnumerateArray().ToList();
            Assert.All(faults, f => Assert.Equal(key, f.GetProperty("key").GetString()));
            JsonElement batchFault = Assert.Single(faults, f => f.GetProperty("batch").ValueKind == JsonValueKind.Number);
            Assert.Equal("crc", batchFault.GetProperty("check").GetString());
            Assert.Equal(batchIndex, batchFault.GetProperty("batch").GetInt32());
            Assert.Equal(batch.GetProperty("base_offset").GetInt64(), batchFault.GetProperty("offset").GetInt64());
            Assert.Contains(faults, f => f.GetProperty("check").GetString() == "crc" && f.GetProperty("message").GetString()!.Contains("footer", StringComparison.Ordinal));

            ClientResult text = await Cli.RunAsync(Args("verify", objects));
            Assert.Equal(1, text.ExitCode);
            Assert.Contains($"batch {batchIndex} (offsets {batch.GetProperty("base_offset").GetInt64()}-{batch.GetProperty("last_offset").GetInt64()}", text.Stdout);
            Assert.Contains("CRC-32C", text.Stdout);
        }
        finally { Cli.TryDelete(objects); }
    }

    [Theory]
    [InlineData("header")]
    [InlineData("footer")]
    [InlineData("index")]
    [InlineData("chain")]
    public async Task OtherDamageIsNamedByItsCheck(string damage)
    {
        string objects = produced.Copy();
        try
        {
            JsonElement list = await Cli.JsonAsync(Args("list", objects, "--output", "json"));
            string key = list.GetProperty("segments")[1].GetProperty("key").GetString()!;
            string path = Path.Combine(objects, key);
            switch (damage)
            {
                case "header": Flip(path, 1); break;                              // "KAFS" magic
                case "footer": Flip(path, (int)new FileInfo(path).Length - 2); break; // "END!" magic
                case "index": Flip(Path.ChangeExtension(path, ".index"), 16 + 7); break; // offset of entry 0
                case "chain":
                    File.Delete(path);
                    File.Delete(Path.ChangeExtension(path, ".index"));
                    key = list.GetProperty("segments")[2].GetProperty("key").GetString()!; // the gap shows at the next one
                    break;
            }
            ClientResult r = await Cli.RunAsync(Args("verify", objects, "--output", "json"));
            Assert.Equal(1, r.ExitCode);
            using JsonDocument doc = JsonDocument.Parse(r.Stdout);
            var faults = doc.RootElement.GetProperty("faults").EnumerateArray().ToList();
            string expectedKey = damage == "index" ? Path.ChangeExtension(key, ".index") : key;
            Assert.Contains(faults, f => f.GetProperty("check").GetString() == damage && f.GetProperty("key").GetString() == expectedKey);
        }
        finally { Cli.TryDelete(objects); }
    }

    [Fact]
    public async Task BadArgumentsGetOneLineAndExitTwo()
    {
        ClientResult missing = await Cli.RunAsync("admin", "segments", "verify", "--topic", "t");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("--partition", missing.Stderr);
        Assert.Single(missing.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        ClientResult output = await Cli.RunAsync("admin", "segments", "list", "--topic", "t", "--partition", "0", "--output", "yaml");
        Assert.Equal(2, output.ExitCode);
        Assert.Contains("--output", output.Stderr);
        ClientResult topic = await Cli.RunAsync("admin", "segments", "list", "--topic", "a/b", "--partition", "0");
        Assert.Equal(2, topic.ExitCode);
        // The bucket is read directly: the object-store options, not the metadata ones.
        ClientResult help = await Cli.OkAsync("admin", "segments", "verify", "--help");
        Assert.Contains("--s3-bucket", help.Stdout);
        Assert.DoesNotContain("--etcd-endpoints", help.Stdout);
    }

    private static void Flip(string path, int position)
    {
        byte[] bytes = File.ReadAllBytes(path);
        bytes[position] ^= 0x20;
        File.WriteAllBytes(path, bytes);
    }
}
