using System.Globalization;

namespace KafScale.Iceberg;

public enum IcebergPrimitive { Boolean, Int, Long, Float, Double, Date, Timestamp, Timestamptz, String, Binary }

public sealed record IcebergField(int Id, string Name, IcebergPrimitive Type, bool Required, string? Doc = null);

/// <summary>An Iceberg schema of primitive columns (immutable).</summary>
public sealed class IcebergSchema
{
    public IcebergSchema(int schemaId, IReadOnlyList<IcebergField> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        var ids = new HashSet<int>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (IcebergField f in fields)
        {
            if (f.Id <= 0)
                throw new ArgumentException($"column '{f.Name}' has field id {f.Id}; ids start at 1", nameof(fields));
            if (!ids.Add(f.Id))
                throw new ArgumentException($"field id {f.Id} is used twice in the schema", nameof(fields));
            if (!names.Add(f.Name))
                throw new ArgumentException($"column name '{f.Name}' is used twice in the schema", nameof(fields));
        }
        SchemaId = schemaId;
        Fields = [.. fields];
        HighestFieldId = fields.Count == 0 ? 0 : fields.Max(f => f.Id);
    }

    public int SchemaId { get; }
    public IReadOnlyList<IcebergField> Fields { get; }
    public int HighestFieldId { get; }

    public IcebergField? FindByName(string name)
    {
        foreach (IcebergField f in Fields)
            if (f.Name == name)
                return f;
        return null;
    }

    public IcebergField? FindById(int id)
    {
        foreach (IcebergField f in Fields)
            if (f.Id == id)
                return f;
        return null;
    }

    /// <summary>The same columns under another schema id.</summary>
    public IcebergSchema WithSchemaId(int schemaId) => new(schemaId, Fields);

    /// <summary>True when both schemas have the same columns (ids, names, types, required, in order); schema ids are ignored.</summary>
    public bool SameColumns(IcebergSchema other)
    {
        if (other.Fields.Count != Fields.Count)
            return false;
        for (int i = 0; i < Fields.Count; i++)
        {
            IcebergField a = Fields[i], b = other.Fields[i];
            if (a.Id != b.Id || a.Name != b.Name || a.Type != b.Type || a.Required != b.Required)
                return false;
        }
        return true;
    }

    public static string TypeName(IcebergPrimitive type) => type switch
    {
        IcebergPrimitive.Boolean => "boolean",
        IcebergPrimitive.Int => "int",
        IcebergPrimitive.Long => "long",
        IcebergPrimitive.Float => "float",
        IcebergPrimitive.Double => "double",
        IcebergPrimitive.Date => "date",
        IcebergPrimitive.Timestamp => "timestamp",
        IcebergPrimitive.Timestamptz => "timestamptz",
        IcebergPrimitive.String => "string",
        IcebergPrimitive.Binary => "binary",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    public static IcebergPrimitive ParseType(string name, string column) => name switch
    {
        "boolean" => IcebergPrimitive.Boolean,
        "int" => IcebergPrimitive.Int,
        "long" => IcebergPrimitive.Long,
        "float" => IcebergPrimitive.Float,
        "double" => IcebergPrimitive.Double,
        "date" => IcebergPrimitive.Date,
        "timestamp" => IcebergPrimitive.Timestamp,
        "timestamptz" => IcebergPrimitive.Timestamptz,
        "string" => IcebergPrimitive.String,
        "binary" => IcebergPrimitive.Binary,
        _ => throw new IcebergException($"column '{column}' has the type '{name}', which this writer does not support "
            + "(supported: boolean, int, long, float, double, date, timestamp, timestamptz, string, binary)"),
    };
}

public sealed record PartitionField(int SourceId, int FieldId, string Name, string Transform);

public sealed class PartitionSpec
{
    public PartitionSpec(int specId, IReadOnlyList<PartitionField> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        foreach (PartitionField f in fields)
            Transforms.Validate(f.Transform);
        SpecId = specId;
        Fields = [.. fields];
    }

    public int SpecId { get; }
    public IReadOnlyList<PartitionField> Fields { get; }

    public static PartitionSpec Unpartitioned { get; } = new(0, []);

    /// <summary>The highest partition field id, or 999 when there is none.</summary>
    public int LastAssignedFieldId => Fields.Count == 0 ? 999 : Fields.Max(f => f.FieldId);

    public bool SameFields(PartitionSpec other) => Fields.SequenceEqual(other.Fields);
}

public sealed record TableIdentifier(string Namespace, string Name)
{
    /// <summary>The namespace levels ("a.b" -> ["a","b"]).</summary>
    public IReadOnlyList<string> NamespaceLevels => Namespace.Split('.');

    public override string ToString() => Namespace + "." + Name;
}

/// <summary>A data file to add, with its per-column statistics keyed by field id.</summary>
public sealed class DataFile
{
    public required string FilePath { get; init; }
    public required long RecordCount { get; init; }
    public required long FileSizeInBytes { get; init; }
    /// <summary>"PARQUET" (the default), "AVRO" or "ORC".</summary>
    public string FileFormat { get; init; } = "PARQUET";
    public IReadOnlyList<object?> PartitionValues { get; init; } = [];
    public IReadOnlyDictionary<int, long>? ColumnSizes { get; init; }
    public IReadOnlyDictionary<int, long>? ValueCounts { get; init; }
    public IReadOnlyDictionary<int, long>? NullValueCounts { get; init; }
    public IReadOnlyDictionary<int, byte[]>? LowerBounds { get; init; }
    public IReadOnlyDictionary<int, byte[]>? UpperBounds { get; init; }
    public IReadOnlyList<long>? SplitOffsets { get; init; }
}

public sealed class Snapshot
{
    public Snapshot(long snapshotId, long? parentSnapshotId, long sequenceNumber, long timestampMs, string manifestList,
        int? schemaId, IReadOnlyDictionary<string, string> summary)
    {
        SnapshotId = snapshotId;
        ParentSnapshotId = parentSnapshotId;
        SequenceNumber = sequenceNumber;
        TimestampMs = timestampMs;
        ManifestList = manifestList;
        SchemaId = schemaId;
        Summary = summary;
    }

    public long SnapshotId { get; }
    public long? ParentSnapshotId { get; }
    public long SequenceNumber { get; }
    public long TimestampMs { get; }
    public string ManifestList { get; }
    public int? SchemaId { get; }
    /// <summary>Includes "operation".</summary>
    public IReadOnlyDictionary<string, string> Summary { get; }

    public string Operation => Summary.TryGetValue("operation", out string? op) ? op : "append";

    public long SummaryLong(string key) =>
        Summary.TryGetValue(key, out string? v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : 0;
}

public sealed record SnapshotLogEntry(long SnapshotId, long TimestampMs);
public sealed record MetadataLogEntry(string MetadataFile, long TimestampMs);
public sealed record SnapshotRef(string Name, long SnapshotId, string Type = "branch");

public class IcebergException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The commit's base is no longer the table's current metadata; reload and try again.</summary>
public sealed class CommitConflictException(string message = "the table changed since it was loaded; reload and retry", Exception? inner = null) : Exception(message, inner);

public sealed class TableAlreadyExistsException(string message = "the table already exists") : Exception(message);

/// <summary>The catalog may or may not have applied the commit (a 5xx or lost answer): do not retry blindly.</summary>
public sealed class CommitStateUnknownException(string message, Exception? inner = null) : Exception(message, inner);
