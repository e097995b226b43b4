using System.Buffers.Binary;
using System.Text;
using KafScale.Common;

namespace KafScale.Parquet;

/// <summary>What the footer needs to know about one written column chunk.</summary>
internal sealed class ChunkMetadata
{
    public long FileOffset;
    public long DataPageOffset;
    public long DictionaryPageOffset = -1;
    public long NumValues;
    public long NullCount;
    public long TotalUncompressed;
    public long TotalCompressed;
    public int DictionaryDataPages;
    public int PlainDataPages;
    public byte[]? Min;
    public byte[]? Max;
}

/// <summary>
/// Buffers one column: the current data page (definition levels plus either PLAIN values or
/// dictionary indices) and the finished pages of the current column chunk, which are written
/// to the file when the row group closes (after the chunk's dictionary page, if any).
/// </summary>
internal sealed class ColumnWriter : IDisposable
{
    // thrift Encoding / PageType values
    internal const int EncodingPlain = 0;
    internal const int EncodingRle = 3;
    internal const int EncodingRleDictionary = 8;
    internal const int PageTypeData = 0;
    internal const int PageTypeDictionary = 2;

    private readonly ParquetWriterOptions _options;
    private readonly PageCompressor _compressor;
    private readonly PooledBufferWriter _body;      // shared scratch for page bodies
    private readonly PooledBufferWriter _header;    // shared scratch for page headers
    private readonly bool _optional;
    private readonly ParquetPhysicalType _type;
    private readonly bool _dictionaryAllowed;
    private readonly ColumnStatistics _stats;

    // The current page.
    private int _pageValues;                 // nulls included
    private int[] _levels;                   // definition levels (optional columns)
    private readonly PooledBufferWriter _plain = new(16 * 1024);
    private int[] _indices;
    private int _indexCount;
    private long _pagePlainBytes;            // PLAIN size of the page's values (the dictionary decision)
    private int _boolByte, _boolBits;

    // The current column chunk.
    private readonly SegmentedBuffer _chunk = new();
    private readonly ValueDictionary? _dictionary;
    private bool _dictionaryMode;
    private int _dictionaryDataPages, _plainDataPages;
    private long _chunkValues, _chunkNulls, _chunkUncompressed, _chunkCompressed;

    // The whole file.
    private long _fileValues, _fileNulls, _fileCompressed;
    private byte[]? _fileMin, _fileMax;

    public ColumnWriter(ParquetColumn column, int index, ParquetWriterOptions options, PageCompressor compressor,
        PooledBufferWriter body, PooledBufferWriter header)
    {
        Column = column;
        Index = index;
        _options = options;
        _compressor = compressor;
        _body = body;
        _header = header;
        _optional = !column.Required;
        _type = column.Type;
        _stats = new ColumnStatistics(_type);
        _levels = _optional ? new int[Math.Min(options.PageRowLimit, 1024)] : [];
        _dictionaryAllowed = options.Dictionary && _type != ParquetPhysicalType.Boolean;
        _indices = _dictionaryAllowed ? new int[Math.Min(options.PageRowLimit, 1024)] : [];
        if (_dictionaryAllowed)
            _dictionary = new ValueDictionary(lengthPrefixed: _type == ParquetPhysicalType.ByteArray);
        _dictionaryMode = _dictionaryAllowed;
    }

    public ParquetColumn Column { get; }

    public int Index { get; }

    /// <summary>Set when the current row has a value (or null) for this column.</summary>
    public bool HasValue;

    public bool IsDictionaryMode => _dictionaryMode;

    public int PageValues => _pageValues;

    /// <summary>Whether the current page reached its byte or value limit.</summary>
    public bool PageFull => _pageValues >= _options.PageRowLimit || EstimatedPageBytes >= _options.PageBytes;

    private long EstimatedPageBytes
    {
        get
        {
            long levels = _optional ? _pageValues / 8 : 0;
            if (_dictionaryMode)
                return levels + ((long)_indexCount * RleHybridEncoder.BitWidth(_dictionary!.Count - 1) + 7) / 8;
            return levels + _plain.WrittenCount + (_boolBits > 0 ? 1 : 0);
        }
    }

    /// <summary>Uncompressed size estimate of the chunk so far (row group sizing).</summary>
    public long EstimatedChunkBytes => _chunkUncompressed + EstimatedPageBytes + (_dictionaryMode ? _dictionary!.PlainBytes : 0);

    // ---- values ----------------------------------------------------------------------------------

    public void AddNull()
    {
        AddLevel(0);
        _chunkNulls++;
    }

    public void AddBoolean(bool value)
    {
        AddLevel(1);
        _stats.UpdateLong(value ? 1 : 0);
        if (value)
            _boolByte |= 1 << _boolBits;
        if (++_boolBits == 8)
        {
            _plain.GetSpan(1)[0] = (byte)_boolByte;
            _plain.Advance(1);
            _boolByte = 0;
            _boolBits = 0;
        }
    }

    public void AddInt32(int value)
    {
        _stats.UpdateLong(value);
        Span<byte> le = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(le, value);
        AddFixed(le);
    }

    public void AddInt64(long value)
    {
        _stats.UpdateLong(value);
        Span<byte> le = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(le, value);
        AddFixed(le);
    }

    public void AddFloat(float value)
    {
        _stats.UpdateDouble(value);
        Span<byte> le = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(le, value);
        AddFixed(le);
    }

    public void AddDouble(double value)
    {
        _stats.UpdateDouble(value);
        Span<byte> le = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(le, value);
        AddFixed(le);
    }

    private void AddFixed(ReadOnlySpan<byte> le)
    {
        AddLevel(1);
        _pagePlainBytes += le.Length;
        if (_dictionaryMode && TryAddToDictionary(le, out _))
            return;
        _plain.Write(le);
    }

    public void AddBytes(ReadOnlySpan<byte> value)
    {
        AddLevel(1);
        _pagePlainBytes += 4 + value.Length;
        if (_dictionaryMode)
        {
            if (TryAddToDictionary(value, out bool added))
            {
                // In dictionary mode every distinct value passes here once: statistics need only those.
                if (added)
                    _stats.UpdateBytes(value);
                return;
            }
        }
        _stats.UpdateBytes(value);
        Span<byte> span = _plain.GetSpan(4 + value.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span, value.Length);
        value.CopyTo(span.Slice(4));
        _plain.Advance(4 + value.Length);
    }

    /// <summary>UTF-8 encodes straight into the page buffer (PLAIN) or into <paramref name="scratch"/> (dictionary lookups).</summary>
    public void AddString(ReadOnlySpan<char> value, ref byte[] scratch)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (_dictionaryMode)
        {
            if (scratch.Length < max)
                scratch = new byte[Math.Max(max, scratch.Length * 2)];
            int n = Encoding.UTF8.GetBytes(value, scratch);
            AddBytes(scratch.AsSpan(0, n));
            return;
        }
        AddLevel(1);
        Span<byte> span = _plain.GetSpan(4 + max);
        int length = Encoding.UTF8.GetBytes(value, span.Slice(4));
        BinaryPrimitives.WriteInt32LittleEndian(span, length);
        _stats.UpdateBytes(span.Slice(4, length));
        _plain.Advance(4 + length);
        _pagePlainBytes += 4 + length;
    }

    private void AddLevel(int level)
    {
        if (_optional)
        {
            if (_pageValues == _levels.Length)
                Array.Resize(ref _levels, _levels.Length * 2);
            _levels[_pageValues] = level;
        }
        _pageValues++;
        _chunkValues++;
    }

    /// <summary>Looks the value up (adding it when new); false when the dictionary gave up and the value must go PLAIN.</summary>
    private bool TryAddToDictionary(ReadOnlySpan<byte> value, out bool added)
    {
        ValueDictionary dictionary = _dictionary!;
        int hash = ValueDictionary.Hash(value);
        int index = dictionary.Find(value, hash);
        added = false;
        if (index < 0)
        {
            int entryBytes = value.Length + (_type == ParquetPhysicalType.ByteArray ? 4 : 0);
            if ((long)dictionary.PlainBytes + entryBytes > _options.DictionaryPageBytes)
            {
                FallBackToPlain();
                return false;
            }
            index = dictionary.Add(value, hash);
            added = true;
        }
        if (_indexCount == _indices.Length)
            Array.Resize(ref _indices, _indices.Length * 2);
        _indices[_indexCount++] = index;
        return true;
    }

    /// <summary>
    /// Stops dictionary encoding for the rest of the chunk. If no written page uses the dictionary yet,
    /// the current page's indices become PLAIN values and the dictionary is dropped; otherwise the
    /// current page is finished as a dictionary page and the chunk goes on PLAIN.
    /// </summary>
    private void FallBackToPlain()
    {
        if (_dictionaryDataPages == 0)
        {
            IndicesToPlain();
        }
        else
        {
            // The value that triggered this is already counted in the level buffer; flush the page without it.
            FlushPage(excludeLast: true);
        }
        _dictionaryMode = false;
    }

    private void IndicesToPlain()
    {
        ValueDictionary dictionary = _dictionary!;
        for (int i = 0; i < _indexCount; i++)
            _plain.Write(dictionary.PlainEntry(_indices[i]));
        _indexCount = 0;
        dictionary.Clear();
        _dictionaryMode = false;
    }

    // ---- pages -----------------------------------------------------------------------------------

    /// <summary>Finishes the current page (if it holds any value) into the chunk buffer.</summary>
    public void FlushPage() => FlushPage(excludeLast: false);

    private void FlushPage(bool excludeLast)
    {
        int values = excludeLast ? _pageValues - 1 : _pageValues;
        if (values <= 0)
            return;

        if (_dictionaryMode && _dictionaryDataPages == 0 && !DictionaryPays())
            IndicesToPlain();

        _body.Clear();
        if (_optional)
        {
            // Data page v1: the levels' byte length (4 bytes, little-endian) precedes the runs.
            _body.GetSpan(4);
            _body.Advance(4);
            int length = RleHybridEncoder.Encode(_levels.AsSpan(0, values), 1, _body);
            BinaryPrimitives.WriteInt32LittleEndian(_body.WrittenSpanMutable, length);
        }

        int encoding;
        ReadOnlySpan<byte> body;
        if (_dictionaryMode)
        {
            int bitWidth = RleHybridEncoder.BitWidth(_dictionary!.Count - 1);
            _body.GetSpan(1)[0] = (byte)bitWidth;
            _body.Advance(1);
            RleHybridEncoder.Encode(_indices.AsSpan(0, _indexCount), bitWidth, _body);
            encoding = EncodingRleDictionary;
            _dictionaryDataPages++;
            body = _body.WrittenSpan;
        }
        else
        {
            if (_type == ParquetPhysicalType.Boolean && _boolBits > 0)
            {
                _plain.GetSpan(1)[0] = (byte)_boolByte;
                _plain.Advance(1);
            }
            encoding = EncodingPlain;
            _plainDataPages++;
            if (_optional)
            {
                _body.Write(_plain.WrittenSpan);
                body = _body.WrittenSpan;
            }
            else
            {
                body = _plain.WrittenSpan;   // no levels: the values are the whole body
            }
        }

        WritePage(_chunk, PageTypeData, values, encoding, body, out int total, out int uncompressedTotal);
        _chunkCompressed += total;
        _chunkUncompressed += uncompressedTotal;

        // Reset the page; a held-back value (see FallBackToPlain) becomes the first of the next page.
        _plain.Clear();
        _indexCount = 0;
        _pagePlainBytes = 0;
        _boolByte = 0;
        _boolBits = 0;
        if (excludeLast)
        {
            if (_optional)
                _levels[0] = _levels[_pageValues - 1];
            _pageValues = 1;
        }
        else
        {
            _pageValues = 0;
        }
    }

    // The dictionary pays when its entries plus the packed indices take fewer bytes than PLAIN values.
    private bool DictionaryPays()
    {
        ValueDictionary dictionary = _dictionary!;
        long indices = ((long)_indexCount * RleHybridEncoder.BitWidth(dictionary.Count - 1) + 7) / 8 + 1;
        return dictionary.PlainBytes + indices < _pagePlainBytes;
    }

    /// <summary>Header (thrift) then the compressed body, into <paramref name="destination"/> (or straight to <paramref name="output"/>).</summary>
    private void WritePage(SegmentedBuffer? destination, int pageType, int values, int encoding, ReadOnlySpan<byte> body,
        out int total, out int uncompressedTotal, Stream? output = null)
    {
        ReadOnlySpan<byte> compressed = _compressor.Compress(body);
        _header.Clear();
        var w = new ThriftCompactWriter(_header);
        w.BeginStruct();
        w.I32Field(1, pageType);
        w.I32Field(2, body.Length);
        w.I32Field(3, compressed.Length);
        if (pageType == PageTypeData)
        {
            w.BeginStructField(5);
            w.I32Field(1, values);
            w.I32Field(2, encoding);
            w.I32Field(3, EncodingRle);
            w.I32Field(4, EncodingRle);
            w.EndStruct();
        }
        else
        {
            w.BeginStructField(7);
            w.I32Field(1, values);
            w.I32Field(2, encoding);
            w.EndStruct();
        }
        w.EndStruct();
        if (destination is not null)
        {
            destination.Write(_header.WrittenSpan);
            destination.Write(compressed);
        }
        else
        {
            output!.Write(_header.WrittenSpan);
            output.Write(compressed);
        }
        total = _header.WrittenCount + compressed.Length;
        uncompressedTotal = _header.WrittenCount + body.Length;
    }

    // ---- chunks ----------------------------------------------------------------------------------

    /// <summary>Writes the chunk (dictionary page first) at <paramref name="position"/> and starts a new one.</summary>
    public ChunkMetadata CloseChunk(Stream output, ref long position)
    {
        FlushPage();
        var meta = new ChunkMetadata
        {
            FileOffset = position,
            NumValues = _chunkValues,
            NullCount = _chunkNulls,
            DictionaryDataPages = _dictionaryDataPages,
            PlainDataPages = _plainDataPages,
        };

        long compressed = _chunkCompressed;
        long uncompressed = _chunkUncompressed;
        if (_dictionaryDataPages > 0)
        {
            // The dictionary page is written straight to the output, so _chunk's bytes stay as they are.
            WritePage(null, PageTypeDictionary, _dictionary!.Count, EncodingPlain, _dictionary.PlainSpan, out int total, out int uncompressedTotal, output);
            meta.DictionaryPageOffset = position;
            position += total;
            compressed += total;
            uncompressed += uncompressedTotal;
        }
        meta.DataPageOffset = position;
        _chunk.WriteTo(output);
        position += _chunk.Length;
        meta.TotalCompressed = compressed;
        meta.TotalUncompressed = uncompressed;
        meta.Min = _stats.EncodeMin();
        meta.Max = _stats.EncodeMax();

        _fileValues += meta.NumValues;
        _fileNulls += meta.NullCount;
        _fileCompressed += compressed;
        if (meta.Min is not null && (_fileMin is null || ColumnStatistics.Compare(_type, meta.Min, _fileMin) < 0))
            _fileMin = meta.Min;
        if (meta.Max is not null && (_fileMax is null || ColumnStatistics.Compare(_type, meta.Max, _fileMax) > 0))
            _fileMax = meta.Max;

        _chunk.Clear();
        _dictionary?.Clear();
        _dictionaryMode = _dictionaryAllowed;
        _dictionaryDataPages = 0;
        _plainDataPages = 0;
        _chunkValues = _chunkNulls = _chunkUncompressed = _chunkCompressed = 0;
        _stats.Reset();
        return meta;
    }

    public ParquetColumnResult Result() =>
        new(Column.FieldId, _fileValues, _fileNulls, _fileCompressed, _fileMin, _fileMax);

    public void Dispose()
    {
        _plain.Dispose();
        _chunk.Dispose();
        _dictionary?.Dispose();
    }
}
