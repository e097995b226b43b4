namespace KafScale.Metadata.Embedded;

/// <summary>What <see cref="EmbeddedStoreReader.ReadAsync"/> read: every key at one revision.</summary>
/// <param name="Revision">The store revision the keys are a consistent view of.</param>
/// <param name="Kvs">Every key, ascending (lease ids as stored; leases themselves are not on disk).</param>
/// <param name="WhileOpen">True when another process held the store open (a running broker) as the read began.</param>
/// <param name="Attempts">Reads it took to get a consistent view (more than one when a compaction ran during a read).</param>
public sealed record EmbeddedImage(long Revision, IReadOnlyList<KeyValue> Kvs, bool WhileOpen, int Attempts);

/// <summary>
/// Reads the embedded store's files without opening the store (which would write: opening
/// deletes the previous incarnation's leased keys) and without holding its LOCK (a broker
/// starting meanwhile must not be kept out). The read is consistent whether or not a broker is
/// writing: the <c>snapshot</c> file is
/// replaced only by an atomic rename and <c>wal</c> is append-only between compactions, with every
/// record framed and CRC-checked, one record per revision, revisions consecutive. The reader takes
/// the snapshot, then the log, and accepts the log's intact records only while their revisions
/// continue the snapshot's one by one (a torn or half-written tail ends the view at the last whole
/// revision, exactly as recovery after a crash would). If the snapshot file changed while the log
/// was read (a compaction), it reads again. The result is the state at one revision that the
/// running store had already written to its log; records it had written but not yet fsynced are
/// included when the kernel shows them, which is still a state the store passed through.
/// </summary>
public static class EmbeddedStoreReader
{
    private const int MaxAttempts = 20;

    public static async Task<EmbeddedImage> ReadAsync(string directory, CancellationToken cancellationToken)
    {
        string full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full))
            throw new DirectoryNotFoundException($"There is no embedded metadata store at '{full}' (check --data-dir / KAFSCALE_DATA_DIR).");
        string logPath = Path.Combine(full, LogFormat.LogFileName);
        string snapshotPath = Path.Combine(full, LogFormat.SnapshotFileName);
        if (!File.Exists(logPath) && !File.Exists(snapshotPath))
            throw new FileNotFoundException($"'{full}' holds no embedded metadata store (no wal or snapshot file; check --data-dir / KAFSCALE_DATA_DIR).");

        // Whether a process holds the store: probed by taking and at once releasing the LOCK, so a
        // broker starting meanwhile is never kept out for longer than the probe.
        bool whileOpen = IsLockedByAnother(full);
        byte[]? gapSnapshot = null, gapLog = null;
        for (int attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            byte[]? snapshot = await ReadAllOrNullAsync(snapshotPath, cancellationToken).ConfigureAwait(false);
            byte[] log = await ReadAllOrNullAsync(logPath, cancellationToken).ConfigureAwait(false) ?? [];
            byte[]? snapshotAfter = await ReadAllOrNullAsync(snapshotPath, cancellationToken).ConfigureAwait(false);
            if (!SameBytes(snapshot, snapshotAfter))
            {
                await Task.Delay(10 * attempt, cancellationToken).ConfigureAwait(false);
                continue; // a compaction replaced the snapshot while the log was read
            }
            if (TryBuild(snapshot, snapshotPath, log, logPath, out long revision, out List<KeyValue>? kvs))
                return new EmbeddedImage(revision, kvs!, whileOpen, attempt);
            // The log skips revisions. A compaction between the reads does that, and changes the
            // files; the same gap in the same bytes twice running is damage, not a race.
            if (gapLog is not null && SameBytes(gapLog, log) && SameBytes(gapSnapshot, snapshot))
                throw new InvalidDataException($"'{logPath}' skips from revision {revision} to a later one: the log is damaged. "
                    + "Restore the metadata directory from a backup.");
            (gapSnapshot, gapLog) = (snapshot, log);
            await Task.Delay(10 * attempt, cancellationToken).ConfigureAwait(false);
        }
        throw new IOException($"Could not read a consistent view of the embedded metadata store in '{full}' in {MaxAttempts} attempts "
            + "(it compacts faster than it can be read). Retry, or stop the broker.");
    }

    private static bool IsLockedByAnother(string directory)
    {
        try
        {
            using var probe = new FileStream(Path.Combine(directory, LogFormat.LockFileName), FileMode.Open, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
            return false;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false; // read-only access to the directory: cannot tell
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static async Task<byte[]?> ReadAllOrNullAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            // Read to the end as it is now, whatever length was seen at open (the log may grow or be truncated meanwhile).
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            using var buffer = new MemoryStream();
            await file.CopyToAsync(buffer, 1 << 16, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    private static bool SameBytes(byte[]? a, byte[]? b) =>
        a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);

    private static bool TryBuild(byte[]? snapshot, string snapshotPath, byte[] log, string logPath, out long revision, out List<KeyValue>? result)
    {
        result = null;
        revision = 1;
        var kvs = new Dictionary<string, KeyValue>(StringComparer.Ordinal);
        if (snapshot is not null)
        {
            SnapshotImage image = SnapshotFile.Parse(snapshot, snapshotPath);
            revision = image.Revision;
            foreach (KeyValue kv in image.Kvs) kvs[kv.Key] = kv;
        }
        int magicLength = LogFormat.LogMagic.Length;
        if (log.Length >= magicLength)
        {
            if (!log.AsSpan(0, magicLength).SequenceEqual(LogFormat.LogMagic))
                throw new InvalidDataException($"'{logPath}' is not a kafscale metadata log.");
            int offset = magicLength;
            while (LogFormat.TryReadFrame(log, offset, out ReadOnlySpan<byte> payload))
            {
                offset += LogFormat.FrameHeaderSize + payload.Length;
                var reader = new SpanReader(payload);
                if (reader.ReadByte() != LogFormat.RevisionRecord)
                    throw new InvalidDataException("The metadata log holds a record of an unknown kind; it was written by a newer version.");
                long recordRevision = reader.ReadInt64();
                if (recordRevision <= revision)
                    continue; // already in the snapshot
                if (recordRevision != revision + 1)
                {
                    // The log does not continue the snapshot read: a compaction ran between the
                    // two reads (or the log is damaged; the caller tells which).
                    return false;
                }
                while (!reader.End)
                {
                    byte op = reader.ReadByte();
                    string key = reader.ReadString();
                    if (op == LogFormat.PutOp)
                    {
                        long lease = reader.ReadInt64();
                        byte[] value = reader.ReadBytes();
                        kvs.TryGetValue(key, out KeyValue? old);
                        kvs[key] = old is null
                            ? new KeyValue(key, value, recordRevision, recordRevision, 1, lease)
                            : new KeyValue(key, value, old.CreateRevision, recordRevision, old.Version + 1, lease);
                    }
                    else if (op == LogFormat.DeleteOp)
                    {
                        kvs.Remove(key);
                    }
                    else
                    {
                        throw new InvalidDataException("The metadata log holds an operation of an unknown kind; it was written by a newer version.");
                    }
                }
                revision = recordRevision;
            }
        }
        var list = kvs.Values.ToList();
        list.Sort((a, b) => KeyOrder.Instance.Compare(a.Key, b.Key));
        result = list;
        return true;
    }
}
