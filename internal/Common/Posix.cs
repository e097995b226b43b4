using System.Runtime.InteropServices;

namespace KafScale.Common;

/// <summary>
/// The few POSIX calls .NET does not offer: fsync of a directory (so that a file created or renamed
/// in it survives a power loss; .NET cannot open a directory as a file) and link(2) (create a name
/// only if it is absent).
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

    /// <summary>link(2): makes <paramref name="newPath"/> a second name of <paramref name="existingPath"/>; 0, or the errno.</summary>
    public static int TryLink(string existingPath, string newPath) =>
        Link(existingPath, newPath) == 0 ? 0 : Marshal.GetLastPInvokeError();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existingPath, string newPath);
}
