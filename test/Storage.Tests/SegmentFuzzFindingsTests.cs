using System.Buffers.Binary;
using KafScale.Records;

namespace KafScale.Storage.Tests;

/// <summary>Inputs found by fuzzing the segment and index readers (scripts/fuzz.sh segment).</summary>
public class SegmentFuzzFindingsTests
{
    /// <summary>An index of the given entries, valid as far as <see cref="SegmentIndex.Parse"/> checks.</summary>
    private static byte[] Index(params (long Offset, int Position)[] entries)
    {
        byte[] index = new byte[SegmentFormat.IndexSize(entries.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(index, SegmentFormat.IndexMagic);
        BinaryPrimitives.WriteInt16BigEndian(index.AsSpan(4), SegmentFormat.IndexVersion);
        BinaryPrimitives.WriteInt32BigEndian(index.AsSpan(6), entries.Length);
        BinaryPrimitives.WriteInt32BigEndian(index.AsSpan(10), 1);
        for (int i = 0; i < entries.Length; i++)
        {
            Span<byte> e = index.AsSpan(SegmentFormat.IndexHeaderSize + i * SegmentFormat.IndexEntrySize);
            BinaryPrimitives.WriteInt64BigEndian(e, entries[i].Offset);
            BinaryPrimitives.WriteInt32BigEndian(e.Slice(8), entries[i].Position);
        }
        return index;
    }

    [Fact]
    public void An_index_entry_pointing_into_a_batch_is_ignored_instead_of_walked()
    {
        // The record value holds what reads as a batch header with batchLength -12 when an
        // entry points at it: 12 + batchLength = 0 bytes per step, so the walk from such a hint
        // used to spin for ever.
        byte[] value = new byte[80];
        BinaryPrimitives.WriteInt32BigEndian(value.AsSpan(8), -12);
        using var builder = new RecordBatchBuilder { BaseOffset = 100 };
        builder.Add(null, value, 1700000000000);
        List<ReadOnlyMemory<byte>> batches = [builder.Build(), Batches.Make(101, 2), Batches.Make(103, 1)];
        SegmentObjects objects = SegmentWriter.Build(batches, 1700000000000, indexInterval: 1);
        var reader = SegmentReader.Open(objects.Segment);
        int inside = objects.Segment.Span.IndexOf(value);
        Assert.True(inside > SegmentFormat.HeaderSize);

        SegmentIndex damaged = SegmentIndex.Parse(Index((100, inside)));
        for (long offset = 99; offset <= 104; offset++)
            Assert.Equal(reader.FindPosition(offset), reader.FindPosition(offset, damaged));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(-1)]
    public void Index_entries_off_their_batch_starts_give_the_answer_of_the_walk_from_the_start(int shift)
    {
        SegmentObjects objects = SegmentWriter.Build(Batches.Chain(0, 3, 2, 4), 1700000000000, indexInterval: 1);
        var reader = SegmentReader.Open(objects.Segment);
        SegmentIndex good = objects.IndexEntries;
        var entries = new (long, int)[good.Count];
        for (int i = 0; i < good.Count; i++)
            entries[i] = (good[i].Offset, Math.Max(SegmentFormat.HeaderSize, good[i].Position + shift));
        SegmentIndex damaged = SegmentIndex.Parse(Index(entries));
        for (long offset = 0; offset <= reader.LastOffset + 1; offset++)
            Assert.Equal(reader.FindPosition(offset, good), reader.FindPosition(offset, damaged));
    }
}
