using System.Buffers.Binary;
using KafScale.Common;
using KafScale.Metadata.Embedded;

namespace KafScale.Fuzz;

/// <summary>
/// The embedded metadata store's log file (<c>wal</c>) as both of its readers take it: the
/// offline reader behind snapshots (<see cref="EmbeddedStoreReader"/>) and recovery when a
/// broker opens the store (<see cref="EmbeddedMetadataStore.OpenAsync(string, CancellationToken)"/>),
/// which replays the log and cuts a torn tail. Their documented answer to a log they cannot
/// use is <see cref="InvalidDataException"/>. The input also runs with every frame's CRC-32C
/// recomputed, so mutations reach the record decoder behind the checksum.
/// </summary>
internal static class MetadataLogTarget
{
    // Frame layout (LogFormat): after the 8-byte magic, [u32 length][u32 CRC-32C][payload], little-endian.
    private const int MagicLength = 8;
    private const int FrameHeaderSize = 8;

    public static void Run(byte[] wal)
    {
        Read(wal);
        byte[] recomputed = (byte[])wal.Clone();
        if (RecomputeFrameCrcs(recomputed) > 0)
            Read(recomputed);
    }

    private static int RecomputeFrameCrcs(byte[] log)
    {
        int count = 0;
        int offset = MagicLength;
        while (log.Length - offset >= FrameHeaderSize)
        {
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(offset));
            if (length == 0 || length > (uint)(log.Length - offset - FrameHeaderSize))
                break;
            BinaryPrimitives.WriteUInt32LittleEndian(log.AsSpan(offset + 4), Crc32C.Compute(log.AsSpan(offset + FrameHeaderSize, (int)length)));
            offset += FrameHeaderSize + (int)length;
            count++;
        }
        return count;
    }

    // The harness drives async production code from SharpFuzz's synchronous callback; blocking
    // here costs nothing (one input at a time, no synchronization context).
    private static void Read(byte[] wal)
    {
        string directory = Path.Combine(ScratchRoot, "kafscale-fuzz-" + Environment.ProcessId + "-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            File.WriteAllBytes(Path.Combine(directory, "wal"), wal);
            try
            {
                EmbeddedStoreReader.ReadAsync(directory, CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (InvalidDataException)
            {
            }

            try
            {
                EmbeddedMetadataStore store = EmbeddedMetadataStore.OpenAsync(directory, CancellationToken.None).GetAwaiter().GetResult();
                store.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            catch (InvalidDataException)
            {
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A RAM disk when there is one: the store fsyncs at open, which a disk makes slow.</summary>
    private static string ScratchRoot { get; } = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
}
