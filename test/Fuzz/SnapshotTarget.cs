using KafScale.Snapshot;

namespace KafScale.Fuzz;

/// <summary>
/// A metadata snapshot file (JSON lines, docs/snapshots.md) and its checksum object, as
/// <c>snapshot list</c>, <c>snapshot verify</c> and <c>snapshot restore</c> read them. The
/// documented answer to a bad file is <see cref="SnapshotFormatException"/>; a checksum object
/// that is not one reads as null.
/// </summary>
internal static class SnapshotTarget
{
    public static void Run(byte[] data)
    {
        try
        {
            SnapshotFormat.ReadHeader(data);
        }
        catch (SnapshotFormatException)
        {
        }

        try
        {
            SnapshotFormat.Read(data);
        }
        catch (SnapshotFormatException)
        {
        }

        SnapshotFormat.ParseChecksumFile(data);
    }
}
