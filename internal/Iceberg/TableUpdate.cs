using System.Text.Json;

namespace KafScale.Iceberg;

/// <summary>A metadata change, named and serialized as in the REST catalog's commit request.</summary>
public abstract class TableUpdate
{
    public abstract string Action { get; }

    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("action", Action);
        WriteBody(w);
        w.WriteEndObject();
    }

    protected abstract void WriteBody(Utf8JsonWriter w);

    /// <summary>Parses one update object of a commit request.</summary>
    public static TableUpdate Parse(JsonElement e)
    {
        string action = e.GetProperty("action").GetString()!;
        return action switch
        {
            "add-schema" => new AddSchemaUpdate(IcebergJson.ParseSchema(e.GetProperty("schema")),
                e.TryGetProperty("last-column-id", out JsonElement lc) ? lc.GetInt32() : null),
            "set-current-schema" => new SetCurrentSchemaUpdate(e.GetProperty("schema-id").GetInt32()),
            "add-spec" => new AddPartitionSpecUpdate(IcebergJson.ParseSpec(e.GetProperty("spec"))),
            "set-default-spec" => new SetDefaultSpecUpdate(e.GetProperty("spec-id").GetInt32()),
            "add-snapshot" => new AddSnapshotUpdate(IcebergJson.ParseSnapshot(e.GetProperty("snapshot"))),
            "set-snapshot-ref" => new SetSnapshotRefUpdate(e.GetProperty("ref-name").GetString()!, e.GetProperty("snapshot-id").GetInt64(),
                e.TryGetProperty("type", out JsonElement t) ? t.GetString()! : "branch"),
            "set-properties" => new SetPropertiesUpdate(IcebergJson.ParseStringMap(e.GetProperty("updates"))),
            "remove-properties" => new RemovePropertiesUpdate(e.GetProperty("removals").EnumerateArray().Select(x => x.GetString()!).ToList()),
            _ => throw new IcebergException($"unsupported table update '{action}'"),
        };
    }
}

public sealed class AddSchemaUpdate(IcebergSchema schema, int? lastColumnId = null) : TableUpdate
{
    public IcebergSchema Schema { get; } = schema;
    public int? LastColumnId { get; } = lastColumnId;
    public override string Action => "add-schema";

    protected override void WriteBody(Utf8JsonWriter w)
    {
        w.WritePropertyName("schema");
        IcebergJson.WriteSchema(w, Schema);
        if (LastColumnId is int id)
            w.WriteNumber("last-column-id", id);
    }
}

/// <summary>Schema id -1 means the schema added last in the same commit.</summary>
public sealed class SetCurrentSchemaUpdate(int schemaId) : TableUpdate
{
    public int SchemaId { get; } = schemaId;
    public override string Action => "set-current-schema";
    protected override void WriteBody(Utf8JsonWriter w) => w.WriteNumber("schema-id", SchemaId);
}

public sealed class AddPartitionSpecUpdate(PartitionSpec spec) : TableUpdate
{
    public PartitionSpec Spec { get; } = spec;
    public override string Action => "add-spec";

    protected override void WriteBody(Utf8JsonWriter w)
    {
        w.WritePropertyName("spec");
        IcebergJson.WriteSpec(w, Spec);
    }
}

/// <summary>Spec id -1 means the spec added last in the same commit.</summary>
public sealed class SetDefaultSpecUpdate(int specId) : TableUpdate
{
    public int SpecId { get; } = specId;
    public override string Action => "set-default-spec";
    protected override void WriteBody(Utf8JsonWriter w) => w.WriteNumber("spec-id", SpecId);
}

public sealed class AddSnapshotUpdate(Snapshot snapshot) : TableUpdate
{
    public Snapshot Snapshot { get; } = snapshot;
    public override string Action => "add-snapshot";

    protected override void WriteBody(Utf8JsonWriter w)
    {
        w.WritePropertyName("snapshot");
        IcebergJson.WriteSnapshot(w, Snapshot);
    }
}

public sealed class SetSnapshotRefUpdate(string refName, long snapshotId, string type = "branch") : TableUpdate
{
    public string RefName { get; } = refName;
    public long SnapshotId { get; } = snapshotId;
    public string Type { get; } = type;
    public override string Action => "set-snapshot-ref";

    protected override void WriteBody(Utf8JsonWriter w)
    {
        w.WriteString("ref-name", RefName);
        w.WriteNumber("snapshot-id", SnapshotId);
        w.WriteString("type", Type);
    }
}

public sealed class SetPropertiesUpdate(IReadOnlyDictionary<string, string> updates) : TableUpdate
{
    public IReadOnlyDictionary<string, string> Updates { get; } = updates;
    public override string Action => "set-properties";

    protected override void WriteBody(Utf8JsonWriter w)
    {
        w.WritePropertyName("updates");
        IcebergJson.WriteStringMap(w, Updates);
    }
}

public sealed class RemovePropertiesUpdate(IReadOnlyList<string> removals) : TableUpdate
{
    public IReadOnlyList<string> Removals { get; } = removals;
    public override string Action => "remove-properties";

    protected override void WriteBody(Utf8JsonWriter w)
    {
        w.WriteStartArray("removals");
        foreach (string r in Removals)
            w.WriteStringValue(r);
        w.WriteEndArray();
    }
}

/// <summary>A condition the REST catalog checks before applying a commit's updates.</summary>
public sealed record TableRequirement(string Type, string? Ref = null, long? SnapshotId = null, int? Id = null, string? Uuid = null)
{
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", Type);
        switch (Type)
        {
            case "assert-table-uuid":
                w.WriteString("uuid", Uuid);
                break;
            case "assert-ref-snapshot-id":
                w.WriteString("ref", Ref);
                if (SnapshotId is long id)
                    w.WriteNumber("snapshot-id", id);
                else
                    w.WriteNull("snapshot-id");
                break;
            case "assert-current-schema-id":
                w.WriteNumber("current-schema-id", Id!.Value);
                break;
            case "assert-last-assigned-field-id":
                w.WriteNumber("last-assigned-field-id", Id!.Value);
                break;
            case "assert-last-assigned-partition-id":
                w.WriteNumber("last-assigned-partition-id", Id!.Value);
                break;
            case "assert-default-spec-id":
                w.WriteNumber("default-spec-id", Id!.Value);
                break;
        }
        w.WriteEndObject();
    }

    /// <summary>The requirements that make a commit of these updates safe on top of <paramref name="base"/>.</summary>
    public static IReadOnlyList<TableRequirement> For(TableMetadata @base, IReadOnlyList<TableUpdate> updates)
    {
        var list = new List<TableRequirement> { new("assert-table-uuid", Uuid: @base.TableUuid) };
        var refs = new HashSet<string>(StringComparer.Ordinal);
        bool schema = false, spec = false;
        foreach (TableUpdate u in updates)
        {
            switch (u)
            {
                case SetSnapshotRefUpdate r when refs.Add(r.RefName):
                    list.Add(new("assert-ref-snapshot-id", Ref: r.RefName,
                        SnapshotId: @base.Refs.TryGetValue(r.RefName, out SnapshotRef? existing) ? existing.SnapshotId : null));
                    break;
                case AddSnapshotUpdate when refs.Add("main"):
                    list.Add(new("assert-ref-snapshot-id", Ref: "main", SnapshotId: @base.CurrentSnapshotId));
                    break;
                case AddSchemaUpdate or SetCurrentSchemaUpdate when !schema:
                    schema = true;
                    list.Add(new("assert-current-schema-id", Id: @base.CurrentSchemaId));
                    list.Add(new("assert-last-assigned-field-id", Id: @base.LastColumnId));
                    break;
                case AddPartitionSpecUpdate or SetDefaultSpecUpdate when !spec:
                    spec = true;
                    list.Add(new("assert-default-spec-id", Id: @base.DefaultSpecId));
                    list.Add(new("assert-last-assigned-partition-id", Id: @base.LastPartitionId));
                    break;
            }
        }
        return list;
    }
}
