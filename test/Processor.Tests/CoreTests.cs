using System.Text;
using KafScale.Observability;
using KafScale.Processor.Config;
using KafScale.Processor.Json;
using KafScale.Processor.Leases;
using KafScale.Processor.Segments;
using KafScale.Processor.Tables;
using KafScale.Records;
using KafScale.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Processor.Tests;

public sealed class CoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kafscale-proc-unit-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly LocalDirectoryObjectStore _store;

    public CoreTests()
    {
        _store = new LocalDirectoryObjectStore(Path.Combine(_dir, "objects"));
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private sealed class Collect : IRecordSink
    {
        public List<KafScale.Records.Record> Records { get; } = [];
        public void OnRecord(in RecordView record) => Records.Add(record.ToRecord());
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public async Task Decodes_every_codec_skipping_control_batches_and_earlier_offsets(CompressionType codec)
    {
        var recs = Enumerable.Range(0, 25).Select(i => new Segments.Rec(i % 5 == 0 ? null : Encoding.UTF8.GetBytes($"k{i}"),
            Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"), 1_700_000_000_000 + i * 7, i == 3 ? [new RecordHeader("h", Encoding.UTF8.GetBytes("v")), new RecordHeader("n", null)] : null)).ToList();
        long next = await Segments.WriteAsync(_store, "t", 0, 100, recs, codec, perBatch: 7, controlBatchAtEnd: true);
        Assert.Equal(126, next);
        var bytes = await _store.GetAsync(SegmentKeys.Segment("default", "t", 0, 100), default);
        var sink = new Collect();
        var r = SegmentDecoder.Decode(bytes!, 0, sink);
        Assert.Equal(25, sink.Records.Count);
        Assert.Equal(1, r.ControlBatches);
        Assert.Equal(125, r.LastOffset);
        Assert.Equal(Enumerable.Range(100, 25).Select(i => (long)i), sink.Records.Select(x => x.Offset));
        Assert.Equal(1_700_000_000_000 + 24 * 7, sink.Records[24].Timestamp);
        Assert.Null(sink.Records[0].Key);
        Assert.Equal("k3", Encoding.UTF8.GetString(sink.Records[3].Key!));
        Assert.Equal(2, sink.Records[3].Headers.Length);
        Assert.Null(sink.Records[3].Headers[1].Value);

        var from = new Collect();
        var r2 = SegmentDecoder.Decode(bytes!, 117, from);
        Assert.Equal(8, from.Records.Count);
        Assert.Equal(117, from.Records[0].Offset);
    }

    [Fact]
    public async Task Damaged_segment_is_refused()
    {
        await Segments.WriteAsync(_store, "t", 0, 0, Segments.Json(5, i => "{}"));
        var bytes = (await _store.GetAsync(SegmentKeys.Segment("default", "t", 0, 0), default))!;
        bytes[40] ^= 0xFF;
        Assert.Throws<SegmentCorruptException>(() => SegmentDecoder.Decode(bytes, 0, new Collect()));
        Assert.Throws<SegmentCorruptException>(() => SegmentDecoder.Decode(bytes.AsMemory(0, bytes.Length - 3), 0, new Collect()));
    }

    private static SegmentEntry E(long b, bool index = true, long size = 100) => new(0, b, $"default/t/0/segment-{b:D20}.kfs", size, index);

    [Fact]
    public void Planner_skips_processed_segments_stops_at_holes_and_unindexed_segments()
    {
        var segs = new[] { E(0), E(10), E(20), E(30) };
        var p = SegmentPlanner.Plan(segs, 15, _ => null, long.MaxValue);
        Assert.Equal([10L, 20, 30], p.Segments.Select(s => s.BaseOffset));
        Assert.Equal(15, p.StartOffset);

        p = SegmentPlanner.Plan(segs, 40, e => e.BaseOffset == 30 ? 39 : null, long.MaxValue);
        Assert.Empty(p.Segments);

        p = SegmentPlanner.Plan([E(0), E(10, index: false), E(20)], 0, _ => null, long.MaxValue);
        Assert.Equal([0L], p.Segments.Select(s => s.BaseOffset));
        Assert.Contains("no .index", p.WaitingFor);

        // Log starts later than the table's offset: retention removed the gap.
        p = SegmentPlanner.Plan([E(50), E(60)], 20, _ => null, long.MaxValue);
        Assert.Equal((20L, 49L), p.RetentionGap);
        Assert.Equal(50, p.StartOffset);

        // A hole after a processed segment: wait for the missing upload.
        p = SegmentPlanner.Plan([E(0), E(20)], 10, e => e.BaseOffset == 0 ? 9 : null, long.MaxValue);
        Assert.Empty(p.Segments);
        Assert.Contains("10..19", p.WaitingFor);

        p = SegmentPlanner.Plan(segs, 0, _ => null, 250);
        Assert.Equal(2, p.Segments.Count);
        Assert.True(p.Truncated);
    }

    [Fact]
    public void Json_fields_are_found_in_one_pass()
    {
        var f = new JsonFields();
        byte[] json = Encoding.UTF8.GetBytes("{\"a\":1,\"b\":\"x\\\"y\",\"c\":{\"d\":[1,2]},\"e\":2.5,\"f\":null,\"g\":true,\"h\\u0041\":\"plain\"}");
        Assert.True(f.Parse(json));
        Assert.Equal(7, f.Count);
        Assert.Equal("a", f.Name(0).ToString());
        Assert.Equal("1", Encoding.UTF8.GetString(f.Value(0, json)));
        Assert.Equal("x\"y", Encoding.UTF8.GetString(f.Value(1, json)));
        Assert.Equal("{\"d\":[1,2]}", Encoding.UTF8.GetString(f.Value(2, json)));
        Assert.Equal(JsonKind.Object, f[2].Kind);
        Assert.True(f[3].IsFractional);
        Assert.Equal(JsonKind.Null, f[4].Kind);
        Assert.Equal("hA", f.Name(6).ToString());
        Assert.Equal("plain", Encoding.UTF8.GetString(f.Value(6, json)));
        Assert.Equal(ColumnType.Long, JsonValues.Infer(f[0], f.Value(0, json)));
        Assert.Equal(ColumnType.Double, JsonValues.Infer(f[3], f.Value(3, json)));
        Assert.Equal(ColumnType.String, JsonValues.Infer(f[2], f.Value(2, json)));
        Assert.Equal(ColumnType.Boolean, JsonValues.Infer(f[5], f.Value(5, json)));
        Assert.Null(JsonValues.Infer(f[4], f.Value(4, json)));

        Assert.False(f.Parse("[1,2]"u8));
        Assert.False(f.Parse("{\"a\":"u8));
        Assert.False(f.Parse("{\"a\":1} x"u8));
        Assert.False(f.Parse("hello"u8));
        Assert.True(f.Parse("  {}  "u8));
        Assert.True(JsonValues.TryTimestampMicros("2024-03-01T12:00:00.5Z"u8, out long micros));
        Assert.Equal(1709294400500000, micros);
        Assert.True(JsonValues.TryDate("1970-01-03"u8, out int days));
        Assert.Equal(2, days);
        Assert.Equal(-1, JsonValues.DayOfMicros(-1));
    }

    [Fact]
    public void Yaml_and_json_configs_parse_to_the_same_mapping()
    {
        const string yaml = """
            # processor mapping
            defaults:
              infer_columns: false
            topics:
              orders:
                table: sales.orders_v1   # namespace.name
                partition: day(created)
                max_inferred_columns: 5
                columns:
                  - name: amount
                    type: double
                  - { name: created, type: timestamptz, field: created_at }
                  - name: ts
                    type: timestamptz
                    field: "$timestamp"
                    required: true
              "clicks.v2":
                infer_columns: yes
                partition: day(timestamp)
            """;
        const string json = """
            {"defaults": {"infer_columns": false},
             "topics": {
               "orders": {"table": "sales.orders_v1", "partition": "day(created)", "max_inferred_columns": 5,
                 "columns": [{"name": "amount", "type": "double"}, {"name": "created", "type": "timestamptz", "field": "created_at"},
                             {"name": "ts", "type": "timestamptz", "field": "$timestamp", "required": true}]},
               "clicks.v2": {"infer_columns": true, "partition": "day(timestamp)"}}}
            """;
        foreach (var text in new[] { yaml, json })
        {
            var c = ProcessorConfig.Parse(text);
            Assert.False(c.Defaults.InferColumns);
            var o = c.For("orders");
            Assert.Equal("sales", o.Namespace);
            Assert.Equal("orders_v1", o.Table);
            Assert.Equal("created", o.PartitionDayColumn);
            Assert.False(o.InferColumns);
            Assert.Equal(5, o.MaxInferredColumns);
            Assert.Equal(3, o.Columns.Count);
            Assert.Equal(new ColumnMapping("created", ColumnType.Timestamptz, ColumnSourceKind.JsonField, "created_at", false), o.Columns[1]);
            Assert.Equal(ColumnSourceKind.RecordTimestamp, o.Columns[2].Source);
            Assert.True(o.Columns[2].Required);
            var k = c.For("clicks.v2");
            Assert.True(k.InferColumns);
            Assert.Equal("timestamp", k.PartitionDayColumn);
            Assert.Null(k.Table);
            Assert.False(c.For("other").InferColumns);
        }
    }

    [Theory]
    [InlineData("topics:\n  t:\n    colums: []\n", "line 3: unknown key 'colums'")]
    [InlineData("topics:\n  t:\n    columns:\n      - name: a\n        type: decimal\n", "line 5: 'topics.t.columns.type' 'decimal' is not one of")]
    [InlineData("topics:\n  t:\n    partition: hour(x)\n", "line 3: 'topics.t.partition' must be none or day(COLUMN)")]
    [InlineData("topics:\n  t:\n    partition: day(amount)\n    columns:\n      - {name: amount, type: double}\n", "needs a date, timestamp or timestamptz column")]
    [InlineData("topics:\n  t:\n    columns:\n      - {name: offset, type: long}\n", "clashes with a base column")]
    [InlineData("topics:\n\tt: 1\n", "tabs cannot indent")]
    [InlineData("{\"topics\": {\"t\": {\"table\": 5,}", "invalid JSON at line 1")]
    [InlineData("topics:\n  t:\n    table: a\n    table: b\n", "line 4: key 'table' appears twice")]
    public void Bad_configs_name_the_line_and_the_problem(string text, string expected)
    {
        var ex = Assert.Throws<ConfigException>(() => ProcessorConfig.Parse(text));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Offsets_round_trip_through_summaries_and_resume_from_the_nearest_processor_snapshot()
    {
        var offsets = new Dictionary<TopicPartition, long> { [new("a.b.c", 3)] = 42, [new("x", 0)] = 7 };
        var summary = new Dictionary<string, string> { ["added-records"] = "5" };
        OffsetSummary.Write(offsets, summary);
        Assert.Equal("42", summary["kafscale.next-offset.a.b.c.3"]);
        Assert.Equal(offsets, OffsetSummary.Read(summary));
        var snaps = new Dictionary<long, SnapshotInfo>
        {
            [1] = new(1, null, summary),
            [2] = new(2, 1, new Dictionary<string, string> { ["operation"] = "replace" }),
        };
        Assert.Equal(offsets, OffsetRecovery.Resolve(2, snaps));
        Assert.Empty(OffsetRecovery.Resolve(null, snaps));
    }

    private static TableState State(IReadOnlyDictionary<TopicPartition, long> offsets, params (int, string, ColumnType)[] extra) =>
        new([.. BaseColumns.All.Select(c => (c.Id, c.Name, c.Type, c.Required)), .. extra.Select(e => (e.Item1, e.Item2, e.Item3, false))],
            Math.Max(8, extra.Length == 0 ? 8 : extra.Max(e => e.Item1)), offsets, null, "mem://t", 1);

    [Fact]
    public void Commit_rule_refuses_moved_offsets_and_reused_column_ids_and_merges_other_partitions()
    {
        var a0 = new TopicPartition("a", 0);
        var a1 = new TopicPartition("a", 1);
        var current = State(new Dictionary<TopicPartition, long> { [a0] = 10, [a1] = 5 }, (9, "x", ColumnType.Long));
        TableColumn[] cols = [.. BaseColumns.All, new(9, "x", ColumnType.Long, false, ColumnSourceKind.JsonField, "x"), new(10, "y", ColumnType.String, false, ColumnSourceKind.JsonField, "y")];
        var ok = CommitPlanner.Decide(current, new CommitRequest([], new Dictionary<TopicPartition, OffsetRange> { [a0] = new(10, 20) }, cols, 10, 0));
        Assert.True(ok.Proceed);
        Assert.Equal("y", Assert.Single(ok.NewColumns).Name);
        Assert.Equal(20, ok.MergedOffsets[a0]);
        Assert.Equal(5, ok.MergedOffsets[a1]);

        var moved = CommitPlanner.Decide(current, new CommitRequest([], new Dictionary<TopicPartition, OffsetRange> { [a0] = new(null, 20) }, cols, 10, 0));
        Assert.False(moved.Proceed);
        Assert.Contains("another writer", moved.Reason);

        var other = State(new Dictionary<TopicPartition, long> { [a0] = 10 }, (9, "x", ColumnType.Long), (10, "z", ColumnType.Boolean));
        var clash = CommitPlanner.Decide(other, new CommitRequest([], new Dictionary<TopicPartition, OffsetRange> { [a0] = new(10, 20) }, cols, 10, 0));
        Assert.False(clash.Proceed);
        Assert.Contains("column id 10", clash.Reason);
    }

    private static ProcessorMetrics Metrics() => new(new MetricsRegistry());

    private async Task<(InMemoryTableStore Tables, CapturingFormat Format, ProcessorMetrics Metrics)> RunOnceAsync(ProcessorOptions options, InMemoryTableStore? tables = null, IPartitionOwnership? ownership = null)
    {
        tables ??= new InMemoryTableStore();
        var format = new CapturingFormat();
        var metrics = Metrics();
        var service = new ProcessorService(options with { Once = true, PollInterval = TimeSpan.FromMilliseconds(50) }, _store, tables, format,
            ownership ?? new SoleOwnership(), metrics, NullLogger.Instance);
        Assert.Equal(0, await service.RunAsync(default));
        return (tables, format, metrics);
    }

    private static List<object?[]> Rows(CapturingFormat f) => [.. f.Writers.SelectMany(w => w.Rows)];

    [Fact]
    public async Task Processes_every_partition_once_and_resumes_from_committed_offsets()
    {
        long n0 = await Segments.WriteAsync(_store, "orders", 0, 0, Segments.Json(30, i => $"{{\"id\":{i},\"name\":\"n{i}\"}}"), CompressionType.Zstd);
        await Segments.WriteAsync(_store, "orders", 0, n0, Segments.Json(20, i => $"{{\"id\":{100 + i},\"price\":{i}.5}}"), CompressionType.Gzip);
        await Segments.WriteAsync(_store, "orders", 1, 0, Segments.Json(10, i => "not json"), CompressionType.Lz4);
        var options = new ProcessorOptions { Topics = ["orders"] };
        var (tables, format, metrics) = await RunOnceAsync(options);
        var rows = Rows(format);
        Assert.Equal(60, rows.Count);
        Assert.Single(tables.Commits);
        var table = new TableName("kafscale", "orders");
        var state = (await tables.LoadAsync(table, default))!;
        Assert.Equal(50, state.NextOffsets[new("orders", 0)]);
        Assert.Equal(10, state.NextOffsets[new("orders", 1)]);
        Assert.Equal(["id", "name", "price"], state.Fields.Skip(8).Select(f => f.Name).Order());
        Assert.Equal(ColumnType.Double, state.Fields.Single(f => f.Name == "price").Type);
        string text = metrics.Registry.Render();
        Assert.Contains("kafscale_processor_records_total{topic=\"orders\",result=\"written\"} 60", text);
        Assert.Contains("kafscale_processor_records_total{topic=\"orders\",result=\"not_json\"} 10", text);
        Assert.Contains("kafscale_processor_last_offset{topic=\"orders\",partition=\"0\"} 49", text);

        // A second run on the unchanged bucket commits nothing; new segments are picked up from the committed offsets.
        var (_, format2, _) = await RunOnceAsync(options, tables);
        Assert.Empty(Rows(format2));
        Assert.Single(tables.Commits);
        await Segments.WriteAsync(_store, "orders", 1, 10, Segments.Json(5, i => $"{{\"id\":{i}}}"));
        var (_, format3, _) = await RunOnceAsync(options, tables);
        var rows3 = Rows(format3);
        Assert.Equal(5, rows3.Count);
        Assert.Equal(new long[] { 10, 11, 12, 13, 14 }, rows3.Select(r => (long)r[3]!));
        Assert.Equal("orders:1:10", Encoding.UTF8.GetString((byte[])rows3[0][0]!));
    }

    [Fact]
    public async Task Schema_evolves_with_new_fields_and_keeps_the_first_type_on_conflicts()
    {
        await Segments.WriteAsync(_store, "ev", 0, 0, Segments.Json(10, i => i < 5 ? $"{{\"a\":{i}}}" : $"{{\"a\":\"text\",\"b\":{{\"x\":1}},\"offset\":5,\"c\":null}}"));
        var (tables, format, metrics) = await RunOnceAsync(new ProcessorOptions { Topics = ["ev"] });
        var state = (await tables.LoadAsync(new TableName("kafscale", "ev"), default))!;
        Assert.Equal([(9, "a", ColumnType.Long), (10, "b", ColumnType.String)], state.Fields.Skip(8).Select(f => (f.Id, f.Name, f.Type)));
        // The new field rolled the file: the first file has no column b.
        Assert.Equal(2, format.Writers.Count);
        Assert.All(format.Writers, w => Assert.Equal(5, w.Rows.Count));
        Assert.Equal(9, format.Writers[0].Columns.Count);
        Assert.Equal(10, format.Writers[1].Columns.Count);
        Assert.Null(format.Writers[1].Get(0, "a"));
        Assert.Equal("{\"x\":1}", Encoding.UTF8.GetString((byte[])format.Writers[1].Get(0, "b")!));
        Assert.Equal(5L, format.Writers[1].Get(0, "offset"));
        Assert.Contains("kafscale_processor_records_total{topic=\"ev\",result=\"type_conflict\"} 5", metrics.Registry.Render());
    }

    [Fact]
    public async Task Day_partitioning_and_declared_columns_follow_the_mapping()
    {
        const long day = 86_400_000;
        var recs = new List<Segments.Rec>();
        for (int i = 0; i < 6; i++)
            recs.Add(new(null, Encoding.UTF8.GetBytes($"{{\"amount\":{i},\"at\":\"1970-01-0{1 + i % 3}T10:00:00Z\",\"extra\":1}}"), day * (i % 2) + 5));
        await Segments.WriteAsync(_store, "pay", 0, 0, recs);
        var config = ProcessorConfig.Parse("""
            topics:
              pay:
                table: fin.payments
                infer_columns: false
                partition: day(at_ts)
                columns:
                  - {name: amount, type: double}
                  - {name: at_ts, type: timestamptz, field: at}
                  - {name: ingest, type: timestamptz, field: $timestamp}
            """);
        var (tables, format, _) = await RunOnceAsync(new ProcessorOptions { Config = config });
        var state = (await tables.LoadAsync(new TableName("fin", "payments"), default))!;
        Assert.Equal(["amount", "at_ts", "ingest"], state.Fields.Skip(8).Select(f => f.Name));
        Assert.Equal(10, state.DaySourceId);
        var files = tables.Commits.Single().Request.Files;
        Assert.Equal([0, 1, 2], files.Select(f => f.DayPartition!.Value).Order());
        Assert.All(files, f => Assert.Equal(2, f.RecordCount));
        Assert.Contains(files, f => f.Uri.Contains("/data/at_ts_day=1970-01-02/"));
        var w = format.Writers.First(x => x.Rows.Count > 0);
        Assert.IsType<double>(w.Get(0, "amount"));
        Assert.Null(w.Get(0, "extra"));
    }

    [Fact]
    public async Task A_commit_that_loses_the_race_is_discarded_and_redone_without_duplicates()
    {
        await Segments.WriteAsync(_store, "r", 0, 0, Segments.Json(10, i => $"{{\"i\":{i}}}"));
        long n = await Segments.WriteAsync(_store, "r", 1, 0, Segments.Json(10, i => $"{{\"i\":{i}}}"));
        var tables = new InMemoryTableStore();
        var table = new TableName("kafscale", "r");
        bool raced = false;
        tables.BeforeCommit = (t, req) =>
        {
            // Another writer commits partition 1 up to offset 4 right before our first commit.
            if (!raced) { raced = true; tables.ForceOffset(t, new("r", 1), 4); }
            return Task.CompletedTask;
        };
        var (_, format, metrics) = await RunOnceAsync(new ProcessorOptions { Topics = ["r"] }, tables);
        var state = (await tables.LoadAsync(table, default))!;
        Assert.Equal(10, state.NextOffsets[new("r", 0)]);
        Assert.Equal(10, state.NextOffsets[new("r", 1)]);
        var committed = tables.Commits.Single().Request;
        Assert.Equal(16, committed.Records);
        Assert.Equal(committed.Files.Count, tables.FileCount);
        Assert.Contains("result=\"redone\"} 20", metrics.Registry.Render());
    }

    [Fact]
    public async Task Leases_split_partitions_between_instances_and_fence_the_old_owner()
    {
        await using var meta = await KafScale.Metadata.Embedded.EmbeddedMetadataStore.OpenAsync(Path.Combine(_dir, "meta"), default);
        var parts = Enumerable.Range(0, 4).Select(p => new TopicPartition("t", p)).ToList();
        var a = await LeaseOwnership.StartAsync(meta, "/kafscale/processors/g", "a", TimeSpan.FromSeconds(10), NullLogger.Instance, default);
        var ownedA = await a.AcquireAsync(parts, default);
        Assert.Equal(4, ownedA.Count);
        var b = await LeaseOwnership.StartAsync(meta, "/kafscale/processors/g", "b", TimeSpan.FromSeconds(10), NullLogger.Instance, default);
        Assert.Empty(await b.AcquireAsync(parts, default));
        ownedA = await a.AcquireAsync(parts, default);
        var ownedB = await b.AcquireAsync(parts, default);
        Assert.Equal(2, ownedA.Count);
        Assert.Equal(2, ownedB.Count);
        Assert.Empty(ownedA.Intersect(ownedB));
        Assert.True(await a.StillOwnsAsync(ownedA, default));
        Assert.False(await a.StillOwnsAsync(ownedB, default));
        await b.DisposeAsync();
        Assert.Equal(4, (await a.AcquireAsync(parts, default)).Count);
        await a.DisposeAsync();
    }
}
