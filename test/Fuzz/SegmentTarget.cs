using System.Buffers.Binary;
using KafScale.Common;
using KafScale.Records;
using KafScale.Storage;

namespace KafScale.Fuzz;

/// <summary>
/// A <c>.kfs</c> segment and its <c>.index</c>, packed as [int32 big-endian segment length]
/// [segment][index] (an input too short for that is all segment, with no index). Covers what
/// reads them: <see cref="SegmentReader"/> (open, verify, find an offset with and without the
/// index, walk the batches from there), <see cref="SegmentIndex.Parse"/>, and the checks of
/// <c>admin segments verify</c> (<see cref="PartitionVerifier.Inspect"/>). Their documented
/// answer to a bad object is <see cref="SegmentCorruptException"/> (Verify and Inspect report
/// instead of throwing), and a malformed batch inside a valid segment is
/// <see cref="InvalidDataException"/>. The input also runs with the batch CRCs and the body
/// CRC recomputed, so mutations get past the checksums.
/// </summary>
internal static class SegmentTarget
{
    /// <summary>Packs a segment and its index into one input.</summary>
    public static byte[] Pack(ReadOnlySpan<byte> segment, ReadOnlySpan<byte> index)
    {
        byte[] input = new byte[4 + segment.Length + index.Length];
        BinaryPrimitives.WriteInt32BigEndian(input, segment.Length);
        segment.CopyTo(input.AsSpan(4));
        index.CopyTo(input.AsSpan(4 + segment.Length));
        return input;
    }

    public static void Run(byte[] input)
    {
        byte[] segment;
        byte[]? index = null;
        int length = input.Length >= 4 ? BinaryPrimitives.ReadInt32BigEndian(input) : -1;
        if (length >= 0 && length <= input.Length - 4)
        {
            segment = input.AsSpan(4, length).ToArray();
            index = input.AsSpan(4 + length).ToArray();
        }
        else
        {
            segment = input;
        }

        Read(segment, index);
        if (segment.Length >= SegmentFormat.MinimumSegmentSize)
        {
            byte[] recomputed = (byte[])segment.Clone();
            int bodyEnd = recomputed.Length - SegmentFormat.FooterSize;
            RecordsTarget.RecomputeBatchCrcs(recomputed, SegmentFormat.HeaderSize, bodyEnd);
            BinaryPrimitives.WriteUInt32BigEndian(recomputed.AsSpan(bodyEnd), Crc32C.Compute(recomputed.AsSpan(SegmentFormat.HeaderSize, bodyEnd - SegmentFormat.HeaderSize)));
            Read(recomputed, index);
        }
    }

    private static void Read(byte[] segment, byte[]? index)
    {
        // (A null array would convert to an empty index, not to "no index".)
        bool verified = (index is null ? SegmentReader.Verify(segment) : SegmentReader.Verify(segment, index)).IsValid;
        long keyBaseOffset = segment.Length >= 16 ? BinaryPrimitives.ReadInt64BigEndian(segment.AsSpan(8)) : 0;
        PartitionVerifier.Inspect("fuzz.kfs", keyBaseOffset, segment, index, "fuzz.index");

        SegmentIndex? parsed = null;
        if (index is not null)
        {
            try
            {
                parsed = SegmentIndex.Parse(index);
            }
            catch (SegmentCorruptException)
            {
            }
        }

        SegmentReader reader;
        try
        {
            reader = SegmentReader.Open(segment);
        }
        catch (SegmentCorruptException)
        {
            return;
        }

        long first = reader.BaseOffset, last = reader.LastOffset;
        ReadOnlySpan<long> offsets = [first - 1, first, first + (last - first) / 2, last, last + 1];
        foreach (long offset in offsets)
        {
            // A damaged index may send the search astray but never into a hang or a crash; an
            // index that verifies must give the answer the walk from the start gives.
            int hinted = reader.FindPosition(offset, parsed);
            int plain = reader.FindPosition(offset);
            if (verified && index is not null && hinted != plain)
                throw new FuzzFindingException($"FindPosition({offset}) is {hinted} with a verified index and {plain} without");
            if (hinted >= reader.BodyEnd || (hinted >= 0 && hinted < SegmentFormat.HeaderSize))
                throw new FuzzFindingException($"FindPosition({offset}) with the index is {hinted}, outside the body");
            if (plain < 0)
                continue;
            RecordBatchEnumerator batches = reader.EnumerateBatches(plain);
            while (batches.MoveNext())
                RecordsTarget.ReadViews(batches.Current);
        }
    }
}
