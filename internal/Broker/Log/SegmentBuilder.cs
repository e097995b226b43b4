using KafScale.Storage;

namespace KafScale.Broker.Log;

/// <summary>
/// A segment ready to upload: its .kfs and .index bytes and what the log records of it. The .kfs
/// is either one array (<see cref="Kfs"/>) or, built for a store that writes parts in place,
/// <see cref="Parts"/>: header, the unsealed bodies as they are, footer (then Kfs is empty).
/// </summary>
internal sealed record BuiltSegment(SegmentRef Segment, ReadOnlyMemory<byte> Kfs, ReadOnlyMemory<byte> Index, int RecordCount)
{
    public IReadOnlyList<ReadOnlyMemory<byte>>? Parts { get; init; }

    /// <summary>Whether the stored .kfs holds exactly this segment's bytes.</summary>
    public bool SameBytes(ReadOnlySpan<byte> stored)
    {
        if (Parts is null) return stored.SequenceEqual(Kfs.Span);
        int position = 0;
        foreach (var part in Parts)
        {
            if (position + part.Length > stored.Length || !stored.Slice(position, part.Length).SequenceEqual(part.Span)) return false;
            position += part.Length;
        }
        return position == stored.Length;
    }
}

/// <summary>Turns durable unsealed data into one segment object (a seal).</summary>
internal static class SegmentBuilder
{
    /// <summary>
    /// A segment of durable unsealed data, in offset order and contiguous: one new array, or with
    /// <paramref name="inPlace"/> (a store that writes parts back to back, the directory store) a
    /// header, the bodies as they are and a footer, so a seal neither copies 16 MiB nor allocates
    /// an array for it. Both are the same bytes.
    /// </summary>
    public static BuiltSegment BuildFromBodies(List<SegmentRef> unsealed, bool inPlace = false)
    {
        var bodies = new ReadOnlyMemory<byte>[unsealed.Count];
        long maxTimestamp = -1;
        for (int i = 0; i < unsealed.Count; i++)
        {
            bodies[i] = unsealed[i].UnsealedBody;
            maxTimestamp = Math.Max(maxTimestamp, unsealed[i].MaxTimestamp);
        }
        var plan = SegmentWriter.Plan(bodies);
        if (plan.BaseOffset != unsealed[0].BaseOffset || plan.LastOffset != unsealed[^1].LastOffset)
            throw new InvalidOperationException($"segment covers {plan.BaseOffset}-{plan.LastOffset}, expected {unsealed[0].BaseOffset}-{unsealed[^1].LastOffset}");
        long createdAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var segment = new SegmentRef(plan.BaseOffset, plan.LastOffset, plan.SegmentSize, maxTimestamp);
        var index = new byte[plan.IndexSize];
        if (!inPlace)
        {
            var kfs = GC.AllocateUninitializedArray<byte>(plan.SegmentSize);
            SegmentWriter.Write(bodies, plan, createdAtMs, kfs, index);
            return new BuiltSegment(segment, kfs, index, plan.MessageCount);
        }
        var header = new byte[SegmentFormat.HeaderSize];
        var footer = new byte[SegmentFormat.FooterSize];
        SegmentWriter.WriteFrame(bodies, plan, createdAtMs, header, footer, index);
        ReadOnlyMemory<byte>[] parts = [header, .. bodies, footer];
        return new BuiltSegment(segment, ReadOnlyMemory<byte>.Empty, index, plan.MessageCount) { Parts = parts };
    }
}
