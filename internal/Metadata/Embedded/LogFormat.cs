using System.Buffers.Binary;
using KafScale.Common;

namespace KafScale.Metadata.Embedded;

/// <summary>
/// On-disk formats of the embedded store (all integers little-endian).
/// <para>Log file <c>wal</c>: the 8-byte magic <c>KSMDLOG1</c>, then records framed as
/// [u32 payload length][u32 CRC-32C of payload][payload]. A payload is one store revision:
/// [u8 1][i64 revision] then ops until its end: [u8 1 put][key][i64 lease][value] or
/// [u8 2 delete][key], keys and values as [varint length][bytes].</para>
/// <para>Snapshot file <c>snapshot</c>: the magic <c>KSMDSNP1</c>, [i64 body length][u32 CRC-32C of body],
/// body = [i64 revision][varint count] then per key [key][value][i64 create][i64 mod][i64 version][i64 lease].</para>
/// </summary>
internal static class LogFormat
{
    public const string LogFileName = "wal";
    public const string SnapshotFileName = "snapshot";
    public const string SnapshotTempFileName = "snapshot.tmp";
    public const string LockFileName = "LOCK";

    public static ReadOnlySpan<byte> LogMagic => "KSMDLOG1"u8;
    public static ReadOnlySpan<byte> SnapshotMagic => "KSMDSNP1"u8;

    public const int FrameHeaderSize = 8;
    public const byte RevisionRecord = 1;
    public const byte PutOp = 1;
    public const byte DeleteOp = 2;

    /// <summary>A frame claiming more than this is garbage (a torn length), not a record.</summary>
    public const int MaxRecordSize = 256 << 20;

    /// <summary>Starts a frame; returns its start, to pass to <see cref="EndFrame"/>.</summary>
    public static int BeginFrame(ByteWriter writer, long revision)
    {
        int start = writer.Length;
        writer.WriteInt64(0); // length + CRC, patched by EndFrame
        writer.WriteByte(RevisionRecord);
        writer.WriteInt64(revision);
        return start;
    }

    public static void EndFrame(ByteWriter writer, int start)
    {
        Span<byte> frame = writer.WrittenSpanMutable[start..];
        ReadOnlySpan<byte> payload = frame[FrameHeaderSize..];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], Crc32C.Compute(payload));
    }

    public static void WritePut(ByteWriter writer, string key, long lease, byte[] value)
    {
        writer.WriteByte(PutOp);
        writer.WriteString(key);
        writer.WriteInt64(lease);
        writer.WriteBytes(value);
    }

    public static void WriteDelete(ByteWriter writer, string key)
    {
        writer.WriteByte(DeleteOp);
        writer.WriteString(key);
    }

    /// <summary>
    /// Reads the frame at offset. False when the bytes there are not a whole, intact frame: the
    /// end of the log, or the torn tail left by a crash during an append.
    /// </summary>
    public static bool TryReadFrame(ReadOnlySpan<byte> log, int offset, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (log.Length - offset < FrameHeaderSize) return false;
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(log[offset..]);
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(log[(offset + 4)..]);
        if (length == 0 || length > MaxRecordSize || length > (uint)(log.Length - offset - FrameHeaderSize)) return false;
        ReadOnlySpan<byte> candidate = log.Slice(offset + FrameHeaderSize, (int)length);
        if (Crc32C.Compute(candidate) != crc) return false;
        payload = candidate;
        return true;
    }
}
