using System.Runtime.InteropServices;
using KafScale.Common;
using KafScale.Records;

namespace KafScale.Storage;

/// <summary>The sizes and offsets of a segment before it is written (see <see cref="SegmentWriter.Plan(ReadOnlySpan{ReadOnlyMemory{byte}}, int)"/>).</summary>
public readonly record struct SegmentPlan(
    long BaseOffset, long LastOffset, int MessageCount, int BatchCount, int BodySize, int IndexEntryCount, int IndexInterval, long MaxTimestamp)
{
    public int SegmentSize => SegmentFormat.HeaderSize + BodySize + SegmentFormat.FooterSize;
    public int IndexSize => SegmentFormat.IndexSize(IndexEntryCount);
}

/// <summary>
/// A flushed segment's two objects. Both live in one exactly-sized array, so the <c>.kfs</c>
/// bytes can go to the upload and then stay in the segment cache without copying.
/// </summary>
public sealed class SegmentObjects
{
    internal SegmentObjects(byte[] buffer, SegmentPlan plan, long createdAtMs)
    {
        Plan = plan;
        Segment = buffer.AsMemory(0, plan.SegmentSize);
        Index = buffer.AsMemory(plan.SegmentSize, plan.IndexSize);
        CreatedAtMs = createdAtMs;
        IndexEntries = SegmentIndex.Parse(Index);
    }

    public SegmentPlan Plan { get; }

    /// <summary>The <c>.kfs</c> object.</summary>
    public ReadOnlyMemory<byte> Segment { get; }

    /// <summary>The <c>.index</c> object.</summary>
    public ReadOnlyMemory<byte> Index { get; }

    public SegmentIndex IndexEntries { get; }
    public long CreatedAtMs { get; }
    public long BaseOffset => Plan.BaseOffset;
    public long LastOffset => Plan.LastOffset;
    public int MessageCount => Plan.MessageCount;
    public int BatchCount => Plan.BatchCount;

    /// <summary>Largest batch maxTimestamp (for time-based retention and ListOffsets).</summary>
    public long MaxTimestamp => Plan.MaxTimestamp;
}

/// <summary>
/// Builds <c>.kfs</c> and <c>.index</c> bytes from batches whose base offsets are already
/// assigned. Each memory holds one or more whole batches; together they must be contiguous
/// (each batch starts right after the previous one's last offset).
/// </summary>
public static class SegmentWriter
{
    /// <summary>Checks the batches and measures the segment and index; allocates nothing.</summary>
    /// <exception cref="ArgumentException">A memory is not whole v2 batches, or offsets are not contiguous.</exception>
    public static SegmentPlan Plan(ReadOnlySpan<ReadOnlyMemory<byte>> batches, int indexInterval = SegmentFormat.DefaultIndexInterval)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(indexInterval);
        long baseOffset = -1, lastOffset = -1;
        long messageCount = 0, bodySize = 0;
        int batchCount = 0, entries = 0;
        long sinceEntry = 0;
        long maxTimestamp = -1;

        for (int m = 0; m < batches.Length; m++)
        {
            RecordBatchEnumerator walk = RecordBatch.EnumerateBatches(batches[m].Span);
            while (walk.MoveNext())
            {
                ReadOnlySpan<byte> batch = walk.Current;
                if (batch.Length < RecordBatch.HeaderSize || batch[RecordBatch.MagicOffset] != RecordBatch.CurrentMagic)
                    throw new ArgumentException($"batch {batchCount} (memory {m}) is not a record batch v2", nameof(batches));
                var header = new RecordBatchHeader(batch);
                if (batchCount == 0)
                    baseOffset = header.BaseOffset;
                else if (header.BaseOffset != lastOffset + 1)
                    throw new ArgumentException($"batch {batchCount} starts at offset {header.BaseOffset}, expected {lastOffset + 1}", nameof(batches));
                if (header.LastOffsetDelta < 0)
                    throw new ArgumentException($"batch {batchCount} has a negative lastOffsetDelta", nameof(batches));

                if (batchCount == 0 || sinceEntry >= indexInterval)
                {
                    entries++;
                    sinceEntry = 0;
                }
                sinceEntry += header.RecordCount;
                lastOffset = header.LastOffset;
                maxTimestamp = Math.Max(maxTimestamp, header.MaxTimestamp);
                messageCount += header.RecordCount;
                bodySize += batch.Length;
                batchCount++;
            }
            if (walk.StoppedEarly)
                throw new ArgumentException($"memory {m} has {batches[m].Length - walk.Consumed} bytes at position {walk.Consumed} that are not a whole record batch", nameof(batches));
        }
        if (batchCount == 0)
            throw new ArgumentException("a segment needs at least one batch", nameof(batches));
        long total = SegmentFormat.HeaderSize + bodySize + SegmentFormat.FooterSize + SegmentFormat.IndexSize(entries);
        if (total > Array.MaxLength || messageCount > int.MaxValue)
            throw new ArgumentException($"a segment of {bodySize} bytes and {messageCount} records is too large", nameof(batches));
        return new SegmentPlan(baseOffset, lastOffset, (int)messageCount, batchCount, (int)bodySize, entries, indexInterval, maxTimestamp);
    }

    /// <summary>
    /// Writes the segment into <paramref name="segment"/> (exactly <see cref="SegmentPlan.SegmentSize"/>
    /// bytes) and the index into <paramref name="index"/> (exactly <see cref="SegmentPlan.IndexSize"/>),
    /// for callers that bring their own (pooled) buffers. <paramref name="plan"/> must come from
    /// <see cref="Plan(ReadOnlySpan{ReadOnlyMemory{byte}}, int)"/> over the same batches.
    /// </summary>
    public static void Write(ReadOnlySpan<ReadOnlyMemory<byte>> batches, in SegmentPlan plan, long createdAtMs, Span<byte> segment, Span<byte> index)
    {
        if (segment.Length != plan.SegmentSize)
            throw new ArgumentException($"segment buffer is {segment.Length} bytes, the plan needs {plan.SegmentSize}", nameof(segment));
        new SegmentHeader(SegmentFormat.SegmentVersion, 0, plan.BaseOffset, plan.MessageCount, createdAtMs).Write(segment);
        uint crc = WriteBody(batches, plan, segment, index);
        new SegmentFooter(~crc, plan.LastOffset).Write(segment.Slice(SegmentFormat.HeaderSize + plan.BodySize));
    }

    /// <summary>
    /// Writes only what a segment adds to its batches: the header into <paramref name="header"/>
    /// (<see cref="SegmentFormat.HeaderSize"/> bytes), the footer into <paramref name="footer"/>
    /// (<see cref="SegmentFormat.FooterSize"/> bytes) and the index, for a store that writes the
    /// header, the batches as they are and the footer back to back (no copy of the batches). The
    /// objects are byte for byte those of <see cref="Write"/>.
    /// </summary>
    public static void WriteFrame(ReadOnlySpan<ReadOnlyMemory<byte>> batches, in SegmentPlan plan, long createdAtMs, Span<byte> header, Span<byte> footer, Span<byte> index)
    {
        if (header.Length != SegmentFormat.HeaderSize || footer.Length != SegmentFormat.FooterSize)
            throw new ArgumentException($"header and footer buffers must be {SegmentFormat.HeaderSize} and {SegmentFormat.FooterSize} bytes");
        new SegmentHeader(SegmentFormat.SegmentVersion, 0, plan.BaseOffset, plan.MessageCount, createdAtMs).Write(header);
        uint crc = WriteBody(batches, plan, [], index);
        new SegmentFooter(~crc, plan.LastOffset).Write(footer);
    }

    /// <summary>
    /// Walks the batches once: copies them into <paramref name="segment"/> after its header (unless
    /// it is empty), writes the index and returns the running CRC-32C of the body.
    /// </summary>
    private static uint WriteBody(ReadOnlySpan<ReadOnlyMemory<byte>> batches, in SegmentPlan plan, Span<byte> segment, Span<byte> index)
    {
        if (index.Length != plan.IndexSize)
            throw new ArgumentException($"index buffer is {index.Length} bytes, the plan needs {plan.IndexSize}", nameof(index));
        SegmentIndex.WriteHeader(index, plan.IndexEntryCount, plan.IndexInterval);
        bool copy = !segment.IsEmpty;

        int position = SegmentFormat.HeaderSize;
        int entry = 0;
        int batchCount = 0;
        long sinceEntry = 0;
        uint crc = 0xFFFFFFFFu;
        for (int m = 0; m < batches.Length; m++)
        {
            RecordBatchEnumerator walk = RecordBatch.EnumerateBatches(batches[m].Span);
            while (walk.MoveNext())
            {
                ReadOnlySpan<byte> batch = walk.Current;
                if (position + batch.Length > SegmentFormat.HeaderSize + plan.BodySize)
                    throw new ArgumentException("the batches do not match the plan", nameof(plan));
                if (copy)
                {
                    Span<byte> target = segment.Slice(position, batch.Length);
                    batch.CopyTo(target);
                    // Checksum the copy while it is still in cache.
                    crc = Crc32C.Append(crc, target);
                }
                else crc = Crc32C.Append(crc, batch);

                if (batchCount == 0 || sinceEntry >= plan.IndexInterval)
                {
                    if (entry >= plan.IndexEntryCount)
                        throw new ArgumentException("the batches do not match the plan", nameof(plan));
                    SegmentIndex.WriteEntry(index, entry++, new RecordBatchHeader(batch).BaseOffset, position);
                    sinceEntry = 0;
                }
                sinceEntry += new RecordBatchHeader(batch).RecordCount;
                position += batch.Length;
                batchCount++;
            }
        }
        if (position != SegmentFormat.HeaderSize + plan.BodySize || entry != plan.IndexEntryCount)
            throw new ArgumentException("the batches do not match the plan", nameof(plan));
        return crc;
    }

    /// <summary>Builds both objects into one new exactly-sized array.</summary>
    public static SegmentObjects Build(ReadOnlySpan<ReadOnlyMemory<byte>> batches, long createdAtMs, int indexInterval = SegmentFormat.DefaultIndexInterval)
    {
        SegmentPlan plan = Plan(batches, indexInterval);
        byte[] buffer = GC.AllocateUninitializedArray<byte>(plan.SegmentSize + plan.IndexSize);
        Write(batches, plan, createdAtMs, buffer.AsSpan(0, plan.SegmentSize), buffer.AsSpan(plan.SegmentSize, plan.IndexSize));
        return new SegmentObjects(buffer, plan, createdAtMs);
    }

    /// <inheritdoc cref="Build(ReadOnlySpan{ReadOnlyMemory{byte}}, long, int)"/>
    public static SegmentObjects Build(IReadOnlyList<ReadOnlyMemory<byte>> batches, long createdAtMs, int indexInterval = SegmentFormat.DefaultIndexInterval) =>
        Build(AsSpan(batches), createdAtMs, indexInterval);

    /// <inheritdoc cref="Plan(ReadOnlySpan{ReadOnlyMemory{byte}}, int)"/>
    public static SegmentPlan Plan(IReadOnlyList<ReadOnlyMemory<byte>> batches, int indexInterval = SegmentFormat.DefaultIndexInterval) =>
        Plan(AsSpan(batches), indexInterval);

    private static ReadOnlySpan<ReadOnlyMemory<byte>> AsSpan(IReadOnlyList<ReadOnlyMemory<byte>> batches) => batches switch
    {
        ReadOnlyMemory<byte>[] array => array,
        List<ReadOnlyMemory<byte>> list => CollectionsMarshal.AsSpan(list),
        _ => batches.ToArray(),
    };
}
