using System.Globalization;
using System.Text;
using KafScale.Avro;

namespace KafScale.Iceberg;

public sealed record FieldSummary(bool ContainsNull, bool? ContainsNan, byte[]? LowerBound, byte[]? UpperBound);

/// <summary>One entry of a manifest list.</summary>
public sealed record ManifestFile(
    string ManifestPath, long ManifestLength, int PartitionSpecId, int Content, long SequenceNumber, long MinSequenceNumber,
    long AddedSnapshotId, int AddedFilesCount, int ExistingFilesCount, int DeletedFilesCount,
    long AddedRowsCount, long ExistingRowsCount, long DeletedRowsCount, IReadOnlyList<FieldSummary>? Partitions, byte[]? KeyMetadata = null);

/// <summary>One entry of a manifest, as read back.</summary>
public sealed record ManifestEntry(int Status, long? SnapshotId, long? SequenceNumber, long? FileSequenceNumber, DataFile File);

/// <summary>Writes and reads Iceberg v2 manifests and manifest lists (Avro object container files).</summary>
public static class Manifests
{
    public const int StatusExisting = 0, StatusAdded = 1, StatusDeleted = 2;

    /// <summary>The Avro codec a table asks for (write.avro.compression-codec): "uncompressed" writes null, "snappy" snappy, anything else (gzip by default) deflate.</summary>
    public static AvroCodec CodecFor(TableMetadata table) =>
        table.Properties.TryGetValue("write.avro.compression-codec", out string? c)
            ? c.ToLowerInvariant() switch { "uncompressed" => AvroCodec.Null, "snappy" => AvroCodec.Snappy, _ => AvroCodec.Deflate }
            : AvroCodec.Deflate;

    /// <summary>
    /// Encodes a manifest of ADDED data files written by <paramref name="snapshotId"/>. Data and file
    /// sequence numbers are left null so they are inherited from the manifest list entry.
    /// Bounds of string and binary columns are truncated to 16 characters / bytes.
    /// </summary>
    public static byte[] WriteAddedManifest(IcebergSchema schema, PartitionSpec spec, long snapshotId, IReadOnlyList<DataFile> files, AvroCodec codec)
    {
        AvroSchema partition = ManifestSchemas.PartitionRecord(spec, schema);
        AvroSchema entry = ManifestSchemas.ManifestEntry(partition);
        var metadata = new KeyValuePair<string, string>[]
        {
            new("schema", Encoding.UTF8.GetString(IcebergJson.Write(w => IcebergJson.WriteSchema(w, schema)))),
            new("schema-id", schema.SchemaId.ToString(CultureInfo.InvariantCulture)),
            new("partition-spec", Encoding.UTF8.GetString(IcebergJson.Write(w => IcebergJson.WriteSpecFields(w, spec)))),
            new("partition-spec-id", spec.SpecId.ToString(CultureInfo.InvariantCulture)),
            new("format-version", "2"),
            new("content", "data"),
        };
        using var ms = new MemoryStream();
        var writer = new AvroContainerWriter(ms, entry, codec, metadata);
        foreach (DataFile f in files)
        {
            object?[] partitionValues = PartitionValues(spec, schema, f);
            var dataFile = new object?[]
            {
                0, f.FilePath, f.FileFormat, new AvroRecord(partition, partitionValues), f.RecordCount, f.FileSizeInBytes,
                LongMap(f.ColumnSizes), LongMap(f.ValueCounts), LongMap(f.NullValueCounts), null,
                BoundMap(schema, f.LowerBounds, upper: false), BoundMap(schema, f.UpperBounds, upper: true),
                null, f.SplitOffsets is { Count: > 0 } so ? so.Select(o => (object?)o).ToList() : null, null, null,
            };
            writer.Append(new object?[] { StatusAdded, snapshotId, null, null, dataFile });
        }
        writer.Finish();
        return ms.ToArray();
    }

    /// <summary>Partition values in the Avro shapes of the spec's result types.</summary>
    internal static object?[] PartitionValues(PartitionSpec spec, IcebergSchema schema, DataFile f)
    {
        if (f.PartitionValues.Count != spec.Fields.Count)
            throw new IcebergException($"data file {f.FilePath} has {f.PartitionValues.Count} partition values; partition spec {spec.SpecId} has {spec.Fields.Count} fields");
        var values = new object?[spec.Fields.Count];
        for (int i = 0; i < values.Length; i++)
        {
            PartitionField pf = spec.Fields[i];
            IcebergPrimitive type = Transforms.ResultType(pf.Transform, schema.FindById(pf.SourceId)!.Type);
            values[i] = Normalize(type, f.PartitionValues[i], f.FilePath, pf.Name);
        }
        return values;
    }

    private static object? Normalize(IcebergPrimitive type, object? v, string path, string field)
    {
        if (v is null)
            return null;
        try
        {
            return type switch
            {
                IcebergPrimitive.Boolean => (bool)v,
                IcebergPrimitive.Int or IcebergPrimitive.Date => v is DateOnly d ? d.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber : Convert.ToInt32(v, CultureInfo.InvariantCulture),
                IcebergPrimitive.Long or IcebergPrimitive.Timestamp or IcebergPrimitive.Timestamptz => Convert.ToInt64(v, CultureInfo.InvariantCulture),
                IcebergPrimitive.Float => Convert.ToSingle(v, CultureInfo.InvariantCulture),
                IcebergPrimitive.Double => Convert.ToDouble(v, CultureInfo.InvariantCulture),
                IcebergPrimitive.String => (string)v,
                IcebergPrimitive.Binary => (byte[])v,
                _ => throw new InvalidCastException(),
            };
        }
        catch (Exception e) when (e is InvalidCastException or FormatException or OverflowException)
        {
            throw new IcebergException($"data file {path}: partition value {v} ({v.GetType().Name}) does not fit partition field '{field}' of type {IcebergSchema.TypeName(type)}");
        }
    }

    private static List<object?>? LongMap(IReadOnlyDictionary<int, long>? map) =>
        map is null || map.Count == 0 ? null : map.OrderBy(kv => kv.Key).Select(kv => (object?)new object?[] { kv.Key, kv.Value }).ToList();

    private static List<object?>? BoundMap(IcebergSchema schema, IReadOnlyDictionary<int, byte[]>? map, bool upper)
    {
        if (map is null || map.Count == 0)
            return null;
        var list = new List<object?>(map.Count);
        foreach (var kv in map.OrderBy(kv => kv.Key))
        {
            byte[]? bound = kv.Value;
            if (schema.FindById(kv.Key) is IcebergField field)
                bound = upper ? Conversions.TruncateUpper(field.Type, bound) : Conversions.TruncateLower(field.Type, bound);
            if (bound is not null)
                list.Add(new object?[] { kv.Key, bound });
        }
        return list.Count == 0 ? null : list;
    }

    /// <summary>The field summaries of a spec over the partition values of some files.</summary>
    public static IReadOnlyList<FieldSummary> Summarize(PartitionSpec spec, IcebergSchema schema, IReadOnlyList<DataFile> files)
    {
        var result = new List<FieldSummary>(spec.Fields.Count);
        var rows = files.Select(f => PartitionValues(spec, schema, f)).ToList();
        for (int i = 0; i < spec.Fields.Count; i++)
        {
            PartitionField pf = spec.Fields[i];
            IcebergPrimitive type = Transforms.ResultType(pf.Transform, schema.FindById(pf.SourceId)!.Type);
            bool containsNull = false, containsNan = false;
            object? min = null, max = null;
            foreach (object?[] row in rows)
            {
                object? v = row[i];
                if (v is null) { containsNull = true; continue; }
                if (v is float fl && float.IsNaN(fl) || v is double db && double.IsNaN(db)) { containsNan = true; continue; }
                if (min is null || Compare(type, v, min) < 0) min = v;
                if (max is null || Compare(type, v, max) > 0) max = v;
            }
            result.Add(new FieldSummary(containsNull, containsNan,
                min is null ? null : Conversions.ToBytes(type, min), max is null ? null : Conversions.ToBytes(type, max)));
        }
        return result;
    }

    private static int Compare(IcebergPrimitive type, object a, object b) => type switch
    {
        IcebergPrimitive.Boolean => ((bool)a).CompareTo((bool)b),
        IcebergPrimitive.Int or IcebergPrimitive.Date => ((int)a).CompareTo((int)b),
        IcebergPrimitive.Long or IcebergPrimitive.Timestamp or IcebergPrimitive.Timestamptz => ((long)a).CompareTo((long)b),
        IcebergPrimitive.Float => ((float)a).CompareTo((float)b),
        IcebergPrimitive.Double => ((double)a).CompareTo((double)b),
        IcebergPrimitive.String => Encoding.UTF8.GetBytes((string)a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes((string)b)),
        IcebergPrimitive.Binary => ((byte[])a).AsSpan().SequenceCompareTo((byte[])b),
        _ => 0,
    };

    /// <summary>Encodes a manifest list.</summary>
    public static byte[] WriteManifestList(long snapshotId, long? parentSnapshotId, long sequenceNumber, IReadOnlyList<ManifestFile> manifests, AvroCodec codec)
    {
        var metadata = new KeyValuePair<string, string>[]
        {
            new("snapshot-id", snapshotId.ToString(CultureInfo.InvariantCulture)),
            new("parent-snapshot-id", parentSnapshotId?.ToString(CultureInfo.InvariantCulture) ?? "null"),
            new("sequence-number", sequenceNumber.ToString(CultureInfo.InvariantCulture)),
            new("format-version", "2"),
        };
        return AvroContainerWriter.WriteAll(ManifestSchemas.ManifestFile, manifests.Select(m => (object?)new object?[]
        {
            m.ManifestPath, m.ManifestLength, m.PartitionSpecId, m.Content, m.SequenceNumber, m.MinSequenceNumber, m.AddedSnapshotId,
            m.AddedFilesCount, m.ExistingFilesCount, m.DeletedFilesCount, m.AddedRowsCount, m.ExistingRowsCount, m.DeletedRowsCount,
            m.Partitions?.Select(p => (object?)new object?[] { p.ContainsNull, p.ContainsNan, p.LowerBound, p.UpperBound }).ToList(),
            m.KeyMetadata,
        }), codec, metadata);
    }

    /// <summary>Reads a manifest list written by this library or another Iceberg writer (fields are matched by name).</summary>
    public static IReadOnlyList<ManifestFile> ReadManifestList(ReadOnlySpan<byte> data)
    {
        AvroContainerFile file = AvroContainerFile.Read(data);
        var result = new List<ManifestFile>(file.Records.Count);
        foreach (object? o in file.Records)
        {
            var r = (AvroRecord)o!;
            List<FieldSummary>? partitions = null;
            if (r.GetOrNull("partitions") is List<object?> ps)
            {
                partitions = ps.Select(p =>
                {
                    var s = (AvroRecord)p!;
                    return new FieldSummary((bool)s["contains_null"]!, s.GetOrNull("contains_nan") as bool?, s.GetOrNull("lower_bound") as byte[], s.GetOrNull("upper_bound") as byte[]);
                }).ToList();
            }
            result.Add(new ManifestFile(
                (string)r["manifest_path"]!, (long)r["manifest_length"]!, (int)r["partition_spec_id"]!,
                r.GetOrNull("content") as int? ?? 0,
                r.GetOrNull("sequence_number") as long? ?? 0,
                r.GetOrNull("min_sequence_number") as long? ?? 0,
                (long)r["added_snapshot_id"]!,
                (r.GetOrNull("added_files_count") ?? r.GetOrNull("added_data_files_count")) as int? ?? 0,
                (r.GetOrNull("existing_files_count") ?? r.GetOrNull("existing_data_files_count")) as int? ?? 0,
                (r.GetOrNull("deleted_files_count") ?? r.GetOrNull("deleted_data_files_count")) as int? ?? 0,
                r.GetOrNull("added_rows_count") as long? ?? 0,
                r.GetOrNull("existing_rows_count") as long? ?? 0,
                r.GetOrNull("deleted_rows_count") as long? ?? 0,
                partitions,
                r.GetOrNull("key_metadata") as byte[]));
        }
        return result;
    }

    /// <summary>Reads a manifest's entries (path, counts, partition values and stats of each data file).</summary>
    public static IReadOnlyList<ManifestEntry> ReadManifest(ReadOnlySpan<byte> data)
    {
        AvroContainerFile file = AvroContainerFile.Read(data);
        var result = new List<ManifestEntry>(file.Records.Count);
        foreach (object? o in file.Records)
        {
            var e = (AvroRecord)o!;
            var d = (AvroRecord)e["data_file"]!;
            var partition = (AvroRecord)d["partition"]!;
            result.Add(new ManifestEntry((int)e["status"]!, e.GetOrNull("snapshot_id") as long?, e.GetOrNull("sequence_number") as long?,
                e.GetOrNull("file_sequence_number") as long?,
                new DataFile
                {
                    FilePath = (string)d["file_path"]!,
                    FileFormat = (string)d["file_format"]!,
                    RecordCount = (long)d["record_count"]!,
                    FileSizeInBytes = (long)d["file_size_in_bytes"]!,
                    PartitionValues = partition.Values,
                    ColumnSizes = ReadMap<long>(d.GetOrNull("column_sizes")),
                    ValueCounts = ReadMap<long>(d.GetOrNull("value_counts")),
                    NullValueCounts = ReadMap<long>(d.GetOrNull("null_value_counts")),
                    LowerBounds = ReadMap<byte[]>(d.GetOrNull("lower_bounds")),
                    UpperBounds = ReadMap<byte[]>(d.GetOrNull("upper_bounds")),
                }));
        }
        return result;
    }

    private static Dictionary<int, T>? ReadMap<T>(object? value)
    {
        if (value is not List<object?> list)
            return null;
        var map = new Dictionary<int, T>();
        foreach (object? kv in list)
        {
            var r = (AvroRecord)kv!;
            map[(int)r["key"]!] = (T)r["value"]!;
        }
        return map;
    }
}
