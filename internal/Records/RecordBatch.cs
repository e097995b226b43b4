using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using KafScale.Common;

namespace KafScale.Records;

/// <summary>
/// Byte layout of a Kafka RecordBatch (magic 2) and the in-place edits a broker makes to one.
/// All integers are big-endian.
/// </summary>
public static class RecordBatch
{
    public const int BaseOffsetOffset = 0;
    public const int BatchLengthOffset = 8;
    public const int PartitionLeaderEpochOffset = 12;
    public const int MagicOffset = 16;
    public const int CrcOffset = 17;
    public const int AttributesOffset = 21;
    public const int LastOffsetDeltaOffset = 23;
    public const int BaseTimestampOffset = 27;
    public const int MaxTimestampOffset = 35;
    public const int ProducerIdOffset = 43;
    public const int ProducerEpochOffset = 51;
    public const int BaseSequenceOffset = 53;
    public const int RecordCountOffset = 57;
    public const int RecordsOffset = 61;

    /// <summary>Size of the header, up to and including the record count.</summary>
    public const int HeaderSize = RecordsOffset;

    /// <summary>Bytes before the part counted by batchLength (baseOffset + batchLength).</summary>
    public const int LogOverhead = 12;

    /// <summary>Smallest legal batchLength: the header after the batchLength field.</summary>
    public const int MinBatchLength = HeaderSize - LogOverhead;

    public const byte CurrentMagic = 2;

    internal const short CompressionMask = 0x07;
    internal const short TimestampTypeFlag = 0x08;
    internal const short TransactionalFlag = 0x10;
    internal const short ControlFlag = 0x20;

    /// <summary>
    /// Sets baseOffset. The CRC covers only bytes from the attributes on, so it stays valid.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PatchBaseOffset(Span<byte> batch, long baseOffset) =>
        BinaryPrimitives.WriteInt64BigEndian(batch.Slice(BaseOffsetOffset, 8), baseOffset);

    /// <summary>Sets partitionLeaderEpoch (outside the CRC).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SetPartitionLeaderEpoch(Span<byte> batch, int partitionLeaderEpoch) =>
        BinaryPrimitives.WriteInt32BigEndian(batch.Slice(PartitionLeaderEpochOffset, 4), partitionLeaderEpoch);

    /// <summary>
    /// Marks the batch as LogAppendTime with the given broker time: sets attributes bit 3 and
    /// maxTimestamp (base timestamp and record deltas are kept, as Kafka does), then recomputes
    /// the CRC. <paramref name="batch"/> must be exactly one whole batch.
    /// </summary>
    public static void SetLogAppendTime(Span<byte> batch, long timestampMs)
    {
        Span<byte> attributes = batch.Slice(AttributesOffset, 2);
        short a = BinaryPrimitives.ReadInt16BigEndian(attributes);
        BinaryPrimitives.WriteInt16BigEndian(attributes, (short)(a | TimestampTypeFlag));
        BinaryPrimitives.WriteInt64BigEndian(batch.Slice(MaxTimestampOffset, 8), timestampMs);
        UpdateCrc(batch);
    }

    /// <summary>Recomputes and stores the CRC-32C of a whole batch (bytes 21..end).</summary>
    public static void UpdateCrc(Span<byte> batch) =>
        BinaryPrimitives.WriteUInt32BigEndian(batch.Slice(CrcOffset, 4), Crc32C.Compute(batch.Slice(AttributesOffset)));

    /// <summary>True when the stored CRC matches bytes 21..end of <paramref name="batch"/>.</summary>
    public static bool IsCrcValid(ReadOnlySpan<byte> batch) =>
        batch.Length >= HeaderSize &&
        BinaryPrimitives.ReadUInt32BigEndian(batch.Slice(CrcOffset, 4)) == Crc32C.Compute(batch.Slice(AttributesOffset));

    /// <summary>
    /// Size of the batch starting at <paramref name="data"/> (12 + batchLength), or -1 when fewer
    /// than 12 bytes are present or the length field is below the minimum.
    /// </summary>
    public static int PeekTotalSize(ReadOnlySpan<byte> data)
    {
        if (data.Length < LogOverhead)
            return -1;
        int batchLength = BinaryPrimitives.ReadInt32BigEndian(data.Slice(BatchLengthOffset, 4));
        if (batchLength < MinBatchLength || batchLength > int.MaxValue - LogOverhead)
            return -1;
        return LogOverhead + batchLength;
    }

    /// <summary>
    /// Walks the whole batches laid back to back in <paramref name="data"/> (a Produce partition
    /// blob, a segment body, or a ranged read of one). Stops before a partial batch; see
    /// <see cref="RecordBatchEnumerator.Consumed"/>. Checks only the length fields.
    /// </summary>
    public static RecordBatchEnumerator EnumerateBatches(ReadOnlySpan<byte> data) => new(data);
}

/// <summary>
/// Allocation-free walk over whole batches laid back to back. <see cref="Current"/> is one whole
/// batch; <see cref="Position"/> is its byte offset within the walked span.
/// </summary>
public ref struct RecordBatchEnumerator
{
    private readonly ReadOnlySpan<byte> _data;
    private int _next;

    internal RecordBatchEnumerator(ReadOnlySpan<byte> data)
    {
        _data = data;
        _next = 0;
        Position = -1;
        Current = default;
    }

    public ReadOnlySpan<byte> Current { get; private set; }

    /// <summary>Byte offset of <see cref="Current"/> within the walked span.</summary>
    public int Position { get; private set; }

    /// <summary>Bytes covered by the whole batches returned so far.</summary>
    public readonly int Consumed => _next;

    /// <summary>True when the walk stopped before the end because of a partial or malformed batch.</summary>
    public readonly bool StoppedEarly => _next < _data.Length;

    public readonly RecordBatchEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        ReadOnlySpan<byte> rest = _data.Slice(_next);
        int size = RecordBatch.PeekTotalSize(rest);
        if (size < 0 || size > rest.Length)
            return false;
        Position = _next;
        Current = rest.Slice(0, size);
        _next += size;
        return true;
    }
}
