using KafScale.Avro;

namespace KafScale.Iceberg;

/// <summary>The Avro schemas of Iceberg v2 manifests and manifest lists, with Iceberg's field ids.</summary>
public static class ManifestSchemas
{
    private static KeyValuePair<string, string> P(string name, int value) => AvroSchema.Prop(name, value);

    private static AvroField F(string name, AvroSchema type, int id) => AvroField.WithId(name, type, id);

    private static AvroSchema Opt(AvroSchema type) => AvroSchema.Optional(type);

    /// <summary>Iceberg's map&lt;int, V&gt;: an array of key/value records marked logicalType "map".</summary>
    private static AvroSchema IntMap(int keyId, int valueId, AvroSchema value) =>
        AvroSchema.Array(
            AvroSchema.Record($"k{keyId}_v{valueId}", [F("key", AvroSchema.Int, keyId), F("value", value, valueId)]),
            AvroSchema.Prop("logicalType", "map"));

    private static AvroSchema List(int elementId, AvroSchema element) => AvroSchema.Array(element, P("element-id", elementId));

    /// <summary>The Avro type of a partition value (or of a column) of an Iceberg primitive type.</summary>
    public static AvroSchema AvroTypeOf(IcebergPrimitive type) => type switch
    {
        IcebergPrimitive.Boolean => AvroSchema.Boolean,
        IcebergPrimitive.Int => AvroSchema.Int,
        IcebergPrimitive.Long => AvroSchema.Long,
        IcebergPrimitive.Float => AvroSchema.Float,
        IcebergPrimitive.Double => AvroSchema.Double,
        IcebergPrimitive.Date => AvroSchema.Primitive(AvroType.Int, AvroSchema.Prop("logicalType", "date")),
        IcebergPrimitive.Timestamp => AvroSchema.Primitive(AvroType.Long, AvroSchema.Prop("logicalType", "timestamp-micros"), new("adjust-to-utc", "false")),
        IcebergPrimitive.Timestamptz => AvroSchema.Primitive(AvroType.Long, AvroSchema.Prop("logicalType", "timestamp-micros"), new("adjust-to-utc", "true")),
        IcebergPrimitive.String => AvroSchema.String,
        IcebergPrimitive.Binary => AvroSchema.Bytes,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>The partition struct (r102) of a spec: one optional field per partition field, its field id the partition field id.</summary>
    public static AvroSchema PartitionRecord(PartitionSpec spec, IcebergSchema schema)
    {
        var fields = new List<AvroField>();
        foreach (PartitionField pf in spec.Fields)
        {
            IcebergField source = schema.FindById(pf.SourceId)
                ?? throw new IcebergException($"partition field '{pf.Name}' refers to column id {pf.SourceId}, which schema {schema.SchemaId} does not have");
            fields.Add(F(pf.Name, Opt(AvroTypeOf(Transforms.ResultType(pf.Transform, source.Type))), pf.FieldId));
        }
        return AvroSchema.Record("r102", fields);
    }

    public static AvroSchema DataFile(AvroSchema partition) => AvroSchema.Record("r2",
    [
        F("content", AvroSchema.Int, 134),
        F("file_path", AvroSchema.String, 100),
        F("file_format", AvroSchema.String, 101),
        F("partition", partition, 102),
        F("record_count", AvroSchema.Long, 103),
        F("file_size_in_bytes", AvroSchema.Long, 104),
        F("column_sizes", Opt(IntMap(117, 118, AvroSchema.Long)), 108),
        F("value_counts", Opt(IntMap(119, 120, AvroSchema.Long)), 109),
        F("null_value_counts", Opt(IntMap(121, 122, AvroSchema.Long)), 110),
        F("nan_value_counts", Opt(IntMap(138, 139, AvroSchema.Long)), 137),
        F("lower_bounds", Opt(IntMap(126, 127, AvroSchema.Bytes)), 125),
        F("upper_bounds", Opt(IntMap(129, 130, AvroSchema.Bytes)), 128),
        F("key_metadata", Opt(AvroSchema.Bytes), 131),
        F("split_offsets", Opt(List(133, AvroSchema.Long)), 132),
        F("equality_ids", Opt(List(136, AvroSchema.Int)), 135),
        F("sort_order_id", Opt(AvroSchema.Int), 140),
    ]);

    public static AvroSchema ManifestEntry(AvroSchema partition) => AvroSchema.Record("manifest_entry",
    [
        F("status", AvroSchema.Int, 0),
        F("snapshot_id", Opt(AvroSchema.Long), 1),
        F("sequence_number", Opt(AvroSchema.Long), 3),
        F("file_sequence_number", Opt(AvroSchema.Long), 4),
        F("data_file", DataFile(partition), 2),
    ]);

    public static AvroSchema FieldSummary { get; } = AvroSchema.Record("r508",
    [
        F("contains_null", AvroSchema.Boolean, 509),
        F("contains_nan", Opt(AvroSchema.Boolean), 518),
        F("lower_bound", Opt(AvroSchema.Bytes), 510),
        F("upper_bound", Opt(AvroSchema.Bytes), 511),
    ]);

    public static AvroSchema ManifestFile { get; } = AvroSchema.Record("manifest_file",
    [
        F("manifest_path", AvroSchema.String, 500),
        F("manifest_length", AvroSchema.Long, 501),
        F("partition_spec_id", AvroSchema.Int, 502),
        F("content", AvroSchema.Int, 517),
        F("sequence_number", AvroSchema.Long, 515),
        F("min_sequence_number", AvroSchema.Long, 516),
        F("added_snapshot_id", AvroSchema.Long, 503),
        F("added_files_count", AvroSchema.Int, 504),
        F("existing_files_count", AvroSchema.Int, 505),
        F("deleted_files_count", AvroSchema.Int, 506),
        F("added_rows_count", AvroSchema.Long, 512),
        F("existing_rows_count", AvroSchema.Long, 513),
        F("deleted_rows_count", AvroSchema.Long, 514),
        F("partitions", Opt(List(508, FieldSummary)), 507),
        F("key_metadata", Opt(AvroSchema.Bytes), 519),
    ]);
}
