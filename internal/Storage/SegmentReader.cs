using KafScale.Common;
using KafScale.Records;

namespace KafScale.Storage;

/// <summary>Outcome of <see cref="SegmentReader.Verify"/>: valid, or the first rule the objects break.</summary>
public readonly record struct SegmentVerification(
    SegmentProblem Problem, string Message, long BaseOffset, long LastOffset, int BatchCount, long MessageCount)
{
    public bool IsValid => Problem == SegmentProblem.None;
}

/// <summary>
/// Reads a whole <c>.kfs</c> segment held in memory. <see cref="Open"/> checks header, footer,
/// body CRC and batch framing; <see cref="Verify"/> additionally validates every batch and the
/// index, for <c>admin segments verify</c>.
/// </summary>
public readonly struct SegmentReader
{
    private SegmentReader(ReadOnlyMemory<byte> segment, SegmentHeader header, SegmentFooter footer, int batchCount)
    {
        Segment = segment;
        Header = header;
        Footer = footer;
        BatchCount = batchCount;
    }

    public ReadOnlyMemory<byte> Segment { get; }
    public SegmentHeader Header { get; }
    public SegmentFooter Footer { get; }
    public int BatchCount { get; }
    public long BaseOffset => Header.BaseOffset;
    public long LastOffset => Footer.LastOffset;

    /// <summary>Byte position where the footer starts.</summary>
    public int BodyEnd => Segment.Length - SegmentFormat.FooterSize;

    /// <summary>The batches, back to back.</summary>
    public ReadOnlyMemory<byte> Body => Segment.Slice(SegmentFormat.HeaderSize, BodyEnd - SegmentFormat.HeaderSize);

    /// <summary>Opens a segment, checking header, footer, body CRC (unless told not to) and that the batches exactly fill the body.</summary>
    /// <exception cref="SegmentCorruptException">The segment breaks the format; the message says where.</exception>
    public static SegmentReader Open(ReadOnlyMemory<byte> segment, bool verifyChecksum = true)
    {
        Inspect(segment.Span, verifyChecksum, validateBatches: false, out SegmentHeader header, out SegmentFooter footer, out int batches, out _);
        return new SegmentReader(segment, header, footer, batches);
    }

    /// <summary>
    /// Checks everything: header, footer, body CRC, every batch (CRC, lengths, records) and
    /// offset continuity, and (when given) that the index entries point at the right batches.
    /// </summary>
    public static SegmentVerification Verify(ReadOnlySpan<byte> segment, ReadOnlyMemory<byte>? index = null)
    {
        SegmentHeader header = default;
        SegmentFooter footer = default;
        int batches = 0;
        long messages = 0;
        try
        {
            Inspect(segment, verifyChecksum: true, validateBatches: true, out header, out footer, out batches, out messages);
            if (index is ReadOnlyMemory<byte> indexBytes)
                CheckIndex(segment, SegmentIndex.Parse(indexBytes));
            return new SegmentVerification(SegmentProblem.None, "ok", header.BaseOffset, footer.LastOffset, batches, messages);
        }
        catch (SegmentCorruptException e)
        {
            return new SegmentVerification(e.Problem, e.Message, header.BaseOffset, footer.LastOffset, batches, messages);
        }
    }

    /// <summary>
    /// Byte position of the batch that holds <paramref name="offset"/>: the first batch whose
    /// last offset is at or above it (so the first batch when the offset precedes the segment),
    /// or -1 when the offset is beyond the segment. Walks batch headers, starting from the
    /// index's hint when one is given.
    /// </summary>
    public int FindPosition(long offset, SegmentIndex? index = null)
    {
        if (offset > LastOffset)
            return -1;
        if (index is SegmentIndex idx && idx.TryFindEntry(offset, out SegmentIndexEntry entry) && IsBatchStart(entry))
        {
            int found = Walk(offset, entry.Position);
            if (found != NotWholeBatches)
                return found;
        }
        // Open checked that the batches from the first one fill the body exactly.
        int position = Walk(offset, SegmentFormat.HeaderSize);
        return position == NotWholeBatches ? -1 : position;
    }

    private const int NotWholeBatches = int.MinValue;

    /// <summary>Walks batch headers from <paramref name="position"/> to the first batch whose last offset is at or above <paramref name="offset"/>.</summary>
    private int Walk(long offset, int position)
    {
        ReadOnlySpan<byte> s = Segment.Span;
        int end = BodyEnd;
        while (position < end)
        {
            int size = RecordBatch.PeekTotalSize(s.Slice(position, end - position));
            if (size < RecordBatch.HeaderSize || size > end - position)
                return NotWholeBatches;
            if (new RecordBatchHeader(s.Slice(position, size)).LastOffset >= offset)
                return position;
            position += size;
        }
        return -1;
    }

    /// <summary>
    /// Whether an index entry points at the start of the batch it names. The index is a hint: a
    /// damaged one can point into the middle of a batch, where the "header" is record bytes and
    /// its length would send the walk anywhere; such an entry is ignored (docs/storage-format.md).
    /// </summary>
    private bool IsBatchStart(SegmentIndexEntry entry)
    {
        int end = BodyEnd;
        if (entry.Position < SegmentFormat.HeaderSize || entry.Position > end - RecordBatch.HeaderSize)
            return false;
        ReadOnlySpan<byte> rest = Segment.Span.Slice(entry.Position, end - entry.Position);
        int size = RecordBatch.PeekTotalSize(rest);
        if (size < RecordBatch.HeaderSize || size > rest.Length)
            return false;
        var header = new RecordBatchHeader(rest);
        return header.Magic == RecordBatch.CurrentMagic && header.BaseOffset == entry.Offset;
    }

    /// <summary>
    /// Whole batches from <paramref name="fromPosition"/> up to <paramref name="toPosition"/>
    /// (default: the end of the body). The enumerator's positions are relative to <paramref name="fromPosition"/>.
    /// </summary>
    public RecordBatchEnumerator EnumerateBatches(int fromPosition = SegmentFormat.HeaderSize, int toPosition = -1)
    {
        int end = toPosition < 0 ? BodyEnd : Math.Min(toPosition, BodyEnd);
        if (fromPosition < SegmentFormat.HeaderSize || fromPosition > end)
            throw new ArgumentOutOfRangeException(nameof(fromPosition), fromPosition, $"must be within the body [{SegmentFormat.HeaderSize}, {end}]");
        return RecordBatch.EnumerateBatches(Segment.Span.Slice(fromPosition, end - fromPosition));
    }

    private static void Inspect(ReadOnlySpan<byte> segment, bool verifyChecksum, bool validateBatches,
        out SegmentHeader header, out SegmentFooter footer, out int batchCount, out long messageCount)
    {
        batchCount = 0;
        messageCount = 0;
        footer = default;
        header = SegmentHeader.Read(segment);
        if (segment.Length < SegmentFormat.MinimumSegmentSize)
            throw new SegmentCorruptException(SegmentProblem.TooShort, $"segment is {segment.Length} bytes, shorter than header and footer ({SegmentFormat.MinimumSegmentSize})");
        footer = SegmentFooter.Read(segment);

        ReadOnlySpan<byte> body = segment.Slice(SegmentFormat.HeaderSize, segment.Length - SegmentFormat.MinimumSegmentSize);
        if (verifyChecksum)
        {
            uint crc = Crc32C.Compute(body);
            if (crc != footer.BodyCrc)
                throw new SegmentCorruptException(SegmentProblem.BodyCrcMismatch, $"body CRC-32C is 0x{crc:X8} but the footer records 0x{footer.BodyCrc:X8}");
        }

        long lastOffset = -1;
        int position = 0;
        while (position < body.Length)
        {
            ReadOnlySpan<byte> rest = body.Slice(position);
            int size = RecordBatch.PeekTotalSize(rest);
            if (size < 0 || size > rest.Length || rest.Length < RecordBatch.HeaderSize)
                throw new SegmentCorruptException(SegmentProblem.BatchFraming, $"bytes at position {SegmentFormat.HeaderSize + position} are not a whole record batch (the body does not divide into batches)");
            ReadOnlySpan<byte> batch = rest.Slice(0, size);
            if (validateBatches)
            {
                BatchValidationResult r = RecordBatchValidator.ValidateOne(batch, out BatchProblem problem);
                if (r != BatchValidationResult.Ok)
                    throw new SegmentCorruptException(SegmentProblem.InvalidBatch, $"batch {batchCount} at position {SegmentFormat.HeaderSize + position} is invalid: {problem}");
            }
            var h = new RecordBatchHeader(batch);
            if (batchCount == 0)
            {
                if (h.BaseOffset != header.BaseOffset)
                    throw new SegmentCorruptException(SegmentProblem.BaseOffsetMismatch, $"header base offset {header.BaseOffset} but the first batch starts at {h.BaseOffset}");
            }
            else if (h.BaseOffset != lastOffset + 1)
            {
                throw new SegmentCorruptException(SegmentProblem.OffsetsNotContiguous, $"batch {batchCount} at position {SegmentFormat.HeaderSize + position} starts at offset {h.BaseOffset}, expected {lastOffset + 1}");
            }
            lastOffset = h.LastOffset;
            messageCount += h.RecordCount;
            batchCount++;
            position += size;
        }
        if (batchCount == 0)
        {
            // An empty body is legal in principle: there is nothing whose offsets could disagree.
            return;
        }
        if (lastOffset != footer.LastOffset)
            throw new SegmentCorruptException(SegmentProblem.LastOffsetMismatch, $"footer last offset {footer.LastOffset} but the last batch ends at {lastOffset}");
        if (messageCount != header.MessageCount)
            throw new SegmentCorruptException(SegmentProblem.MessageCountMismatch, $"header message count {header.MessageCount} but the batches hold {messageCount} records");
    }

    private static void CheckIndex(ReadOnlySpan<byte> segment, SegmentIndex index)
    {
        int end = segment.Length - SegmentFormat.FooterSize;
        if (index.Count == 0 && end > SegmentFormat.HeaderSize)
            throw new SegmentCorruptException(SegmentProblem.IndexEntryInvalid, "index has no entries but the segment has batches");
        int position = SegmentFormat.HeaderSize;
        for (int i = 0; i < index.Count; i++)
        {
            SegmentIndexEntry e = index[i];
            // Walk forward to the entry's position; it must land on a batch start.
            while (position < e.Position && position < end)
                position += new RecordBatchHeader(segment.Slice(position, end - position)).TotalSize;
            if (position != e.Position || position >= end)
                throw new SegmentCorruptException(SegmentProblem.IndexEntryInvalid, $"index entry {i} points at position {e.Position}, which is not the start of a batch");
            long baseOffset = new RecordBatchHeader(segment.Slice(position, end - position)).BaseOffset;
            if (baseOffset != e.Offset)
                throw new SegmentCorruptException(SegmentProblem.IndexEntryInvalid, $"index entry {i} says offset {e.Offset} but the batch at position {e.Position} starts at {baseOffset}");
        }
        if (index.Count > 0 && index[0].Position != SegmentFormat.HeaderSize)
            throw new SegmentCorruptException(SegmentProblem.IndexEntryInvalid, $"the first index entry points at {index[0].Position}, not at the first batch ({SegmentFormat.HeaderSize})");
    }
}
