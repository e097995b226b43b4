using System.Buffers.Binary;

namespace KafScale.Records;

/// <summary>
/// The fixed 61-byte header of a RecordBatch v2, decoded. Parsing reads only; it checks neither
/// magic nor CRC (see <see cref="RecordBatchValidator"/>).
/// </summary>
public readonly struct RecordBatchHeader
{
    public long BaseOffset { get; }
    public int BatchLength { get; }
    public int PartitionLeaderEpoch { get; }
    public byte Magic { get; }
    public uint Crc { get; }
    public short Attributes { get; }
    public int LastOffsetDelta { get; }
    public long BaseTimestamp { get; }
    public long MaxTimestamp { get; }
    public long ProducerId { get; }
    public short ProducerEpoch { get; }
    public int BaseSequence { get; }
    public int RecordCount { get; }

    /// <summary>Decodes the header at the start of <paramref name="batch"/> (at least 61 bytes).</summary>
    public RecordBatchHeader(ReadOnlySpan<byte> batch)
    {
        if (batch.Length < RecordBatch.HeaderSize)
            ThrowTooShort(batch.Length);
        BaseOffset = BinaryPrimitives.ReadInt64BigEndian(batch);
        BatchLength = BinaryPrimitives.ReadInt32BigEndian(batch.Slice(RecordBatch.BatchLengthOffset));
        PartitionLeaderEpoch = BinaryPrimitives.ReadInt32BigEndian(batch.Slice(RecordBatch.PartitionLeaderEpochOffset));
        Magic = batch[RecordBatch.MagicOffset];
        Crc = BinaryPrimitives.ReadUInt32BigEndian(batch.Slice(RecordBatch.CrcOffset));
        Attributes = BinaryPrimitives.ReadInt16BigEndian(batch.Slice(RecordBatch.AttributesOffset));
        LastOffsetDelta = BinaryPrimitives.ReadInt32BigEndian(batch.Slice(RecordBatch.LastOffsetDeltaOffset));
        BaseTimestamp = BinaryPrimitives.ReadInt64BigEndian(batch.Slice(RecordBatch.BaseTimestampOffset));
        MaxTimestamp = BinaryPrimitives.ReadInt64BigEndian(batch.Slice(RecordBatch.MaxTimestampOffset));
        ProducerId = BinaryPrimitives.ReadInt64BigEndian(batch.Slice(RecordBatch.ProducerIdOffset));
        ProducerEpoch = BinaryPrimitives.ReadInt16BigEndian(batch.Slice(RecordBatch.ProducerEpochOffset));
        BaseSequence = BinaryPrimitives.ReadInt32BigEndian(batch.Slice(RecordBatch.BaseSequenceOffset));
        RecordCount = BinaryPrimitives.ReadInt32BigEndian(batch.Slice(RecordBatch.RecordCountOffset));
    }

    /// <summary>Decodes the header, or returns false when fewer than 61 bytes are given.</summary>
    public static bool TryRead(ReadOnlySpan<byte> batch, out RecordBatchHeader header)
    {
        if (batch.Length < RecordBatch.HeaderSize)
        {
            header = default;
            return false;
        }
        header = new RecordBatchHeader(batch);
        return true;
    }

    public CompressionType Compression => (CompressionType)(Attributes & RecordBatch.CompressionMask);

    public TimestampType TimestampType =>
        (Attributes & RecordBatch.TimestampTypeFlag) != 0 ? TimestampType.LogAppend : TimestampType.Create;

    public bool IsTransactional => (Attributes & RecordBatch.TransactionalFlag) != 0;

    public bool IsControl => (Attributes & RecordBatch.ControlFlag) != 0;

    /// <summary>Bytes of the whole batch: 12 + batchLength.</summary>
    public int TotalSize => RecordBatch.LogOverhead + BatchLength;

    public long LastOffset => BaseOffset + LastOffsetDelta;

    /// <summary>True when the batch was written by an idempotent or transactional producer.</summary>
    public bool HasProducerId => ProducerId >= 0;

    private static void ThrowTooShort(int length) =>
        throw new ArgumentException($"a record batch header needs {RecordBatch.HeaderSize} bytes, got {length}", "batch");
}
