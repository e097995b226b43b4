using System.Buffers.Binary;

namespace KafScale.Storage;

/// <summary>One sparse-index entry: a batch's base offset and its byte position in the <c>.kfs</c>.</summary>
public readonly record struct SegmentIndexEntry(long Offset, int Position);

/// <summary>
/// A parsed <c>.index</c> object, viewing its bytes. Entries are in ascending offset order and
/// point at batch starts (position &gt;= 32).
/// </summary>
public readonly struct SegmentIndex
{
    private readonly ReadOnlyMemory<byte> _bytes;

    private SegmentIndex(ReadOnlyMemory<byte> bytes, int count, int interval)
    {
        _bytes = bytes;
        Count = count;
        Interval = interval;
    }

    public int Count { get; }

    /// <summary>Records between entries the writer aimed for.</summary>
    public int Interval { get; }

    /// <summary>The encoded index.</summary>
    public ReadOnlyMemory<byte> Bytes => _bytes;

    public SegmentIndexEntry this[int i]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)i, (uint)Count, nameof(i));
            ReadOnlySpan<byte> e = _bytes.Span.Slice(SegmentFormat.IndexHeaderSize + i * SegmentFormat.IndexEntrySize, SegmentFormat.IndexEntrySize);
            return new SegmentIndexEntry(BinaryPrimitives.ReadInt64BigEndian(e), BinaryPrimitives.ReadInt32BigEndian(e.Slice(8)));
        }
    }

    /// <summary>Parses and checks an index object (header, size, ascending entries).</summary>
    /// <exception cref="SegmentCorruptException">The bytes are not a valid index.</exception>
    public static SegmentIndex Parse(ReadOnlyMemory<byte> bytes)
    {
        ReadOnlySpan<byte> s = bytes.Span;
        if (s.Length < SegmentFormat.IndexHeaderSize)
            throw new SegmentCorruptException(SegmentProblem.IndexTooShort, $"index needs at least {SegmentFormat.IndexHeaderSize} bytes, got {s.Length}");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(s);
        if (magic != SegmentFormat.IndexMagic)
            throw new SegmentCorruptException(SegmentProblem.IndexBadMagic, $"index magic is 0x{magic:X8}, expected 0x{SegmentFormat.IndexMagic:X8} (\"IDX\\0\")");
        short version = BinaryPrimitives.ReadInt16BigEndian(s.Slice(4));
        if (version != SegmentFormat.IndexVersion)
            throw new SegmentCorruptException(SegmentProblem.IndexUnsupportedVersion, $"index version {version} is not supported (only {SegmentFormat.IndexVersion})");
        int count = BinaryPrimitives.ReadInt32BigEndian(s.Slice(6));
        int interval = BinaryPrimitives.ReadInt32BigEndian(s.Slice(10));
        if (count < 0 || (long)SegmentFormat.IndexHeaderSize + (long)count * SegmentFormat.IndexEntrySize != s.Length)
            throw new SegmentCorruptException(SegmentProblem.IndexSizeMismatch, $"index says {count} entries but is {s.Length} bytes long");

        var index = new SegmentIndex(bytes, count, interval);
        long previous = long.MinValue;
        for (int i = 0; i < count; i++)
        {
            SegmentIndexEntry e = index[i];
            if (e.Position < SegmentFormat.HeaderSize || e.Offset <= previous && i > 0)
                throw new SegmentCorruptException(SegmentProblem.IndexEntryInvalid, $"index entry {i} (offset {e.Offset}, position {e.Position}) is out of order or points into the header");
            previous = e.Offset;
        }
        return index;
    }

    /// <summary>
    /// Byte position to start reading from to find <paramref name="offset"/>: the position of
    /// the last indexed batch whose base offset is at or below it (the batch holding the offset
    /// is there or after it), or the first batch (32) when the offset precedes every entry.
    /// </summary>
    public int FindPosition(long offset) =>
        TryFindEntry(offset, out SegmentIndexEntry entry) ? entry.Position : SegmentFormat.HeaderSize;

    /// <summary>
    /// The last entry whose offset is at or below <paramref name="offset"/>; false when the offset
    /// precedes every entry (or there are none).
    /// </summary>
    public bool TryFindEntry(long offset, out SegmentIndexEntry entry)
    {
        int lo = 0, hi = Count - 1, found = -1;
        ReadOnlySpan<byte> entries = _bytes.Span.Slice(SegmentFormat.IndexHeaderSize);
        while (lo <= hi)
        {
            int mid = (int)((uint)(lo + hi) >> 1);
            if (BinaryPrimitives.ReadInt64BigEndian(entries.Slice(mid * SegmentFormat.IndexEntrySize)) <= offset)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        entry = found < 0 ? default : this[found];
        return found >= 0;
    }

    /// <summary>Writes an index header for <paramref name="count"/> entries.</summary>
    internal static void WriteHeader(Span<byte> destination, int count, int interval)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, SegmentFormat.IndexMagic);
        BinaryPrimitives.WriteInt16BigEndian(destination.Slice(4), SegmentFormat.IndexVersion);
        BinaryPrimitives.WriteInt32BigEndian(destination.Slice(6), count);
        BinaryPrimitives.WriteInt32BigEndian(destination.Slice(10), interval);
        BinaryPrimitives.WriteInt16BigEndian(destination.Slice(14), 0);
    }

    internal static void WriteEntry(Span<byte> destination, int i, long offset, int position)
    {
        Span<byte> e = destination.Slice(SegmentFormat.IndexHeaderSize + i * SegmentFormat.IndexEntrySize, SegmentFormat.IndexEntrySize);
        BinaryPrimitives.WriteInt64BigEndian(e, offset);
        BinaryPrimitives.WriteInt32BigEndian(e.Slice(8), position);
    }
}
