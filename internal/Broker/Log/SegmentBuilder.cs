using KafScale.Storage;

namespace KafScale.Broker.Log;

/// <summary>A segment ready to upload: its .kfs and .index bytes and what the log records of it.</summary>
internal sealed record BuiltSegment(SegmentRef Segment, ReadOnlyMemory<byte> Kfs, ReadOnlyMemory<byte> Index, int RecordCount);

/// <summary>Turns durable unsealed data into one segment object (a seal).</summary>
internal static class SegmentBuilder
{
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
