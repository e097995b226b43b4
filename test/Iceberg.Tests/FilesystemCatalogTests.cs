using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using KafScale.Storage;
using static KafScale.Iceberg.Tests.TableFixture;

namespace KafScale.Iceberg.Tests;

public sealed class FilesystemCatalogTests : IDisposable
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private static readonly TableIdentifier Id = new("db.events", "clicks");

    private readonly string _dir = Directory.CreateTempSubdirectory("iceberg-fs-").FullName;
    private readonly LocalDirectoryObjectStore _store;
    private readonly ObjectStoreFileIO _io;

    public FilesystemCatalogTests()
    {
        _store = new LocalDirectoryObjectStore(_dir);
        _io = new ObjectStoreFileIO(_store, "file://" + _dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private FilesystemCatalog NewCatalog() => new(_io, $"file://{_dir}/warehouse");

    public static TheoryData<string, string> ReadersAndCodecs => new()
    {
        { "avsc", "uncompressed" }, { "avsc", "deflate" }, { "python", "uncompressed" }, { "python", "deflate" }, { "python", "snappy" },
    };

    [Theory]
    [MemberData(nameof(ReadersAndCodecs))]
    public async Task Snapshots_manifests_and_stats_are_read_by_an_independent_avro_reader(string reader, string codec)
    {
        FilesystemCatalog catalog = NewCatalog();
        await catalog.EnsureNamespaceAsync(Id.Namespace, Ct);
        TableMetadata table = await catalog.CreateTableAsync(Id, Schema, DaySpec,
            new Dictionary<string, string> { ["write.avro.compression-codec"] = codec }, Ct);
        Assert.Equal($"file://{_dir}/warehouse/db/events/clicks", table.Location);
        Assert.EndsWith("/metadata/v1.metadata.json", table.MetadataLocation);

        // Three appends; the third adds a column.
        long[][] records = [[10, 20], [5], [7, 8, 9]];
        var appended = new List<List<DataFile>>();
        for (int s = 0; s < records.Length; s++)
        {
            var files = new List<DataFile>();
            for (int f = 0; f < records[s].Length; f++)
                files.Add(await WriteDataFileAsync(_io, table, Day(f), records[s][f], $"s{s}f{f}", withExtra: s == 2));
            table = await AppendAsync(catalog, Id, table, files, s == 2 ? EvolvedSchema : null);
            appended.Add(files);
        }

        TableMetadata loaded = (await NewCatalog().LoadTableAsync(Id, Ct))!;
        Assert.EndsWith("/metadata/v4.metadata.json", loaded.MetadataLocation);
        Assert.Equal("4", File.ReadAllText($"{_dir}/warehouse/db/events/clicks/metadata/version-hint.text"));
        Assert.Equal(3, loaded.Snapshots.Count);
        Assert.Equal([1L, 2L, 3L], loaded.Snapshots.Select(s => s.SequenceNumber));
        Assert.Equal(3, loaded.LastSequenceNumber);
        Assert.Null(loaded.Snapshots[0].ParentSnapshotId);
        Assert.Equal(loaded.Snapshots[0].SnapshotId, loaded.Snapshots[1].ParentSnapshotId);
        Assert.Equal(loaded.Snapshots[1].SnapshotId, loaded.Snapshots[2].ParentSnapshotId);
        Assert.Equal(loaded.Snapshots[2].SnapshotId, loaded.CurrentSnapshot!.SnapshotId);
        Assert.Equal(loaded.CurrentSnapshot.SnapshotId, loaded.Refs["main"].SnapshotId);
        Assert.Equal(loaded.Snapshots.Select(s => s.SnapshotId), loaded.SnapshotLog.Select(e => e.SnapshotId));
        Assert.Equal(Enumerable.Range(1, 3).Select(v => $"file://{_dir}/warehouse/db/events/clicks/metadata/v{v}.metadata.json"),
            loaded.MetadataLog.Select(e => e.MetadataFile));

        // Schema evolution: the added column got a new id and a new schema became current.
        Assert.Equal(2, loaded.Schemas.Count);
        Assert.Equal(1, loaded.CurrentSchemaId);
        Assert.Equal(4, loaded.LastColumnId);
        Assert.Equal(4, loaded.CurrentSchema.FindByName("extra")!.Id);
        Assert.Equal([0, 0, 1], loaded.Snapshots.Select(s => s.SchemaId!.Value));

        // Summaries: added-* per snapshot, totals add up.
        long running = 0;
        for (int s = 0; s < 3; s++)
        {
            Snapshot snap = loaded.Snapshots[s];
            running += records[s].Sum();
            Assert.Equal("append", snap.Operation);
            Assert.Equal("test", snap.Summary["kafscale.writer"]);
            Assert.Equal(records[s].Length, snap.SummaryLong("added-data-files"));
            Assert.Equal(records[s].Sum(), snap.SummaryLong("added-records"));
            Assert.Equal(appended[s].Sum(f => f.FileSizeInBytes), snap.SummaryLong("added-files-size"));
            Assert.Equal(records[s].Length, snap.SummaryLong("changed-partition-count"));
            Assert.Equal(running, snap.SummaryLong("total-records"));
            Assert.Equal(appended.Take(s + 1).Sum(l => l.Count), snap.SummaryLong("total-data-files"));
            Assert.Equal(0, snap.SummaryLong("total-delete-files"));
        }

        // Every manifest list and manifest, read by the independent reader.
        var lists = loaded.Snapshots.Select(s => s.ManifestList).ToList();
        var manifestsOfLast = Manifests.ReadManifestList(await _io.ReadAsync(lists[2], Ct));
        var uris = lists.Concat(manifestsOfLast.Select(m => m.ManifestPath)).ToList();
        Dictionary<string, JsonElement> read = await ReadAvroAsync(reader, uris);

        string expectedCodec = codec == "uncompressed" ? "null" : codec;
        for (int s = 0; s < 3; s++)
        {
            JsonElement list = read[lists[s]];
            Assert.Equal(expectedCodec, list.GetProperty("codec").GetString());
            Assert.Equal(loaded.Snapshots[s].SnapshotId.ToString(), list.GetProperty("meta").GetProperty("snapshot-id").GetString());
            Assert.Equal((s + 1).ToString(), list.GetProperty("meta").GetProperty("sequence-number").GetString());
            Assert.Equal("2", list.GetProperty("meta").GetProperty("format-version").GetString());
            CheckManifestListSchema(list.GetProperty("schema"));
            JsonElement entries = list.GetProperty("records");
            Assert.Equal(s + 1, entries.GetArrayLength());
            // The new manifest comes first, carried-forward ones keep their values.
            JsonElement added = entries[0];
            Assert.Equal(loaded.Snapshots[s].SnapshotId, Long(added.GetProperty("added_snapshot_id")));
            Assert.Equal(s + 1, Long(added.GetProperty("sequence_number")));
            Assert.Equal(s + 1, Long(added.GetProperty("min_sequence_number")));
            Assert.Equal(0, added.GetProperty("content").GetInt32());
            Assert.Equal(0, added.GetProperty("partition_spec_id").GetInt32());
            Assert.Equal(records[s].Length, added.GetProperty("added_files_count").GetInt32());
            Assert.Equal(0, added.GetProperty("existing_files_count").GetInt32());
            Assert.Equal(records[s].Sum(), Long(added.GetProperty("added_rows_count")));
            long sum = 0;
            foreach (JsonElement m in entries.EnumerateArray())
            {
                string path = m.GetProperty("manifest_path").GetString()!;
                Assert.True(File.Exists(LocalPath(path)), path);
                Assert.Equal(new FileInfo(LocalPath(path)).Length, Long(m.GetProperty("manifest_length")));
                sum += Long(m.GetProperty("added_rows_count")) + Long(m.GetProperty("existing_rows_count"));
            }
            Assert.Equal(loaded.Snapshots[s].SummaryLong("total-records"), sum);
            // Partition summary of the day field: bounds are the day numbers, little-endian.
            JsonElement summary = added.GetProperty("partitions")[0];
            Assert.False(summary.GetProperty("contains_null").GetBoolean());
            Assert.Equal(IntHex(Day(0)), summary.GetProperty("lower_bound").GetString());
            Assert.Equal(IntHex(Day(records[s].Length - 1)), summary.GetProperty("upper_bound").GetString());
        }

        // Manifests: header metadata, field ids, entries with stats.
        for (int s = 0; s < 3; s++)
        {
            Snapshot snap = loaded.Snapshots[s];
            ManifestFile mf = manifestsOfLast.Single(m => m.AddedSnapshotId == snap.SnapshotId);
            JsonElement manifest = read[mf.ManifestPath];
            Assert.Equal(expectedCodec, manifest.GetProperty("codec").GetString());
            JsonElement meta = manifest.GetProperty("meta");
            Assert.Equal("2", meta.GetProperty("format-version").GetString());
            Assert.Equal("data", meta.GetProperty("content").GetString());
            Assert.Equal("0", meta.GetProperty("partition-spec-id").GetString());
            Assert.Equal(snap.SchemaId.ToString(), meta.GetProperty("schema-id").GetString());
            using (JsonDocument schemaJson = JsonDocument.Parse(meta.GetProperty("schema").GetString()!))
                Assert.Equal(s == 2 ? 4 : 3, schemaJson.RootElement.GetProperty("fields").GetArrayLength());
            using (JsonDocument specJson = JsonDocument.Parse(meta.GetProperty("partition-spec").GetString()!))
            {
                Assert.Equal(1000, specJson.RootElement[0].GetProperty("field-id").GetInt32());
                Assert.Equal("day", specJson.RootElement[0].GetProperty("transform").GetString());
            }
            CheckManifestSchema(manifest.GetProperty("schema"));

            JsonElement entries = manifest.GetProperty("records");
            Assert.Equal(records[s].Length, entries.GetArrayLength());
            for (int f = 0; f < records[s].Length; f++)
            {
                JsonElement e = entries[f];
                DataFile expected = appended[s][f];
                Assert.Equal(1, e.GetProperty("status").GetInt32());
                Assert.Equal(snap.SnapshotId, Long(e.GetProperty("snapshot_id")));
                Assert.Equal(JsonValueKind.Null, e.GetProperty("sequence_number").ValueKind); // inherited from the manifest list
                JsonElement d = e.GetProperty("data_file");
                Assert.Equal(0, d.GetProperty("content").GetInt32());
                Assert.Equal(expected.FilePath, d.GetProperty("file_path").GetString());
                Assert.True(File.Exists(LocalPath(expected.FilePath)));
                Assert.Equal("PARQUET", d.GetProperty("file_format").GetString());
                Assert.Equal(Day(f), d.GetProperty("partition").GetProperty("ts_day").GetInt32());
                Assert.Equal(records[s][f], Long(d.GetProperty("record_count")));
                Assert.Equal(new FileInfo(LocalPath(expected.FilePath)).Length, Long(d.GetProperty("file_size_in_bytes")));
                var valueCounts = IntMap(d.GetProperty("value_counts"));
                Assert.Equal(s == 2 ? 4 : 3, valueCounts.Count);
                Assert.Equal(records[s][f], Long(valueCounts[1]));
                Assert.Equal(1, Long(IntMap(d.GetProperty("null_value_counts"))[2]));
                Assert.Equal(records[s][f] * 20, Long(IntMap(d.GetProperty("column_sizes"))[2]));
                var lower = IntMap(d.GetProperty("lower_bounds"));
                var upper = IntMap(d.GetProperty("upper_bounds"));
                Assert.Equal(Hex("aaa"u8.ToArray()), lower[2].GetString());
                Assert.Equal(Hex(Encoding.UTF8.GetBytes(LongName[..15] + (char)(LongName[15] + 1))), upper[2].GetString());
                Assert.Equal(Hex(Conversions.ToBytes(IcebergPrimitive.Long, records[s][f])), upper[1].GetString());
                Assert.Equal(Hex(Conversions.ToBytes(IcebergPrimitive.Timestamptz, Day(f) * 86_400_000_000L)), lower[3].GetString());
            }
        }
    }

    private static void CheckManifestListSchema(JsonElement schema)
    {
        Assert.Equal("manifest_file", schema.GetProperty("name").GetString());
        var ids = new Dictionary<string, int>
        {
            ["manifest_path"] = 500, ["manifest_length"] = 501, ["partition_spec_id"] = 502, ["content"] = 517, ["sequence_number"] = 515,
            ["min_sequence_number"] = 516, ["added_snapshot_id"] = 503, ["added_files_count"] = 504, ["existing_files_count"] = 505,
            ["deleted_files_count"] = 506, ["added_rows_count"] = 512, ["existing_rows_count"] = 513, ["deleted_rows_count"] = 514,
            ["partitions"] = 507, ["key_metadata"] = 519,
        };
        foreach (var kv in ids)
            Assert.Equal(kv.Value, Field(schema, kv.Key).GetProperty("field-id").GetInt32());
        JsonElement partitions = NonNull(Field(schema, "partitions").GetProperty("type"));
        Assert.Equal(508, partitions.GetProperty("element-id").GetInt32());
        JsonElement summary = partitions.GetProperty("items");
        Assert.Equal(509, Field(summary, "contains_null").GetProperty("field-id").GetInt32());
        Assert.Equal(518, Field(summary, "contains_nan").GetProperty("field-id").GetInt32());
        Assert.Equal(510, Field(summary, "lower_bound").GetProperty("field-id").GetInt32());
        Assert.Equal(511, Field(summary, "upper_bound").GetProperty("field-id").GetInt32());
    }

    private static void CheckManifestSchema(JsonElement schema)
    {
        Assert.Equal("manifest_entry", schema.GetProperty("name").GetString());
        Assert.Equal(0, Field(schema, "status").GetProperty("field-id").GetInt32());
        Assert.Equal(1, Field(schema, "snapshot_id").GetProperty("field-id").GetInt32());
        Assert.Equal(3, Field(schema, "sequence_number").GetProperty("field-id").GetInt32());
        Assert.Equal(4, Field(schema, "file_sequence_number").GetProperty("field-id").GetInt32());
        JsonElement dataFileField = Field(schema, "data_file");
        Assert.Equal(2, dataFileField.GetProperty("field-id").GetInt32());
        JsonElement dataFile = dataFileField.GetProperty("type");
        var ids = new Dictionary<string, int>
        {
            ["content"] = 134, ["file_path"] = 100, ["file_format"] = 101, ["partition"] = 102, ["record_count"] = 103,
            ["file_size_in_bytes"] = 104, ["column_sizes"] = 108, ["value_counts"] = 109, ["null_value_counts"] = 110,
            ["nan_value_counts"] = 137, ["lower_bounds"] = 125, ["upper_bounds"] = 128, ["key_metadata"] = 131,
            ["split_offsets"] = 132, ["equality_ids"] = 135, ["sort_order_id"] = 140,
        };
        foreach (var kv in ids)
            Assert.Equal(kv.Value, Field(dataFile, kv.Key).GetProperty("field-id").GetInt32());
        JsonElement partition = Field(dataFile, "partition").GetProperty("type");
        Assert.Equal("r102", partition.GetProperty("name").GetString());
        Assert.Equal(1000, Field(partition, "ts_day").GetProperty("field-id").GetInt32());
        Assert.Equal("date", NonNull(Field(partition, "ts_day").GetProperty("type")).GetProperty("logicalType").GetString());
        var maps = new (string Name, int Key, int Value)[]
        {
            ("column_sizes", 117, 118), ("value_counts", 119, 120), ("null_value_counts", 121, 122),
            ("nan_value_counts", 138, 139), ("lower_bounds", 126, 127), ("upper_bounds", 129, 130),
        };
        foreach (var (name, key, value) in maps)
        {
            JsonElement map = NonNull(Field(dataFile, name).GetProperty("type"));
            Assert.Equal("array", map.GetProperty("type").GetString());
            Assert.Equal("map", map.GetProperty("logicalType").GetString());
            JsonElement kv = map.GetProperty("items");
            Assert.Equal(key, Field(kv, "key").GetProperty("field-id").GetInt32());
            Assert.Equal(value, Field(kv, "value").GetProperty("field-id").GetInt32());
        }
        Assert.Equal(133, NonNull(Field(dataFile, "split_offsets").GetProperty("type")).GetProperty("element-id").GetInt32());
        Assert.Equal(136, NonNull(Field(dataFile, "equality_ids").GetProperty("type")).GetProperty("element-id").GetInt32());
    }

    private static string IntHex(int v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        return Hex(b);
    }

    private static string Hex(byte[] b) => Convert.ToHexStringLower(b);

    [Fact]
    public async Task Two_committers_on_the_same_base_one_conflicts_and_its_retry_keeps_both_appends()
    {
        FilesystemCatalog a = NewCatalog(), b = NewCatalog();
        TableMetadata created = await a.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct);
        TableMetadata baseA = (await a.LoadTableAsync(Id, Ct))!;
        TableMetadata baseB = (await b.LoadTableAsync(Id, Ct))!;
        DataFile fileA = await WriteDataFileAsync(_io, created, Day(0), 100, "a");
        DataFile fileB = await WriteDataFileAsync(_io, created, Day(1), 50, "b");

        var updatesA = await FastAppend.PrepareAsync(_io, baseA, [fileA], new Dictionary<string, string>(), null, Ct);
        var updatesB = await FastAppend.PrepareAsync(_io, baseB, [fileB], new Dictionary<string, string>(), null, Ct);
        await a.CommitAsync(Id, baseA, updatesA, Ct);
        var conflict = await Assert.ThrowsAsync<CommitConflictException>(() => b.CommitAsync(Id, baseB, updatesB, Ct));
        Assert.Contains("version 2", conflict.Message);

        int attempts = 0;
        TableMetadata? done = await Commits.CommitWithRetryAsync(b, Id, (current, ct) =>
        {
            attempts++;
            return FastAppend.PrepareAsync(_io, current, [fileB], new Dictionary<string, string>(), null, ct)!;
        }, 3, Ct);
        Assert.Equal(1, attempts);
        Assert.NotNull(done);
        Assert.Equal(150, done.CurrentSnapshot!.SummaryLong("total-records"));
        var entries = Manifests.ReadManifestList(await _io.ReadAsync(done.CurrentSnapshot.ManifestList, Ct));
        Assert.Equal(2, entries.Count);
        Assert.Equal(150, entries.Sum(e => e.AddedRowsCount));
    }

    [Fact]
    public async Task Concurrent_retrying_committers_both_land()
    {
        await NewCatalog().CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct);
        TableMetadata table = (await NewCatalog().LoadTableAsync(Id, Ct))!;
        var bothPrepared = new CountdownEvent(2);
        int totalAttempts = 0;

        async Task<TableMetadata?> Commit(string name, long rows)
        {
            DataFile file = await WriteDataFileAsync(_io, table, Day(0), rows, name);
            int mine = 0;
            return await Commits.CommitWithRetryAsync(NewCatalog(), Id, async (current, ct) =>
            {
                Interlocked.Increment(ref totalAttempts);
                var updates = await FastAppend.PrepareAsync(_io, current, [file], new Dictionary<string, string> { ["writer"] = name }, null, ct);
                if (mine++ == 0)
                {
                    // Both prepare on the same base before either commits.
                    bothPrepared.Signal();
                    await Task.Run(() => bothPrepared.Wait(TimeSpan.FromSeconds(30)), ct);
                }
                return updates;
            }, 5, Ct);
        }

        TableMetadata?[] results = await Task.WhenAll(Commit("x", 3), Commit("y", 4));
        Assert.All(results, Assert.NotNull);
        Assert.Equal(3, totalAttempts);
        TableMetadata final = (await NewCatalog().LoadTableAsync(Id, Ct))!;
        // The losing attempt's manifest and manifest list were removed: every Avro file left is referenced.
        string[] avro = Directory.GetFiles($"{_dir}/warehouse/db/events/clicks/metadata", "*.avro");
        var referenced = new HashSet<string>(final.Snapshots.Select(s => LocalPath(s.ManifestList)));
        foreach (Snapshot s in final.Snapshots)
            foreach (ManifestFile m in Manifests.ReadManifestList((await _io.ReadAsync(s.ManifestList, Ct))!))
                referenced.Add(LocalPath(m.ManifestPath));
        Assert.Equal(referenced.Order(), avro.Order());
        Assert.Equal(4, avro.Length);
        Assert.Equal(2, final.Snapshots.Count);
        Assert.Equal(7, final.CurrentSnapshot!.SummaryLong("total-records"));
        Assert.Equal(["x", "y"], final.Snapshots.Select(s => s.Summary["writer"]).Order());
        Assert.Equal(final.Snapshots[0].SnapshotId, final.Snapshots[1].ParentSnapshotId);
    }

    [Fact]
    public async Task A_stale_or_missing_version_hint_still_finds_the_latest_version()
    {
        FilesystemCatalog catalog = NewCatalog();
        TableMetadata table = await catalog.CreateTableAsync(Id, Schema, PartitionSpec.Unpartitioned, new Dictionary<string, string>(), Ct);
        for (int i = 0; i < 3; i++)
        {
            DataFile f = await WriteDataFileAsync(_io, table, Day(0), 1, "f" + i);
            table = await AppendAsync(catalog, Id, table, [new DataFile { FilePath = f.FilePath, RecordCount = 1, FileSizeInBytes = f.FileSizeInBytes }]);
        }
        string hint = $"{_dir}/warehouse/db/events/clicks/metadata/version-hint.text";
        File.WriteAllText(hint, "2");
        Assert.EndsWith("v4.metadata.json", (await catalog.LoadTableAsync(Id, Ct))!.MetadataLocation);
        File.Delete(hint);
        Assert.EndsWith("v4.metadata.json", (await catalog.LoadTableAsync(Id, Ct))!.MetadataLocation);
        File.WriteAllText(hint, "9");
        Assert.EndsWith("v4.metadata.json", (await catalog.LoadTableAsync(Id, Ct))!.MetadataLocation);
        File.WriteAllText(hint, "garbage");
        TableMetadata loaded = (await catalog.LoadTableAsync(Id, Ct))!;
        Assert.Equal(3, loaded.Snapshots.Count);
        // Committing on the loaded metadata writes v5 and fixes the hint.
        await AppendAsync(catalog, Id, loaded, []);
        Assert.Equal("5", File.ReadAllText(hint));
    }

    [Fact]
    public async Task Create_twice_and_bad_input_get_clear_answers()
    {
        FilesystemCatalog catalog = NewCatalog();
        Assert.Null(await catalog.LoadTableAsync(Id, Ct));
        TableMetadata table = await catalog.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct);
        await Assert.ThrowsAsync<TableAlreadyExistsException>(() => catalog.CreateTableAsync(Id, Schema, DaySpec, new Dictionary<string, string>(), Ct));

        var unpartitionedFile = new DataFile { FilePath = table.Location + "/data/x.parquet", RecordCount = 1, FileSizeInBytes = 1 };
        var e = await Assert.ThrowsAsync<IcebergException>(() => FastAppend.PrepareAsync(_io, table, [unpartitionedFile], new Dictionary<string, string>(), null, Ct));
        Assert.Contains("partition", e.Message);

        var retyped = new IcebergSchema(0, [new IcebergField(1, "id", IcebergPrimitive.String, true), Schema.Fields[1], Schema.Fields[2]]);
        DataFile ok = await WriteDataFileAsync(_io, table, Day(0), 1, "ok");
        e = await Assert.ThrowsAsync<IcebergException>(() => FastAppend.PrepareAsync(_io, table, [ok], new Dictionary<string, string>(), retyped, Ct));
        Assert.Contains("changes type", e.Message);

        e = Assert.Throws<IcebergException>(() => _io.KeyOf("file:///elsewhere/x"));
        Assert.Contains("outside", e.Message);
        await Assert.ThrowsAsync<IcebergException>(() => catalog.CreateTableAsync(new TableIdentifier("db", "a/b"), Schema, DaySpec, new Dictionary<string, string>(), Ct));
        var badSpec = new PartitionSpec(0, [new PartitionField(2, 1000, "name_day", "day")]);
        await Assert.ThrowsAsync<IcebergException>(() => catalog.CreateTableAsync(new TableIdentifier("db", "other"), Schema, badSpec, new Dictionary<string, string>(), Ct));
    }
}

public sealed class PartitionTypesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("iceberg-parts-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("avsc")]
    [InlineData("python")]
    public async Task Identity_and_hour_partitions_with_nulls_are_read_back(string reader)
    {
        var io = new ObjectStoreFileIO(new LocalDirectoryObjectStore(_dir), "file://" + _dir);
        var catalog = new FilesystemCatalog(io, $"file://{_dir}/wh");
        var id = new TableIdentifier("db", "p");
        var spec = new PartitionSpec(0,
        [
            new PartitionField(2, 1000, "name", "identity"),
            new PartitionField(3, 1001, "ts_hour", "hour"),
            new PartitionField(3, 1002, "ts", "identity"),
        ]);
        TableMetadata table = await catalog.CreateTableAsync(id, Schema, spec, new Dictionary<string, string>(), CancellationToken.None);
        Assert.Equal(1002, table.LastPartitionId);
        long micros = new DateTimeOffset(2024, 3, 15, 13, 30, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() * 1000;
        int hour = Transforms.ApplyTime("hour", IcebergPrimitive.Timestamptz, micros);
        var files = new List<DataFile>();
        foreach (object?[] values in new[] { new object?[] { "zeta", hour, micros }, new object?[] { null, hour + 1, micros + 3_600_000_000L }, new object?[] { "alpha", hour, micros } })
        {
            string path = $"{table.Location}/data/{Guid.NewGuid():N}.parquet";
            await io.WriteAsync(path, new byte[] { 1, 2, 3 }, CancellationToken.None);
            files.Add(new DataFile { FilePath = path, RecordCount = 1, FileSizeInBytes = 3, PartitionValues = values });
        }
        table = await AppendAsync(catalog, id, table, files);
        Assert.Equal(3, table.CurrentSnapshot!.SummaryLong("changed-partition-count"));

        var list = Manifests.ReadManifestList((await io.ReadAsync(table.CurrentSnapshot.ManifestList, CancellationToken.None))!);
        Dictionary<string, JsonElement> read = await ReadAvroAsync(reader, [table.CurrentSnapshot.ManifestList, list[0].ManifestPath]);

        JsonElement summaries = read[table.CurrentSnapshot.ManifestList].GetProperty("records")[0].GetProperty("partitions");
        Assert.True(summaries[0].GetProperty("contains_null").GetBoolean());
        Assert.Equal(Convert.ToHexStringLower("alpha"u8.ToArray()), summaries[0].GetProperty("lower_bound").GetString());
        Assert.Equal(Convert.ToHexStringLower("zeta"u8.ToArray()), summaries[0].GetProperty("upper_bound").GetString());
        Assert.False(summaries[1].GetProperty("contains_null").GetBoolean());
        Assert.Equal(Convert.ToHexStringLower(Conversions.ToBytes(IcebergPrimitive.Int, hour + 1)), summaries[1].GetProperty("upper_bound").GetString());

        JsonElement manifest = read[list[0].ManifestPath];
        JsonElement partitionSchema = Field(Field(manifest.GetProperty("schema"), "data_file").GetProperty("type"), "partition").GetProperty("type");
        Assert.Equal(1001, Field(partitionSchema, "ts_hour").GetProperty("field-id").GetInt32());
        Assert.Equal("string", NonNull(Field(partitionSchema, "name").GetProperty("type")).GetString());
        Assert.Equal("timestamp-micros", NonNull(Field(partitionSchema, "ts").GetProperty("type")).GetProperty("logicalType").GetString());
        JsonElement entries = manifest.GetProperty("records");
        Assert.Equal("zeta", entries[0].GetProperty("data_file").GetProperty("partition").GetProperty("name").GetString());
        Assert.Equal(JsonValueKind.Null, entries[1].GetProperty("data_file").GetProperty("partition").GetProperty("name").ValueKind);
        Assert.Equal(hour + 1, entries[1].GetProperty("data_file").GetProperty("partition").GetProperty("ts_hour").GetInt32());
        Assert.Equal(micros, Long(entries[0].GetProperty("data_file").GetProperty("partition").GetProperty("ts")));
    }
}
