using System.Text.Json;

namespace KafScale.Iceberg;

/// <summary>JSON forms of schemas, specs and snapshots shared by metadata, updates and the REST client.</summary>
internal static class IcebergJson
{
    public static void WriteSchema(Utf8JsonWriter w, IcebergSchema schema)
    {
        w.WriteStartObject();
        w.WriteString("type", "struct");
        w.WriteNumber("schema-id", schema.SchemaId);
        w.WriteStartArray("fields");
        foreach (IcebergField f in schema.Fields)
        {
            w.WriteStartObject();
            w.WriteNumber("id", f.Id);
            w.WriteString("name", f.Name);
            w.WriteBoolean("required", f.Required);
            w.WriteString("type", IcebergSchema.TypeName(f.Type));
            if (f.Doc is not null)
                w.WriteString("doc", f.Doc);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static IcebergSchema ParseSchema(JsonElement e)
    {
        int id = e.TryGetProperty("schema-id", out JsonElement sid) ? sid.GetInt32() : 0;
        var fields = new List<IcebergField>();
        foreach (JsonElement f in e.GetProperty("fields").EnumerateArray())
        {
            string name = f.GetProperty("name").GetString()!;
            JsonElement type = f.GetProperty("type");
            if (type.ValueKind != JsonValueKind.String)
                throw new IcebergException($"column '{name}' has a nested type ({type.GetProperty("type").GetString()}), which this writer does not support");
            fields.Add(new IcebergField(f.GetProperty("id").GetInt32(), name, IcebergSchema.ParseType(type.GetString()!, name),
                f.GetProperty("required").GetBoolean(), f.TryGetProperty("doc", out JsonElement doc) ? doc.GetString() : null));
        }
        return new IcebergSchema(id, fields);
    }

    public static void WriteSpec(Utf8JsonWriter w, PartitionSpec spec)
    {
        w.WriteStartObject();
        w.WriteNumber("spec-id", spec.SpecId);
        w.WritePropertyName("fields");
        WriteSpecFields(w, spec);
        w.WriteEndObject();
    }

    public static void WriteSpecFields(Utf8JsonWriter w, PartitionSpec spec)
    {
        w.WriteStartArray();
        foreach (PartitionField f in spec.Fields)
        {
            w.WriteStartObject();
            w.WriteString("name", f.Name);
            w.WriteString("transform", f.Transform);
            w.WriteNumber("source-id", f.SourceId);
            w.WriteNumber("field-id", f.FieldId);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    public static PartitionSpec ParseSpec(JsonElement e)
    {
        int id = e.TryGetProperty("spec-id", out JsonElement sid) ? sid.GetInt32() : 0;
        var fields = new List<PartitionField>();
        int next = 1000;
        foreach (JsonElement f in e.GetProperty("fields").EnumerateArray())
        {
            int fieldId = f.TryGetProperty("field-id", out JsonElement fid) ? fid.GetInt32() : next;
            next = Math.Max(next, fieldId + 1);
            fields.Add(new PartitionField(f.GetProperty("source-id").GetInt32(), fieldId, f.GetProperty("name").GetString()!,
                f.GetProperty("transform").GetString()!));
        }
        return new PartitionSpec(id, fields);
    }

    public static void WriteSnapshot(Utf8JsonWriter w, Snapshot s)
    {
        w.WriteStartObject();
        w.WriteNumber("snapshot-id", s.SnapshotId);
        if (s.ParentSnapshotId is long parent)
            w.WriteNumber("parent-snapshot-id", parent);
        w.WriteNumber("sequence-number", s.SequenceNumber);
        w.WriteNumber("timestamp-ms", s.TimestampMs);
        w.WriteString("manifest-list", s.ManifestList);
        w.WriteStartObject("summary");
        w.WriteString("operation", s.Operation);
        foreach (var kv in s.Summary)
            if (kv.Key != "operation")
                w.WriteString(kv.Key, kv.Value);
        w.WriteEndObject();
        if (s.SchemaId is int schemaId)
            w.WriteNumber("schema-id", schemaId);
        w.WriteEndObject();
    }

    public static Snapshot ParseSnapshot(JsonElement e)
    {
        var summary = new Dictionary<string, string>(StringComparer.Ordinal);
        if (e.TryGetProperty("summary", out JsonElement sum))
            foreach (JsonProperty p in sum.EnumerateObject())
                summary[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        if (!e.TryGetProperty("manifest-list", out JsonElement ml))
            throw new IcebergException($"snapshot {e.GetProperty("snapshot-id").GetInt64()} has no manifest-list (v1 'manifests' is not supported)");
        return new Snapshot(
            e.GetProperty("snapshot-id").GetInt64(),
            e.TryGetProperty("parent-snapshot-id", out JsonElement p2) && p2.ValueKind == JsonValueKind.Number ? p2.GetInt64() : null,
            e.TryGetProperty("sequence-number", out JsonElement seq) ? seq.GetInt64() : 0,
            e.GetProperty("timestamp-ms").GetInt64(),
            ml.GetString()!,
            e.TryGetProperty("schema-id", out JsonElement sid) && sid.ValueKind == JsonValueKind.Number ? sid.GetInt32() : null,
            summary);
    }

    public static void WriteStringMap(Utf8JsonWriter w, IEnumerable<KeyValuePair<string, string>> map)
    {
        w.WriteStartObject();
        foreach (var kv in map)
            w.WriteString(kv.Key, kv.Value);
        w.WriteEndObject();
    }

    public static Dictionary<string, string> ParseStringMap(JsonElement e)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (e.ValueKind == JsonValueKind.Object)
            foreach (JsonProperty p in e.EnumerateObject())
                map[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        return map;
    }

    public static byte[] Write(Action<Utf8JsonWriter> write, bool indented = false)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = indented }))
            write(w);
        return ms.ToArray();
    }
}
