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
    /// <summary>A segment of durable unsealed data, in offset order and contiguous.</summary>
    public static BuiltSegment BuildFromBodies(List<SegmentRef> unsealed, bool inPlace = false)
    {
        if (inPlace) return BuildFrame(unsealed);
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

    /// <summary>
    /// The same segment as <see cref="BuildFromBodies"/> without copying the bodies: a header, the
    /// bodies and a footer for a store that writes them back to back (the directory store), so a
    /// seal neither copies 16 MiB nor allocates an array for it.
    /// </summary>
    private static BuiltSegment BuildFrame(List<SegmentRef> unsealed)
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
        var header = new byte[SegmentFormat.HeaderSize];
        var footer = new byte[SegmentFormat.FooterSize];
        var index = new byte[plan.IndexSize];
        SegmentWriter.WriteFrame(bodies, plan, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), header, footer, index);
        var parts = new ReadOnlyMemory<byte>[bodies.Length + 2];
        parts[0] = header;
        bodies.CopyTo(parts.AsSpan(1));
        parts[^1] = footer;
        var segment = new SegmentRef(plan.BaseOffset, plan.LastOffset, plan.SegmentSize, maxTimestamp);
        return new BuiltSegment(segment, ReadOnlyMemory<byte>.Empty, index, plan.MessageCount) { Parts = parts };
    }
}
