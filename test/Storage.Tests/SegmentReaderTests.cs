using System.Buffers.Binary;
using KafScale.Common;
using KafScale.Records;

namespace KafScale.Storage.Tests;

public class SegmentReaderTests
{
    private static SegmentObjects Sample() => SegmentWriter.Build(Batches.Chain(100, 3, 1, 40, 2, 120, 5, 5, 90), 1700000000123, indexInterval: 40);

    [Fact]
    public void Open_exposes_header_footer_and_body()
    {
        SegmentObjects s = Sample();
        SegmentReader r = SegmentReader.Open(s.Segment);
        Assert.Equal(100, r.BaseOffset);
        Assert.Equal(365, r.LastOffset);
        Assert.Equal(266, r.Header.MessageCount);
        Assert.Equal(1700000000123, r.Header.CreatedAtMs);
        Assert.Equal(8, r.BatchCount);
        Assert.Equal(s.Segment.Length - 48, r.Body.Length);
    }

    [Fact]
    public void A_flipped_byte_anywhere_in_body_or_footer_is_detected()
    {
        byte[] segment = Sample().Segment.ToArray();
        for (int i = SegmentFormat.HeaderSize; i < segment.Length; i++)
        {
            byte[] damaged = (byte[])segment.Clone();
            damaged[i] ^= 0x01;
            var e = Assert.Throws<SegmentCorruptException>(() => SegmentReader.Open(damaged));
            Assert.NotEqual(SegmentProblem.None, e.Problem);
            Assert.False(SegmentReader.Verify(damaged).IsValid, $"flip at byte {i} verified");
        }
    }

    [Fact]
    public void A_body_flip_is_reported_as_a_crc_mismatch_and_a_footer_flip_by_field()
    {
        byte[] segment = Sample().Segment.ToArray();
        byte[] body = (byte[])segment.Clone();
        body[200] ^= 0x80;
        Assert.Equal(SegmentProblem.BodyCrcMismatch, SegmentReader.Verify(body).Problem);

        byte[] magic = (byte[])segment.Clone();
        magic[^1] ^= 0x01;
        Assert.Equal(SegmentProblem.BadFooterMagic, SegmentReader.Verify(magic).Problem);

        byte[] last = (byte[])segment.Clone();
        last[^5] ^= 0x01;
        Assert.Equal(SegmentProblem.LastOffsetMismatch, SegmentReader.Verify(last).Problem);
    }

    [Theory]
    [InlineData(0, SegmentProblem.BadMagic)]
    [InlineData(5, SegmentProblem.UnsupportedVersion)]
    [InlineData(15, SegmentProblem.BaseOffsetMismatch)]
    [InlineData(19, SegmentProblem.MessageCountMismatch)]
    public void Header_damage_that_the_format_can_see_is_detected(int position, SegmentProblem expected)
    {
        byte[] segment = Sample().Segment.ToArray();
        segment[position] ^= 0x01;
        Assert.Equal(expected, SegmentReader.Verify(segment).Problem);
    }

    [Fact]
    public void Truncated_segments_are_rejected()
    {
        byte[] segment = Sample().Segment.ToArray();
        foreach (int length in new[] { 0, 10, 32, 47, 48, 100, segment.Length - 1 })
            Assert.Throws<SegmentCorruptException>(() => SegmentReader.Open(segment.AsMemory(0, length)));
    }

    [Fact]
    public void A_batch_damaged_with_a_recomputed_body_crc_is_caught_by_verify()
    {
        SegmentObjects s = Sample();
        byte[] segment = s.Segment.ToArray();
        segment[SegmentFormat.HeaderSize + 30] ^= 0x04; // inside the first batch's CRC range
        uint crc = Crc32C.Compute(segment.AsSpan(32, segment.Length - 48));
        BinaryPrimitives.WriteUInt32BigEndian(segment.AsSpan(segment.Length - 16), crc);
        SegmentReader.Open(segment); // framing is intact
        SegmentVerification v = SegmentReader.Verify(segment);
        Assert.Equal(SegmentProblem.InvalidBatch, v.Problem);
        Assert.Contains("CrcMismatch", v.Message);
    }

    [Fact]
    public void Index_lookup_finds_the_batch_holding_every_offset()
    {
        SegmentObjects s = Sample();
        SegmentReader reader = SegmentReader.Open(s.Segment);
        SegmentIndex index = SegmentIndex.Parse(s.Index);
        Assert.True(index.Count > 2);

        // The truth, by walking every batch.
        var batches = new List<(int Position, long Base, long Last)>();
        RecordBatchEnumerator walk = reader.EnumerateBatches();
        while (walk.MoveNext())
        {
            var h = new RecordBatchHeader(walk.Current);
            batches.Add((walk.Position + SegmentFormat.HeaderSize, h.BaseOffset, h.LastOffset));
        }

        for (long offset = reader.BaseOffset; offset <= reader.LastOffset; offset++)
        {
            var holder = batches.Single(b => b.Base <= offset && offset <= b.Last);
            Assert.Equal(holder.Position, reader.FindPosition(offset, index));
            Assert.Equal(holder.Position, reader.FindPosition(offset));

            int hint = index.FindPosition(offset);
            Assert.Contains(batches, b => b.Position == hint);
            Assert.True(hint <= holder.Position);
        }
        Assert.Equal(SegmentFormat.HeaderSize, reader.FindPosition(0, index));
        Assert.Equal(-1, reader.FindPosition(reader.LastOffset + 1, index));
        Assert.Equal(SegmentFormat.HeaderSize, index.FindPosition(5));
    }

    [Fact]
    public void Batches_in_a_byte_range_are_whole_batches()
    {
        SegmentObjects s = Sample();
        SegmentReader reader = SegmentReader.Open(s.Segment);
        int from = reader.FindPosition(150);
        int to = reader.FindPosition(300);
        RecordBatchEnumerator walk = reader.EnumerateBatches(from, to);
        long first = -1, last = -1;
        while (walk.MoveNext())
        {
            var h = new RecordBatchHeader(walk.Current);
            if (first < 0)
                first = h.BaseOffset;
            last = h.LastOffset;
        }
        Assert.False(walk.StoppedEarly);
        Assert.True(first <= 150);
        Assert.True(last >= 150 && last < 300);
    }

    [Fact]
    public void Verify_catches_an_index_entry_that_misses_a_batch_start()
    {
        SegmentObjects s = Sample();
        byte[] index = s.Index.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(index.AsSpan(SegmentFormat.IndexHeaderSize + SegmentFormat.IndexEntrySize + 8), 33);
        Assert.Equal(SegmentProblem.IndexEntryInvalid, SegmentReader.Verify(s.Segment.Span, index).Problem);

        byte[] wrongOffset = s.Index.ToArray();
        wrongOffset[SegmentFormat.IndexHeaderSize + SegmentFormat.IndexEntrySize + 7] ^= 1;
        Assert.Equal(SegmentProblem.IndexEntryInvalid, SegmentReader.Verify(s.Segment.Span, wrongOffset).Problem);
    }

    [Fact]
    public void Damaged_index_headers_are_rejected()
    {
        byte[] index = Sample().Index.ToArray();
        byte[] magic = (byte[])index.Clone();
        magic[0] ^= 1;
        Assert.Equal(SegmentProblem.IndexBadMagic, Assert.Throws<SegmentCorruptException>(() => SegmentIndex.Parse(magic)).Problem);
        Assert.Equal(SegmentProblem.IndexSizeMismatch, Assert.Throws<SegmentCorruptException>(() => SegmentIndex.Parse(index.AsMemory(0, index.Length - 1))).Problem);
        Assert.Equal(SegmentProblem.IndexTooShort, Assert.Throws<SegmentCorruptException>(() => SegmentIndex.Parse(index.AsMemory(0, 5))).Problem);
    }
}
