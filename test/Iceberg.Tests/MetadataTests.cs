using System.Text;
using System.Text.Json;

namespace KafScale.Iceberg.Tests;

public sealed class MetadataTests
{
    internal static readonly IcebergSchema Schema = new(0,
    [
        new IcebergField(1, "id", IcebergPrimitive.Long, true),
        new IcebergField(2, "name", IcebergPrimitive.String, false, "a doc"),
        new IcebergField(3, "ts", IcebergPrimitive.Timestamptz, true),
    ]);

    internal static readonly PartitionSpec DaySpec = new(0, [new PartitionField(3, 1000, "ts_day", "day")]);

    [Fact]
    public void New_table_metadata_has_the_v2_fields_and_round_trips()
    {
        TableMetadata m = TableMetadata.NewTable("file:///w/ns/t", Schema, DaySpec, new Dictionary<string, string> { ["k"] = "v" });
        byte[] json = m.ToJson();
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("format-version").GetInt32());
        Assert.True(Guid.TryParse(root.GetProperty("table-uuid").GetString(), out _));
        Assert.Equal(0, root.GetProperty("last-sequence-number").GetInt64());
        Assert.Equal(3, root.GetProperty("last-column-id").GetInt32());
        Assert.Equal(1000, root.GetProperty("last-partition-id").GetInt32());
        Assert.Equal(-1, root.GetProperty("current-snapshot-id").GetInt64());
        Assert.Equal("struct", root.GetProperty("schemas")[0].GetProperty("type").GetString());
        Assert.Equal("timestamptz", root.GetProperty("schemas")[0].GetProperty("fields")[2].GetProperty("type").GetString());
        Assert.Equal("day", root.GetProperty("partition-specs")[0].GetProperty("fields")[0].GetProperty("transform").GetString());
        Assert.Equal(0, root.GetProperty("sort-orders")[0].GetProperty("order-id").GetInt32());
        foreach (string field in new[] { "location", "last-updated-ms", "current-schema-id", "default-spec-id", "default-sort-order-id", "properties", "refs", "snapshots", "snapshot-log", "metadata-log" })
            Assert.True(root.TryGetProperty(field, out _), field);

        TableMetadata back = TableMetadata.Parse(json);
        Assert.Equal(Encoding.UTF8.GetString(json), Encoding.UTF8.GetString(back.ToJson()));
        Assert.Equal("a doc", back.CurrentSchema.FindByName("name")!.Doc);
    }

    [Fact]
    public void Fields_of_other_writers_survive_a_round_trip_and_v1_is_refused_clearly()
    {
        TableMetadata m = TableMetadata.NewTable("s3://b/t", Schema, PartitionSpec.Unpartitioned, new Dictionary<string, string>());
        string json = Encoding.UTF8.GetString(m.ToJson()).TrimEnd().TrimEnd('}') + ",\"statistics\":[{\"snapshot-id\":1,\"statistics-path\":\"x\"}]}";
        TableMetadata parsed = TableMetadata.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Contains("\"statistics-path\":\"x\"", Encoding.UTF8.GetString(parsed.ToJson()));

        string v1 = json.Replace("\"format-version\": 2", "\"format-version\": 1");
        var e = Assert.Throws<IcebergException>(() => TableMetadata.Parse(Encoding.UTF8.GetBytes(v1)));
        Assert.Contains("format version 2", e.Message);

        string nested = json.Replace("\"type\": \"long\"", "\"type\": {\"type\": \"list\", \"element-id\": 9, \"element\": \"int\", \"element-required\": true}");
        Assert.Contains("nested type", Assert.Throws<IcebergException>(() => TableMetadata.Parse(Encoding.UTF8.GetBytes(nested))).Message);
        Assert.Contains("invalid table metadata", Assert.Throws<IcebergException>(() => TableMetadata.Parse("{"u8)).Message);
    }

    [Fact]
    public void Updates_apply_like_a_rest_catalog_and_serialize_with_rest_names()
    {
        TableMetadata m = TableMetadata.NewTable("file:///w/ns/t", Schema, DaySpec, new Dictionary<string, string>());
        var evolved = new IcebergSchema(5, [.. Schema.Fields, new IcebergField(4, "extra", IcebergPrimitive.Int, false)]);
        var snapshot = new Snapshot(42, null, 1, 1000, "file:///w/ns/t/metadata/snap.avro", 1, new Dictionary<string, string> { ["operation"] = "append" });
        TableUpdate[] updates =
        [
            new AddSchemaUpdate(evolved, 4), new SetCurrentSchemaUpdate(-1), new AddSnapshotUpdate(snapshot),
            new SetSnapshotRefUpdate("main", 42), new SetPropertiesUpdate(new Dictionary<string, string> { ["a"] = "b" }),
        ];
        TableMetadata next = m.Apply(updates, 2000);
        Assert.Equal(1, next.CurrentSchemaId); // ids are assigned by the table: highest + 1
        Assert.Equal(4, next.LastColumnId);
        Assert.Equal(42, next.CurrentSnapshot!.SnapshotId);
        Assert.Equal(1, next.LastSequenceNumber);
        Assert.Equal(new SnapshotLogEntry(42, 1000), Assert.Single(next.SnapshotLog));
        Assert.Equal(42, next.Refs["main"].SnapshotId);
        Assert.Equal("b", next.Properties["a"]);

        // The JSON of each update parses back to an equivalent update.
        foreach (TableUpdate u in updates)
        {
            byte[] json = Write(u.WriteJson);
            using JsonDocument doc = JsonDocument.Parse(json);
            TableUpdate back = TableUpdate.Parse(doc.RootElement);
            Assert.Equal(u.Action, back.Action);
            Assert.Equal(Encoding.UTF8.GetString(json), Encoding.UTF8.GetString(Write(back.WriteJson)));
        }
        Assert.Contains("\"action\":\"set-snapshot-ref\",\"ref-name\":\"main\",\"snapshot-id\":42,\"type\":\"branch\"", Encoding.UTF8.GetString(Write(updates[3].WriteJson)));

        // A second snapshot with a stale sequence number is a conflict.
        var stale = new Snapshot(43, 42, 1, 3000, "x", 1, new Dictionary<string, string> { ["operation"] = "append" });
        Assert.Throws<CommitConflictException>(() => next.Apply([new AddSnapshotUpdate(stale)]));
    }

    [Fact]
    public void Requirements_follow_the_updates()
    {
        TableMetadata m = TableMetadata.NewTable("file:///w/ns/t", Schema, DaySpec, new Dictionary<string, string>());
        var reqs = TableRequirement.For(m, [new AddSchemaUpdate(Schema), new SetCurrentSchemaUpdate(-1),
            new AddSnapshotUpdate(new Snapshot(1, null, 1, 1, "x", 0, new Dictionary<string, string>())), new SetSnapshotRefUpdate("main", 1)]);
        Assert.Equal(["assert-table-uuid", "assert-current-schema-id", "assert-last-assigned-field-id", "assert-ref-snapshot-id"], reqs.Select(r => r.Type));
        string json = Encoding.UTF8.GetString(Write(reqs[3].WriteJson));
        Assert.Equal("{\"type\":\"assert-ref-snapshot-id\",\"ref\":\"main\",\"snapshot-id\":null}", json);
    }

    internal static byte[] Write(Action<Utf8JsonWriter> write)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
            write(w);
        return ms.ToArray();
    }
}
