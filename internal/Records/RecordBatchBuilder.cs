using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using KafScale.Common;

namespace KafScale.Records;

/// <summary>
/// Builds one RecordBatch v2 with any codec, as a producer would (for tools, benchmarks and
/// tests). Records are encoded as they are added; <see cref="Build()"/> compresses and frames.
/// </summary>
public sealed class RecordBatchBuilder : IDisposable
{
    private readonly PooledBufferWriter _records = new(1024);
    private long _baseTimestamp;
    private long _maxTimestamp = -1;
    private int _count;

    public RecordBatchBuilder(CompressionType compression = CompressionType.None)
    {
        Compression = compression;
    }

    public CompressionType Compression { get; set; }

    /// <summary>Codec level; null for the codec's Kafka default.</summary>
    public int? CompressionLevel { get; set; }

    public long BaseOffset { get; set; }

    /// <summary>-1 as a producer sends it; the broker stamps its own.</summary>
    public int PartitionLeaderEpoch { get; set; } = -1;

    public long ProducerId { get; set; } = -1;
    public short ProducerEpoch { get; set; } = -1;
    public int BaseSequence { get; set; } = -1;
    public bool IsTransactional { get; set; }
    public bool IsControl { get; set; }
    public TimestampType TimestampType { get; set; }

    /// <summary>
    /// The batch's maxTimestamp; by default the largest record timestamp. Set it for
    /// LogAppendTime batches to the append time.
    /// </summary>
    public long? MaxTimestampOverride { get; set; }

    public int Count => _count;

    /// <summary>Appends a record; the first record's timestamp becomes the batch's base timestamp.</summary>
    public RecordBatchBuilder Add(byte[]? key, byte[]? value, long timestampMs, IReadOnlyList<RecordHeader>? headers = null) =>
        Add(key, key is null, value, value is null, timestampMs, headers);

    /// <summary>Appends a record from spans; the null flags distinguish null from empty.</summary>
    public RecordBatchBuilder Add(ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull,
        long timestampMs, IReadOnlyList<RecordHeader>? headers = null)
    {
        if (_count == 0)
            _baseTimestamp = timestampMs;
        if (timestampMs > _maxTimestamp)
            _maxTimestamp = timestampMs;

        long timestampDelta = timestampMs - _baseTimestamp;
        int offsetDelta = _count;
        int keyLength = keyIsNull ? -1 : key.Length;
        int valueLength = valueIsNull ? -1 : value.Length;
        int headerCount = headers?.Count ?? 0;

        int size = 1 + Varint.SizeOfInt64(timestampDelta) + Varint.SizeOfInt32(offsetDelta)
            + Varint.SizeOfInt32(keyLength) + Math.Max(keyLength, 0)
            + Varint.SizeOfInt32(valueLength) + Math.Max(valueLength, 0)
            + Varint.SizeOfInt32(headerCount);
        for (int i = 0; i < headerCount; i++)
        {
            RecordHeader h = headers![i];
            int k = Encoding.UTF8.GetByteCount(h.Key);
            int v = h.Value?.Length ?? -1;
            size += Varint.SizeOfInt32(k) + k + Varint.SizeOfInt32(v) + Math.Max(v, 0);
        }

        Span<byte> dst = _records.GetSpan(Varint.SizeOfInt32(size) + size);
        int p = Varint.WriteInt32(dst, size);
        dst[p++] = 0; // record attributes: unused in v2
        p += Varint.WriteInt64(dst.Slice(p), timestampDelta);
        p += Varint.WriteInt32(dst.Slice(p), offsetDelta);
        p += Varint.WriteInt32(dst.Slice(p), keyLength);
        if (!keyIsNull)
        {
            key.CopyTo(dst.Slice(p));
            p += key.Length;
        }
        p += Varint.WriteInt32(dst.Slice(p), valueLength);
        if (!valueIsNull)
        {
            value.CopyTo(dst.Slice(p));
            p += value.Length;
        }
        p += Varint.WriteInt32(dst.Slice(p), headerCount);
        for (int i = 0; i < headerCount; i++)
        {
            RecordHeader h = headers![i];
            int k = Encoding.UTF8.GetByteCount(h.Key);
            p += Varint.WriteInt32(dst.Slice(p), k);
            p += Encoding.UTF8.GetBytes(h.Key, dst.Slice(p));
            p += Varint.WriteInt32(dst.Slice(p), h.Value?.Length ?? -1);
            if (h.Value is not null)
            {
                h.Value.CopyTo(dst.Slice(p));
                p += h.Value.Length;
            }
        }
        _records.Advance(p);
        _count++;
        return this;
    }

    /// <summary>Builds the batch into a new array.</summary>
    public byte[] Build()
    {
        using var output = new PooledBufferWriter(RecordBatch.HeaderSize + _records.WrittenCount + 64);
        Build(output);
        return output.ToArray();
    }

    /// <summary>Appends the batch to <paramref name="destination"/>; returns its size.</summary>
    public int Build(IBufferWriter<byte> destination)
    {
        if (_count == 0)
            throw new InvalidOperationException("a record batch needs at least one record");

        PooledBufferWriter? compressed = null;
        try
        {
            ReadOnlySpan<byte> payload = _records.WrittenSpan;
            if (Compression != CompressionType.None)
            {
                compressed = new PooledBufferWriter(payload.Length / 2 + 64);
                RecordCompression.Compress(Compression, payload, compressed, CompressionLevel);
                payload = compressed.WrittenSpan;
            }

            int total = RecordBatch.HeaderSize + payload.Length;
            Span<byte> batch = destination.GetSpan(total).Slice(0, total);
            short attributes = (short)((int)Compression
                | (TimestampType == TimestampType.LogAppend ? RecordBatch.TimestampTypeFlag : 0)
                | (IsTransactional ? RecordBatch.TransactionalFlag : 0)
                | (IsControl ? RecordBatch.ControlFlag : 0));

            BinaryPrimitives.WriteInt64BigEndian(batch, BaseOffset);
            BinaryPrimitives.WriteInt32BigEndian(batch.Slice(RecordBatch.BatchLengthOffset), total - RecordBatch.LogOverhead);
            BinaryPrimitives.WriteInt32BigEndian(batch.Slice(RecordBatch.PartitionLeaderEpochOffset), PartitionLeaderEpoch);
            batch[RecordBatch.MagicOffset] = RecordBatch.CurrentMagic;
            BinaryPrimitives.WriteInt16BigEndian(batch.Slice(RecordBatch.AttributesOffset), attributes);
            BinaryPrimitives.WriteInt32BigEndian(batch.Slice(RecordBatch.LastOffsetDeltaOffset), _count - 1);
            BinaryPrimitives.WriteInt64BigEndian(batch.Slice(RecordBatch.BaseTimestampOffset), _baseTimestamp);
            BinaryPrimitives.WriteInt64BigEndian(batch.Slice(RecordBatch.MaxTimestampOffset), MaxTimestampOverride ?? _maxTimestamp);
            BinaryPrimitives.WriteInt64BigEndian(batch.Slice(RecordBatch.ProducerIdOffset), ProducerId);
            BinaryPrimitives.WriteInt16BigEndian(batch.Slice(RecordBatch.ProducerEpochOffset), ProducerEpoch);
            BinaryPrimitives.WriteInt32BigEndian(batch.Slice(RecordBatch.BaseSequenceOffset), BaseSequence);
            BinaryPrimitives.WriteInt32BigEndian(batch.Slice(RecordBatch.RecordCountOffset), _count);
            payload.CopyTo(batch.Slice(RecordBatch.RecordsOffset));
            RecordBatch.UpdateCrc(batch);
            destination.Advance(total);
            return total;
        }
        finally
        {
            compressed?.Dispose();
        }
    }

    /// <summary>Forgets the records so the builder can make another batch with the same settings.</summary>
    public void Clear()
    {
        _records.Clear();
        _count = 0;
        _maxTimestamp = -1;
        _baseTimestamp = 0;
    }

    public void Dispose() => _records.Dispose();
}
