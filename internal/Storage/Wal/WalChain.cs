using KafScale.Records;

namespace KafScale.Storage.Wal;

/// <summary>One chunk found in a WAL object, with the key of that object.</summary>
public readonly record struct WalChunkRef(string ObjectKey, WalChunkInfo Chunk);

/// <summary>
/// Where a leader epoch's log began: the offset the partition's leader of <paramref name="Epoch"/>
/// found as its log end when it took the partition over, recorded before it took any write. No
/// data of a lower epoch at or above that offset was ever acknowledged.
/// </summary>
public readonly record struct EpochStart(int Epoch, long StartOffset);

/// <summary>One piece of a partition's log: offsets [<paramref name="FromOffset"/>, <paramref name="ToOffset"/>) of one chunk (ToOffset exclusive).</summary>
public readonly record struct WalChainLink(WalChunkRef Source, long FromOffset, long ToOffset);

/// <summary>
/// The chain rule (docs/storage-format.md, "The chain rule"): which chunks of one partition,
/// found in any number of WAL objects, make up its log after the sealed segments. Pure: no I/O.
/// </summary>
public static class WalChain
{
    /// <summary>
    /// Builds the log continuing at offset <paramref name="from"/> (the end of the sealed
    /// segments), whose last sealed batch had epoch <paramref name="minEpoch"/> (-1 when unknown).
    /// <list type="number">
    /// <item>chunks ending below <paramref name="from"/> are ignored;</item>
    /// <item>at cursor c the candidates are the chunks with First &lt;= c &lt;= Last and an epoch at
    /// or above the previous link's (epochs never decrease along the log: a lower epoch after a
    /// higher one is a deposed leader's late write);</item>
    /// <item>the highest epoch wins; ties go to the chunk reaching furthest, then the smaller key;</item>
    /// <item>a link ends early where a chunk of a higher epoch starts inside it: that epoch took
    /// over there, so the lower epoch's data beyond never counted;</item>
    /// <item>no candidate: the chain ends (a gap; nothing beyond it was acknowledged).</item>
    /// </list>
    /// A chunk of epoch e is also never used at or above the start of any later epoch
    /// (<paramref name="epochStarts"/>): a deposed leader's write that landed after its successor
    /// began, where the successor wrote nothing that would overlap it.
    /// </summary>
    /// <param name="chunks">Chunks of one partition (already filtered by topic id and partition).</param>
    /// <param name="epochStarts">The recorded starts of the partition's leader epochs, in any order; null or empty when none are known.</param>
    /// <returns>The links in offset order, each starting where the previous one ends; the first starts at <paramref name="from"/>.</returns>
    /// <exception cref="ArgumentException">A chunk whose offsets are not a range of a log (a footer entry the reader would have refused).</exception>
    public static List<WalChainLink> Build(IEnumerable<WalChunkRef> chunks, long from, int minEpoch, IReadOnlyList<EpochStart>? epochStarts = null)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        var sorted = new List<WalChunkRef>();
        foreach (WalChunkRef r in chunks)
        {
            if (r.Chunk.FirstOffset < 0 || r.Chunk.LastOffset < r.Chunk.FirstOffset || r.Chunk.LastOffset == long.MaxValue)
                throw new ArgumentException($"chunk of {r.ObjectKey} has offsets {r.Chunk.FirstOffset}-{r.Chunk.LastOffset}", nameof(chunks));
            if (r.Chunk.LastOffset >= from)
                sorted.Add(r);
        }
        sorted.Sort(static (a, b) => a.Chunk.FirstOffset.CompareTo(b.Chunk.FirstOffset));

        var links = new List<WalChainLink>();
        // Chunks whose First is at or below the cursor and whose Last may still be above it.
        var active = new List<WalChunkRef>();
        int next = 0;
        long cursor = from;
        int epoch = minEpoch;
        while (true)
        {
            while (next < sorted.Count && sorted[next].Chunk.FirstOffset <= cursor)
                active.Add(sorted[next++]);
            long c = cursor;
            active.RemoveAll(r => r.Chunk.LastOffset < c);

            WalChunkRef? best = null;
            foreach (WalChunkRef r in active)
            {
                if (r.Chunk.LeaderEpoch >= epoch && c < Fence(epochStarts, r.Chunk.LeaderEpoch) && (best is not { } b || Better(r, b)))
                    best = r;
            }
            if (best is not { } winner)
                break;

            long end = Math.Min(winner.Chunk.LastOffset + 1, Fence(epochStarts, winner.Chunk.LeaderEpoch));
            // Every chunk not yet active starts above the cursor; sorted by First, the first one
            // of a higher epoch that starts inside the winner is where that epoch took over.
            for (int j = next; j < sorted.Count && sorted[j].Chunk.FirstOffset < end; j++)
            {
                if (sorted[j].Chunk.LeaderEpoch > winner.Chunk.LeaderEpoch)
                {
                    end = sorted[j].Chunk.FirstOffset;
                    break;
                }
            }
            links.Add(new WalChainLink(winner, cursor, end));
            cursor = end;
            epoch = winner.Chunk.LeaderEpoch;
        }
        return links;
    }

    /// <summary>The first offset at which a chunk of this epoch no longer counts: the earliest start of a later epoch.</summary>
    private static long Fence(IReadOnlyList<EpochStart>? epochStarts, int epoch)
    {
        long fence = long.MaxValue;
        if (epochStarts is null)
            return fence;
        for (int i = 0; i < epochStarts.Count; i++)
        {
            if (epochStarts[i].Epoch > epoch && epochStarts[i].StartOffset < fence)
                fence = epochStarts[i].StartOffset;
        }
        return fence;
    }

    private static bool Better(in WalChunkRef a, in WalChunkRef b)
    {
        if (a.Chunk.LeaderEpoch != b.Chunk.LeaderEpoch)
            return a.Chunk.LeaderEpoch > b.Chunk.LeaderEpoch;
        if (a.Chunk.LastOffset != b.Chunk.LastOffset)
            return a.Chunk.LastOffset > b.Chunk.LastOffset;
        return string.CompareOrdinal(a.ObjectKey, b.ObjectKey) < 0;
    }

    /// <summary>
    /// The whole batches of a chunk covering exactly [<paramref name="from"/>, <paramref name="to"/>):
    /// null when no batch starts at <paramref name="from"/> or none ends at <paramref name="to"/> - 1
    /// (the caller treats that as a gap), or when a batch on the way is malformed (length, magic,
    /// offsets that do not follow each other). Batch CRCs are not checked: the chunk's CRC covers them.
    /// </summary>
    public static ReadOnlyMemory<byte>? Slice(ReadOnlyMemory<byte> chunkBytes, long from, long to)
    {
        if (to <= from)
            return null;
        ReadOnlySpan<byte> span = chunkBytes.Span;
        int position = 0;
        int start = -1;
        long expected = -1;
        while (position < span.Length)
        {
            ReadOnlySpan<byte> rest = span.Slice(position);
            int size = RecordBatch.PeekTotalSize(rest);
            if (size < RecordBatch.HeaderSize || size > rest.Length)
                return null;
            var h = new RecordBatchHeader(rest);
            if (h.Magic != RecordBatch.CurrentMagic || h.LastOffsetDelta < 0 || h.BaseOffset < 0 || h.LastOffset < h.BaseOffset || h.LastOffset == long.MaxValue)
                return null;
            if (expected >= 0 && h.BaseOffset != expected)
                return null;
            if (start < 0)
            {
                if (h.BaseOffset == from)
                    start = position;
                else if (h.LastOffset >= from)
                    return null; // `from` falls inside this batch, or past a hole before it
            }
            if (start >= 0)
            {
                if (h.LastOffset == to - 1)
                    return chunkBytes.Slice(start, position + size - start);
                if (h.LastOffset >= to)
                    return null; // `to` falls inside this batch
            }
            expected = h.LastOffset + 1;
            position += size;
        }
        return null;
    }
}
