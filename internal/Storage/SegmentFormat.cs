using System.Buffers.Binary;

namespace KafScale.Storage;

/// <summary>
/// Constants of the <c>.kfs</c> and <c>.index</c> layouts (big-endian; byte-compatible with
/// upstream KafScale).
/// </summary>
public static class SegmentFormat
{
    /// <summary>ASCII "KAFS".</summary>
    public const uint SegmentMagic = 0x4B414653;

    /// <summary>ASCII "END!".</summary>
    public const uint FooterMagic = 0x454E4421;

    /// <summary>"IDX" + NUL.</summary>
    public const uint IndexMagic = 0x49445800;

    public const short SegmentVersion = 1;
    public const short IndexVersion = 1;

    public const int HeaderSize = 32;
    public const int FooterSize = 16;
    public const int IndexHeaderSize = 16;
    public const int IndexEntrySize = 12;

    /// <summary>Records between index entries, as upstream uses.</summary>
    public const int DefaultIndexInterval = 100;

    /// <summary>Smallest complete segment: header and footer around an empty body.</summary>
    public const int MinimumSegmentSize = HeaderSize + FooterSize;

    /// <summary>Byte position where the body ends (the footer starts) in a segment object of the given size.</summary>
    public static long BodyEnd(long segmentSize) => segmentSize - FooterSize;

    /// <summary>Size of an index with the given number of entries.</summary>
    public static int IndexSize(int entryCount) => IndexHeaderSize + IndexEntrySize * entryCount;
}

/// <summary>The 32-byte header of a <c>.kfs</c> segment.</summary>
public readonly record struct SegmentHeader(short Version, short Flags, long BaseOffset, int MessageCount, long CreatedAtMs)
{
    /// <summary>Decodes the first 32 bytes; checks magic and version.</summary>
    /// <exception cref="SegmentCorruptException">Not a version-1 segment header.</exception>
    public static SegmentHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < SegmentFormat.HeaderSize)
            throw new SegmentCorruptException(SegmentProblem.TooShort, $"segment header needs {SegmentFormat.HeaderSize} bytes, got {source.Length}");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(source);
        if (magic != SegmentFormat.SegmentMagic)
            throw new SegmentCorruptException(SegmentProblem.BadMagic, $"segment magic is 0x{magic:X8}, expected 0x{SegmentFormat.SegmentMagic:X8} (\"KAFS\")");
        short version = BinaryPrimitives.ReadInt16BigEndian(source.Slice(4));
        if (version != SegmentFormat.SegmentVersion)
            throw new SegmentCorruptException(SegmentProblem.UnsupportedVersion, $"segment version {version} is not supported (only {SegmentFormat.SegmentVersion})");
        return new SegmentHeader(
            version,
            BinaryPrimitives.ReadInt16BigEndian(source.Slice(6)),
            BinaryPrimitives.ReadInt64BigEndian(source.Slice(8)),
            BinaryPrimitives.ReadInt32BigEndian(source.Slice(16)),
            BinaryPrimitives.ReadInt64BigEndian(source.Slice(20)));
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, SegmentFormat.SegmentMagic);
        BinaryPrimitives.WriteInt16BigEndian(destination.Slice(4), Version);
        BinaryPrimitives.WriteInt16BigEndian(destination.Slice(6), Flags);
        BinaryPrimitives.WriteInt64BigEndian(destination.Slice(8), BaseOffset);
        BinaryPrimitives.WriteInt32BigEndian(destination.Slice(16), MessageCount);
        BinaryPrimitives.WriteInt64BigEndian(destination.Slice(20), CreatedAtMs);
        BinaryPrimitives.WriteInt32BigEndian(destination.Slice(28), 0);
    }
}

/// <summary>The 16-byte footer of a <c>.kfs</c> segment.</summary>
public readonly record struct SegmentFooter(uint BodyCrc, long LastOffset)
{
    /// <summary>Decodes the last 16 bytes of a segment; checks the END! magic.</summary>
    /// <exception cref="SegmentCorruptException">The footer is missing or damaged.</exception>
    public static SegmentFooter Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < SegmentFormat.FooterSize)
            throw new SegmentCorruptException(SegmentProblem.TooShort, $"segment footer needs {SegmentFormat.FooterSize} bytes, got {source.Length}");
        source = source.Slice(source.Length - SegmentFormat.FooterSize);
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(12));
        if (magic != SegmentFormat.FooterMagic)
            throw new SegmentCorruptException(SegmentProblem.BadFooterMagic, $"segment footer magic is 0x{magic:X8}, expected 0x{SegmentFormat.FooterMagic:X8} (\"END!\"): the object is incomplete or damaged");
        return new SegmentFooter(BinaryPrimitives.ReadUInt32BigEndian(source), BinaryPrimitives.ReadInt64BigEndian(source.Slice(4)));
    }

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, BodyCrc);
        BinaryPrimitives.WriteInt64BigEndian(destination.Slice(4), LastOffset);
        BinaryPrimitives.WriteUInt32BigEndian(destination.Slice(12), SegmentFormat.FooterMagic);
    }
}

/// <summary>What is wrong with a segment or index object.</summary>
public enum SegmentProblem
{
    None = 0,
    TooShort,
    BadMagic,
    UnsupportedVersion,
    BadFooterMagic,
    BodyCrcMismatch,
    BatchFraming,
    InvalidBatch,
    OffsetsNotContiguous,
    BaseOffsetMismatch,
    MessageCountMismatch,
    LastOffsetMismatch,
    IndexTooShort,
    IndexBadMagic,
    IndexUnsupportedVersion,
    IndexSizeMismatch,
    IndexEntryInvalid,
}

/// <summary>A segment or index object is not what the format requires; <see cref="Problem"/> says which rule broke.</summary>
public sealed class SegmentCorruptException(SegmentProblem problem, string message) : Exception(message)
{
    public SegmentProblem Problem { get; } = problem;
}
