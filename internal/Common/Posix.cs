using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KafScale.Common;

/// <summary>
/// The few POSIX calls .NET does not offer: fsync of a directory (so that a file created or renamed
/// in it survives a power loss; .NET cannot open a directory as a file), link(2) (create a name
/// only if it is absent), and fsync and early write-back of an open file handle.
/// </summary>
public static partial class Posix
{
    public const int EEXIST = 17;
    private const int EINTR = 4;
    private const int EINVAL = 22;
    private const int O_RDONLY = 0;
    private const int O_DIRECTORY_LINUX = 0x10000;
    private const int O_CLOEXEC_LINUX = 0x80000;

    /// <summary>
    /// fsyncs <paramref name="directory"/> so that the entries created, renamed or removed in it are
    /// durable. Does nothing on Windows, whose renames need no such step. A file system that cannot
    /// fsync a directory (EINVAL) is accepted: its renames are still atomic.
    /// </summary>
    /// <exception cref="IOException">The directory cannot be opened or fsync failed.</exception>
    public static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
            return;
        int flags = O_RDONLY | (OperatingSystem.IsLinux() ? O_DIRECTORY_LINUX | O_CLOEXEC_LINUX : 0);
        int fd;
        int errno;
        do
        {
            fd = Open(directory, flags);
            errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
        while (fd < 0 && errno == EINTR);
        if (fd < 0)
            throw new IOException($"cannot open directory '{directory}' to fsync it: {Marshal.GetPInvokeErrorMessage(errno)}");
        try
        {
            if (FSync(fd) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                if (errno != EINVAL)
                    throw new IOException($"fsync of directory '{directory}' failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
        finally
        {
            // Not retried on EINTR: on Linux the descriptor is released either way.
            _ = Close(fd);
        }
    }

    private const int SYNC_FILE_RANGE_WAIT_BEFORE = 1;
    private const int SYNC_FILE_RANGE_WRITE = 2;
    private const int SYNC_FILE_RANGE_WAIT_AFTER = 4;
    private static bool s_noSyncFileRange;

    /// <summary>
    /// Linux sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts write-back of
    /// [offset, offset + count) of the file without waiting for it. Not a durability step (an
    /// fsync must still follow); it spreads a large file's write-back over its writing, so the
    /// final fsync, and the fsyncs of other files that share the file system's journal commit
    /// with it, do not wait for all of it at once. A no-op where the call does not exist.
    /// </summary>
    public static void StartWriteBack(SafeFileHandle file, long offset, long count) =>
        SyncFileRange(file, offset, count, SYNC_FILE_RANGE_WRITE);

    /// <summary>Waits for the write-back of [offset, offset + count) to end (sync_file_range(2), wait before and after).</summary>
    public static void WaitWriteBack(SafeFileHandle file, long offset, long count) =>
        SyncFileRange(file, offset, count, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);

    private static void SyncFileRange(SafeFileHandle file, long offset, long count, int flags)
    {
        if (!OperatingSystem.IsLinux() || s_noSyncFileRange)
            return;
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            // A failure is not acted on: the fsync that must follow reports any real I/O error.
            _ = SyncFileRangeCall((int)file.DangerousGetHandle(), offset, count, flags);
        }
        catch (EntryPointNotFoundException)
        {
            s_noSyncFileRange = true;
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    /// <summary>fsync(2) of an open file: its data and metadata are durable when this returns.</summary>
    /// <exception cref="IOException">fsync failed.</exception>
    public static void SyncFile(SafeFileHandle file)
    {
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            int result;
            int errno;
            do
            {
                result = FSync((int)file.DangerousGetHandle());
                errno = result != 0 ? Marshal.GetLastPInvokeError() : 0;
            }
            while (result != 0 && errno == EINTR);
            if (result != 0)
                throw new IOException($"fsync failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    private const int F_GETFL = 3;
    private const int F_SETFL = 4;

    /// <summary>
    /// Turns on O_DIRECT for an open file (Linux on x64 and arm64, whose flag values differ):
    /// its writes then go from the caller's memory to the device instead of being copied into
    /// the page cache first. Such writes must start at, and be whole multiples of, an aligned
    /// offset and length from an aligned buffer. False, with the file unchanged, where the
    /// platform or the file system cannot (tmpfs, for one).
    /// </summary>
    public static bool TryEnableDirectIo(SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux())
            return false;
        int direct = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 0x4000,
            Architecture.Arm64 => 0x10000,
            _ => 0,
        };
        if (direct == 0)
            return false;
        bool added = false;
        try
        {
            file.DangerousAddRef(ref added);
            int fd = (int)file.DangerousGetHandle();
            int flags = FileControl(fd, F_GETFL, 0);
            return flags >= 0 && FileControl(fd, F_SETFL, flags | direct) == 0;
        }
        finally
        {
            if (added)
                file.DangerousRelease();
        }
    }

    /// <summary>link(2): makes <paramref name="newPath"/> a second name of <paramref name="existingPath"/>; 0, or the errno.</summary>
    public static int TryLink(string existingPath, string newPath) =>
        Link(existingPath, newPath) == 0 ? 0 : Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRangeCall(int fd, long offset, long count, int flags);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int FileControl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existingPath, string newPath);
}
