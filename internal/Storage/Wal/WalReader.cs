using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using KafScale.Common;
using KafScale.Records;

namespace KafScale.Storage.Wal;

/// <summary>
/// Reads WAL objects (docs/storage-format.md, "WAL objects"). A reader finds the footer table from
/// the end: the last <see cref="WalFormat.TrailerSize"/> bytes give its length and CRC-32C, the
/// table gives every chunk's position. Every check failure is a <see cref="WalCorruptException"/>.
/// </summary>
public static class WalReader
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Bytes a first ranged read from the end fetches: trailer and footer of an object of up to a few hundred chunks.</summary>
    public const int DefaultTailReadSize = 64 * 1024;

    /// <summary>
    /// The footer table's length and CRC-32C from the trailer: the last <see cref="WalFormat.TrailerSize"/>
    /// bytes of <paramref name="trailer"/> (a longer span, such as a tail read, is fine).
    /// </summary>
    /// <exception cref="WalCorruptException">Fewer than 12 bytes, a wrong magic, or a table length above 2 GiB.</exception>
    public static (int FooterLength, uint FooterCrc) ReadTrailer(ReadOnlySpan<byte> trailer)
    {
        if (trailer.Length < WalFormat.TrailerSize)
            throw new WalCorruptException(WalProblem.TooShort, $"a WAL trailer needs {WalFormat.TrailerSize} bytes, got {trailer.Length}");
        trailer = trailer.Slice(trailer.Length - WalFormat.TrailerSize);
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(trailer.Slice(8));
        if (magic != WalFormat.TrailerMagic)
            throw new WalCorruptException(WalProblem.BadTrailerMagic, $"the WAL object ends in 0x{magic:X8}, not the trailer magic 0x{WalFormat.TrailerMagic:X8} (\"WEND\"): it is incomplete or damaged");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(trailer);
        if (length > int.MaxValue)
            throw new WalCorruptException(WalProblem.BadFooter, $"the trailer gives a footer table of {length} bytes, more than any WAL object holds");
        return ((int)length, BinaryPrimitives.ReadUInt32BigEndian(trailer.Slice(4)));
    }

    /// <summary>
    /// Parses a footer table (exactly the FooterLength bytes before the trailer), checked against
    /// <paramref name="crc"/>, for an object of <paramref name="objectSize"/> bytes: every chunk must
    /// lie between the header and the table. The header fields the table does not hold come from
    /// the caller (the key gives them).
    /// </summary>
    /// <exception cref="WalCorruptException">A CRC mismatch, a malformed entry, or a chunk out of bounds.</exception>
    public static WalFooter ParseFooter(ReadOnlySpan<byte> footer, uint crc, long objectSize, int brokerId, long createdAtMs, long sequence)
    {
        if (objectSize < WalFormat.MinimumObjectSize)
            throw new WalCorruptException(WalProblem.TooShort, $"a WAL object needs at least {WalFormat.MinimumObjectSize} bytes, this one has {objectSize}");
        long footerStart = objectSize - WalFormat.TrailerSize - footer.Length;
        if (footerStart < WalFormat.HeaderSize)
            throw new WalCorruptException(WalProblem.BadFooter, $"a footer table of {footer.Length} bytes does not fit a WAL object of {objectSize} bytes");
        uint actual = Crc32C.Compute(footer);
        if (actual != crc)
            throw new WalCorruptException(WalProblem.BadFooterCrc, $"the footer table's CRC-32C is 0x{actual:X8}, the trailer says 0x{crc:X8}");

        var chunks = new List<WalChunkInfo>(Math.Min(footer.Length / WalFormat.FooterEntryFixedSize, 4096));
        int p = 0;
        while (p < footer.Length)
        {
            int index = chunks.Count;
            ReadOnlySpan<byte> rest = footer.Slice(p);
            if (rest.Length < WalFormat.FooterEntryFixedSize)
                throw Bad(index, $"{rest.Length} bytes are left, fewer than an entry's {WalFormat.FooterEntryFixedSize}");
            int nameBytes = BinaryPrimitives.ReadUInt16BigEndian(rest.Slice(16));
            if (rest.Length < WalFormat.FooterEntrySize(nameBytes))
                throw Bad(index, $"a topic name of {nameBytes} bytes does not fit the {rest.Length} bytes left");
            if (nameBytes == 0)
                throw Bad(index, "the topic name is empty");
            var topicId = new Guid(rest.Slice(0, 16), bigEndian: true);
            string topic;
            try
            {
                topic = s_strictUtf8.GetString(rest.Slice(18, nameBytes));
            }
            catch (DecoderFallbackException)
            {
                throw Bad(index, "the topic name is not UTF-8");
            }
            ReadOnlySpan<byte> f = rest.Slice(18 + nameBytes);
            var chunk = new WalChunkInfo(
                topicId,
                topic,
                Partition: BinaryPrimitives.ReadInt32BigEndian(f),
                LeaderEpoch: BinaryPrimitives.ReadInt32BigEndian(f.Slice(4)),
                FirstOffset: BinaryPrimitives.ReadInt64BigEndian(f.Slice(8)),
                LastOffset: BinaryPrimitives.ReadInt64BigEndian(f.Slice(16)),
                Position: BinaryPrimitives.ReadInt64BigEndian(f.Slice(24)),
                Length: BinaryPrimitives.ReadInt32BigEndian(f.Slice(32)),
                Crc32C: BinaryPrimitives.ReadUInt32BigEndian(f.Slice(36)),
                MaxTimestamp: BinaryPrimitives.ReadInt64BigEndian(f.Slice(40)),
                RecordCount: BinaryPrimitives.ReadInt32BigEndian(f.Slice(48)));
            if (chunk.Partition < 0)
                throw Bad(index, $"partition {chunk.Partition} is negative");
            if (chunk.FirstOffset < 0 || chunk.LastOffset < chunk.FirstOffset || chunk.LastOffset == long.MaxValue)
                throw Bad(index, $"offsets {chunk.FirstOffset}-{chunk.LastOffset} are not a range of a log");
            if (chunk.RecordCount < 0)
                throw Bad(index, $"record count {chunk.RecordCount} is negative");
            if (chunk.Length < RecordBatch.HeaderSize)
                throw Bad(index, $"length {chunk.Length} cannot hold a record batch");
            if (chunk.Position < WalFormat.HeaderSize || chunk.Position > footerStart - chunk.Length)
            {
                throw new WalCorruptException(WalProblem.ChunkOutOfBounds, string.Create(CultureInfo.InvariantCulture,
                    $"chunk {index} ({chunk.Topic}-{chunk.Partition}) lies at {chunk.Position}..{chunk.Position + chunk.Length}, outside the chunk area {WalFormat.HeaderSize}..{footerStart}"));
            }
            chunks.Add(chunk);
            p += WalFormat.FooterEntrySize(nameBytes);
        }
        return new WalFooter(brokerId, createdAtMs, sequence, chunks);

        static WalCorruptException Bad(int index, string what) =>
            new(WalProblem.BadFooter, string.Create(CultureInfo.InvariantCulture, $"footer entry {index}: {what}"));
    }

    /// <summary>
    /// A whole object in memory: header, trailer and footer table validated, the chunks' CRCs not
    /// checked (see <see cref="VerifyChunk"/> and <see cref="OpenVerified"/>).
    /// </summary>
    /// <exception cref="WalCorruptException">The object cannot be read.</exception>
    public static WalFooter Open(ReadOnlySpan<byte> wholeObject)
    {
        if (wholeObject.Length < WalFormat.MinimumObjectSize)
            throw new WalCorruptException(WalProblem.TooShort, $"a WAL object needs at least {WalFormat.MinimumObjectSize} bytes, this one has {wholeObject.Length}");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(wholeObject);
        if (magic != WalFormat.HeaderMagic)
            throw new WalCorruptException(WalProblem.BadHeader, $"the WAL object starts with 0x{magic:X8}, not the header magic 0x{WalFormat.HeaderMagic:X8} (\"KWAL\")");
        ushort version = BinaryPrimitives.ReadUInt16BigEndian(wholeObject.Slice(WalFormat.VersionOffset));
        if (version != WalFormat.Version)
            throw new WalCorruptException(WalProblem.BadHeader, $"WAL format version {version} is not supported (only {WalFormat.Version})");
        int brokerId = BinaryPrimitives.ReadInt32BigEndian(wholeObject.Slice(WalFormat.BrokerIdOffset));
        long createdAtMs = BinaryPrimitives.ReadInt64BigEndian(wholeObject.Slice(WalFormat.CreatedAtOffset));
        long sequence = BinaryPrimitives.ReadInt64BigEndian(wholeObject.Slice(WalFormat.SequenceOffset));
        int chunkCount = BinaryPrimitives.ReadInt32BigEndian(wholeObject.Slice(WalFormat.ChunkCountOffset));

        (int footerLength, uint footerCrc) = ReadTrailer(wholeObject);
        if (footerLength > wholeObject.Length - WalFormat.MinimumObjectSize)
            throw new WalCorruptException(WalProblem.BadFooter, $"the trailer gives a footer table of {footerLength} bytes, which does not fit a WAL object of {wholeObject.Length} bytes");
        ReadOnlySpan<byte> table = wholeObject.Slice(wholeObject.Length - WalFormat.TrailerSize - footerLength, footerLength);
        WalFooter footer = ParseFooter(table, footerCrc, wholeObject.Length, brokerId, createdAtMs, sequence);
        if (footer.Chunks.Count != chunkCount)
            throw new WalCorruptException(WalProblem.BadHeader, $"the header counts {chunkCount} chunks, the footer table has {footer.Chunks.Count}");
        return footer;
    }

    /// <summary><see cref="Open"/>, then every chunk's CRC-32C.</summary>
    /// <exception cref="WalCorruptException">The object cannot be read, or a chunk's bytes are damaged (<see cref="WalProblem.BadChunkCrc"/>).</exception>
    public static WalFooter OpenVerified(ReadOnlySpan<byte> wholeObject)
    {
        WalFooter footer = Open(wholeObject);
        for (int i = 0; i < footer.Chunks.Count; i++)
        {
            WalChunkInfo chunk = footer.Chunks[i];
            if (!VerifyChunk(ChunkBytes(wholeObject, chunk), chunk))
            {
                throw new WalCorruptException(WalProblem.BadChunkCrc, string.Create(CultureInfo.InvariantCulture,
                    $"chunk {i} ({chunk.Topic}-{chunk.Partition}, offsets {chunk.FirstOffset}-{chunk.LastOffset}) does not match its CRC-32C 0x{chunk.Crc32C:X8}"));
            }
        }
        return footer;
    }

    /// <summary>The bytes of <paramref name="chunk"/> within a whole object its footer came from.</summary>
    public static ReadOnlySpan<byte> ChunkBytes(ReadOnlySpan<byte> wholeObject, in WalChunkInfo chunk) =>
        wholeObject.Slice(checked((int)chunk.Position), chunk.Length);

    /// <summary>True when <paramref name="chunkBytes"/> (the Length bytes at Position) match the chunk's CRC-32C.</summary>
    public static bool VerifyChunk(ReadOnlySpan<byte> chunkBytes, in WalChunkInfo chunk) =>
        chunkBytes.Length == chunk.Length && Crc32C.Compute(chunkBytes) == chunk.Crc32C;

    /// <summary>
    /// How many bytes from the end a reader fetches first, so one ranged GET holds trailer and
    /// footer table of a typical object: <see cref="DefaultTailReadSize"/> or the object size,
    /// whichever is smaller. A longer table (its length is in the trailer) needs a second read.
    /// </summary>
    public static int TailReadSize(long objectSize) =>
        objectSize <= 0 ? 0 : (int)Math.Min(objectSize, DefaultTailReadSize);

    /// <summary>
    /// Checks that a chunk's bytes are whole record batches agreeing with its footer entry: magic 2,
    /// each batch's own CRC-32C, offsets following each other from FirstOffset to LastOffset, and the
    /// record count. Null when they do; otherwise what is wrong, for <c>segments wal verify</c>.
    /// </summary>
    public static string? DescribeBatchProblem(ReadOnlySpan<byte> chunkBytes, in WalChunkInfo chunk)
    {
        int position = 0, batch = 0;
        long next = chunk.FirstOffset;
        long records = 0;
        while (position < chunkBytes.Length)
        {
            ReadOnlySpan<byte> rest = chunkBytes.Slice(position);
            int size = RecordBatch.PeekTotalSize(rest);
            if (size < RecordBatch.HeaderSize || size > rest.Length)
                return $"the bytes at chunk position {position} are not a whole record batch";
            var h = new RecordBatchHeader(rest);
            if (h.Magic != RecordBatch.CurrentMagic)
                return $"batch {batch} at chunk position {position} has magic {h.Magic}, not 2";
            if (!RecordBatch.IsCrcValid(rest.Slice(0, size)))
                return $"batch {batch} (offset {h.BaseOffset}) does not match its own CRC-32C";
            if (h.BaseOffset != next || h.LastOffsetDelta < 0)
                return $"batch {batch} covers offsets {h.BaseOffset}-{h.LastOffset}, the chunk's next offset is {next}";
            next = h.LastOffset + 1;
            records += h.RecordCount;
            position += size;
            batch++;
        }
        if (batch == 0)
            return "the chunk holds no record batch";
        if (next - 1 != chunk.LastOffset)
            return $"the batches end at offset {next - 1}, the footer says {chunk.LastOffset}";
        if (records != chunk.RecordCount)
            return $"the batches hold {records} records, the footer says {chunk.RecordCount}";
        return null;
    }
}
