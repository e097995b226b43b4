using System.Text;

namespace KafScale.Broker.Clustering;

/// <summary>
/// Proof that an earlier process of this broker is gone (docs/architecture.md, "Leadership and
/// fencing", restarts). The broker holds an exclusive lock on <c>broker.incarnation</c> in its
/// data directory for as long as it runs (on Unix, .NET takes flock for FileShare.None, which the
/// kernel drops when the process dies, however it dies) and writes its incarnation token there:
/// this machine's boot id and a random id. The same token goes into its registration. A new
/// process that gets the lock and finds in the file the token of the registration still under
/// its broker id knows the process that registered it wrote that file on this machine, since
/// this boot, and no longer holds the lock: it is dead, and its lease can be revoked instead of
/// waited out. Any other case (another machine, another data directory, no token) proves nothing.
/// </summary>
internal sealed class IncarnationLock : IDisposable
{
    public const string FileName = "broker.incarnation";

    /// <summary>
    /// What .NET reports when another open file holds the lock: on Linux the errno of a refused
    /// flock (EWOULDBLOCK), on Windows a sharing violation.
    /// </summary>
    private const int WouldBlock = 11, SharingViolation = 32;

    private readonly FileStream _file;

    private IncarnationLock(FileStream file, string token, string? previous)
    {
        _file = file;
        Token = token;
        Previous = previous;
    }

    /// <summary>This process's token.</summary>
    public string Token { get; }

    /// <summary>The token of the process that held the lock before, when it ran on this machine since this boot.</summary>
    public string? Previous { get; }

    /// <summary>
    /// Takes the lock. Null where this machine has no boot id to tell its processes apart by
    /// (then restarts wait for the lease, as before). Throws <see cref="StartupException"/> when
    /// another live process holds it.
    /// </summary>
    public static IncarnationLock? Acquire(string dataDir)
    {
        string? boot = BootId();
        if (boot is null) return null;
        Directory.CreateDirectory(dataDir);
        string path = Path.Combine(dataDir, FileName);
        FileStream file;
        try { file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0); }
        catch (IOException ex) when ((ex.HResult & 0xFFFF) is SharingViolation or WouldBlock)
        {
            throw new StartupException($"the data directory {Path.GetFullPath(dataDir)} is in use by another broker process ({path} is locked): give each broker its own --data-dir", ex);
        }
        // A data directory this process may not write (read-only, another owner): no proof, so
        // restarts wait for the lease, as before.
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
        try
        {
            var buffer = new byte[256];
            int n = 0, read;
            while (n < buffer.Length && (read = file.Read(buffer, n, buffer.Length - n)) > 0) n += read;
            string found = Encoding.ASCII.GetString(buffer, 0, n).Trim();
            string token = $"{boot}/{Guid.NewGuid():N}";
            file.SetLength(0);
            file.Write(Encoding.ASCII.GetBytes(token));
            file.Flush(flushToDisk: true);
            return new IncarnationLock(file, token, found.StartsWith(boot + "/", StringComparison.Ordinal) ? found : null);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static string? BootId()
    {
        try
        {
            string id = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            return id.Length > 0 && !id.Contains('/', StringComparison.Ordinal) ? id : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    public void Dispose() => _file.Dispose();
}
