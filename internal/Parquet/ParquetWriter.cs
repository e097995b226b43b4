using System.Buffers.Binary;
using System.Reflection;
using System.Text.Unicode;
using KafScale.Common;

namespace KafScale.Parquet;

/// <summary>
/// Writes one Parquet file with a flat schema, row by row: one value (or null) per column, then
/// <see cref="EndRow"/>. Pages and column chunks are buffered per column and written when a row
/// group closes (at <see cref="ParquetWriterOptions.RowGroupBytes"/>), so memory stays bounded by
/// about one row group. <see cref="Finish"/> writes the footer; the output stream is not closed.
/// See docs/parquet.md for the layout.
/// </summary>
public sealed class ParquetWriter : IDisposable
{
    private static ReadOnlySpan<byte> Magic => "PAR1"u8;

    private readonly Stream _output;
    private readonly ParquetColumn[] _schema;
    private readonly ParquetWriterOptions _options;
    private readonly ColumnWriter[] _columns;
    private readonly PageCompressor _compressor;
    private readonly PooledBufferWriter _body = new(64 * 1024);
    private readonly PooledBufferWriter _header = new(256);
    private readonly List<RowGroupMetadata> _rowGroups = new();
    private byte[] _utf8Scratch = new byte[256];
    private long _position;
    private long _rowGroupRows;
    private State _state;

    private enum State { Open, Finished, Faulted, Disposed }

    private sealed record RowGroupMetadata(long NumRows, ChunkMetadata[] Columns);

    public ParquetWriter(Stream output, IReadOnlyList<ParquetColumn> schema, ParquetWriterOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(schema);
        _options = options ?? new ParquetWriterOptions();
        Validate(schema, _options);
        _output = output;
        _schema = schema.ToArray();
        _compressor = new PageCompressor(_options.Compression, _options.ZstdLevel);
        _columns = new ColumnWriter[_schema.Length];
        for (int i = 0; i < _schema.Length; i++)
            _columns[i] = new ColumnWriter(_schema[i], i, _options, _compressor, _body, _header);
        _output.Write(Magic);
        _position = Magic.Length;
    }

    public long RowCount { get; private set; }

    /// <summary>Bytes written to the output so far (row groups close in whole).</summary>
    public long BytesWritten => _position;

    /// <summary>Uncompressed size estimate of the open row group.</summary>
    public long BufferedBytes
    {
        get
        {
            long sum = 0;
            foreach (ColumnWriter c in _columns)
                sum += c.EstimatedChunkBytes;
            return sum;
        }
    }

    public void WriteNull(int column)
    {
        ColumnWriter c = Take(column);
        if (c.Column.Required)
            throw new ArgumentException($"parquet: column '{c.Column.Name}' is required and cannot be null", nameof(column));
        c.HasValue = true;
        c.AddNull();
    }

    public void WriteBoolean(int column, bool value) => Take(column, ParquetPhysicalType.Boolean).AddBoolean(value);

    public void WriteInt32(int column, int value) => Take(column, ParquetPhysicalType.Int32).AddInt32(value);

    public void WriteInt64(int column, long value) => Take(column, ParquetPhysicalType.Int64).AddInt64(value);

    public void WriteFloat(int column, float value) => Take(column, ParquetPhysicalType.Float).AddFloat(value);

    public void WriteDouble(int column, double value) => Take(column, ParquetPhysicalType.Double).AddDouble(value);

    /// <summary>A ByteArray value: raw bytes, or UTF-8 for String/Json columns (invalid UTF-8 is refused there).</summary>
    public void WriteBytes(int column, ReadOnlySpan<byte> value)
    {
        ColumnWriter c = Peek(column, ParquetPhysicalType.ByteArray);
        if (c.Column.Logical is ParquetLogicalType.String or ParquetLogicalType.Json && !Utf8.IsValid(value))
            throw new ArgumentException($"parquet: the value for string column '{c.Column.Name}' is not valid UTF-8", nameof(value));
        c.HasValue = true;
        c.AddBytes(value);
    }

    /// <summary>Encodes the characters as UTF-8 into the ByteArray column (lone surrogates become U+FFFD).</summary>
    public void WriteString(int column, ReadOnlySpan<char> value)
    {
        ColumnWriter c = Take(column, ParquetPhysicalType.ByteArray);
        c.AddString(value, ref _utf8Scratch);
    }

    /// <summary>
    /// Ends the row. A column without a value makes the writer unusable (the row is half written):
    /// this throws, and so does every later call; discard the output.
    /// </summary>
    public void EndRow()
    {
        EnsureOpen();
        foreach (ColumnWriter c in _columns)
        {
            if (!c.HasValue)
            {
                _state = State.Faulted;
                throw new InvalidOperationException($"parquet: row {RowCount} has no value for column '{c.Column.Name}'; the writer cannot be used any more");
            }
        }

        long buffered = 0;
        foreach (ColumnWriter c in _columns)
        {
            c.HasValue = false;
            if (c.PageFull)
                c.FlushPage();
            buffered += c.EstimatedChunkBytes;
        }
        RowCount++;
        _rowGroupRows++;
        if (buffered >= _options.RowGroupBytes)
            FlushRowGroup();
    }

    /// <summary>Closes the open row group now (when it has rows); the next row starts a new one.</summary>
    public void FlushRowGroup()
    {
        EnsureOpen();
        if (_rowGroupRows == 0)
            return;
        try
        {
            var chunks = new ChunkMetadata[_columns.Length];
            for (int i = 0; i < _columns.Length; i++)
                chunks[i] = _columns[i].CloseChunk(_output, ref _position);
            _rowGroups.Add(new RowGroupMetadata(_rowGroupRows, chunks));
            _rowGroupRows = 0;
        }
        catch
        {
            _state = State.Faulted;
            throw;
        }
    }

    public ParquetFileResult Finish()
    {
        EnsureOpen();
        foreach (ColumnWriter c in _columns)
        {
            if (c.HasValue)
            {
                _state = State.Faulted;
                throw new InvalidOperationException("parquet: Finish was called in the middle of a row (values written without EndRow)");
            }
        }
        FlushRowGroup();
        try
        {
            using var footer = new PooledBufferWriter(4096);
            WriteFileMetadata(footer);
            _output.Write(footer.WrittenSpan);
            Span<byte> tail = stackalloc byte[8];
            BinaryPrimitives.WriteInt32LittleEndian(tail, footer.WrittenCount);
            Magic.CopyTo(tail.Slice(4));
            _output.Write(tail);
            _output.Flush();
            _position += footer.WrittenCount + tail.Length;
        }
        catch
        {
            _state = State.Faulted;
            throw;
        }
        _state = State.Finished;
        var columns = new ParquetColumnResult[_columns.Length];
        for (int i = 0; i < _columns.Length; i++)
            columns[i] = _columns[i].Result();
        return new ParquetFileResult(RowCount, _position, columns);
    }

    public void Dispose()
    {
        if (_state == State.Disposed)
            return;
        _state = State.Disposed;
        foreach (ColumnWriter c in _columns)
            c.Dispose();
        _compressor.Dispose();
        _body.Dispose();
        _header.Dispose();
    }

    // ---- checks ------------------------------------------------------------------------------------

    private ColumnWriter Take(int column)
    {
        EnsureOpen();
        if ((uint)column >= (uint)_columns.Length)
            throw new ArgumentOutOfRangeException(nameof(column), column, $"parquet: the schema has {_columns.Length} columns");
        ColumnWriter c = _columns[column];
        if (c.HasValue)
            throw new InvalidOperationException($"parquet: column '{c.Column.Name}' already has a value in row {RowCount}");
        return c;
    }

    private ColumnWriter Peek(int column, ParquetPhysicalType type)
    {
        ColumnWriter c = Take(column);
        if (c.Column.Type != type)
            throw new ArgumentException($"parquet: column '{c.Column.Name}' is {c.Column.Type}, not {type}", nameof(column));
        return c;
    }

    private ColumnWriter Take(int column, ParquetPhysicalType type)
    {
        ColumnWriter c = Peek(column, type);
        c.HasValue = true;
        return c;
    }

    private void EnsureOpen()
    {
        switch (_state)
        {
            case State.Finished:
                throw new InvalidOperationException("parquet: the file is finished");
            case State.Faulted:
                throw new InvalidOperationException("parquet: an earlier error left the file incomplete; discard it");
            case State.Disposed:
                throw new ObjectDisposedException(nameof(ParquetWriter));
        }
    }

    private static void Validate(IReadOnlyList<ParquetColumn> schema, ParquetWriterOptions options)
    {
        if (schema.Count == 0)
            throw new ArgumentException("parquet: the schema has no columns", nameof(schema));
        var names = new HashSet<string>(StringComparer.Ordinal);
        var ids = new HashSet<int>();
        foreach (ParquetColumn c in schema)
        {
            if (c is null || string.IsNullOrEmpty(c.Name))
                throw new ArgumentException("parquet: every column needs a name", nameof(schema));
            if (!names.Add(c.Name))
                throw new ArgumentException($"parquet: column name '{c.Name}' appears twice", nameof(schema));
            if (c.FieldId <= 0 || !ids.Add(c.FieldId))
                throw new ArgumentException($"parquet: column '{c.Name}' needs a unique positive field id (got {c.FieldId})", nameof(schema));
            ParquetPhysicalType? needed = c.Logical switch
            {
                ParquetLogicalType.String or ParquetLogicalType.Json => ParquetPhysicalType.ByteArray,
                ParquetLogicalType.Date => ParquetPhysicalType.Int32,
                ParquetLogicalType.TimestampMicrosUtc => ParquetPhysicalType.Int64,
                _ => null,
            };
            if (needed is { } t && c.Type != t)
                throw new ArgumentException($"parquet: column '{c.Name}' is {c.Logical}, which needs physical type {t}, not {c.Type}", nameof(schema));
            if (!Enum.IsDefined(c.Type) || !Enum.IsDefined(c.Logical))
                throw new ArgumentException($"parquet: column '{c.Name}' has an unknown type", nameof(schema));
        }
        if (options.RowGroupBytes <= 0 || options.PageBytes <= 0 || options.PageRowLimit <= 0 || options.DictionaryPageBytes < 0 || options.MaxStatisticsBytes < 0)
            throw new ArgumentException("parquet: RowGroupBytes, PageBytes and PageRowLimit must be positive; DictionaryPageBytes and MaxStatisticsBytes not negative", nameof(options));
        if (!Enum.IsDefined(options.Compression))
            throw new ArgumentException($"parquet: unknown compression {options.Compression}", nameof(options));
    }

    // ---- footer ------------------------------------------------------------------------------------

    private void WriteFileMetadata(PooledBufferWriter output)
    {
        var w = new ThriftCompactWriter(output);
        w.BeginStruct();
        w.I32Field(1, 1); // version
        w.ListField(2, ThriftCompactWriter.Struct, _schema.Length + 1);
        w.BeginStruct();               // the root group
        w.StringField(4, "schema");
        w.I32Field(5, _schema.Length);
        w.EndStruct();
        foreach (ParquetColumn c in _schema)
            WriteSchemaElement(ref w, c);
        w.I64Field(3, RowCount);
        w.ListField(4, ThriftCompactWriter.Struct, _rowGroups.Count);
        for (int g = 0; g < _rowGroups.Count; g++)
            WriteRowGroup(ref w, _rowGroups[g], g);
        w.StringField(6, _options.CreatedBy ?? DefaultCreatedBy);
        w.ListField(7, ThriftCompactWriter.Struct, _schema.Length);
        for (int i = 0; i < _schema.Length; i++)
        {
            w.BeginStruct();               // ColumnOrder union
            w.BeginStructField(1);         // TYPE_ORDER: TypeDefinedOrder {}
            w.EndStruct();
            w.EndStruct();
        }
        w.EndStruct();
    }

    private static void WriteSchemaElement(ref ThriftCompactWriter w, ParquetColumn c)
    {
        w.BeginStruct();
        w.I32Field(1, PhysicalTypeCode(c.Type));
        w.I32Field(3, c.Required ? 0 : 1);
        w.StringField(4, c.Name);
        int? converted = c.Logical switch
        {
            ParquetLogicalType.String => 0,             // UTF8
            ParquetLogicalType.Json => 19,              // JSON
            ParquetLogicalType.Date => 6,               // DATE
            ParquetLogicalType.TimestampMicrosUtc => 10, // TIMESTAMP_MICROS
            _ => null,
        };
        if (converted is int ct)
            w.I32Field(6, ct);
        w.I32Field(9, c.FieldId);
        if (c.Logical != ParquetLogicalType.None)
        {
            w.BeginStructField(10);        // LogicalType union
            switch (c.Logical)
            {
                case ParquetLogicalType.String:
                    w.BeginStructField(1);
                    w.EndStruct();
                    break;
                case ParquetLogicalType.Json:
                    w.BeginStructField(12);
                    w.EndStruct();
                    break;
                case ParquetLogicalType.Date:
                    w.BeginStructField(6);
                    w.EndStruct();
                    break;
                case ParquetLogicalType.TimestampMicrosUtc:
                    w.BeginStructField(8);     // TimestampType
                    w.BoolField(1, true);      // isAdjustedToUTC
                    w.BeginStructField(2);     // unit: TimeUnit union
                    w.BeginStructField(2);     // MICROS
                    w.EndStruct();
                    w.EndStruct();
                    w.EndStruct();
                    break;
            }
            w.EndStruct();
        }
        w.EndStruct();
    }

    private void WriteRowGroup(ref ThriftCompactWriter w, RowGroupMetadata group, int ordinal)
    {
        long totalUncompressed = 0, totalCompressed = 0;
        foreach (ChunkMetadata m in group.Columns)
        {
            totalUncompressed += m.TotalUncompressed;
            totalCompressed += m.TotalCompressed;
        }
        w.BeginStruct();
        w.ListField(1, ThriftCompactWriter.Struct, group.Columns.Length);
        for (int i = 0; i < group.Columns.Length; i++)
            WriteColumnChunk(ref w, _schema[i], group.Columns[i]);
        w.I64Field(2, totalUncompressed);
        w.I64Field(3, group.NumRows);
        w.I64Field(5, group.Columns[0].FileOffset);
        w.I64Field(6, totalCompressed);
        w.I16Field(7, checked((short)ordinal));
        w.EndStruct();
    }

    private void WriteColumnChunk(ref ThriftCompactWriter w, ParquetColumn column, ChunkMetadata m)
    {
        bool hasDictionary = m.DictionaryPageOffset >= 0;
        w.BeginStruct();
        // Deprecated: "writers should set this field to 0 if no ColumnMetaData has been written
        // outside the footer". The chunk's place is in data_page_offset / dictionary_page_offset.
        w.I64Field(2, 0);
        w.BeginStructField(3);                 // ColumnMetaData
        w.I32Field(1, PhysicalTypeCode(column.Type));
        bool plain = m.PlainDataPages > 0 || hasDictionary;
        int encodings = (plain ? 1 : 0) + (m.DictionaryDataPages > 0 ? 1 : 0) + (column.Required ? 0 : 1);
        w.ListField(2, ThriftCompactWriter.I32, encodings);
        if (plain)
            w.WriteI32(ColumnWriter.EncodingPlain);
        if (!column.Required)
            w.WriteI32(ColumnWriter.EncodingRle);
        if (m.DictionaryDataPages > 0)
            w.WriteI32(ColumnWriter.EncodingRleDictionary);
        w.ListField(3, ThriftCompactWriter.Binary, 1);
        w.WriteString(column.Name);
        w.I32Field(4, _compressor.Codec);
        w.I64Field(5, m.NumValues);
        w.I64Field(6, m.TotalUncompressed);
        w.I64Field(7, m.TotalCompressed);
        w.I64Field(9, m.DataPageOffset);
        if (hasDictionary)
            w.I64Field(11, m.DictionaryPageOffset);

        w.BeginStructField(12);                // Statistics
        w.I64Field(3, m.NullCount);
        bool writeMax = m.Max is { } max && (column.Type != ParquetPhysicalType.ByteArray || max.Length <= _options.MaxStatisticsBytes);
        bool writeMin = m.Min is { } min && (column.Type != ParquetPhysicalType.ByteArray || min.Length <= _options.MaxStatisticsBytes);
        if (writeMax)
            w.BinaryField(5, m.Max!);
        if (writeMin)
            w.BinaryField(6, m.Min!);
        if (writeMax)
            w.BoolField(7, true);              // is_max_value_exact: never truncated
        if (writeMin)
            w.BoolField(8, true);              // is_min_value_exact
        w.EndStruct();

        int stats = (hasDictionary ? 1 : 0) + (m.DictionaryDataPages > 0 ? 1 : 0) + (m.PlainDataPages > 0 ? 1 : 0);
        w.ListField(13, ThriftCompactWriter.Struct, stats);
        if (hasDictionary)
            WriteEncodingStats(ref w, ColumnWriter.PageTypeDictionary, ColumnWriter.EncodingPlain, 1);
        if (m.DictionaryDataPages > 0)
            WriteEncodingStats(ref w, ColumnWriter.PageTypeData, ColumnWriter.EncodingRleDictionary, m.DictionaryDataPages);
        if (m.PlainDataPages > 0)
            WriteEncodingStats(ref w, ColumnWriter.PageTypeData, ColumnWriter.EncodingPlain, m.PlainDataPages);
        w.EndStruct();                          // ColumnMetaData
        w.EndStruct();                          // ColumnChunk
    }

    private static void WriteEncodingStats(ref ThriftCompactWriter w, int pageType, int encoding, int count)
    {
        w.BeginStruct();
        w.I32Field(1, pageType);
        w.I32Field(2, encoding);
        w.I32Field(3, count);
        w.EndStruct();
    }

    private static int PhysicalTypeCode(ParquetPhysicalType type) => type switch
    {
        ParquetPhysicalType.Boolean => 0,
        ParquetPhysicalType.Int32 => 1,
        ParquetPhysicalType.Int64 => 2,
        ParquetPhysicalType.Float => 4,
        ParquetPhysicalType.Double => 5,
        _ => 6,
    };

    private static readonly string DefaultCreatedBy = "kafscale-dotnet version " + ProgramVersion();

    private static string ProgramVersion()
    {
        Assembly assembly = Assembly.GetEntryAssembly() ?? typeof(ParquetWriter).Assembly;
        string? version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (string.IsNullOrEmpty(version))
            version = assembly.GetName().Version?.ToString() ?? "0.0.0";
        int plus = version.IndexOf('+');
        return plus >= 0 ? version[..plus] : version;
    }
}
