using KafScale.Storage;

namespace KafScale.Processor.Segments;

/// <summary>A segment object found by listing: its .kfs key and size, and whether its .index exists.</summary>
public sealed record SegmentEntry(int Partition, long BaseOffset, string Key, long Size, bool HasIndex);

/// <summary>Lists the segments of topics straight from the object store (no broker involved).</summary>
public static class SegmentScanner
{
    /// <summary>Topic names found under the namespace (first key part after it).</summary>
    public static async Task<List<string>> ListTopicsAsync(IObjectStore store, string ns, CancellationToken ct)
    {
        var topics = new SortedSet<string>(StringComparer.Ordinal);
        await foreach (var o in store.ListAsync(ns + "/", ct).ConfigureAwait(false))
        {
            if (SegmentKeys.TryParse(o.Key, out var k) && k.Namespace == ns) topics.Add(k.Topic);
        }
        return [.. topics];
    }

    /// <summary>Every segment of a topic by partition, in offset order.</summary>
    public static async Task<SortedDictionary<int, List<SegmentEntry>>> ListTopicAsync(IObjectStore store, string ns, string topic, CancellationToken ct)
    {
        var kfs = new Dictionary<(int, long), ObjectInfo>();
        var indexes = new HashSet<(int, long)>();
        await foreach (var o in store.ListAsync(SegmentKeys.TopicPrefix(ns, topic), ct).ConfigureAwait(false))
        {
            if (!SegmentKeys.TryParse(o.Key, out var k) || k.Namespace != ns || k.Topic != topic) continue;
            if (k.Kind == SegmentObjectKind.Segment) kfs[(k.Partition, k.BaseOffset)] = o;
            else indexes.Add((k.Partition, k.BaseOffset));
        }
        var result = new SortedDictionary<int, List<SegmentEntry>>();
        foreach (var ((partition, baseOffset), o) in kfs)
        {
            if (!result.TryGetValue(partition, out var list)) result[partition] = list = [];
            list.Add(new SegmentEntry(partition, baseOffset, o.Key, o.Size, indexes.Contains((partition, baseOffset))));
        }
        foreach (var list in result.Values) list.Sort((a, b) => a.BaseOffset.CompareTo(b.BaseOffset));
        return result;
    }
}

/// <summary>What to do with one partition in this round.</summary>
public sealed record PartitionPlan(
    IReadOnlyList<SegmentEntry> Segments,
    long StartOffset,
    (long From, long To)? RetentionGap, // the log starts after the committed offset (retention): the offsets skipped
    string? WaitingFor, // why the plan stops before the end of the listing (an in-flight segment), or null
    bool Truncated = false); // more segments follow beyond the byte budget

/// <summary>
/// Chooses the segments of a partition still to process. The chain of keys is the log: segment
/// N+1 starts after segment N's last offset, so a segment whose successor starts at or below the
/// next offset to process holds nothing new. A segment without its .index is still being
/// written: the plan stops there (later segments wait for it, so no offset is ever skipped).
/// </summary>
public static class SegmentPlanner
{
    /// <param name="segments">The partition's segments in offset order.</param>
    /// <param name="nextOffset">First offset not yet in the table (0 for a new table).</param>
    /// <param name="knownLastOffset">Last offset of a segment when known (cached footers), else null.</param>
    /// <param name="maxBytes">Stop adding segments once their sizes reach this (at least one is taken).</param>
    public static PartitionPlan Plan(IReadOnlyList<SegmentEntry> segments, long nextOffset, Func<SegmentEntry, long?> knownLastOffset, long maxBytes)
    {
        int i = 0;
        while (i + 1 < segments.Count && segments[i + 1].BaseOffset <= nextOffset) i++;
        (long, long)? gap = null;
        long start = nextOffset;
        if (i < segments.Count && segments[i].BaseOffset > nextOffset)
        {
            // Only possible for the first listed segment: the log now starts later (retention).
            if (nextOffset > 0) gap = (nextOffset, segments[i].BaseOffset - 1);
            start = segments[i].BaseOffset;
        }
        var chosen = new List<SegmentEntry>();
        long bytes = 0;
        string? waiting = null;
        bool truncated = false;
        long expect = start;
        for (; i < segments.Count; i++)
        {
            var s = segments[i];
            if (s.BaseOffset > expect)
            {
                // A hole in the chain: an earlier segment's upload is still in flight.
                waiting = $"offsets {expect}..{s.BaseOffset - 1} are not in the bucket yet";
                break;
            }
            if (!s.HasIndex)
            {
                waiting = $"segment {s.Key} has no .index yet (being written)";
                break;
            }
            long? last = knownLastOffset(s);
            if (last is long l && l < start)
            {
                expect = Math.Max(expect, l + 1);
                continue;
            }
            if (chosen.Count > 0 && bytes + s.Size > maxBytes)
            {
                truncated = true;
                break;
            }
            chosen.Add(s);
            bytes += s.Size;
            expect = last is long known ? known + 1 : i + 1 < segments.Count ? Math.Max(expect, segments[i + 1].BaseOffset) : expect;
        }
        return new PartitionPlan(chosen, start, gap, waiting, truncated);
    }
}
