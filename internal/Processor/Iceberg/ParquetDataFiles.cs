using KafScale.Parquet;
using KafScale.Processor.Tables;

namespace KafScale.Processor.Iceberg;

/// <summary>Data files as Parquet, with Iceberg field ids on every column.</summary>
public sealed class ParquetDataFileFormat(ParquetCompression compression) : IDataFileFormat
{
    public string Extension => ".parquet";

    public IDataFileWriter Create(IReadOnlyList<TableColumn> columns) => new ParquetDataFileWriter(columns, compression);

    public static ParquetColumn Column(TableColumn c) => c.Type switch
    {
        ColumnType.Boolean => new ParquetColumn(c.Name, c.Id, ParquetPhysicalType.Boolean, Required: c.Required),
        ColumnType.Int => new ParquetColumn(c.Name, c.Id, ParquetPhysicalType.Int32, Required: c.Required),
        ColumnType.Long => new ParquetColumn(c.Name, c.Id, ParquetPhysicalType.Int64, Required: c.Required),
        ColumnType.Float => new ParquetColumn(c.Name, c.Id, ParquetPhysicalType.Float, Required: c.Required),
        ColumnType.Double => new ParquetColumn(c.Name, c.Id, ParquetPhysicalType.Double, Required: c.Required),
        ColumnType.Date => new ParquetColumn(c.Name, c.Id, ParquetPhysicalType.Int32, ParquetLogicalType.Date, c.Required),
        ColumnType.Timestamp or ColumnType.Timestamptz => new ParquetColumn(c.Name, c.Id, ParquetPhysicalType.Int64, ParquetLogicalType.TimestampMicrosUtc, c.Required),
        ColumnType.String => new ParquetColumn(c.Name, c.Id, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, c.Required),
        _ => new ParquetColumn(c.Name, c.Id, ParquetPhysicalType.ByteArray, Required: c.Required),
    };
}

/// <summary>One Parquet file written into memory; the caller uploads the finished bytes.</summary>
public sealed class ParquetDataFileWriter : IDataFileWriter
{
    private readonly MemoryStream _output = new(4 << 20);
    private readonly ParquetWriter _writer;

    public ParquetDataFileWriter(IReadOnlyList<TableColumn> columns, ParquetCompression compression)
    {
        _writer = new ParquetWriter(_output, [.. columns.Select(ParquetDataFileFormat.Column)], new ParquetWriterOptions
        {
            Compression = compression,
            // Row groups are buffered in memory before they are encoded: keep them moderate.
            RowGroupBytes = 64L * 1024 * 1024,
        });
    }

    public long RowCount => _writer.RowCount;
    public void WriteNull(int column) => _writer.WriteNull(column);
    public void WriteBoolean(int column, bool value) => _writer.WriteBoolean(column, value);
    public void WriteInt32(int column, int value) => _writer.WriteInt32(column, value);
    public void WriteInt64(int column, long value) => _writer.WriteInt64(column, value);
    public void WriteFloat(int column, float value) => _writer.WriteFloat(column, value);
    public void WriteDouble(int column, double value) => _writer.WriteDouble(column, value);
    public void WriteBytes(int column, ReadOnlySpan<byte> value) => _writer.WriteBytes(column, value);
    public void EndRow() => _writer.EndRow();

    public DataFileContent Finish()
    {
        var result = _writer.Finish();
        var stats = result.Columns.Select(c => new ColumnStats(c.FieldId, c.ValueCount, c.NullCount, c.CompressedBytes, c.Min, c.Max)).ToList();
        return new DataFileContent(_output.GetBuffer().AsMemory(0, (int)_output.Length), result.RowCount, stats);
    }

    public void Dispose()
    {
        _writer.Dispose();
        _output.Dispose();
    }
}
