using KafScale.Records;
using KafScale.Storage;

namespace KafScale.Processor.Segments;

/// <summary>Receives the records of a segment in offset order.</summary>
public interface IRecordSink
{
    void OnRecord(in RecordView record);
}

/// <summary>What decoding one segment found.</summary>
public readonly record struct DecodeResult(long BaseOffset, long LastOffset, long Records, long SkippedBefore, int ControlBatches);

/// <summary>
/// Decodes a whole <c>.kfs</c> segment: checks header, footer (END!) and body CRC, then walks the
/// record batches from the one holding <paramref name="fromOffset"/>, decompressing any codec
/// (gzip, snappy, lz4, zstd), skipping control batches (transaction markers) and records before
/// <paramref name="fromOffset"/>. Offsets and timestamps come from each batch's base plus the record's deltas.
/// </summary>
public static class SegmentDecoder
{
    /// <exception cref="SegmentCorruptException">The object is not a complete, intact segment.</exception>
    /// <exception cref="InvalidDataException">A batch inside it is malformed.</exception>
    public static DecodeResult Decode(ReadOnlyMemory<byte> segment, long fromOffset, IRecordSink sink)
    {
        var reader = SegmentReader.Open(segment);
        long records = 0, skipped = 0;
        int control = 0;
        int position = reader.FindPosition(fromOffset);
        if (position < 0) return new DecodeResult(reader.BaseOffset, reader.LastOffset, 0, 0, 0);
        var batches = reader.EnumerateBatches(position);
        while (batches.MoveNext())
        {
            ReadOnlySpan<byte> batch = batches.Current;
            var header = new RecordBatchHeader(batch);
            if (header.IsControl)
            {
                control++;
                continue;
            }
            if (header.LastOffset < fromOffset)
            {
                skipped += header.RecordCount;
                continue;
            }
            using var records0 = new RecordBatchReader(batch);
            while (records0.TryReadNext(out RecordView r))
            {
                if (r.Offset < fromOffset)
                {
                    skipped++;
                    continue;
                }
                sink.OnRecord(in r);
                records++;
            }
        }
        if (batches.StoppedEarly)
            throw new InvalidDataException($"the segment body does not divide into whole record batches at position {position + batches.Consumed}");
        return new DecodeResult(reader.BaseOffset, reader.LastOffset, records, skipped, control);
    }

    /// <summary>The last offset recorded in a segment's footer, from its last 16 bytes; null when the footer is not (yet) there.</summary>
    public static long? LastOffsetFromFooter(ReadOnlySpan<byte> footer)
    {
        try { return SegmentFooter.Read(footer).LastOffset; }
        catch (SegmentCorruptException) { return null; }
    }
}
