using KafScale.Records;
using KafScale.Storage;

namespace KafScale.Broker.Log;

/// <summary>A segment ready to upload: its .kfs and .index bytes and what the log records of it.</summary>
internal sealed record BuiltSegment(SegmentRef Segment, ReadOnlyMemory<byte> Kfs, ReadOnlyMemory<byte> Index, int RecordCount);

/// <summary>Turns pending produce blobs (offsets already assigned) into one segment object.</summary>
internal static class SegmentBuilder
{
    public static BuiltSegment Build(List<PendingBlob> blobs, long baseOffset)
    {
        var batches = new List<ReadOnlyMemory<byte>>(blobs.Count);
        foreach (var b in blobs) batches.Add(b.Buffer.AsMemory(0, b.Length));
        var written = SegmentWriter.Build(batches, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), SegmentFormat.DefaultIndexInterval);
        if (written.BaseOffset != baseOffset) throw new InvalidOperationException($"segment starts at {written.BaseOffset}, expected {baseOffset}");
        long maxTimestamp = -1;
        foreach (var b in blobs)
            foreach (var batch in RecordBatch.EnumerateBatches(b.Buffer.AsSpan(0, b.Length)))
                maxTimestamp = Math.Max(maxTimestamp, new RecordBatchHeader(batch).MaxTimestamp);
        var segment = new SegmentRef(written.BaseOffset, written.LastOffset, written.Segment.Length, maxTimestamp);
        return new BuiltSegment(segment, written.Segment, written.Index, written.MessageCount);
    }

    /// <summary>A segment of durable unsealed data, in offset order and contiguous.</summary>
    public static BuiltSegment BuildFromBodies(List<SegmentRef> unsealed)
    {
        var batches = new List<ReadOnlyMemory<byte>>(unsealed.Count);
        long maxTimestamp = -1;
        foreach (var u in unsealed)
        {
            batches.Add(u.UnsealedBody);
            maxTimestamp = Math.Max(maxTimestamp, u.MaxTimestamp);
        }
        var written = SegmentWriter.Build(batches, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), SegmentFormat.DefaultIndexInterval);
        if (written.BaseOffset != unsealed[0].BaseOffset || written.LastOffset != unsealed[^1].LastOffset)
            throw new InvalidOperationException($"segment covers {written.BaseOffset}-{written.LastOffset}, expected {unsealed[0].BaseOffset}-{unsealed[^1].LastOffset}");
        var segment = new SegmentRef(written.BaseOffset, written.LastOffset, written.Segment.Length, maxTimestamp);
        return new BuiltSegment(segment, written.Segment, written.Index, written.MessageCount);
    }
}
