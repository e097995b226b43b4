namespace KafScale.Parquet;

/// <summary>Parquet's physical types that this writer produces (no INT96, no FIXED_LEN_BYTE_ARRAY).</summary>
public enum ParquetPhysicalType
{
    Boolean,
    Int32,
    Int64,
    Float,
    Double,
    ByteArray,
}

/// <summary>
/// Logical annotations. String and Json annotate ByteArray (UTF-8), Date annotates Int32 (days since
/// 1970-01-01), TimestampMicrosUtc annotates Int64 (microseconds since the epoch, adjusted to UTC).
/// </summary>
public enum ParquetLogicalType
{
    None,
    String,
    Json,
    Date,
    TimestampMicrosUtc,
}

/// <summary>Page compression: none, raw snappy blocks, or zstd frames.</summary>
public enum ParquetCompression
{
    Uncompressed,
    Snappy,
    Zstd,
}

/// <summary>One top-level column. <paramref name="FieldId"/> is written as the schema element's field_id (Iceberg's field id).</summary>
public sealed record ParquetColumn(string Name, int FieldId, ParquetPhysicalType Type,
    ParquetLogicalType Logical = ParquetLogicalType.None, bool Required = false);

public sealed class ParquetWriterOptions
{
    public ParquetCompression Compression { get; init; } = ParquetCompression.Zstd;

    /// <summary>A row group is closed once its uncompressed size estimate reaches this many bytes.</summary>
    public long RowGroupBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary>A data page is closed once its encoded (uncompressed) size reaches this many bytes.</summary>
    public int PageBytes { get; init; } = 1024 * 1024;

    /// <summary>Whether dictionary encoding may be used; it is used only where it pays (see docs/parquet.md).</summary>
    public bool Dictionary { get; init; } = true;

    /// <summary>A data page holds at most this many values (nulls included), so small values still make several pages.</summary>
    public int PageRowLimit { get; init; } = 20_000;

    /// <summary>A column chunk's dictionary stops growing at this many bytes of PLAIN-encoded entries; the rest of the chunk is PLAIN.</summary>
    public int DictionaryPageBytes { get; init; } = 1024 * 1024;

    /// <summary>ByteArray minimum/maximum values longer than this are left out of the footer statistics (they stay in <see cref="ParquetFileResult"/>).</summary>
    public int MaxStatisticsBytes { get; init; } = 4096;

    /// <summary>zstd compression level.</summary>
    public int ZstdLevel { get; init; } = 3;

    /// <summary>The footer's created_by; null means "kafscale-dotnet version &lt;version of the running program&gt;".</summary>
    public string? CreatedBy { get; init; }
}

/// <summary>What <see cref="ParquetWriter.Finish"/> wrote.</summary>
public sealed record ParquetFileResult(long RowCount, long FileSizeBytes, IReadOnlyList<ParquetColumnResult> Columns);

/// <summary>
/// Per column, summed over row groups. Min/Max: the Parquet PLAIN encoding of the value (little-endian
/// 4/8 bytes for ints, floats, dates and timestamps; raw bytes for ByteArray; 1 byte for Boolean), which is
/// also Iceberg's single-value serialization for these types. Null when the column holds only nulls
/// (or, for Float/Double, only NaN).
/// </summary>
public sealed record ParquetColumnResult(int FieldId, long ValueCount, long NullCount,
    long CompressedBytes, byte[]? Min, byte[]? Max);
