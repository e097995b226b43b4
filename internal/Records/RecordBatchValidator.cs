using System.Buffers.Binary;

namespace KafScale.Records;

/// <summary>Outcome of validating a Produce partition blob; each value maps to one Kafka error code.</summary>
public enum BatchValidationResult
{
    Ok = 0,

    /// <summary>Bad CRC, bad length fields, truncated data or trailing bytes (CORRUPT_MESSAGE, 2).</summary>
    CorruptMessage,

    /// <summary>A batch whose magic is not 2 (UNSUPPORTED_FOR_MESSAGE_FORMAT, 43).</summary>
    UnsupportedMagic,

    /// <summary>
    /// The batch frame is intact but its content breaks the format: record count, offset deltas,
    /// or records that do not fill the batch (INVALID_RECORD, 87).
    /// </summary>
    InvalidRecord,
}

/// <summary>What exactly was wrong, for logs and <c>segments verify</c>.</summary>
public enum BatchProblem
{
    None = 0,
    NoBatches,
    TruncatedHeader,
    TrailingBytes,
    BatchLengthTooSmall,
    TruncatedBatch,
    UnsupportedMagic,
    CrcMismatch,
    InvalidRecordCount,
    LastOffsetDeltaMismatch,
    InvalidRecordLength,
    MalformedRecord,
    RecordOffsetDeltaMismatch,
    RecordCountMismatch,
}

/// <summary>Facts about a validated blob that the Produce path needs.</summary>
public struct BatchSummary
{
    public int BatchCount;

    /// <summary>Sum of the batches' record counts.</summary>
    public long RecordCount;

    public long FirstProducerId;
    public short FirstProducerEpoch;
    public int FirstBaseSequence;

    /// <summary>Largest maxTimestamp over the batches.</summary>
    public long MaxTimestamp;

    public bool AnyTransactional;
    public bool AnyControl;

    /// <summary>When not Ok: the specific problem, and where (batch index and byte position in the blob).</summary>
    public BatchProblem Problem;
    public int ProblemBatchIndex;
    public int ProblemPosition;
}

/// <summary>
/// Checks a Produce partition blob (one or more RecordBatch v2 back to back) the way a Kafka
/// broker does before appending it. Allocation-free.
/// </summary>
public static class RecordBatchValidator
{
    public static BatchValidationResult Validate(ReadOnlySpan<byte> partitionBlob, out BatchSummary summary)
    {
        summary = default;
        summary.MaxTimestamp = -1;
        summary.FirstProducerId = -1;
        summary.FirstProducerEpoch = -1;
        summary.FirstBaseSequence = -1;

        if (partitionBlob.IsEmpty)
            return Fail(ref summary, BatchValidationResult.InvalidRecord, BatchProblem.NoBatches, 0, 0);

        int position = 0;
        int index = 0;
        while (position < partitionBlob.Length)
        {
            ReadOnlySpan<byte> rest = partitionBlob.Slice(position);
            if (rest.Length <= RecordBatch.MagicOffset)
            {
                BatchProblem p = index > 0 ? BatchProblem.TrailingBytes : BatchProblem.TruncatedHeader;
                return Fail(ref summary, BatchValidationResult.CorruptMessage, p, index, position);
            }
            if (rest[RecordBatch.MagicOffset] != RecordBatch.CurrentMagic)
                return Fail(ref summary, BatchValidationResult.UnsupportedMagic, BatchProblem.UnsupportedMagic, index, position);

            int batchLength = BinaryPrimitives.ReadInt32BigEndian(rest.Slice(RecordBatch.BatchLengthOffset));
            if (batchLength < RecordBatch.MinBatchLength)
                return Fail(ref summary, BatchValidationResult.CorruptMessage, BatchProblem.BatchLengthTooSmall, index, position);
            if (batchLength > rest.Length - RecordBatch.LogOverhead)
                return Fail(ref summary, BatchValidationResult.CorruptMessage, BatchProblem.TruncatedBatch, index, position);

            ReadOnlySpan<byte> batch = rest.Slice(0, RecordBatch.LogOverhead + batchLength);
            BatchValidationResult r = ValidateOne(batch, out BatchProblem problem);
            if (r != BatchValidationResult.Ok)
                return Fail(ref summary, r, problem, index, position);

            var header = new RecordBatchHeader(batch);
            if (index == 0)
            {
                summary.FirstProducerId = header.ProducerId;
                summary.FirstProducerEpoch = header.ProducerEpoch;
                summary.FirstBaseSequence = header.BaseSequence;
            }
            summary.RecordCount += header.RecordCount;
            if (header.MaxTimestamp > summary.MaxTimestamp)
                summary.MaxTimestamp = header.MaxTimestamp;
            summary.AnyTransactional |= header.IsTransactional;
            summary.AnyControl |= header.IsControl;

            position += batch.Length;
            index++;
        }
        summary.BatchCount = index;
        return BatchValidationResult.Ok;
    }

    /// <summary>
    /// Validates exactly one whole batch whose length field has already been checked to match
    /// <paramref name="batch"/>: magic, CRC, counts and (uncompressed) the records themselves.
    /// </summary>
    public static BatchValidationResult ValidateOne(ReadOnlySpan<byte> batch, out BatchProblem problem)
    {
        if (batch.Length < RecordBatch.HeaderSize)
        {
            problem = BatchProblem.TruncatedHeader;
            return BatchValidationResult.CorruptMessage;
        }
        if (batch[RecordBatch.MagicOffset] != RecordBatch.CurrentMagic)
        {
            problem = BatchProblem.UnsupportedMagic;
            return BatchValidationResult.UnsupportedMagic;
        }
        if (!RecordBatch.IsCrcValid(batch))
        {
            problem = BatchProblem.CrcMismatch;
            return BatchValidationResult.CorruptMessage;
        }

        int recordCount = BinaryPrimitives.ReadInt32BigEndian(batch.Slice(RecordBatch.RecordCountOffset));
        int lastOffsetDelta = BinaryPrimitives.ReadInt32BigEndian(batch.Slice(RecordBatch.LastOffsetDeltaOffset));
        // Kafka's LogValidator: count > 0 and the offset range must match the count exactly.
        if (recordCount <= 0)
        {
            problem = BatchProblem.InvalidRecordCount;
            return BatchValidationResult.InvalidRecord;
        }
        if (lastOffsetDelta != recordCount - 1)
        {
            problem = BatchProblem.LastOffsetDeltaMismatch;
            return BatchValidationResult.InvalidRecord;
        }

        short attributes = BinaryPrimitives.ReadInt16BigEndian(batch.Slice(RecordBatch.AttributesOffset));
        if ((attributes & RecordBatch.CompressionMask) == 0)
        {
            problem = WalkRecords(batch.Slice(RecordBatch.RecordsOffset), recordCount);
            if (problem != BatchProblem.None)
                return BatchValidationResult.InvalidRecord;
        }
        problem = BatchProblem.None;
        return BatchValidationResult.Ok;
    }

    /// <summary>Checks that <paramref name="recordCount"/> well-formed records exactly fill <paramref name="records"/>.</summary>
    internal static BatchProblem WalkRecords(ReadOnlySpan<byte> records, int recordCount)
    {
        int pos = 0;
        for (int i = 0; i < recordCount; i++)
        {
            if (!Varint.TryReadInt32(records, ref pos, out int length) || length <= 0)
                return BatchProblem.InvalidRecordLength;
            if (length > records.Length - pos)
                return BatchProblem.InvalidRecordLength;
            ReadOnlySpan<byte> record = records.Slice(pos, length);
            pos += length;

            BatchProblem p = CheckRecord(record, i);
            if (p != BatchProblem.None)
                return p;
        }
        return pos == records.Length ? BatchProblem.None : BatchProblem.RecordCountMismatch;
    }

    private static BatchProblem CheckRecord(ReadOnlySpan<byte> record, int expectedOffsetDelta)
    {
        int pos = 1; // attributes (unused in v2)
        if (!Varint.TryReadInt64(record, ref pos, out _))
            return BatchProblem.MalformedRecord;
        if (!Varint.TryReadInt32(record, ref pos, out int offsetDelta))
            return BatchProblem.MalformedRecord;
        if (offsetDelta != expectedOffsetDelta)
            return BatchProblem.RecordOffsetDeltaMismatch;
        if (!SkipBytes(record, ref pos, allowNull: true) || !SkipBytes(record, ref pos, allowNull: true))
            return BatchProblem.MalformedRecord;
        if (!Varint.TryReadInt32(record, ref pos, out int headerCount) || headerCount < 0)
            return BatchProblem.MalformedRecord;
        for (int h = 0; h < headerCount; h++)
        {
            if (!SkipBytes(record, ref pos, allowNull: false) || !SkipBytes(record, ref pos, allowNull: true))
                return BatchProblem.MalformedRecord;
        }
        return pos == record.Length ? BatchProblem.None : BatchProblem.MalformedRecord;
    }

    private static bool SkipBytes(ReadOnlySpan<byte> record, ref int pos, bool allowNull)
    {
        if (!Varint.TryReadInt32(record, ref pos, out int length))
            return false;
        if (length < 0)
            return allowNull && length == -1;
        if (length > record.Length - pos)
            return false;
        pos += length;
        return true;
    }

    private static BatchValidationResult Fail(ref BatchSummary summary, BatchValidationResult result, BatchProblem problem, int index, int position)
    {
        summary.Problem = problem;
        summary.ProblemBatchIndex = index;
        summary.ProblemPosition = position;
        summary.BatchCount = index;
        return result;
    }
}
