using System.Buffers.Binary;
using KafScale.Common;

namespace KafScale.Metadata.Embedded;

/// <summary>The compacted state: every key with its bookkeeping, as of one revision.</summary>
internal sealed record SnapshotImage(long Revision, KeyValue[] Kvs);

/// <summary>Writes and reads the snapshot file (format in <see cref="LogFormat"/>).</summary>
internal static class SnapshotFile
{
    private const int HeaderSize = 8 + 8 + 4;

    /// <summary>Replaces the snapshot atomically: temp file, fsync, rename, fsync of the directory.</summary>
    public static void Write(string directory, SnapshotImage image)
    {
        var body = new ByteWriter(64 * 1024);
        body.WriteInt64(image.Revision);
        body.WriteVarUInt((ulong)image.Kvs.Length);
        foreach (KeyValue kv in image.Kvs)
        {
            body.WriteString(kv.Key);
            body.WriteBytes(kv.Value);
            body.WriteInt64(kv.CreateRevision);
            body.WriteInt64(kv.ModRevision);
            body.WriteInt64(kv.Version);
            body.WriteInt64(kv.Lease);
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        LogFormat.SnapshotMagic.CopyTo(header);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], Crc32C.Compute(body.WrittenSpan));

        string temp = Path.Combine(directory, LogFormat.SnapshotTempFileName);
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            file.Write(header);
            file.Write(body.WrittenSpan);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, Path.Combine(directory, LogFormat.SnapshotFileName), overwrite: true);
        Posix.SyncDirectory(directory);
    }

    public static async Task<SnapshotImage?> ReadAsync(string directory, CancellationToken cancellationToken)
    {
        string path = Path.Combine(directory, LogFormat.SnapshotFileName);
        if (!File.Exists(path)) return null;
        byte[] data = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        return Parse(data, path);
    }

    internal static SnapshotImage Parse(ReadOnlySpan<byte> data, string path)
    {
        // The rename makes a snapshot appear whole or not at all, so a bad one is real damage.
        if (data.Length < HeaderSize || !data[..8].SequenceEqual(LogFormat.SnapshotMagic))
            throw Corrupt(path, "it does not start with the snapshot header");
        long length = BinaryPrimitives.ReadInt64LittleEndian(data[8..]);
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(data[16..]);
        if (length != data.Length - HeaderSize) throw Corrupt(path, "its length does not match its header");
        ReadOnlySpan<byte> body = data[HeaderSize..];
        if (Crc32C.Compute(body) != crc) throw Corrupt(path, "its checksum does not match");

        var reader = new SpanReader(body);
        long revision = reader.ReadInt64();
        ulong count = reader.ReadVarUInt();
        if (count > (ulong)body.Length) throw Corrupt(path, "its key count is impossible");
        var kvs = new KeyValue[count];
        for (ulong i = 0; i < count; i++)
        {
            string key = reader.ReadString();
            byte[] value = reader.ReadBytes();
            long create = reader.ReadInt64(), mod = reader.ReadInt64(), version = reader.ReadInt64(), lease = reader.ReadInt64();
            kvs[i] = new KeyValue(key, value, create, mod, version, lease);
        }
        return new SnapshotImage(revision, kvs);
    }

    private static InvalidDataException Corrupt(string path, string why) =>
        new($"The metadata snapshot '{path}' is damaged: {why}. Restore the metadata directory from a backup.");
}
