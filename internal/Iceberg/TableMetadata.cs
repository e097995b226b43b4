using System.Text.Json;

namespace KafScale.Iceberg;

/// <summary>
/// Iceberg table metadata, format version 2 (immutable). <see cref="Parse"/> and
/// <see cref="ToJson"/> round-trip; top-level fields this library does not model (statistics,
/// partition-statistics, ...) are kept as raw JSON and written back unchanged.
/// </summary>
public sealed class TableMetadata
{
    private TableMetadata() { }

    public int FormatVersion { get; private set; } = 2;
    public string TableUuid { get; private set; } = "";
    public string Location { get; private set; } = "";
    public long LastSequenceNumber { get; private set; }
    public long LastUpdatedMs { get; private set; }
    public int LastColumnId { get; private set; }
    public IReadOnlyList<IcebergSchema> Schemas { get; private set; } = [];
    public int CurrentSchemaId { get; private set; }
    public IcebergSchema CurrentSchema => SchemaById(CurrentSchemaId) ?? throw new IcebergException($"current-schema-id {CurrentSchemaId} is not among the schemas");
    public IReadOnlyList<PartitionSpec> PartitionSpecs { get; private set; } = [];
    public int DefaultSpecId { get; private set; }
    public PartitionSpec DefaultSpec => SpecById(DefaultSpecId) ?? throw new IcebergException($"default-spec-id {DefaultSpecId} is not among the partition specs");
    public int LastPartitionId { get; private set; } = 999;
    public IReadOnlyDictionary<string, string> Properties { get; private set; } = new Dictionary<string, string>();
    public long? CurrentSnapshotId { get; private set; }
    public Snapshot? CurrentSnapshot => CurrentSnapshotId is long id ? SnapshotById(id) : null;
    public IReadOnlyList<Snapshot> Snapshots { get; private set; } = [];
    public IReadOnlyList<SnapshotLogEntry> SnapshotLog { get; private set; } = [];
    public IReadOnlyList<MetadataLogEntry> MetadataLog { get; private set; } = [];
    public IReadOnlyDictionary<string, SnapshotRef> Refs { get; private set; } = new Dictionary<string, SnapshotRef>();
    public int DefaultSortOrderId { get; private set; }
    /// <summary>The sort-orders array as raw JSON.</summary>
    public string SortOrdersJson { get; private set; } = "[{\"order-id\":0,\"fields\":[]}]";
    /// <summary>Top-level fields this library does not model, as raw JSON.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> OtherFields { get; private set; } = [];

    /// <summary>Where this metadata was read from or written to (not part of the JSON); null for unsaved metadata.</summary>
    public string? MetadataLocation { get; private set; }

    public IcebergSchema? SchemaById(int id) => Schemas.FirstOrDefault(s => s.SchemaId == id);
    public PartitionSpec? SpecById(int id) => PartitionSpecs.FirstOrDefault(s => s.SpecId == id);
    public Snapshot? SnapshotById(long id) => Snapshots.FirstOrDefault(s => s.SnapshotId == id);

    /// <summary>Metadata for a new table: schema id 0, the spec as spec 0, no snapshot.</summary>
    public static TableMetadata NewTable(string location, IcebergSchema schema, PartitionSpec spec,
        IReadOnlyDictionary<string, string> properties, string? tableUuid = null, long? nowMs = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        foreach (PartitionField f in spec.Fields)
        {
            IcebergField source = schema.FindById(f.SourceId)
                ?? throw new IcebergException($"partition field '{f.Name}' refers to column id {f.SourceId}, which the schema does not have");
            if (f.Transform is "day" or "month" or "year" or "hour"
                && source.Type is not (IcebergPrimitive.Date or IcebergPrimitive.Timestamp or IcebergPrimitive.Timestamptz))
                throw new IcebergException($"partition field '{f.Name}': the {f.Transform} transform needs a date or timestamp column, '{source.Name}' is {IcebergSchema.TypeName(source.Type)}");
        }
        return new TableMetadata
        {
            TableUuid = tableUuid ?? Guid.NewGuid().ToString(),
            Location = location.TrimEnd('/'),
            LastUpdatedMs = nowMs ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            LastColumnId = schema.HighestFieldId,
            Schemas = [schema.WithSchemaId(0)],
            CurrentSchemaId = 0,
            PartitionSpecs = [new PartitionSpec(0, spec.Fields)],
            DefaultSpecId = 0,
            LastPartitionId = spec.LastAssignedFieldId,
            Properties = new Dictionary<string, string>(properties, StringComparer.Ordinal),
        };
    }

    private TableMetadata Clone() => (TableMetadata)MemberwiseClone();

    /// <summary>The same metadata recorded as stored at <paramref name="location"/>.</summary>
    public TableMetadata WithMetadataLocation(string? location)
    {
        TableMetadata copy = Clone();
        copy.MetadataLocation = location;
        return copy;
    }

    /// <summary>
    /// Metadata for the next version: the previous file (<see cref="MetadataLocation"/>) joins the
    /// metadata log (capped by write.metadata.previous-versions-max, default 100).
    /// </summary>
    public TableMetadata WithPreviousFileLogged(long nowMs)
    {
        TableMetadata copy = Clone();
        if (MetadataLocation is not null)
        {
            int max = Properties.TryGetValue("write.metadata.previous-versions-max", out string? v) && int.TryParse(v, out int n) && n > 0 ? n : 100;
            var log = MetadataLog.Append(new MetadataLogEntry(MetadataLocation, LastUpdatedMs)).ToList();
            if (log.Count > max)
                log.RemoveRange(0, log.Count - max);
            copy.MetadataLog = log;
        }
        copy.MetadataLocation = null;
        return copy;
    }

    /// <summary>Applies updates in order (the semantics of the REST commit), returning new metadata.</summary>
    public TableMetadata Apply(IReadOnlyList<TableUpdate> updates, long? nowMs = null)
    {
        long now = nowMs ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        TableMetadata m = Clone();
        m.MetadataLocation = null;
        int? lastAddedSchema = null, lastAddedSpec = null;
        foreach (TableUpdate u in updates)
        {
            switch (u)
            {
                case AddSchemaUpdate add:
                {
                    IcebergSchema? same = m.Schemas.FirstOrDefault(s => s.SameColumns(add.Schema));
                    if (same is not null)
                    {
                        lastAddedSchema = same.SchemaId;
                        break;
                    }
                    int id = m.Schemas.Count == 0 ? 0 : m.Schemas.Max(s => s.SchemaId) + 1;
                    m.Schemas = [.. m.Schemas, add.Schema.WithSchemaId(id)];
                    m.LastColumnId = Math.Max(m.LastColumnId, Math.Max(add.LastColumnId ?? 0, add.Schema.HighestFieldId));
                    lastAddedSchema = id;
                    break;
                }
                case SetCurrentSchemaUpdate set:
                {
                    int id = set.SchemaId == -1 ? lastAddedSchema ?? throw new IcebergException("set-current-schema -1 without a schema added in this commit") : set.SchemaId;
                    if (m.SchemaById(id) is null)
                        throw new IcebergException($"set-current-schema: no schema with id {id}");
                    m.CurrentSchemaId = id;
                    break;
                }
                case AddPartitionSpecUpdate addSpec:
                {
                    PartitionSpec? same = m.PartitionSpecs.FirstOrDefault(s => s.SameFields(addSpec.Spec));
                    if (same is not null)
                    {
                        lastAddedSpec = same.SpecId;
                        break;
                    }
                    int id = m.PartitionSpecs.Count == 0 ? 0 : m.PartitionSpecs.Max(s => s.SpecId) + 1;
                    m.PartitionSpecs = [.. m.PartitionSpecs, new PartitionSpec(id, addSpec.Spec.Fields)];
                    m.LastPartitionId = Math.Max(m.LastPartitionId, addSpec.Spec.LastAssignedFieldId);
                    lastAddedSpec = id;
                    break;
                }
                case SetDefaultSpecUpdate setSpec:
                {
                    int id = setSpec.SpecId == -1 ? lastAddedSpec ?? throw new IcebergException("set-default-spec -1 without a spec added in this commit") : setSpec.SpecId;
                    if (m.SpecById(id) is null)
                        throw new IcebergException($"set-default-spec: no partition spec with id {id}");
                    m.DefaultSpecId = id;
                    break;
                }
                case AddSnapshotUpdate addSnap:
                {
                    Snapshot s = addSnap.Snapshot;
                    if (m.SnapshotById(s.SnapshotId) is not null)
                        throw new IcebergException($"add-snapshot: snapshot {s.SnapshotId} exists already");
                    if (s.SequenceNumber <= m.LastSequenceNumber)
                        throw new CommitConflictException($"add-snapshot: sequence number {s.SequenceNumber} is not above the table's last sequence number {m.LastSequenceNumber}");
                    m.Snapshots = [.. m.Snapshots, s];
                    m.LastSequenceNumber = Math.Max(m.LastSequenceNumber, s.SequenceNumber);
                    break;
                }
                case SetSnapshotRefUpdate setRef:
                {
                    Snapshot s = m.SnapshotById(setRef.SnapshotId) ?? throw new IcebergException($"set-snapshot-ref: no snapshot {setRef.SnapshotId}");
                    m.Refs = new Dictionary<string, SnapshotRef>(m.Refs, StringComparer.Ordinal) { [setRef.RefName] = new SnapshotRef(setRef.RefName, s.SnapshotId, setRef.Type) };
                    if (setRef.RefName == "main")
                    {
                        m.CurrentSnapshotId = s.SnapshotId;
                        m.SnapshotLog = [.. m.SnapshotLog, new SnapshotLogEntry(s.SnapshotId, s.TimestampMs)];
                    }
                    break;
                }
                case SetPropertiesUpdate setProps:
                {
                    var props = new Dictionary<string, string>(m.Properties, StringComparer.Ordinal);
                    foreach (var kv in setProps.Updates)
                        props[kv.Key] = kv.Value;
                    m.Properties = props;
                    break;
                }
                case RemovePropertiesUpdate removeProps:
                {
                    var props = new Dictionary<string, string>(m.Properties, StringComparer.Ordinal);
                    foreach (string k in removeProps.Removals)
                        props.Remove(k);
                    m.Properties = props;
                    break;
                }
                default:
                    throw new IcebergException($"update '{u.Action}' cannot be applied locally");
            }
        }
        m.LastUpdatedMs = Math.Max(now, m.LastUpdatedMs);
        return m;
    }

    public static TableMetadata Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using JsonDocument doc = JsonDocument.ParseValue(ref reader);
            return Parse(doc.RootElement);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new IcebergException($"invalid table metadata JSON: {e.Message}", e);
        }
    }

    public static TableMetadata Parse(JsonElement root)
    {
        int version = root.GetProperty("format-version").GetInt32();
        if (version != 2)
            throw new IcebergException($"table metadata has format-version {version}; this writer handles format version 2 only");
        var m = new TableMetadata { FormatVersion = version };
        var other = new List<KeyValuePair<string, string>>();
        foreach (JsonProperty p in root.EnumerateObject())
        {
            JsonElement v = p.Value;
            switch (p.Name)
            {
                case "format-version": break;
                case "table-uuid": m.TableUuid = v.GetString()!; break;
                case "location": m.Location = v.GetString()!; break;
                case "last-sequence-number": m.LastSequenceNumber = v.GetInt64(); break;
                case "last-updated-ms": m.LastUpdatedMs = v.GetInt64(); break;
                case "last-column-id": m.LastColumnId = v.GetInt32(); break;
                case "schemas": m.Schemas = v.EnumerateArray().Select(IcebergJson.ParseSchema).ToList(); break;
                case "current-schema-id": m.CurrentSchemaId = v.GetInt32(); break;
                case "partition-specs": m.PartitionSpecs = v.EnumerateArray().Select(IcebergJson.ParseSpec).ToList(); break;
                case "default-spec-id": m.DefaultSpecId = v.GetInt32(); break;
                case "last-partition-id": m.LastPartitionId = v.GetInt32(); break;
                case "properties": m.Properties = IcebergJson.ParseStringMap(v); break;
                case "current-snapshot-id": m.CurrentSnapshotId = v.ValueKind == JsonValueKind.Number && v.GetInt64() != -1 ? v.GetInt64() : null; break;
                case "snapshots": m.Snapshots = v.EnumerateArray().Select(IcebergJson.ParseSnapshot).ToList(); break;
                case "snapshot-log":
                    m.SnapshotLog = v.EnumerateArray().Select(e => new SnapshotLogEntry(e.GetProperty("snapshot-id").GetInt64(), e.GetProperty("timestamp-ms").GetInt64())).ToList();
                    break;
                case "metadata-log":
                    m.MetadataLog = v.EnumerateArray().Select(e => new MetadataLogEntry(e.GetProperty("metadata-file").GetString()!, e.GetProperty("timestamp-ms").GetInt64())).ToList();
                    break;
                case "refs":
                {
                    var refs = new Dictionary<string, SnapshotRef>(StringComparer.Ordinal);
                    foreach (JsonProperty r in v.EnumerateObject())
                        refs[r.Name] = new SnapshotRef(r.Name, r.Value.GetProperty("snapshot-id").GetInt64(),
                            r.Value.TryGetProperty("type", out JsonElement t) ? t.GetString()! : "branch");
                    m.Refs = refs;
                    break;
                }
                case "sort-orders": m.SortOrdersJson = v.GetRawText(); break;
                case "default-sort-order-id": m.DefaultSortOrderId = v.GetInt32(); break;
                // v1-only fields that a v2 table may still carry: derived again on write.
                case "schema" or "partition-spec": break;
                default: other.Add(new(p.Name, v.GetRawText())); break;
            }
        }
        if (m.Schemas.Count == 0)
            throw new IcebergException("table metadata has no schemas");
        if (m.PartitionSpecs.Count == 0)
            m.PartitionSpecs = [PartitionSpec.Unpartitioned];
        if (m.CurrentSnapshotId is null && m.Refs.TryGetValue("main", out SnapshotRef? main))
            m.CurrentSnapshotId = main.SnapshotId;
        if (m.CurrentSnapshotId is long cur && !m.Refs.ContainsKey("main"))
            m.Refs = new Dictionary<string, SnapshotRef>(m.Refs, StringComparer.Ordinal) { ["main"] = new SnapshotRef("main", cur) };
        m.OtherFields = other;
        return m;
    }

    /// <summary>The metadata JSON (indented, like the reference implementation writes it).</summary>
    public byte[] ToJson() => IcebergJson.Write(WriteJson, indented: true);

    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("format-version", FormatVersion);
        w.WriteString("table-uuid", TableUuid);
        w.WriteString("location", Location);
        w.WriteNumber("last-sequence-number", LastSequenceNumber);
        w.WriteNumber("last-updated-ms", LastUpdatedMs);
        w.WriteNumber("last-column-id", LastColumnId);
        w.WriteNumber("current-schema-id", CurrentSchemaId);
        w.WriteStartArray("schemas");
        foreach (IcebergSchema s in Schemas)
            IcebergJson.WriteSchema(w, s);
        w.WriteEndArray();
        w.WriteNumber("default-spec-id", DefaultSpecId);
        w.WriteStartArray("partition-specs");
        foreach (PartitionSpec s in PartitionSpecs)
            IcebergJson.WriteSpec(w, s);
        w.WriteEndArray();
        w.WriteNumber("last-partition-id", LastPartitionId);
        w.WriteNumber("default-sort-order-id", DefaultSortOrderId);
        w.WritePropertyName("sort-orders");
        w.WriteRawValue(SortOrdersJson);
        w.WritePropertyName("properties");
        IcebergJson.WriteStringMap(w, Properties);
        w.WriteNumber("current-snapshot-id", CurrentSnapshotId ?? -1);
        w.WriteStartObject("refs");
        foreach (SnapshotRef r in Refs.Values)
        {
            w.WriteStartObject(r.Name);
            w.WriteNumber("snapshot-id", r.SnapshotId);
            w.WriteString("type", r.Type);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteStartArray("snapshots");
        foreach (Snapshot s in Snapshots)
            IcebergJson.WriteSnapshot(w, s);
        w.WriteEndArray();
        w.WriteStartArray("snapshot-log");
        foreach (SnapshotLogEntry e in SnapshotLog)
        {
            w.WriteStartObject();
            w.WriteNumber("timestamp-ms", e.TimestampMs);
            w.WriteNumber("snapshot-id", e.SnapshotId);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartArray("metadata-log");
        foreach (MetadataLogEntry e in MetadataLog)
        {
            w.WriteStartObject();
            w.WriteNumber("timestamp-ms", e.TimestampMs);
            w.WriteString("metadata-file", e.MetadataFile);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        foreach (var kv in OtherFields)
        {
            w.WritePropertyName(kv.Key);
            w.WriteRawValue(kv.Value);
        }
        w.WriteEndObject();
    }
}
