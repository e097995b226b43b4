using System.IO.Enumeration;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using KafScale.Common;
using Microsoft.Win32.SafeHandles;

namespace KafScale.Storage;

/// <summary>
/// An object store in a local directory (single-node mode). Key "a/b/c" is the file
/// <c>&lt;root&gt;/a/b/c</c>. Writes are durable and atomic: readers see a whole object or none.
/// <list type="bullet">
/// <item>Put: write a temp file in the target directory, fsync it, rename(2) over the key, fsync the directory.
/// Durable writes of <see cref="DirectMinBytes"/> or more use direct I/O where the file system
/// allows it: written once, to the device, not copied into the page cache first.</item>
/// <item>CreateIfAbsent: the same temp file, then link(2) to the key, which fails with EEXIST when
/// the key exists, so of any number of concurrent creators exactly one wins.</item>
/// </list>
/// Temp files are named <c>.kstmp-*</c>, never listed, and removed when stale.
/// </summary>
public sealed class LocalDirectoryObjectStore : IObjectStore
{
    internal const string TempPrefix = ".kstmp-";
    private static readonly TimeSpan s_staleTempAge = TimeSpan.FromMinutes(10);

    private readonly string _root;

    /// <param name="rootDirectory">Created if missing. Temp files older than 10 minutes in it are removed.</param>
    public LocalDirectoryObjectStore(string rootDirectory)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("the directory object store needs POSIX link(2) and fsync(2) semantics");
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(rootDirectory));
        Directory.CreateDirectory(_root);
        RemoveStaleTempFiles(s_staleTempAge);
    }

    public string Kind => "dir";

    public bool SupportsConditionalCreate => true;

    public string RootDirectory => _root;

    public string Location => _root;

    public Task PutAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        PutAsync(key, data, durable: true, cancellationToken);

    /// <summary>
    /// Still atomic (temp file and rename: readers see all or nothing), but without the two
    /// fsyncs; after a crash the object may be missing or empty, which its reader repairs.
    /// </summary>
    public Task PutRebuildableAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        PutAsync(key, data, durable: false, cancellationToken);

    private Task PutAsync(string key, ReadOnlyMemory<byte> data, bool durable, CancellationToken cancellationToken)
    {
        string path = PathOf(key);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.Run(() =>
        {
            string directory = Path.GetDirectoryName(path)!;
            EnsureDirectory(directory);
            string temp = WriteTempFile(directory, [data], cancellationToken, durable);
            try
            {
                File.Move(temp, path, overwrite: true);
            }
            catch
            {
                TryDelete(temp);
                throw;
            }
            if (durable) Posix.SyncDirectory(directory);
        }, cancellationToken);
    }

    public Task<bool> CreateIfAbsentAsync(string key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        CreateIfAbsentAsync(key, [data], cancellationToken);

    public bool WritesPartsInPlace => true;

    /// <summary>
    /// Two: while one segment's data goes to the disk the next one is being copied into the page
    /// cache. Sixteen 16 MiB segments written together (partitions that fill at the same rate
    /// seal at the same moment) delayed the WAL's fsyncs, which acknowledgements wait for: the
    /// end-to-end p99 of a 20 MiB/s tail fell from 182 to 49 ms with two at a time
    /// (docs/decisions.md, "Two sealed segments at a time on the directory store").
    /// </summary>
    public int? LargeWritesAtOnce => 2;

    /// <summary>One gathered write of the parts as they are: no copy into one array.</summary>
    public Task<bool> CreateIfAbsentAsync(string key, IReadOnlyList<ReadOnlyMemory<byte>> parts, CancellationToken cancellationToken)
    {
        string path = PathOf(key);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.Run(() =>
        {
            if (File.Exists(path))
                return false;
            string directory = Path.GetDirectoryName(path)!;
            EnsureDirectory(directory);
            string temp = WriteTempFile(directory, parts, cancellationToken);
            int errno;
            try
            {
                errno = Posix.TryLink(temp, path);
            }
            finally
            {
                TryDelete(temp);
            }
            if (errno != 0)
            {
                if (errno == Posix.EEXIST)
                    return false;
                throw new IOException($"link(2) to '{path}' failed with errno {errno}: {Marshal.GetPInvokeErrorMessage(errno)} " +
                    "(the directory object store needs a file system with hard links)");
            }
            Posix.SyncDirectory(directory);
            return true;
        }, cancellationToken);
    }

    public async Task<byte[]?> GetAsync(string key, CancellationToken cancellationToken)
    {
        string path = PathOf(key);
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    public async Task<int> ReadRangeAsync(string key, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        string path = PathOf(key);
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ObjectNotFoundException(key);
        }
        using (handle)
        {
            int total = 0;
            while (total < destination.Length)
            {
                int n = await RandomAccess.ReadAsync(handle, destination.Slice(total), offset + total, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    break;
                total += n;
            }
            return total;
        }
    }

    public Task<long?> GetSizeAsync(string key, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var info = new FileInfo(PathOf(key));
        return Task.FromResult<long?>(info.Exists ? info.Length : null);
    }

    public IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken) => ListAsync(prefix, null, cancellationToken);

    /// <summary>
    /// Judges each file by its name before it looks at its size, so the files at or before
    /// <paramref name="startAfter"/> cost the directory read and nothing more (no stat, no key
    /// string): a WAL directory holds thousands of objects, and a takeover wants the newest.
    /// </summary>
    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, string? startAfter, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ValidatePrefix(prefix);
        List<ObjectInfo> objects = await Task.Run(() => Scan(prefix, startAfter), cancellationToken).ConfigureAwait(false);
        foreach (ObjectInfo o in objects)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return o;
        }
    }

    /// <summary>
    /// Unlinks the file without the fsync of its directory: after a crash the object may be back,
    /// which the caller has said is harmless. That fsync is a journal commit, and one per WAL
    /// object (hundreds a second) kept as many threads waiting on the disk. The unlink alone takes
    /// microseconds, so it runs on the caller's thread instead of queueing for a pool thread.
    /// </summary>
    public Task DeleteGarbageAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            File.Delete(PathOf(key));
            return Task.CompletedTask;
        }
        catch (DirectoryNotFoundException)
        {
            return Task.CompletedTask;
        }
        catch (Exception ex)
        {
            return Task.FromException(ex);
        }
    }

    public Task DeleteAsync(string key, CancellationToken cancellationToken)
    {
        string path = PathOf(key);
        cancellationToken.ThrowIfCancellationRequested();
        return Task.Run(() =>
        {
            if (!File.Exists(path))
                return;
            try
            {
                File.Delete(path);
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            Posix.SyncDirectory(Path.GetDirectoryName(path)!);
        }, cancellationToken);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Deletes temp files left by interrupted writes that are older than <paramref name="minimumAge"/>; returns how many.</summary>
    public int RemoveStaleTempFiles(TimeSpan minimumAge)
    {
        DateTime cutoff = DateTime.UtcNow - minimumAge;
        int removed = 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        foreach (string file in Directory.EnumerateFiles(_root, TempPrefix + "*", options))
        {
            try
            {
                if (File.GetLastWriteTimeUtc(file) < cutoff)
                {
                    File.Delete(file);
                    removed++;
                }
            }
            catch (IOException)
            {
                // Raced with its writer or another cleaner; either way it is not ours to keep.
            }
        }
        return removed;
    }

    private List<ObjectInfo> Scan(string prefix, string? startAfter)
    {
        int slash = prefix.LastIndexOf('/');
        string directory = slash < 0 ? _root : Path.Combine(_root, prefix.Substring(0, slash));
        var result = new List<ObjectInfo>();
        if (!Directory.Exists(directory))
            return result;

        int rootLength = _root.Length + 1;
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        var files = new FileSystemEnumerable<ObjectInfo>(directory,
            (ref FileSystemEntry entry) =>
            {
                string full = entry.ToFullPath();
                string key = full.Substring(rootLength);
                if (Path.DirectorySeparatorChar != '/')
                    key = key.Replace(Path.DirectorySeparatorChar, '/');
                return new ObjectInfo(key, entry.Length);
            },
            options)
        {
            ShouldIncludePredicate = (ref FileSystemEntry entry) =>
            {
                if (entry.IsDirectory || entry.FileName.StartsWith(TempPrefix, StringComparison.Ordinal))
                    return false;
                // The key is the directory below the root, '/', the file name (the root's own files have no directory part).
                ReadOnlySpan<char> dir = entry.Directory.Length >= rootLength ? entry.Directory[rootLength..] : [];
                ReadOnlySpan<char> separator = dir.IsEmpty ? [] : "/";
                return KeyStartsWith(dir, separator, entry.FileName, prefix)
                    && (startAfter is null || CompareKey(dir, separator, entry.FileName, startAfter) > 0);
            },
        };
        foreach (ObjectInfo o in files)
            result.Add(o);
        result.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return result;
    }

    /// <summary>Whether the key a + b + c starts with <paramref name="prefix"/> (paths use '/' here: the store does not run on Windows).</summary>
    internal static bool KeyStartsWith(ReadOnlySpan<char> a, ReadOnlySpan<char> b, ReadOnlySpan<char> c, ReadOnlySpan<char> prefix)
    {
        if (a.Length + b.Length + c.Length < prefix.Length) return false;
        int n = Math.Min(a.Length, prefix.Length);
        if (!a[..n].SequenceEqual(prefix[..n])) return false;
        prefix = prefix[n..];
        n = Math.Min(b.Length, prefix.Length);
        if (!b[..n].SequenceEqual(prefix[..n])) return false;
        prefix = prefix[n..];
        return c.StartsWith(prefix, StringComparison.Ordinal);
    }

    /// <summary>Ordinal comparison of the key a + b + c with <paramref name="other"/>, without building the key.</summary>
    internal static int CompareKey(ReadOnlySpan<char> a, ReadOnlySpan<char> b, ReadOnlySpan<char> c, ReadOnlySpan<char> other)
    {
        int n = Math.Min(a.Length, other.Length);
        int d = a[..n].SequenceCompareTo(other[..n]);
        if (d != 0 || n < a.Length) return d != 0 ? d : 1;
        other = other[n..];
        n = Math.Min(b.Length, other.Length);
        d = b[..n].SequenceCompareTo(other[..n]);
        if (d != 0 || n < b.Length) return d != 0 ? d : 1;
        other = other[n..];
        return c.SequenceCompareTo(other);
    }

    /// <summary>
    /// Durable writes of more than this many bytes start their write-back piece by piece as they are
    /// written, with at most two pieces under way: a 16 MiB segment then never makes the small WAL
    /// writes beside it (whose fsyncs share the file system's journal commit) wait for all of its
    /// data at once (docs/architecture.md, "The write path").
    /// </summary>
    public const int WriteBackPieceBytes = 1024 * 1024;

    private static string WriteTempFile(string directory, IReadOnlyList<ReadOnlyMemory<byte>> parts, CancellationToken cancellationToken, bool durable = true)
    {
        string temp = Path.Combine(directory, TempPrefix + Guid.NewGuid().ToString("N"));
        try
        {
            using (SafeFileHandle handle = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                if (durable && Length(parts) >= DirectMinBytes && Posix.TryEnableDirectIo(handle))
                {
                    WriteDirect(handle, parts);
                    cancellationToken.ThrowIfCancellationRequested();
                    Posix.SyncFile(handle);
                    return temp;
                }
                long position = 0, pieceStart = 0, previousPiece = -1;
                foreach (ReadOnlyMemory<byte> part in parts)
                {
                    ReadOnlySpan<byte> rest = part.Span;
                    while (!rest.IsEmpty)
                    {
                        // Whole parts where they fit the current piece; large ones are cut at piece ends.
                        int n = durable ? (int)Math.Min(rest.Length, Math.Max(WriteBackPieceBytes - (position - pieceStart), 1)) : rest.Length;
                        RandomAccess.Write(handle, rest.Slice(0, n), position);
                        position += n;
                        rest = rest.Slice(n);
                        if (durable && position - pieceStart >= WriteBackPieceBytes)
                        {
                            Posix.StartWriteBack(handle, pieceStart, position - pieceStart);
                            if (previousPiece >= 0)
                                Posix.WaitWriteBack(handle, previousPiece, pieceStart - previousPiece);
                            previousPiece = pieceStart;
                            pieceStart = position;
                        }
                    }
                }
                cancellationToken.ThrowIfCancellationRequested();
                if (durable)
                    Posix.SyncFile(handle);
            }
            return temp;
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// Durable writes this large or larger use direct I/O. Smaller ones (the WAL objects of a
    /// lightly loaded broker) stay buffered: with small direct writes the produce p99 at
    /// 10 MiB/s in 16 KiB requests was 18-46 ms, against 8-13 ms (docs/decisions.md,
    /// "Durable writes bypass the page cache on the directory store").
    /// </summary>
    public const int DirectMinBytes = 1024 * 1024;

    private static long Length(IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        long length = 0;
        foreach (ReadOnlyMemory<byte> part in parts)
            length += part.Length;
        return length;
    }

    /// <summary>Alignment of direct writes: file offsets, lengths and buffer addresses.</summary>
    public const int DirectAlignment = 4096;

    /// <summary>
    /// Bytes per direct write. On the disks we measured, 4 MiB direct writes ran at about 1 GB/s,
    /// 1 MiB ones at 420 MB/s and buffered writes with an fsync at 214 MB/s
    /// (docs/decisions.md, "Durable writes bypass the page cache on the directory store").
    /// </summary>
    public const int DirectPieceBytes = 4 * 1024 * 1024;

    private static readonly System.Collections.Concurrent.ConcurrentBag<byte[]> s_directBuffers = [];
    private static int s_directBuffersHeld;
    private const int DirectBuffersKept = 8;
    private static long s_directWrites;

    /// <summary>Objects written with direct I/O since the process started (for tests).</summary>
    public static long DirectWrites => Interlocked.Read(ref s_directWrites);

    /// <summary>
    /// Writes the parts through an aligned buffer with direct I/O, a piece at a time. The last
    /// piece is padded with zeros to the alignment and the file is then cut to its true length,
    /// so the object holds exactly the parts' bytes.
    /// </summary>
    private static void WriteDirect(SafeFileHandle handle, IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        byte[] array;
        if (s_directBuffers.TryTake(out byte[]? kept))
        {
            Interlocked.Decrement(ref s_directBuffersHeld);
            array = kept;
        }
        else
            array = GC.AllocateUninitializedArray<byte>(DirectPieceBytes + DirectAlignment, pinned: true);
        try
        {
            // The array lives on the pinned heap, so the aligned window found now stays aligned.
            int skew = (int)(Marshal.UnsafeAddrOfPinnedArrayElement(array, 0) & (DirectAlignment - 1));
            Span<byte> buffer = array.AsSpan(skew == 0 ? 0 : DirectAlignment - skew, DirectPieceBytes);
            long position = 0;
            int filled = 0;
            foreach (ReadOnlyMemory<byte> part in parts)
            {
                ReadOnlySpan<byte> rest = part.Span;
                while (!rest.IsEmpty)
                {
                    int n = Math.Min(rest.Length, buffer.Length - filled);
                    rest[..n].CopyTo(buffer[filled..]);
                    filled += n;
                    rest = rest[n..];
                    if (filled == buffer.Length)
                    {
                        RandomAccess.Write(handle, buffer, position);
                        position += filled;
                        filled = 0;
                    }
                }
            }
            if (filled > 0)
            {
                int padded = (filled + DirectAlignment - 1) & ~(DirectAlignment - 1);
                buffer[filled..padded].Clear();
                RandomAccess.Write(handle, buffer[..padded], position);
                position += filled;
                if (padded != filled)
                    RandomAccess.SetLength(handle, position);
            }
            Interlocked.Increment(ref s_directWrites);
        }
        finally
        {
            if (Interlocked.Increment(ref s_directBuffersHeld) <= DirectBuffersKept)
                s_directBuffers.Add(array);
            else
                Interlocked.Decrement(ref s_directBuffersHeld);
        }
    }

    /// <summary>Creates missing directories and fsyncs each parent whose entries changed, so the new path survives a crash.</summary>
    private void EnsureDirectory(string directory)
    {
        if (Directory.Exists(directory))
            return;
        var missing = new Stack<string>();
        string? d = directory;
        while (d is not null && d.Length >= _root.Length && !Directory.Exists(d))
        {
            missing.Push(d);
            d = Path.GetDirectoryName(d);
        }
        Directory.CreateDirectory(directory);
        if (d is not null)
            Posix.SyncDirectory(d);
        while (missing.Count > 1)
            Posix.SyncDirectory(missing.Pop());
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private string PathOf(string key)
    {
        ValidateKey(key);
        return Path.Combine(_root, key);
    }

    /// <summary>Rejects keys that could escape the root or collide with temp files.</summary>
    internal static void ValidateKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (!IsSafe(key, allowPartialLast: false))
            throw new ArgumentException($"object key '{key}' is not allowed: keys are relative, '/'-separated, without empty, '.' or '..' segments", nameof(key));
    }

    private static void ValidatePrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        if (prefix.Length > 0 && !IsSafe(prefix, allowPartialLast: true))
            throw new ArgumentException($"prefix '{prefix}' is not allowed: prefixes are relative, '/'-separated, without empty, '.' or '..' segments", nameof(prefix));
    }

    private static bool IsSafe(string key, bool allowPartialLast)
    {
        if (key[0] == '/' || key.Contains('\\') || key.Contains('\0'))
            return false;
        int start = 0;
        while (start <= key.Length)
        {
            int end = key.IndexOf('/', start);
            bool last = end < 0;
            if (last)
                end = key.Length;
            ReadOnlySpan<char> segment = key.AsSpan(start, end - start);
            if (last && allowPartialLast)
            {
                // A prefix may end mid-name ("segment-000") or after a '/'.
                if (segment is ".." || segment.StartsWith(TempPrefix, StringComparison.Ordinal))
                    return false;
                return true;
            }
            if (segment.IsEmpty || segment is "." or ".." || segment.StartsWith(TempPrefix, StringComparison.Ordinal))
                return false;
            if (last)
                return true;
            start = end + 1;
        }
        return true;
    }
}
