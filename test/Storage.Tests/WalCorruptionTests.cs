using System.Buffers.Binary;
using KafScale.Common;
using KafScale.Records;
using KafScale.Storage.Wal;

namespace KafScale.Storage.Tests;

/// <summary>
/// Damaged WAL objects: each problem the reader names, from the documented vector with one
/// change (byte positions from its layout: chunks 32..242, footer table 242..396 with entry 0 at
/// 242 and entry 1 at 318, trailer 396..408), and a random-damage loop.
/// </summary>
public class WalCorruptionTests
{
    private const int FooterStart = 242;
    private const int Entry1 = 318;
    private const int Trailer = 396;

    private static byte[] Vector() => Convert.FromHexString(WalFormatTests.VectorHex);

    /// <summary>Recomputes the footer CRC in the trailer, so a change to an entry gets past it.</summary>
    private static void ResealFooter(byte[] bytes)
    {
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(bytes.Length - 12));
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(bytes.Length - 8), Crc32C.Compute(bytes.AsSpan(bytes.Length - 12 - length, length)));
    }

    private static WalProblem ProblemOf(byte[] bytes, bool verifyChunks = false) =>
        Assert.Throws<WalCorruptException>(() => verifyChunks ? WalReader.OpenVerified(bytes) : WalReader.Open(bytes)).Problem;

    [Theory]
    [InlineData(0)]
    [InlineData(11)]
    [InlineData(43)]
    public void Fewer_bytes_than_header_and_trailer_are_too_short(int length)
    {
        Assert.Equal(WalProblem.TooShort, ProblemOf(Vector()[..length]));
        Assert.Equal(WalProblem.TooShort, Assert.Throws<WalCorruptException>(() => WalReader.ReadTrailer(new byte[Math.Min(length, 11)])).Problem);
    }

    [Theory]
    [InlineData(44)]
    [InlineData(242)]
    [InlineData(407)]
    public void A_cut_upload_has_no_trailer_magic(int length) =>
        Assert.Equal(WalProblem.BadTrailerMagic, ProblemOf(Vector()[..length]));

    [Theory]
    [InlineData(404, WalProblem.BadTrailerMagic)] // "WEND"
    [InlineData(407, WalProblem.BadTrailerMagic)]
    [InlineData(400, WalProblem.BadFooterCrc)]    // the CRC itself
    [InlineData(403, WalProblem.BadFooterCrc)]
    [InlineData(399, WalProblem.BadFooterCrc)]    // table length 154 -> 155: a different table
    [InlineData(396, WalProblem.BadFooter)]       // table length above the object
    [InlineData(FooterStart, WalProblem.BadFooterCrc)]
    [InlineData(Entry1 + 30, WalProblem.BadFooterCrc)]
    [InlineData(0, WalProblem.BadHeader)]         // "KWAL"
    [InlineData(5, WalProblem.BadHeader)]         // version 1 -> 129
    [InlineData(31, WalProblem.BadHeader)]        // chunk count 2 -> 130
    public void A_flipped_byte_is_named_by_its_problem(int position, WalProblem expected)
    {
        byte[] bytes = Vector();
        bytes[position] ^= (byte)(position == 399 ? 0x01 : 0x80);
        Assert.Equal(expected, ProblemOf(bytes));
    }

    [Fact]
    public void Flags_and_the_header_fields_the_footer_does_not_check_are_read_as_written()
    {
        byte[] bytes = Vector();
        bytes[7] = 1; // flags: written as zero, ignored when read
        Assert.Equal(2, WalReader.Open(bytes).Chunks.Count);
    }

    [Theory]
    [InlineData(32)]   // chunk 0's base offset: outside the batch CRC but inside the chunk's
    [InlineData(100)]
    [InlineData(241)]  // the last byte of chunk 1
    public void A_flipped_chunk_byte_opens_but_fails_its_chunk_crc(int position)
    {
        byte[] bytes = Vector();
        bytes[position] ^= 0x01;
        WalFooter footer = WalReader.Open(bytes);
        int damaged = position < 102 ? 0 : 1;
        Assert.False(WalReader.VerifyChunk(WalReader.ChunkBytes(bytes, footer.Chunks[damaged]), footer.Chunks[damaged]));
        Assert.True(WalReader.VerifyChunk(WalReader.ChunkBytes(bytes, footer.Chunks[1 - damaged]), footer.Chunks[1 - damaged]));
        Assert.Equal(WalProblem.BadChunkCrc, ProblemOf(bytes, verifyChunks: true));
        WalObjectReport report = WalVerifier.Inspect(WalKeys.Key("default", 1700000000123, 7, 1), bytes);
        Assert.Contains(report.Faults, f => f.Check == "crc" && f.Chunk == damaged);
    }

    [Theory]
    [InlineData(0L)]            // over the header
    [InlineData(31L)]
    [InlineData(173L)]          // chunk 1 (140 bytes) would reach into the footer table
    [InlineData(400L)]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    public void A_chunk_position_outside_the_chunk_area_is_out_of_bounds(long position)
    {
        byte[] bytes = Vector();
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(Entry1 + 18 + 8 + 24), position);
        ResealFooter(bytes);
        Assert.Equal(WalProblem.ChunkOutOfBounds, ProblemOf(bytes));
    }

    [Fact]
    public void A_chunk_length_reaching_past_the_chunk_area_is_out_of_bounds()
    {
        byte[] bytes = Vector();
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(Entry1 + 18 + 8 + 32), 141);
        ResealFooter(bytes);
        Assert.Equal(WalProblem.ChunkOutOfBounds, ProblemOf(bytes));
    }

    public static TheoryData<string, int, byte[]> MalformedEntries() => new()
    {
        { "name longer than the table", FooterStart + 16, [0x01, 0x00] },
        { "empty name", Entry1 + 16, [0x00, 0x00] },
        { "name not UTF-8", FooterStart + 18, [0xC3, 0x28] },
        { "negative partition", FooterStart + 24, [0x80] },
        { "last below first", Entry1 + 26 + 16, [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06] },
        { "negative first offset", Entry1 + 26 + 8, [0xFF] },
        { "last offset long.MaxValue", Entry1 + 26 + 16, [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] },
        { "length below a batch header", Entry1 + 26 + 32, [0x00, 0x00, 0x00, 0x3C] },
        { "negative record count", Entry1 + 26 + 48, [0xFF] },
    };

    [Theory]
    [MemberData(nameof(MalformedEntries))]
    public void A_malformed_footer_entry_with_a_good_crc_is_a_bad_footer(string what, int position, byte[] patch)
    {
        byte[] bytes = Vector();
        patch.CopyTo(bytes, position);
        ResealFooter(bytes);
        WalCorruptException ex = Assert.Throws<WalCorruptException>(() => WalReader.Open(bytes));
        Assert.True(ex.Problem == WalProblem.BadFooter, $"{what}: {ex.Problem}: {ex.Message}");
        Assert.Contains("footer entry", ex.Message);
    }

    [Fact]
    public void A_table_cut_mid_entry_is_a_bad_footer()
    {
        // Claim the table is 10 bytes shorter and seal that: the last entry is cut.
        byte[] bytes = Vector();
        byte[] cut = [.. bytes[..(Trailer - 10)], .. bytes[Trailer..]];
        BinaryPrimitives.WriteUInt32BigEndian(cut.AsSpan(cut.Length - 12), 144);
        BinaryPrimitives.WriteUInt32BigEndian(cut.AsSpan(cut.Length - 8), Crc32C.Compute(cut.AsSpan(FooterStart, 144)));
        Assert.Equal(WalProblem.BadFooter, ProblemOf(cut));
    }

    [Fact]
    public void Parse_footer_checks_the_table_against_the_object_size()
    {
        byte[] bytes = Vector();
        ReadOnlySpan<byte> table = bytes.AsSpan(FooterStart, 154);
        uint crc = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(400));
        Assert.Equal(2, WalReader.ParseFooter(table, crc, 408, 1, 2, 3).Chunks.Count);
        Assert.Equal(WalProblem.BadFooter, Assert.Throws<WalCorruptException>(() => WalReader.ParseFooter(bytes.AsSpan(FooterStart, 154), crc, 197, 1, 2, 3)).Problem);
        Assert.Equal(WalProblem.TooShort, Assert.Throws<WalCorruptException>(() => WalReader.ParseFooter(bytes.AsSpan(FooterStart, 154), crc, 43, 1, 2, 3)).Problem);
        // A larger object than the one the table was written for: chunk 1 now ends far from the table, still inside.
        Assert.Equal(2, WalReader.ParseFooter(table, crc, 1000, 1, 2, 3).Chunks.Count);
        Assert.Equal(WalProblem.BadFooterCrc, Assert.Throws<WalCorruptException>(() => WalReader.ParseFooter(bytes.AsSpan(FooterStart, 154), crc ^ 1, 408, 1, 2, 3)).Problem);
    }

    [Fact]
    public void Every_problem_is_produced_by_some_damage()
    {
        var seen = new HashSet<WalProblem>();
        byte[] v = Vector();
        void Try(byte[] b)
        {
            try { WalReader.OpenVerified(b); }
            catch (WalCorruptException e) { seen.Add(e.Problem); }
        }
        Try(v[..10]);
        Try(v[..300]);
        byte[] b1 = Vector(); b1[FooterStart] ^= 1; Try(b1);
        byte[] b2 = Vector(); b2[Trailer] = 0xFF; Try(b2);
        byte[] b3 = Vector(); b3[0] = 0; Try(b3);
        byte[] b4 = Vector(); BinaryPrimitives.WriteInt64BigEndian(b4.AsSpan(Entry1 + 50), 0); ResealFooter(b4); Try(b4);
        byte[] b5 = Vector(); b5[50] ^= 1; Try(b5);
        Assert.Equal(Enum.GetValues<WalProblem>().ToHashSet(), seen);
    }

    /// <summary>
    /// Random damage (flips, runs of bytes, cuts, inserted bytes) to valid objects, each also
    /// with the footer CRC and the batch CRCs recomputed so the damage reaches the parsers behind
    /// them: the reader answers WalCorruptException or a footer, and everything a caller then does
    /// with that footer (chunk CRCs, batch checks, slices, the chain) answers without throwing.
    /// </summary>
    [Fact]
    public void Random_damage_never_throws_anything_but_WalCorruptException()
    {
        var random = new Random(20261206);
        List<byte[]> originals = [Vector(), WalFormatTests.VectorBuilder().Build().Bytes, Many()];
        int opened = 0, refused = 0;
        for (int round = 0; round < 6000; round++)
        {
            byte[] bytes = Damage(random, originals[round % originals.Count]);
            if (round % 2 == 1 && bytes.Length >= WalFormat.MinimumObjectSize)
                Reseal(bytes);
            WalFooter footer;
            try
            {
                footer = WalReader.Open(bytes);
                opened++;
            }
            catch (WalCorruptException)
            {
                refused++;
                Assert.False(WalVerifier.Inspect("default/!wal/x.wal", bytes).IsClean);
                continue;
            }
            var refs = new List<WalChunkRef>();
            foreach (WalChunkInfo c in footer.Chunks)
            {
                ReadOnlyMemory<byte> chunk = bytes.AsMemory((int)c.Position, c.Length);
                WalReader.VerifyChunk(chunk.Span, c);
                WalReader.DescribeBatchProblem(chunk.Span, c);
                WalChain.Slice(chunk, c.FirstOffset, c.LastOffset + 1);
                WalChain.Slice(chunk, c.FirstOffset + 1, c.LastOffset + 1);
                refs.Add(new WalChunkRef("k", c));
            }
            WalChain.Build(refs, 0, -1);
            WalVerifier.Inspect("default/!wal/x.wal", bytes);
        }
        Assert.True(opened > 100 && refused > 100, $"opened {opened}, refused {refused}");
    }

    private static byte[] Many()
    {
        var builder = new WalObjectBuilder(2, 5, 6);
        for (int p = 0; p < 4; p++)
            builder.AddChunk(Guid.NewGuid(), "t" + p, p, p, Batches.Chain(10 * p, 2, 3));
        return builder.Build().Bytes;
    }

    private static byte[] Damage(Random random, byte[] original)
    {
        byte[] bytes = (byte[])original.Clone();
        switch (random.Next(5))
        {
            case 0:
                for (int i = random.Next(1, 4); i > 0; i--)
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return bytes;
            case 1:
                int at = random.Next(bytes.Length);
                random.NextBytes(bytes.AsSpan(at, Math.Min(bytes.Length - at, random.Next(1, 16))));
                return bytes;
            case 2:
                return bytes[..random.Next(bytes.Length)];
            case 3:
                int insert = random.Next(bytes.Length);
                byte[] extra = new byte[random.Next(1, 8)];
                random.NextBytes(extra);
                return [.. bytes[..insert], .. extra, .. bytes[insert..]];
            default:
                // A footer value set to an edge: 0, -1, or a large number, at a random table position.
                int table = bytes.Length - 12 - (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(bytes.Length - 12));
                int p = random.Next(table, bytes.Length - 12 - 3);
                BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(p), random.Next(3) switch { 0 => 0, 1 => -1, _ => int.MaxValue });
                return bytes;
        }
    }

    /// <summary>Recomputes batch CRCs in the chunk area and the footer CRC, where the trailer still says where they are.</summary>
    private static void Reseal(byte[] bytes)
    {
        uint length = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(bytes.Length - 12));
        if (length > bytes.Length - WalFormat.MinimumObjectSize)
            return;
        int tableStart = bytes.Length - 12 - (int)length;
        int position = WalFormat.HeaderSize;
        while (position < tableStart)
        {
            int size = RecordBatch.PeekTotalSize(bytes.AsSpan(position, tableStart - position));
            if (size < RecordBatch.HeaderSize || size > tableStart - position)
                break;
            RecordBatch.UpdateCrc(bytes.AsSpan(position, size));
            position += size;
        }
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(bytes.Length - 8), Crc32C.Compute(bytes.AsSpan(tableStart, (int)length)));
    }
}
