namespace KafScale.Processor;

/// <summary>Column types a processor table can hold (the Iceberg primitives the processor writes).</summary>
public enum ColumnType { Boolean, Int, Long, Float, Double, Date, Timestamp, Timestamptz, String, Binary }

/// <summary>Where a column's values come from.</summary>
public enum ColumnSourceKind
{
    /// <summary>One of the eight base columns (ids 1-8), by id.</summary>
    Base,

    /// <summary>A top-level field of the record value parsed as a JSON object.</summary>
    JsonField,

    /// <summary>The record timestamp (producer create time or broker append time), in microseconds.</summary>
    RecordTimestamp,
}

/// <summary>A column of a processor table: Iceberg field id, name, type, and where its values come from.</summary>
public sealed record TableColumn(int Id, string Name, ColumnType Type, bool Required, ColumnSourceKind Source, string? JsonField = null)
{
    public override string ToString() => $"{Name}:{ColumnTypes.Name(Type)}#{Id}";
}

/// <summary>The eight base columns every processor table starts with (upstream KafScale's shape).</summary>
public static class BaseColumns
{
    public const int RecordId = 1, Topic = 2, Partition = 3, Offset = 4, TimestampMs = 5, Key = 6, Value = 7, Headers = 8;
    public const int Count = 8;

    public static IReadOnlyList<TableColumn> All { get; } =
    [
        new(RecordId, "record_id", ColumnType.String, true, ColumnSourceKind.Base),
        new(Topic, "topic", ColumnType.String, true, ColumnSourceKind.Base),
        new(Partition, "partition", ColumnType.Int, true, ColumnSourceKind.Base),
        new(Offset, "offset", ColumnType.Long, true, ColumnSourceKind.Base),
        new(TimestampMs, "timestamp_ms", ColumnType.Long, true, ColumnSourceKind.Base),
        new(Key, "key", ColumnType.Binary, false, ColumnSourceKind.Base),
        new(Value, "value", ColumnType.Binary, false, ColumnSourceKind.Base),
        new(Headers, "headers", ColumnType.String, false, ColumnSourceKind.Base),
    ];

    public static bool IsBaseName(string name)
    {
        foreach (var c in All)
            if (string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}

public static class ColumnTypes
{
    public static string Name(ColumnType t) => t switch
    {
        ColumnType.Boolean => "boolean",
        ColumnType.Int => "int",
        ColumnType.Long => "long",
        ColumnType.Float => "float",
        ColumnType.Double => "double",
        ColumnType.Date => "date",
        ColumnType.Timestamp => "timestamp",
        ColumnType.Timestamptz => "timestamptz",
        ColumnType.String => "string",
        ColumnType.Binary => "binary",
        _ => t.ToString(),
    };

    public static bool TryParse(string text, out ColumnType type)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "boolean" or "bool": type = ColumnType.Boolean; return true;
            case "int" or "integer" or "int32": type = ColumnType.Int; return true;
            case "long" or "bigint" or "int64": type = ColumnType.Long; return true;
            case "float": type = ColumnType.Float; return true;
            case "double": type = ColumnType.Double; return true;
            case "date": type = ColumnType.Date; return true;
            case "timestamp": type = ColumnType.Timestamp; return true;
            case "timestamptz": type = ColumnType.Timestamptz; return true;
            case "string": type = ColumnType.String; return true;
            case "binary": type = ColumnType.Binary; return true;
            default: type = default; return false;
        }
    }

    public const string Names = "boolean, int, long, float, double, date, timestamp, timestamptz, string, binary";

    /// <summary>True for types a day() partition can take its value from.</summary>
    public static bool IsTemporal(ColumnType t) => t is ColumnType.Date or ColumnType.Timestamp or ColumnType.Timestamptz;
}

/// <summary>A topic-partition.</summary>
public readonly record struct TopicPartition(string Topic, int Partition)
{
    public override string ToString() => $"{Topic}/{Partition}";
}
