namespace KafScale.Processor.Tables;

/// <summary>
/// Writes one columnar data file row by row (the Parquet writer behind a small seam, so the
/// processor's row encoding is tested on its own). Column indexes are positions in the column
/// list the writer was created with.
/// </summary>
public interface IDataFileWriter : IDisposable
{
    void WriteNull(int column);
    void WriteBoolean(int column, bool value);
    void WriteInt32(int column, int value);
    void WriteInt64(int column, long value);
    void WriteFloat(int column, float value);
    void WriteDouble(int column, double value);
    void WriteBytes(int column, ReadOnlySpan<byte> value);
    void EndRow();
    long RowCount { get; }

    /// <summary>Ends the file; the writer is unusable afterwards.</summary>
    DataFileContent Finish();
}

/// <summary>Creates data file writers for a column list.</summary>
public interface IDataFileFormat
{
    /// <summary>File name extension with the dot, e.g. ".parquet".</summary>
    string Extension { get; }

    IDataFileWriter Create(IReadOnlyList<TableColumn> columns);
}

/// <summary>Statistics of one column of a finished file (Iceberg's per-column metrics).</summary>
public sealed record ColumnStats(int FieldId, long ValueCount, long NullCount, long CompressedBytes, byte[]? Min, byte[]? Max);

/// <summary>A finished data file: its bytes and statistics.</summary>
public sealed record DataFileContent(ReadOnlyMemory<byte> Bytes, long RowCount, IReadOnlyList<ColumnStats> Columns);

/// <summary>A data file written to the table's storage, not yet committed.</summary>
public sealed record WrittenFile(string Uri, long RecordCount, long SizeBytes, int? DayPartition, IReadOnlyList<ColumnStats> Columns);
