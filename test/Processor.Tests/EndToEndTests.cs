using System.Globalization;
using KafScale.TestSupport;
using static KafScale.Processor.Tests.ProcessorHarness;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace KafScale.Processor.Tests;

/// <summary>
/// The built binary end to end: a real broker fed by kcat, `kafscale processor iceberg` reading its
/// bucket, and the tables read back by DuckDB, hyparquet and avsc through processor-table.mjs.
/// The brokers seal each flush at once (--segment-ms 0): a processor reads sealed segments only
/// (docs/processors.md, freshness), and these tests want the records as soon as they are acknowledged.
/// </summary>
public sealed class EndToEndTests
{
    private static IEnumerable<(string?, string)> Json(int from, int count, Func<int, string> value) =>
        Enumerable.Range(from, count).Select(i => ((string?)$"k{i}", value(i)));

    [Fact]
    public async Task Every_codec_lands_exactly_once_read_from_the_bucket_with_the_broker_stopped()
    {
        string[] codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions { DefaultPartitions = 2, LogLevel = "info", ExtraArguments = ["--segment-ms", "0"] });
        foreach (var codec in codecs)
        {
            await ProduceAsync(broker.Bootstrap, $"c-{codec}", 0, Json(0, 300, i => $"{{\"id\":{i},\"amount\":{i * 2},\"codec\":\"{codec}\",\"nested\":{{\"x\":{i}}}}}"), codec, "h=v-" + codec);
            await ProduceAsync(broker.Bootstrap, $"c-{codec}", 1, Json(300, 200, i => $"{{\"id\":{i},\"amount\":{i * 2},\"codec\":\"{codec}\",\"nested\":{{\"x\":{i}}}}}"), codec);
        }
        Assert.Equal(0, await broker.TerminateAsync());

        string wh = NewTempDir("codecs");
        try
        {
            string[] args = ["--topics", string.Join(',', codecs.Select(c => "c-" + c)), "--data-dir", broker.DataDir, "--warehouse", wh, "--compression", "snappy"];
            var run = await RunOnceOkAsync(args);
            Assert.Contains("committed kafscale.c-zstd", run.Stderr);
            long expectedAmount = Enumerable.Range(0, 500).Sum(i => 2L * i);
            var versions = new Dictionary<string, long>();
            foreach (var codec in codecs)
            {
                var t = await ReadTableAsync(Path.Combine(wh, "kafscale", "c-" + codec), null,
                    "SELECT sum(amount) AS s FROM {src}",
                    "SELECT count(*) AS n FROM {src} WHERE headers = '[{\"key\":\"h\",\"value\":\"v-" + codec + "\"}]'",
                    "SELECT count(*) AS n FROM {src} WHERE CAST(key AS VARCHAR) = 'k' || CAST(id AS VARCHAR) AND record_id = topic || ':' || partition || ':' || \"offset\" AND nested = '{\"x\":' || id || '}'",
                    "SELECT count(*) AS n FROM {src} WHERE timestamp_ms > 1600000000000");
                Assert.Equal(500, t.Long("rows"));
                Assert.Equal(500, t.Long("distinct_offsets"));
                Assert.Equal(500, t.Long("distinct_record_ids"));
                Assert.Equal(500, t.Long("hyparquet_rows"));
                Assert.Equal(expectedAmount, t.Query(0).GetInt64());
                Assert.Equal(300, t.Query(1).GetInt64());
                Assert.Equal(500, t.Query(2).GetInt64());
                Assert.Equal(500, t.Query(3).GetInt64());
                var parts = t.GetProperty("per_partition").EnumerateArray().ToList();
                Assert.Equal((0, 300, 0, 299), (parts[0].Long("partition"), parts[0].Long("rows"), parts[0].Long("min_offset"), parts[0].Long("max_offset")));
                Assert.Equal((1, 200, 0, 199), (parts[1].Long("partition"), parts[1].Long("rows"), parts[1].Long("min_offset"), parts[1].Long("max_offset")));
                var schema = t.GetProperty("schema").EnumerateArray().Select(f => (f.Long("id"), f.GetProperty("name").GetString(), f.GetProperty("type").GetString())).ToList();
                Assert.Equal([(1L, "record_id", "string"), (2, "topic", "string"), (3, "partition", "int"), (4, "offset", "long"), (5, "timestamp_ms", "long"), (6, "key", "binary"), (7, "value", "binary"), (8, "headers", "string")], schema.Take(8));
                Assert.Equal(["amount:long", "codec:string", "id:long", "nested:string"], schema.Skip(8).Select(f => $"{f.Item2}:{f.Item3}").Order());
                Assert.True(t.GetProperty("field_ids").GetProperty("amount").GetInt64() > 8);
                var summary = t.GetProperty("summary");
                Assert.Equal("300", summary.GetProperty($"kafscale.next-offset.c-{codec}.0").GetString());
                Assert.Equal("200", summary.GetProperty($"kafscale.next-offset.c-{codec}.1").GetString());
                versions[codec] = t.Long("version");
            }

            // A second --once on the unchanged bucket commits nothing.
            var again = await RunOnceOkAsync(args);
            Assert.DoesNotContain("committed", again.Stderr);
            foreach (var codec in codecs)
            {
                var t = await ReadTableAsync(Path.Combine(wh, "kafscale", "c-" + codec));
                Assert.Equal(versions[codec], t.Long("version"));
                Assert.Equal(500, t.Long("rows"));
            }
        }
        finally
        {
            Directory.Delete(wh, true);
        }
    }

    [Fact]
    public async Task Killed_mid_run_and_run_again_the_table_holds_each_record_once()
    {
        const int perPartition = 10_000;
        // Small segments (64 KiB) of incompressible values and a 1 MiB commit budget: the run is many commits long.
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions { DefaultPartitions = 4, LogLevel = "info", ExtraArguments = ["--segment-bytes", "65536", "--segment-ms", "0"] });
        for (int p = 0; p < 4; p++)
            await ProduceAsync(broker.Bootstrap, "big", p, Json(p * perPartition, perPartition, i => $"{{\"i\":{i},\"pad\":\"{Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(150))}\"}}"), p % 2 == 0 ? "zstd" : "lz4", [], ["batch.num.messages=100"]);
        string root = NewTempDir("kill");
        string wh = Path.Combine(root, "wh");
        try
        {
            string[] args = ["--topics", "big", "--data-dir", broker.DataDir, "--warehouse", wh, "--max-commit-bytes", "1048576",
                "--target-file-bytes", "1048576", "--parallelism", "1", "--poll-interval", "200ms"];
            var (proc, _) = await StartAsync(root, "processor-1", args);
            await using (proc)
            {
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (!proc.Log().Contains("committed kafscale.big", StringComparison.Ordinal))
                {
                    Assert.True(DateTime.UtcNow < deadline, "no commit within 60 s\n" + proc.Log());
                    await Task.Delay(5);
                }
                await proc.KillAsync();
            }
            var partial = await ReadTableAsync(Path.Combine(wh, "kafscale", "big"));
            Assert.InRange(partial.Long("rows"), 1, 4 * perPartition - 1);
            Assert.Equal(partial.Long("rows"), partial.Long("distinct_offsets"));

            // Run again to the end: exactly the produced records, each once.
            await RunOnceOkAsync(args);
            var t = await ReadTableAsync(Path.Combine(wh, "kafscale", "big"));
            Assert.Equal(4 * perPartition, t.Long("rows"));
            Assert.Equal(4 * perPartition, t.Long("distinct_offsets"));
            Assert.Equal(4 * perPartition, t.Long("distinct_record_ids"));
            // The default zstd data files, read by hyparquet too.
            Assert.Equal(4 * perPartition, t.Long("hyparquet_rows"));
            foreach (var p in t.GetProperty("per_partition").EnumerateArray())
            {
                Assert.Equal(perPartition, p.Long("rows"));
                Assert.Equal(perPartition - 1, p.Long("max_offset"));
            }
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Columns_evolve_partitions_follow_the_yaml_mapping_and_a_json_mapping_limits_columns()
    {
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info", ExtraArguments = ["--segment-ms", "0"] });
        await ProduceAsync(broker.Bootstrap, "events", 0, Json(0, 60, i => $"{{\"user\":\"u{i % 4}\",\"n\":{i},\"at\":\"2024-01-0{1 + i % 3}T10:00:00Z\"}}"));
        await ProduceAsync(broker.Bootstrap, "gauges", 0, Json(0, 20, i => $"{{\"v\":{i}.5,\"name\":\"g{i}\"}}"));
        string root = NewTempDir("evolve");
        string wh = Path.Combine(root, "wh");
        try
        {
            string yaml = Path.Combine(root, "mapping.yaml");
            File.WriteAllText(yaml, """
                # events go to a day-partitioned table
                topics:
                  events:
                    table: analytics.events_tbl
                    partition: day(at)
                    columns:
                      - name: at
                        type: timestamptz
                      - { name: n, type: long }
                """);
            string[] args = ["--topics", "events", "--data-dir", broker.DataDir, "--warehouse", wh, "--config", yaml];
            await RunOnceOkAsync(args);
            string location = Path.Combine(wh, "analytics", "events_tbl");
            var before = await ReadTableAsync(location);
            var fields = before.GetProperty("schema").EnumerateArray().Select(f => (f.Long("id"), f.GetProperty("name").GetString(), f.GetProperty("type").GetString())).Skip(8).ToList();
            Assert.Equal([(9L, "at", "timestamptz"), (10, "n", "long"), (11, "user", "string")], fields);
            var spec = Assert.Single(before.GetProperty("partition_spec").EnumerateArray());
            Assert.Equal("day", spec.GetProperty("transform").GetString());
            Assert.Equal(9, spec.Long("source-id"));
            Assert.Equal(3, before.GetProperty("files").EnumerateArray().Select(f => f.GetString()!.Split('/')[^2]).Distinct().Count());
            Assert.Contains(before.GetProperty("files").EnumerateArray(), f => f.GetString()!.Contains("/data/at_day=2024-01-02/"));

            // A new field appears later; one value has the wrong type.
            await ProduceAsync(broker.Bootstrap, "events", 0, Json(60, 30, i => $"{{\"user\":\"u\",\"n\":{(i == 70 ? "\"oops\"" : i.ToString(CultureInfo.InvariantCulture))},\"at\":\"2024-01-05T00:00:00Z\",\"extra\":true}}"));
            var second = await RunOnceOkAsync(args);
            Assert.Contains("rows with type conflicts 1", second.Stderr);
            var after = await ReadTableAsync(location, null,
                "SELECT count(*) AS n FROM {src} WHERE extra IS NULL",
                "SELECT count(*) AS n FROM {src} WHERE extra",
                "SELECT count(*) AS n FROM {src} WHERE n IS NULL",
                "SELECT count(*) AS n FROM {src} WHERE \"at\" = TIMESTAMPTZ '2024-01-02 10:00:00+00'",
                "SELECT count(DISTINCT CAST(\"at\" AS DATE)) AS n FROM {src}");
            Assert.Equal(90, after.Long("rows"));
            Assert.Equal(90, after.Long("distinct_offsets"));
            Assert.Equal((12L, "extra", "boolean"), after.GetProperty("schema").EnumerateArray().Select(f => (f.Long("id"), f.GetProperty("name").GetString(), f.GetProperty("type").GetString())).Last());
            Assert.Equal(60, after.Query(0).GetInt64());
            Assert.Equal(30, after.Query(1).GetInt64());
            Assert.Equal(1, after.GetProperty("queries")[2][0].GetProperty("n").GetInt64());
            Assert.Equal(20, after.GetProperty("queries")[3][0].GetProperty("n").GetInt64());
            Assert.Equal(4, after.GetProperty("queries")[4][0].GetProperty("n").GetInt64());
            Assert.Equal(12, after.GetProperty("field_ids").GetProperty("extra").GetInt64());

            // JSON mapping: no inference, one declared column, default table name in another namespace.
            string json = Path.Combine(root, "mapping.json");
            File.WriteAllText(json, """{"defaults": {"infer_columns": false}, "topics": {"gauges": {"table": "metrics.g", "columns": [{"name": "reading", "type": "double", "field": "v"}]}}}""");
            await RunOnceOkAsync(["--data-dir", broker.DataDir, "--warehouse", wh, "--config", json]);
            var g = await ReadTableAsync(Path.Combine(wh, "metrics", "g"), null, "SELECT sum(reading) AS s FROM {src}");
            Assert.Equal(20, g.Long("rows"));
            Assert.Equal(["reading"], g.GetProperty("schema").EnumerateArray().Skip(8).Select(f => f.GetProperty("name").GetString()));
            Assert.Equal(Enumerable.Range(0, 20).Sum(i => i + 0.5), g.Query(0).GetDouble(), 6);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Two_instances_with_etcd_split_the_partitions_and_write_each_record_once()
    {
        const int perPartition = 500;
        string root = NewTempDir("etcd");
        await using var etcd = await EtcdServer.StartAsync(root);
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions { DefaultPartitions = 4, LogLevel = "info", ExtraArguments = ["--segment-ms", "0"] });
        for (int p = 0; p < 4; p++)
            await ProduceAsync(broker.Bootstrap, "shared", p, Json(p * 10_000, perPartition, i => $"{{\"i\":{i}}}"));
        string wh = Path.Combine(root, "wh");
        try
        {
            string[] args = ["--topics", "shared", "--data-dir", broker.DataDir, "--warehouse", wh, "--etcd-endpoints", etcd.Endpoint,
                "--poll-interval", "300ms", "--lease-ttl-ms", "3000"];
            var (a, _) = await StartAsync(root, "proc-a", [.. args, "--instance-id", "a"]);
            await using (a)
            {
                var (b, bPort) = await StartAsync(root, "proc-b", [.. args, "--instance-id", "b"]);
                await using (b)
                {
                    var deadline = DateTime.UtcNow.AddSeconds(60);
                    while (!(a.Log().Contains("claimed partition") && b.Log().Contains("claimed partition")))
                    {
                        Assert.True(DateTime.UtcNow < deadline, "both instances should claim partitions\n" + a.Log() + "\n" + b.Log());
                        await Task.Delay(100);
                    }
                    // More records after both hold their share: each instance commits its own partitions.
                    for (int p = 0; p < 4; p++)
                        await ProduceAsync(broker.Bootstrap, "shared", p, Json(p * 10_000 + perPartition, perPartition, i => $"{{\"i\":{i}}}"));
                    string location = Path.Combine(wh, "kafscale", "shared");
                    while (true)
                    {
                        Assert.True(DateTime.UtcNow < deadline, "the table should reach every record\n" + a.Log() + "\n" + b.Log());
                        if (File.Exists(Path.Combine(location, "metadata", "version-hint.text")))
                        {
                            var t = await ReadTableAsync(location);
                            if (t.TryGetProperty("rows", out var rows) && rows.GetInt64() >= 8 * perPartition) break;
                        }
                        await Task.Delay(300);
                    }
                    using (var http = new HttpClient())
                    {
                        var ready = await http.GetAsync($"http://127.0.0.1:{bPort}/readyz");
                        Assert.Equal(System.Net.HttpStatusCode.OK, ready.StatusCode);
                        Assert.Equal("ok\n", await http.GetStringAsync($"http://127.0.0.1:{bPort}/healthz"));
                        string metrics = await http.GetStringAsync($"http://127.0.0.1:{bPort}/metrics");
                        Assert.Contains("kafscale_processor_records_total{topic=\"shared\",result=\"written\"}", metrics);
                        Assert.Contains("kafscale_processor_last_offset{topic=\"shared\",partition=", metrics);
                        Assert.Contains("# TYPE kafscale_processor_errors_total counter", metrics);
                    }
                    // A graceful stop: the round in progress commits and the lease is revoked (the command-line
                    // host reports the signal as 143 when it answers it before the action returns).
                    Assert.Contains(await a.TerminateAsync(TimeSpan.FromSeconds(30)), new[] { 0, 143 });
                    Assert.Contains("stopping: the last round was committed", a.Log());
                    await b.KillAsync();
                    var sa = ClaimedAndCommitted(a.Log());
                    var sb = ClaimedAndCommitted(b.Log());
                    Assert.True(sa.Committed && sb.Committed, "both instances should commit\n" + a.Log() + "\n" + b.Log());
                }
            }
            var final = await ReadTableAsync(Path.Combine(wh, "kafscale", "shared"));
            Assert.Equal(8 * perPartition, final.Long("rows"));
            Assert.Equal(8 * perPartition, final.Long("distinct_offsets"));
            foreach (var p in final.GetProperty("per_partition").EnumerateArray())
                Assert.Equal(2 * perPartition, p.Long("rows"));
        }
        finally
        {
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task An_s3_warehouse_on_s3rver_gets_the_table()
    {
        string root = NewTempDir("s3wh");
        await using var s3 = await S3rverServer.StartAsync(root, "lake");
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info", ExtraArguments = ["--segment-ms", "0"] });
        await ProduceAsync(broker.Bootstrap, "s3t", 0, Json(0, 250, i => $"{{\"i\":{i}}}"), "snappy");
        Environment.SetEnvironmentVariable("KAFSCALE_S3_ACCESS_KEY", S3rverServer.AccessKey);
        Environment.SetEnvironmentVariable("KAFSCALE_S3_SECRET_KEY", S3rverServer.SecretKey);
        try
        {
            string[] args = ["--topics", "s3t", "--data-dir", broker.DataDir, "--warehouse", "s3://lake/warehouse",
                "--s3-endpoint", s3.Endpoint, "--s3-path-style", "true"];
            await RunOnceOkAsync(args);
            await ProduceAsync(broker.Bootstrap, "s3t", 0, Json(250, 50, i => $"{{\"i\":{i}}}"));
            await RunOnceOkAsync(args);
            var t = await ReadTableAsync("s3://lake/warehouse/kafscale/s3t", Path.Combine(root, "s3rver"), "SELECT sum(i) AS s FROM {src}");
            Assert.Equal(300, t.Long("rows"));
            Assert.Equal(300, t.Long("distinct_offsets"));
            Assert.Equal(Enumerable.Range(0, 300).Sum(), t.Query(0).GetInt64());
            Assert.Equal(2, t.Long("snapshots"));
            Assert.StartsWith("s3://lake/warehouse/kafscale/s3t/data/", t.GetProperty("files")[0].GetString());
        }
        finally
        {
            Environment.SetEnvironmentVariable("KAFSCALE_S3_ACCESS_KEY", null);
            Environment.SetEnvironmentVariable("KAFSCALE_S3_SECRET_KEY", null);
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task A_rest_catalog_gets_the_table_through_oauth2_client_credentials()
    {
        string root = NewTempDir("rest");
        string wh = Path.Combine(root, "wh");
        Directory.CreateDirectory(wh);
        await using var catalog = RestCatalogStandIn.Start(wh);
        catalog.Warehouse = null;
        catalog.ClientId = "proc";
        catalog.ClientSecret = "s3cret";
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info", ExtraArguments = ["--segment-ms", "0"] });
        await ProduceAsync(broker.Bootstrap, "r", 0, Json(0, 100, i => $"{{\"i\":{i}}}"), "zstd");
        try
        {
            string[] args = ["--topics", "r", "--data-dir", broker.DataDir, "--warehouse", wh, "--namespace", "lake", "--catalog", "rest",
                "--catalog-uri", catalog.Uri, "--catalog-credential", $"{catalog.ClientId}:{catalog.ClientSecret}"];
            await RunOnceOkAsync(args);
            await ProduceAsync(broker.Bootstrap, "r", 0, Json(100, 50, i => $"{{\"i\":{i}}}"));
            await RunOnceOkAsync(args);
            await RunOnceOkAsync(args);
            Assert.Equal(2, catalog.Commits);
            var read = (await ClientRunner.NodeAsync("processor-table.mjs",
                ["--table", Path.Combine(wh, "lake", "r"), "--metadata", catalog.MetadataFile("lake", "r"), "--query", "SELECT sum(i) AS s FROM {src}"])).EnsureSuccess();
            var t = read.Lines("table").Single();
            Assert.Equal(150, t.Long("rows"));
            Assert.Equal(150, t.Long("distinct_offsets"));
            Assert.Equal(2, t.Long("snapshots"));
            Assert.Equal(Enumerable.Range(0, 150).Sum(), t.Query(0).GetInt64());
            Assert.Equal("150", t.GetProperty("summary").GetProperty("kafscale.next-offset.r.0").GetString());

            var bad = await RunAsync([.. args[..^1], "proc:wrong", "--once", "--http", "off"]);
            Assert.Equal(1, bad.ExitCode);
            var line = Assert.Single(bad.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("kafscale processor iceberg:", StringComparison.Ordinal));
            Assert.Contains("REST catalog", line);
        }
        finally
        {
            try { Directory.Delete(root, true); } catch (IOException) { }
        }
    }

    private static (bool Claimed, bool Committed) ClaimedAndCommitted(string log) =>
        (log.Contains("claimed partition"), log.Contains("committed kafscale.shared"));

    [Theory]
    [InlineData(2, "--bogus", "x")]
    [InlineData(2, "--warehouse", "http://example.com/wh")]
    [InlineData(2, "--warehouse", "s3://B/x")]
    [InlineData(2, "--poll-interval", "soon")]
    [InlineData(2, "--catalog", "hive")]
    [InlineData(2, "--compression", "brotli")]
    [InlineData(2, "--catalog", "rest")]
    public async Task Bad_options_get_one_line_and_exit_code_2(int code, string flag, string value)
    {
        string dir = NewTempDir("bad");
        try
        {
            var args = new List<string> { "--topics", "t", "--data-dir", dir };
            if (flag != "--warehouse") args.AddRange(["--warehouse", Path.Combine(dir, "wh")]);
            args.AddRange([flag, value]);
            var r = await RunAsync(args);
            Assert.Equal(code, r.ExitCode);
            var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith("kafscale", lines[0]);
            Assert.Contains(flag.TrimStart('-'), lines[0]);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Missing_warehouse_bad_config_and_unreachable_catalog_are_reported_in_one_line()
    {
        string dir = NewTempDir("bad2");
        try
        {
            var r = await RunAsync(["--topics", "t", "--data-dir", dir]);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("--warehouse (KAFSCALE_PROCESSOR_WAREHOUSE) is required", r.Stderr);

            string config = Path.Combine(dir, "c.yaml");
            File.WriteAllText(config, "topics:\n  t:\n    partition: weekly\n");
            r = await RunAsync(["--data-dir", dir, "--warehouse", dir, "--config", config]);
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("line 3", r.Stderr);
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));

            int closed = ServerProcess.FreePort();
            r = await RunAsync(["--topics", "t", "--data-dir", dir, "--warehouse", Path.Combine(dir, "wh"), "--catalog", "rest",
                "--catalog-uri", $"http://127.0.0.1:{closed}/api/catalog", "--once", "--http", "off"]);
            Assert.Equal(1, r.ExitCode);
            var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("kafscale processor iceberg:", StringComparison.Ordinal));
            Assert.Contains($"127.0.0.1:{closed}", line);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
