using System.Buffers.Binary;

namespace KafScale.Storage.Wal;

/// <summary>
/// Constants of the WAL object layout (docs/storage-format.md, "WAL objects"): a 32-byte header,
/// the chunks back to back, a footer table with one entry per chunk, and a 12-byte trailer.
/// All integers are big-endian, as in the <c>.kfs</c>.
/// </summary>
public static class WalFormat
{
    /// <summary>Bytes of the header: magic, version, flags, broker id, created-at, sequence, chunk count.</summary>
    public const int HeaderSize = 32;

    /// <summary>Bytes of the trailer: footer table length, footer table CRC-32C, magic.</summary>
    public const int TrailerSize = 12;

    /// <summary>ASCII "KWAL", the first four bytes of every WAL object.</summary>
    public const uint HeaderMagic = 0x4B57414C;

    /// <summary>ASCII "WEND", the last four bytes of every complete WAL object.</summary>
    public const uint TrailerMagic = 0x57454E44;

    /// <summary>The only format version this code writes and reads.</summary>
    public const ushort Version = 1;

    /// <summary>Smallest possible object: a header and a trailer around no chunks and an empty footer table.</summary>
    public const int MinimumObjectSize = HeaderSize + TrailerSize;

    /// <summary>Bytes of a footer entry besides the topic name's UTF-8 bytes.</summary>
    public const int FooterEntryFixedSize = 16 + 2 + 4 + 4 + 8 + 8 + 8 + 4 + 4 + 8 + 4;

    /// <summary>Bytes of the footer entry of a chunk whose topic name takes <paramref name="topicNameBytes"/> UTF-8 bytes.</summary>
    public static int FooterEntrySize(int topicNameBytes) => FooterEntryFixedSize + topicNameBytes;

    internal const int VersionOffset = 4;
    internal const int FlagsOffset = 6;
    internal const int BrokerIdOffset = 8;
    internal const int CreatedAtOffset = 12;
    internal const int SequenceOffset = 20;
    internal const int ChunkCountOffset = 28;

    /// <summary>Writes the 32-byte header.</summary>
    internal static void WriteHeader(Span<byte> destination, int brokerId, long createdAtMs, long sequence, int chunkCount)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, HeaderMagic);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(VersionOffset), Version);
        BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(FlagsOffset), 0);
        BinaryPrimitives.WriteInt32BigEndian(destination.Slice(BrokerIdOffset), brokerId);
        BinaryPrimitives.WriteInt64BigEndian(destination.Slice(CreatedAtOffset), createdAtMs);
        BinaryPrimitives.WriteInt64BigEndian(destination.Slice(SequenceOffset), sequence);
        BinaryPrimitives.WriteInt32BigEndian(destination.Slice(ChunkCountOffset), chunkCount);
    }
}

/// <summary>
/// One footer entry: where one partition's chunk lies in a WAL object and what it holds.
/// <paramref name="LastOffset"/> is inclusive (the last batch's base offset + its lastOffsetDelta).
/// </summary>
public readonly record struct WalChunkInfo(Guid TopicId, string Topic, int Partition, int LeaderEpoch,
    long FirstOffset, long LastOffset, long Position, int Length, uint Crc32C, long MaxTimestamp, int RecordCount);

/// <summary>What is wrong with a WAL object that cannot be read.</summary>
public enum WalProblem
{
    /// <summary>Fewer bytes than a header and a trailer (the upload was cut or the object is not a WAL object).</summary>
    TooShort,

    /// <summary>The last four bytes are not "WEND": the object is incomplete or damaged.</summary>
    BadTrailerMagic,

    /// <summary>The footer table does not match the CRC-32C in the trailer.</summary>
    BadFooterCrc,

    /// <summary>The footer table does not fit the object or its entries are malformed.</summary>
    BadFooter,

    /// <summary>Wrong header magic, an unsupported version, or a chunk count that disagrees with the footer table.</summary>
    BadHeader,

    /// <summary>A chunk's position and length reach into the header, the footer table or past the object.</summary>
    ChunkOutOfBounds,

    /// <summary>A chunk's bytes do not match the CRC-32C in its footer entry.</summary>
    BadChunkCrc,
}

/// <summary>A WAL object that cannot be read; <see cref="Problem"/> says which check failed.</summary>
public sealed class WalCorruptException(WalProblem problem, string message) : Exception(message)
{
    /// <summary>Which check failed.</summary>
    public WalProblem Problem { get; } = problem;
}

/// <summary>
/// What a reader learns from a WAL object's header (or key) and footer table: who wrote it, when,
/// and its chunks in chunk order.
/// </summary>
public sealed record WalFooter(int BrokerId, long CreatedAtMs, long Sequence, IReadOnlyList<WalChunkInfo> Chunks);
