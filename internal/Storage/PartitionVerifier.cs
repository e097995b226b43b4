using System.Buffers.Binary;
using KafScale.Common;
using KafScale.Records;

namespace KafScale.Storage;

/// <summary>
/// One thing wrong with a partition's objects: which object, which check, and where (the batch
/// index, its offsets and byte position when the fault belongs to one batch).
/// </summary>
/// <param name="Key">The object the fault is in (a <c>.kfs</c> or <c>.index</c> key).</param>
/// <param name="Check">Which check failed: header, footer, crc, framing, batch, offsets, count, index, chain.</param>
/// <param name="Message">What was found, in words.</param>
/// <param name="Batch">Index of the batch in its segment (0-based), when the fault is in one.</param>
/// <param name="Offset">Base offset of that batch (or the offset the check is about).</param>
/// <param name="Position">Byte position in the object.</param>
public sealed record SegmentFault(string Key, string Check, string Message, int? Batch = null, long? Offset = null, long? Position = null);

/// <summary>What one segment holds and what is wrong with it.</summary>
public sealed record SegmentSummary(
    string Key, long BaseOffset, long? LastOffset, long SizeBytes, int Batches, long Records,
    long? FirstTimestamp, long? MaxTimestamp, long CreatedAtMs, bool HasIndex, int IndexEntries)
{
    public List<SegmentFault> Faults { get; } = [];
}

/// <summary>The result of checking every object of one partition.</summary>
public sealed record PartitionReport(string Namespace, string Topic, int Partition, IReadOnlyList<SegmentSummary> Segments, IReadOnlyList<SegmentFault> Faults)
{
    public bool IsClean => Faults.Count == 0;
}

/// <summary>
/// Reads a partition's segments straight from the object store and checks them the way
/// <c>admin segments verify</c> promises: every segment's header (magic, version, base offset
/// equal to its key), footer (END!, last offset), body CRC-32C, the framing of its batches,
/// each batch's own magic and CRC-32C and record structure, offsets contiguous within the
/// segment and from one segment to the next, the header's record count, and that the
/// <c>.index</c> exists and its entries point at batch starts with the right base offsets.
/// It keeps going after a fault, so one report names every damaged batch it can find; when the
/// body CRC fails, the per-batch CRCs say which batch holds the damage.
/// </summary>
public static class PartitionVerifier
{
    /// <summary>The segment keys (<c>.kfs</c>) and index keys of a partition, ascending by base offset.</summary>
    public static async Task<(List<ObjectInfo> Segments, Dictionary<long, ObjectInfo> Indexes)> ListAsync(
        IObjectStore store, string ns, string topic, int partition, CancellationToken ct)
    {
        var segments = new List<ObjectInfo>();
        var indexes = new Dictionary<long, ObjectInfo>();
        await foreach (ObjectInfo o in store.ListAsync(SegmentKeys.PartitionPrefix(ns, topic, partition), ct).ConfigureAwait(false))
        {
            if (!SegmentKeys.TryParse(o.Key, out SegmentKey k) || k.Topic != topic || k.Partition != partition || k.Namespace != ns) continue;
            if (k.Kind == SegmentObjectKind.Segment) segments.Add(o);
            else indexes[k.BaseOffset] = o;
        }
        segments.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return (segments, indexes);
    }

    /// <summary>Checks every object of the partition.</summary>
    public static async Task<PartitionReport> VerifyAsync(IObjectStore store, string ns, string topic, int partition, CancellationToken ct)
    {
        (List<ObjectInfo> segments, Dictionary<long, ObjectInfo> indexes) = await ListAsync(store, ns, topic, partition, ct).ConfigureAwait(false);
        var summaries = new List<SegmentSummary>();
        var faults = new List<SegmentFault>();
        SegmentSummary? previous = null;
        foreach (ObjectInfo o in segments)
        {
            SegmentKeys.TryParse(o.Key, out SegmentKey key);
            byte[]? data = await store.GetAsync(o.Key, ct).ConfigureAwait(false);
            if (data is null)
            {
                // Deleted between the listing and the read (retention): not damage.
                continue;
            }
            string indexKey = SegmentKeys.IndexFor(o.Key);
            byte[]? index = indexes.ContainsKey(key.BaseOffset) ? await store.GetAsync(indexKey, ct).ConfigureAwait(false) : null;
            SegmentSummary summary = Inspect(o.Key, key.BaseOffset, data, index, indexKey);
            if (previous is { LastOffset: long prevLast })
            {
                if (key.BaseOffset != prevLast + 1)
                {
                    summary.Faults.Add(new SegmentFault(o.Key, "chain",
                        key.BaseOffset > prevLast + 1
                            ? $"the previous segment ends at offset {prevLast} but this one starts at {key.BaseOffset}: offsets {prevLast + 1}-{key.BaseOffset - 1} are missing"
                            : $"the previous segment ends at offset {prevLast} but this one starts at {key.BaseOffset}: the segments overlap",
                        Offset: key.BaseOffset));
                }
            }
            summaries.Add(summary);
            faults.AddRange(summary.Faults);
            previous = summary;
        }
        foreach ((long baseOffset, ObjectInfo info) in indexes)
        {
            if (!segments.Exists(s => SegmentKeys.TryParse(s.Key, out SegmentKey k) && k.BaseOffset == baseOffset))
                faults.Add(new SegmentFault(info.Key, "index", "index without its .kfs segment", Offset: baseOffset));
        }
        faults.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return new PartitionReport(ns, topic, partition, summaries, faults);
    }

    /// <summary>Checks one segment and its index (null when the index object is missing).</summary>
    public static SegmentSummary Inspect(string key, long keyBaseOffset, ReadOnlySpan<byte> data, byte[]? index, string indexKey) =>
        InspectCore(key, keyBaseOffset, data, index, indexKey);

    private static SegmentSummary InspectCore(string key, long keyBaseOffset, ReadOnlySpan<byte> data, byte[]? index, string indexKey)
    {
        var faults = new List<SegmentFault>();
        long headerBase = keyBaseOffset;
        int headerCount = -1;
        long createdAt = 0;
        bool headerOk = false;
        if (data.Length < SegmentFormat.HeaderSize)
        {
            faults.Add(new SegmentFault(key, "header", $"the object is {data.Length} bytes, shorter than the {SegmentFormat.HeaderSize}-byte header"));
        }
        else
        {
            uint magic = BinaryPrimitives.ReadUInt32BigEndian(data);
            short version = BinaryPrimitives.ReadInt16BigEndian(data[4..]);
            headerBase = BinaryPrimitives.ReadInt64BigEndian(data[8..]);
            headerCount = BinaryPrimitives.ReadInt32BigEndian(data[16..]);
            createdAt = BinaryPrimitives.ReadInt64BigEndian(data[20..]);
            if (magic != SegmentFormat.SegmentMagic)
                faults.Add(new SegmentFault(key, "header", $"magic is 0x{magic:X8}, expected 0x{SegmentFormat.SegmentMagic:X8} (\"KAFS\")", Position: 0));
            else if (version != SegmentFormat.SegmentVersion)
                faults.Add(new SegmentFault(key, "header", $"version {version} is not supported (only {SegmentFormat.SegmentVersion})", Position: 4));
            else headerOk = true;
            if (headerBase != keyBaseOffset)
                faults.Add(new SegmentFault(key, "offsets", $"the header's base offset is {headerBase} but the key names {keyBaseOffset}", Offset: headerBase, Position: 8));
        }

        long? footerLast = null;
        uint footerCrc = 0;
        bool footerOk = false;
        int bodyEnd = data.Length;
        if (data.Length >= SegmentFormat.MinimumSegmentSize)
        {
            ReadOnlySpan<byte> footer = data[^SegmentFormat.FooterSize..];
            uint magic = BinaryPrimitives.ReadUInt32BigEndian(footer[12..]);
            if (magic != SegmentFormat.FooterMagic)
            {
                faults.Add(new SegmentFault(key, "footer", $"footer magic is 0x{magic:X8}, expected 0x{SegmentFormat.FooterMagic:X8} (\"END!\"): the object is incomplete or damaged", Position: data.Length - 4));
            }
            else
            {
                footerOk = true;
                footerCrc = BinaryPrimitives.ReadUInt32BigEndian(footer);
                footerLast = BinaryPrimitives.ReadInt64BigEndian(footer[4..]);
                bodyEnd = data.Length - SegmentFormat.FooterSize;
            }
        }
        else if (data.Length >= SegmentFormat.HeaderSize)
        {
            faults.Add(new SegmentFault(key, "footer", $"the object is {data.Length} bytes, too short for header and footer ({SegmentFormat.MinimumSegmentSize})"));
        }

        int bodyStart = Math.Min(SegmentFormat.HeaderSize, data.Length);
        ReadOnlySpan<byte> body = data[bodyStart..Math.Max(bodyStart, bodyEnd)];
        if (footerOk)
        {
            uint crc = Crc32C.Compute(body);
            if (crc != footerCrc)
                faults.Add(new SegmentFault(key, "crc", $"the body's CRC-32C is 0x{crc:X8} but the footer records 0x{footerCrc:X8}" +
                    " (the batch faults below, if any, say where)", Position: SegmentFormat.HeaderSize));
        }

        // Walk the batches.
        var batchStarts = new List<(int Position, long BaseOffset)>();
        long records = 0;
        long lastOffset = -1;
        long? firstTs = null, maxTs = null;
        int batchIndex = 0;
        int pos = 0;
        while (pos < body.Length)
        {
            ReadOnlySpan<byte> rest = body[pos..];
            int absolute = bodyStart + pos;
            int size = RecordBatch.PeekTotalSize(rest);
            if (size < 0 || size > rest.Length || rest.Length < RecordBatch.HeaderSize)
            {
                long? at = rest.Length >= 8 ? BinaryPrimitives.ReadInt64BigEndian(rest) : null;
                faults.Add(new SegmentFault(key, "framing",
                    $"the {rest.Length} bytes at position {absolute} are not a whole record batch (length field {(rest.Length >= 12 ? BinaryPrimitives.ReadInt32BigEndian(rest[8..]) : -1)}); the rest of the body cannot be read",
                    batchIndex, at, absolute));
                break;
            }
            ReadOnlySpan<byte> batch = rest[..size];
            var h = new RecordBatchHeader(batch);
            string where = $"batch {batchIndex} (offsets {h.BaseOffset}-{h.LastOffset}, position {absolute})";
            if (h.Magic != RecordBatch.CurrentMagic)
            {
                faults.Add(new SegmentFault(key, "batch", $"{where}: magic {h.Magic}, expected 2", batchIndex, h.BaseOffset, absolute));
            }
            else if (!RecordBatch.IsCrcValid(batch))
            {
                uint computed = Crc32C.Compute(batch[RecordBatch.AttributesOffset..]);
                faults.Add(new SegmentFault(key, "crc", $"{where}: CRC-32C is 0x{computed:X8} but the batch records 0x{h.Crc:X8}", batchIndex, h.BaseOffset, absolute));
            }
            else if (RecordBatchValidator.ValidateOne(batch, out BatchProblem problem) != BatchValidationResult.Ok)
            {
                faults.Add(new SegmentFault(key, "batch", $"{where}: {problem}", batchIndex, h.BaseOffset, absolute));
            }

            long expected = batchIndex == 0 ? headerBase : lastOffset + 1;
            if (h.BaseOffset != expected)
            {
                faults.Add(new SegmentFault(key, "offsets", batchIndex == 0
                    ? $"{where}: the first batch starts at {h.BaseOffset} but the segment's base offset is {headerBase}"
                    : $"{where}: starts at {h.BaseOffset}, expected {expected} (the previous batch ends at {lastOffset})", batchIndex, h.BaseOffset, absolute));
            }
            batchStarts.Add((absolute, h.BaseOffset));
            lastOffset = h.LastOffset;
            records += h.RecordCount;
            firstTs ??= h.BaseTimestamp;
            maxTs = maxTs is null ? h.MaxTimestamp : Math.Max(maxTs.Value, h.MaxTimestamp);
            batchIndex++;
            pos += size;
        }

        if (footerOk && batchIndex > 0 && footerLast != lastOffset)
            faults.Add(new SegmentFault(key, "offsets", $"the footer's last offset is {footerLast} but the last batch ends at {lastOffset}", Offset: footerLast, Position: data.Length - 12));
        if (headerOk && batchIndex > 0 && headerCount != records)
            faults.Add(new SegmentFault(key, "count", $"the header counts {headerCount} records but the batches hold {records}", Position: 16));

        // The index.
        int entries = 0;
        if (index is null)
        {
            faults.Add(new SegmentFault(indexKey, "index", "the .index object is missing (a complete segment has one; a new leader rebuilds it)"));
        }
        else
        {
            try
            {
                SegmentIndex parsed = SegmentIndex.Parse(index);
                entries = parsed.Count;
                if (parsed.Count == 0 && batchStarts.Count > 0)
                    faults.Add(new SegmentFault(indexKey, "index", "the index has no entries but the segment has batches"));
                if (parsed.Count > 0 && parsed[0].Position != SegmentFormat.HeaderSize)
                    faults.Add(new SegmentFault(indexKey, "index", $"entry 0 points at position {parsed[0].Position}, not at the first batch ({SegmentFormat.HeaderSize})", 0, parsed[0].Offset, parsed[0].Position));
                int b = 0;
                for (int i = 0; i < parsed.Count; i++)
                {
                    SegmentIndexEntry e = parsed[i];
                    while (b < batchStarts.Count && batchStarts[b].Position < e.Position) b++;
                    if (b >= batchStarts.Count || batchStarts[b].Position != e.Position)
                        faults.Add(new SegmentFault(indexKey, "index", $"entry {i} (offset {e.Offset}) points at position {e.Position}, which is not the start of a batch", null, e.Offset, e.Position));
                    else if (batchStarts[b].BaseOffset != e.Offset)
                        faults.Add(new SegmentFault(indexKey, "index", $"entry {i} says offset {e.Offset} but the batch at position {e.Position} starts at {batchStarts[b].BaseOffset}", b, e.Offset, e.Position));
                }
            }
            catch (SegmentCorruptException ex)
            {
                faults.Add(new SegmentFault(indexKey, "index", ex.Message));
            }
        }

        var summary = new SegmentSummary(key, keyBaseOffset, footerOk ? footerLast : (batchIndex > 0 ? lastOffset : null), data.Length,
            batchIndex, records, firstTs, maxTs, createdAt, index is not null, entries);
        summary.Faults.AddRange(faults);
        return summary;
    }
}
