using KafScale.Common;

namespace KafScale.Storage.Tests;

public class SegmentWriterTests
{
    private const long CreatedAt = 1700000000123;

    private static SegmentObjects VectorSegment() =>
        SegmentWriter.Build([Convert.FromHexString(Batches.VectorBatchHex)], CreatedAt);

    private static string Hex(ReadOnlyMemory<byte> m) => Convert.ToHexString(m.Span).ToLowerInvariant();

    [Fact]
    public void Vector_segment_header_matches_byte_for_byte()
    {
        Assert.Equal("4b414653000100000000000000000000000000010000018bcfe5687b00000000", Hex(VectorSegment().Segment[..32]));
    }

    [Fact]
    public void Vector_segment_footer_matches_byte_for_byte()
    {
        SegmentObjects s = VectorSegment();
        Assert.Equal("cd81aadd0000000000000000454e4421", Hex(s.Segment[^16..]));
        Assert.Equal(0xcd81aaddu, Crc32C.Compute(Convert.FromHexString(Batches.VectorBatchHex)));
    }

    [Fact]
    public void Vector_segment_is_118_bytes_of_header_batch_footer()
    {
        SegmentObjects s = VectorSegment();
        Assert.Equal(118, s.Segment.Length);
        Assert.Equal(
            "4b414653000100000000000000000000000000010000018bcfe5687b00000000" + Batches.VectorBatchHex + "cd81aadd0000000000000000454e4421",
            Hex(s.Segment));
        Assert.Equal(0, s.BaseOffset);
        Assert.Equal(0, s.LastOffset);
        Assert.Equal(1, s.MessageCount);
        Assert.Equal(1, s.BatchCount);
    }

    [Fact]
    public void Vector_index_is_28_bytes_with_one_entry_at_position_32()
    {
        SegmentObjects s = VectorSegment();
        Assert.Equal("49445800000100000001000000640000000000000000000000000020", Hex(s.Index));
        Assert.Equal(28, s.Index.Length);
        Assert.Equal(new SegmentIndexEntry(0, 32), Assert.Single(Enumerable.Range(0, s.IndexEntries.Count).Select(i => s.IndexEntries[i])));
    }

    [Fact]
    public void Index_gets_an_entry_at_the_first_batch_and_after_every_interval_of_records()
    {
        // 30-record batches at offsets 0,30,60,90,120,...: records since the last entry reach 120
        // (>= 100) at offset 120, then again at 240.
        List<ReadOnlyMemory<byte>> batches = Batches.Chain(0, 30, 30, 30, 30, 30, 30, 30, 30, 30);
        SegmentObjects s = SegmentWriter.Build(batches, CreatedAt);
        int[] positions = new int[batches.Count];
        int p = SegmentFormat.HeaderSize;
        for (int i = 0; i < batches.Count; i++)
        {
            positions[i] = p;
            p += batches[i].Length;
        }
        Assert.Equal(
            [new SegmentIndexEntry(0, positions[0]), new SegmentIndexEntry(120, positions[4]), new SegmentIndexEntry(240, positions[8])],
            Enumerable.Range(0, s.IndexEntries.Count).Select(i => s.IndexEntries[i]));
        Assert.Equal(270, s.MessageCount);
        Assert.Equal(269, s.LastOffset);
        Assert.Equal(1700000000000 + 269, s.MaxTimestamp);
    }

    [Fact]
    public void A_big_batch_is_followed_by_an_entry_at_the_next_batch()
    {
        SegmentObjects s = SegmentWriter.Build(Batches.Chain(500, 1, 250, 1, 99, 1, 1), CreatedAt, indexInterval: 100);
        long[] offsets = Enumerable.Range(0, s.IndexEntries.Count).Select(i => s.IndexEntries[i].Offset).ToArray();
        // 500 (first), 751 (251 records since 500), 851 (100 since 751).
        Assert.Equal([500L, 751, 851], offsets);
    }

    [Fact]
    public void Memories_may_hold_several_batches_each()
    {
        List<ReadOnlyMemory<byte>> chain = Batches.Chain(10, 2, 3, 4);
        byte[] blob = chain[0].ToArray().Concat(chain[1].ToArray()).ToArray();
        SegmentObjects joined = SegmentWriter.Build([blob, chain[2]], CreatedAt);
        SegmentObjects separate = SegmentWriter.Build(chain, CreatedAt);
        Assert.True(joined.Segment.Span.SequenceEqual(separate.Segment.Span));
        Assert.Equal(3, joined.BatchCount);
    }

    [Fact]
    public void Writing_into_caller_buffers_gives_the_same_bytes()
    {
        ReadOnlyMemory<byte>[] batches = Batches.Chain(0, 5, 5).ToArray();
        SegmentPlan plan = SegmentWriter.Plan(batches);
        byte[] segment = new byte[plan.SegmentSize];
        byte[] index = new byte[plan.IndexSize];
        SegmentWriter.Write(batches, plan, CreatedAt, segment, index);
        SegmentObjects built = SegmentWriter.Build(batches, CreatedAt);
        Assert.Equal(built.Segment.ToArray(), segment);
        Assert.Equal(built.Index.ToArray(), index);
    }

    [Fact]
    public void A_frame_around_the_batches_as_they_are_gives_the_same_objects_as_a_copy()
    {
        ReadOnlyMemory<byte>[] batches = Batches.Chain(7, 3, 150, 2, 60).ToArray();
        SegmentPlan plan = SegmentWriter.Plan(batches, indexInterval: 100);
        byte[] header = new byte[SegmentFormat.HeaderSize];
        byte[] footer = new byte[SegmentFormat.FooterSize];
        byte[] index = new byte[plan.IndexSize];
        SegmentWriter.WriteFrame(batches, plan, CreatedAt, header, footer, index);
        SegmentObjects built = SegmentWriter.Build(batches, CreatedAt, indexInterval: 100);

        byte[] framed = [.. header, .. batches.SelectMany(b => b.ToArray()), .. footer];
        Assert.Equal(built.Segment.ToArray(), framed);
        Assert.Equal(built.Index.ToArray(), index);
        Assert.Throws<ArgumentException>(() => SegmentWriter.WriteFrame(batches, plan, CreatedAt, header, new byte[SegmentFormat.FooterSize - 1], index));
        Assert.Throws<ArgumentException>(() => SegmentWriter.WriteFrame(batches[..^1], plan, CreatedAt, header, footer, index));
    }

    [Fact]
    public void Gaps_overlaps_partial_batches_and_empty_input_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => SegmentWriter.Build([Batches.Make(0, 2), Batches.Make(3, 1)], CreatedAt));
        Assert.Throws<ArgumentException>(() => SegmentWriter.Build([Batches.Make(0, 2), Batches.Make(1, 1)], CreatedAt));
        Assert.Throws<ArgumentException>(() => SegmentWriter.Build([Batches.Make(0, 2).AsMemory(0, 50)], CreatedAt));
        Assert.Throws<ArgumentException>(() => SegmentWriter.Build(Array.Empty<ReadOnlyMemory<byte>>(), CreatedAt));
    }

    [Fact]
    public void A_built_segment_verifies()
    {
        SegmentObjects s = SegmentWriter.Build(Batches.Chain(1000, 7, 200, 1, 55, 3), CreatedAt);
        SegmentVerification v = SegmentReader.Verify(s.Segment.Span, s.Index);
        Assert.True(v.IsValid, v.Message);
        Assert.Equal(1000, v.BaseOffset);
        Assert.Equal(1265, v.LastOffset);
        Assert.Equal(5, v.BatchCount);
        Assert.Equal(266, v.MessageCount);
    }
}
