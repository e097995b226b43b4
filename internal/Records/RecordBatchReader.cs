using System.Text;
using KafScale.Common;

namespace KafScale.Records;

/// <summary>
/// Reads the records of one batch, decompressing first when the batch is compressed (into a
/// pooled buffer returned by <see cref="Dispose"/>). Uncompressed batches are read in place
/// without allocation. Malformed content throws <see cref="InvalidDataException"/>.
/// <code>
/// using var reader = new RecordBatchReader(batch);
/// while (reader.TryReadNext(out RecordView r)) { ... r.Offset, r.Key, r.Value ... }
/// </code>
/// </summary>
public ref struct RecordBatchReader
{
    private readonly ReadOnlySpan<byte> _records;
    private PooledBufferWriter? _decompressed;
    private int _position;
    private int _read;

    /// <param name="batch">One whole batch (extra bytes after it are ignored).</param>
    public RecordBatchReader(ReadOnlySpan<byte> batch)
        : this(batch, MaxDecompressedBytes)
    {
    }

    /// <param name="batch">One whole batch (extra bytes after it are ignored).</param>
    /// <param name="maxDecompressedBytes">The most the batch's records may take decompressed.</param>
    public RecordBatchReader(ReadOnlySpan<byte> batch, int maxDecompressedBytes)
    {
        if (!RecordBatchHeader.TryRead(batch, out RecordBatchHeader header))
            throw new InvalidDataException($"a record batch needs at least {RecordBatch.HeaderSize} bytes, got {batch.Length}");
        if (header.Magic != RecordBatch.CurrentMagic)
            throw new InvalidDataException($"record batch magic {header.Magic} is not supported (only 2)");
        if (header.BatchLength < RecordBatch.MinBatchLength || header.BatchLength > batch.Length - RecordBatch.LogOverhead)
            throw new InvalidDataException($"record batch length {header.BatchLength} does not fit the {batch.Length} bytes given");
        if (header.RecordCount < 0)
            throw new InvalidDataException($"record batch has a negative record count {header.RecordCount}");
        Header = header;

        ReadOnlySpan<byte> payload = batch.Slice(RecordBatch.RecordsOffset, header.TotalSize - RecordBatch.RecordsOffset);
        if (header.Compression == CompressionType.None)
        {
            _records = payload;
        }
        else
        {
            var buffer = new PooledBufferWriter((int)Math.Clamp(payload.Length * 4L, 4096, 64L * 1024 * 1024), maxDecompressedBytes);
            try
            {
                RecordCompression.Decompress(header.Compression, payload, buffer);
            }
            catch
            {
                buffer.Dispose();
                throw;
            }
            _decompressed = buffer;
            _records = buffer.WrittenSpan;
        }
        _position = 0;
        _read = 0;
    }

    /// <summary>
    /// The most a compressed batch may decompress to (128 MiB): far beyond any batch a Kafka
    /// client builds under the default 1 MiB message.max.bytes, and a bound on what one hostile
    /// batch (a zstd run of 4 bytes becomes 128 KiB) can make a reader hold. Past it the batch is
    /// refused with <see cref="InvalidDataException"/> (docs/reliability.md, "Findings").
    /// </summary>
    public static int MaxDecompressedBytes { get; set; } = 128 * 1024 * 1024;

    public RecordBatchHeader Header { get; }

    /// <summary>The uncompressed records section.</summary>
    public readonly ReadOnlySpan<byte> RecordsBytes => _records;

    /// <summary>Records not yet read.</summary>
    public readonly int Remaining => Header.RecordCount - _read;

    /// <summary>Reads the next record; false after the last one.</summary>
    public bool TryReadNext(out RecordView record)
    {
        if (_read >= Header.RecordCount)
        {
            record = default;
            return false;
        }
        int pos = _position;
        if (!Varint.TryReadInt32(_records, ref pos, out int length) || length <= 0 || length > _records.Length - pos)
            throw Malformed("record length");
        ReadOnlySpan<byte> body = _records.Slice(pos, length);
        _position = pos + length;
        _read++;
        record = Decode(body);
        return true;
    }

    private readonly RecordView Decode(ReadOnlySpan<byte> body)
    {
        int pos = 0;
        byte attributes = body[pos++];
        if (!Varint.TryReadInt64(body, ref pos, out long timestampDelta))
            throw Malformed("timestamp delta");
        if (!Varint.TryReadInt32(body, ref pos, out int offsetDelta))
            throw Malformed("offset delta");
        ReadOnlySpan<byte> key = ReadBytes(body, ref pos, out bool keyNull, "key");
        ReadOnlySpan<byte> value = ReadBytes(body, ref pos, out bool valueNull, "value");
        // Each header takes at least two bytes (its key and value lengths): a count the record
        // cannot hold is refused here, before ToRecord sizes an array by it.
        if (!Varint.TryReadInt32(body, ref pos, out int headerCount) || headerCount < 0 || headerCount > (body.Length - pos) / 2)
            throw Malformed("header count");
        ReadOnlySpan<byte> headers = body.Slice(pos);

        RecordBatchHeader h = Header;
        long timestamp = h.TimestampType == TimestampType.LogAppend ? h.MaxTimestamp : h.BaseTimestamp + timestampDelta;
        return new RecordView(h.BaseOffset + offsetDelta, timestamp, offsetDelta, attributes, key, keyNull, value, valueNull, headerCount, headers);
    }

    internal static ReadOnlySpan<byte> ReadBytes(ReadOnlySpan<byte> body, scoped ref int pos, out bool isNull, string field)
    {
        if (!Varint.TryReadInt32(body, ref pos, out int length) || length < -1 || length > body.Length - pos)
            throw Malformed(field + " length");
        if (length == -1)
        {
            isNull = true;
            return default;
        }
        isNull = false;
        ReadOnlySpan<byte> bytes = body.Slice(pos, length);
        pos += length;
        return bytes;
    }

    internal static InvalidDataException Malformed(string what) => new($"malformed record: bad {what}");

    public void Dispose()
    {
        _decompressed?.Dispose();
        _decompressed = null;
    }

    /// <summary>Decodes every record of every batch in <paramref name="batches"/> (one or more whole batches back to back) into copies.</summary>
    public static List<Record> ReadAll(ReadOnlySpan<byte> batches)
    {
        var result = new List<Record>();
        var walk = RecordBatch.EnumerateBatches(batches);
        while (walk.MoveNext())
        {
            using var reader = new RecordBatchReader(walk.Current);
            while (reader.TryReadNext(out RecordView r))
                result.Add(r.ToRecord(reader.Header.TimestampType));
        }
        if (walk.StoppedEarly)
            throw new InvalidDataException($"bytes at position {walk.Consumed} are not a whole record batch");
        return result;
    }
}

/// <summary>One record, viewing the bytes of its batch (valid while the reader is).</summary>
public readonly ref struct RecordView
{
    internal RecordView(long offset, long timestamp, int offsetDelta, byte attributes,
        ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull,
        int headerCount, ReadOnlySpan<byte> headers)
    {
        Offset = offset;
        Timestamp = timestamp;
        OffsetDelta = offsetDelta;
        Attributes = attributes;
        Key = key;
        KeyIsNull = keyIsNull;
        Value = value;
        ValueIsNull = valueIsNull;
        HeaderCount = headerCount;
        HeaderBytes = headers;
    }

    public long Offset { get; }

    /// <summary>Create time from the producer, or for LogAppendTime batches the broker's append time.</summary>
    public long Timestamp { get; }

    public int OffsetDelta { get; }
    public byte Attributes { get; }
    public ReadOnlySpan<byte> Key { get; }
    public bool KeyIsNull { get; }
    public ReadOnlySpan<byte> Value { get; }
    public bool ValueIsNull { get; }
    public int HeaderCount { get; }

    /// <summary>The encoded headers (after the count).</summary>
    public ReadOnlySpan<byte> HeaderBytes { get; }

    public RecordHeaderEnumerator Headers => new(HeaderBytes, HeaderCount);

    public Record ToRecord(TimestampType timestampType = TimestampType.Create)
    {
        var headers = HeaderCount == 0 ? [] : new RecordHeader[HeaderCount];
        int i = 0;
        foreach (RecordHeaderView h in Headers)
            headers[i++] = new RecordHeader(Encoding.UTF8.GetString(h.Key), h.ValueIsNull ? null : h.Value.ToArray());
        return new Record(Offset, Timestamp, KeyIsNull ? null : Key.ToArray(), ValueIsNull ? null : Value.ToArray(), headers)
        {
            TimestampType = timestampType,
        };
    }
}

/// <summary>A record header viewed in place; the key is UTF-8.</summary>
public readonly ref struct RecordHeaderView(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool valueIsNull)
{
    public ReadOnlySpan<byte> Key { get; } = key;
    public ReadOnlySpan<byte> Value { get; } = value;
    public bool ValueIsNull { get; } = valueIsNull;
}

public ref struct RecordHeaderEnumerator
{
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly int _count;
    private int _position;
    private int _index;

    internal RecordHeaderEnumerator(ReadOnlySpan<byte> bytes, int count)
    {
        _bytes = bytes;
        _count = count;
        _position = 0;
        _index = 0;
        Current = default;
    }

    public RecordHeaderView Current { get; private set; }

    public readonly RecordHeaderEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_index >= _count)
            return false;
        int pos = _position;
        ReadOnlySpan<byte> key = RecordBatchReader.ReadBytes(_bytes, ref pos, out bool keyNull, "header key");
        if (keyNull)
            throw RecordBatchReader.Malformed("header key (null)");
        ReadOnlySpan<byte> value = RecordBatchReader.ReadBytes(_bytes, ref pos, out bool valueNull, "header value");
        _position = pos;
        _index++;
        Current = new RecordHeaderView(key, value, valueNull);
        return true;
    }
}
