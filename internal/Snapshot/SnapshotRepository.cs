using System.Globalization;
using KafScale.Metadata;
using KafScale.Storage;

namespace KafScale.Snapshot;

/// <summary>A consistent read of the metadata, ready to be written as a snapshot.</summary>
/// <param name="Source">"etcd" or "embedded".</param>
/// <param name="SourceDetail">The etcd endpoints or the embedded directory.</param>
/// <param name="Revision">The store revision the keys are a consistent view of.</param>
/// <param name="WhileOpen">Embedded only: a broker held the store while it was read (lock-free read).</param>
public sealed record MetadataImage(string Source, string SourceDetail, long Revision, IReadOnlyList<KeyValue> Kvs, bool WhileOpen);

/// <summary>One snapshot in the object store, as <see cref="SnapshotRepository.ListAsync"/> finds it.</summary>
public sealed record SnapshotEntry(string Id, DateTimeOffset Time, string DataKey, long? DataSize, bool HasChecksum,
    string? EtcdNativeKey, long? EtcdNativeSize, SnapshotHeader? Header, string? Problem)
{
    /// <summary>A snapshot is complete once its checksum object exists (it is written last).</summary>
    public bool IsComplete => DataSize is not null && HasChecksum;
}

/// <summary>What <see cref="SnapshotRepository.CreateAsync"/> wrote.</summary>
public sealed record CreatedSnapshot(string Id, string DataKey, long Bytes, string Sha256, long Keys, long Revision, string? EtcdNativeKey, long? EtcdNativeBytes, string? EtcdNativeSha256);

/// <summary>A snapshot that must not be restored: missing, incomplete, or its SHA-256 does not match.</summary>
public sealed class SnapshotIntegrityException(string message) : Exception(message);

/// <summary>
/// Snapshots in the object store under <c>&lt;namespace&gt;/_snapshots/</c>: per snapshot id
/// <c>ID.metadata.jsonl</c> and its <c>ID.metadata.jsonl.sha256</c>, and with
/// <c>--etcd-native</c> also <c>ID.etcd.db</c> and <c>ID.etcd.db.sha256</c>. Checksum objects are
/// written after the data, so a snapshot whose checksum exists is whole. Ids are UTC times,
/// <c>yyyyMMddTHHmmssfffZ</c>, so they sort by age.
/// </summary>
public sealed class SnapshotRepository(IObjectStore store, string ns)
{
    public const string IdFormat = "yyyyMMdd'T'HHmmssfff'Z'";
    public const string DataSuffix = ".metadata.jsonl";
    public const string EtcdSuffix = ".etcd.db";
    public const string ChecksumSuffix = ".sha256";

    public string Prefix { get; } = ns + "/_snapshots/";

    public IObjectStore Store => store;

    public string DataKey(string id) => Prefix + id + DataSuffix;
    public string EtcdKey(string id) => Prefix + id + EtcdSuffix;

    public static string NewId(DateTimeOffset time) => time.UtcDateTime.ToString(IdFormat, CultureInfo.InvariantCulture);

    public static bool TryParseId(string id, out DateTimeOffset time)
    {
        bool ok = DateTime.TryParseExact(id, IdFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out DateTime t);
        time = ok ? new DateTimeOffset(t, TimeSpan.Zero) : default;
        return ok;
    }

    /// <summary>Every snapshot, oldest first. With readHeaders, each complete one's header line is read (a small ranged read).</summary>
    public async Task<List<SnapshotEntry>> ListAsync(bool readHeaders, CancellationToken ct)
    {
        var parts = new SortedDictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        await foreach (ObjectInfo o in store.ListAsync(Prefix, ct).ConfigureAwait(false))
        {
            string name = o.Key[Prefix.Length..];
            if (name.Contains('/')) continue; // a topic called _snapshots would live below; not ours
            int dot = name.IndexOf('.');
            if (dot <= 0 || !TryParseId(name[..dot], out _)) continue;
            string id = name[..dot];
            if (!parts.TryGetValue(id, out Dictionary<string, long>? files)) parts[id] = files = new(StringComparer.Ordinal);
            files[name[dot..]] = o.Size;
        }
        var result = new List<SnapshotEntry>();
        foreach ((string id, Dictionary<string, long> files) in parts)
        {
            TryParseId(id, out DateTimeOffset time);
            long? dataSize = files.TryGetValue(DataSuffix, out long ds) ? ds : null;
            bool checksum = files.ContainsKey(DataSuffix + ChecksumSuffix);
            bool etcd = files.TryGetValue(EtcdSuffix, out long es) && files.ContainsKey(EtcdSuffix + ChecksumSuffix);
            SnapshotHeader? header = null;
            string? problem = dataSize is null ? "no metadata file" : !checksum ? "incomplete (no checksum object)" : null;
            if (readHeaders && problem is null)
            {
                try
                {
                    byte[] start = new byte[(int)Math.Min(dataSize!.Value, 16 * 1024)];
                    int n = await store.ReadRangeAsync(DataKey(id), 0, start, ct).ConfigureAwait(false);
                    header = SnapshotFormat.ReadHeader(start.AsSpan(0, n));
                }
                catch (SnapshotFormatException ex)
                {
                    problem = ex.Message;
                }
                catch (ObjectNotFoundException)
                {
                    continue; // pruned since the listing
                }
            }
            result.Add(new SnapshotEntry(id, time, DataKey(id), dataSize, checksum, etcd ? EtcdKey(id) : null, etcd ? es : null, header, problem));
        }
        return result;
    }

    /// <summary>Writes a snapshot of the image (and etcd's own database when given), checksums last.</summary>
    public async Task<CreatedSnapshot> CreateAsync(MetadataImage image, ReadOnlyMemory<byte>? etcdNative, DateTimeOffset now, CancellationToken ct)
    {
        (List<KeyValue> kept, long leased, long derived) = SnapshotFormat.Select(image.Kvs);
        // A new id: the time, moved on by a millisecond while taken (two snapshots in one millisecond).
        string id = NewId(now);
        for (int i = 0; await store.GetSizeAsync(DataKey(id), ct).ConfigureAwait(false) is not null; i++)
        {
            if (i > 1000) throw new IOException($"cannot find a free snapshot id under {Prefix}");
            now = now.AddMilliseconds(1);
            id = NewId(now);
        }
        var header = new SnapshotHeader(id, now, image.Source, image.SourceDetail, image.Revision, SnapshotFormat.Prefix, kept.Count, leased, derived, image.WhileOpen);
        byte[] data = SnapshotFormat.Write(header, kept);
        string sha = SnapshotFormat.Sha256Hex(data);
        string? etcdSha = null;
        if (etcdNative is ReadOnlyMemory<byte> native)
        {
            etcdSha = SnapshotFormat.Sha256Hex(native.Span);
            await store.PutAsync(EtcdKey(id), native, ct).ConfigureAwait(false);
            await store.PutAsync(EtcdKey(id) + ChecksumSuffix, SnapshotFormat.ChecksumFile(etcdSha, id + EtcdSuffix), ct).ConfigureAwait(false);
        }
        await store.PutAsync(DataKey(id), data, ct).ConfigureAwait(false);
        // Last: the checksum makes the snapshot complete.
        await store.PutAsync(DataKey(id) + ChecksumSuffix, SnapshotFormat.ChecksumFile(sha, id + DataSuffix), ct).ConfigureAwait(false);
        return new CreatedSnapshot(id, DataKey(id), data.Length, sha, kept.Count, image.Revision,
            etcdNative is null ? null : EtcdKey(id), etcdNative?.Length, etcdSha);
    }

    /// <summary>Reads a snapshot and checks it against its SHA-256 before parsing it.</summary>
    /// <exception cref="SnapshotIntegrityException">Missing, incomplete, or damaged.</exception>
    public async Task<(SnapshotContent Content, string Sha256)> LoadVerifiedAsync(string id, CancellationToken ct)
    {
        if (!TryParseId(id, out _))
            throw new SnapshotIntegrityException($"'{id}' is not a snapshot id (ids look like 20260131T235959123Z; see 'kafscale snapshot list')");
        byte[] data = await store.GetAsync(DataKey(id), ct).ConfigureAwait(false)
            ?? throw new SnapshotIntegrityException($"snapshot {id} does not exist: no object {DataKey(id)} (see 'kafscale snapshot list')");
        byte[] checksum = await store.GetAsync(DataKey(id) + ChecksumSuffix, ct).ConfigureAwait(false)
            ?? throw new SnapshotIntegrityException($"snapshot {id} is incomplete: its checksum object {DataKey(id)}{ChecksumSuffix} is missing (the create did not finish); use another snapshot");
        string expected = SnapshotFormat.ParseChecksumFile(checksum)
            ?? throw new SnapshotIntegrityException($"snapshot {id}: {DataKey(id)}{ChecksumSuffix} does not hold a SHA-256");
        string actual = SnapshotFormat.Sha256Hex(data);
        if (actual != expected)
            throw new SnapshotIntegrityException($"snapshot {id} is damaged: the SHA-256 of {DataKey(id)} is {actual} but {DataKey(id)}{ChecksumSuffix} records {expected}; refusing to restore it (use another snapshot)");
        try
        {
            return (SnapshotFormat.Read(data), actual);
        }
        catch (SnapshotFormatException ex)
        {
            throw new SnapshotIntegrityException($"snapshot {id} matches its SHA-256 but cannot be read: {ex.Message}");
        }
    }

    /// <summary>Deletes every object of a snapshot (checksums first, so a half-deleted one reads as incomplete).</summary>
    public async Task DeleteAsync(string id, CancellationToken ct)
    {
        await store.DeleteAsync(DataKey(id) + ChecksumSuffix, ct).ConfigureAwait(false);
        await store.DeleteAsync(EtcdKey(id) + ChecksumSuffix, ct).ConfigureAwait(false);
        await store.DeleteAsync(DataKey(id), ct).ConfigureAwait(false);
        await store.DeleteAsync(EtcdKey(id), ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The snapshots prune removes: with keep, all but the newest keep; with olderThan, those
    /// taken before now - olderThan; with both, those matching both rules (the newest keep are
    /// never removed). Incomplete snapshots count like the others.
    /// </summary>
    public static List<SnapshotEntry> SelectForPrune(IReadOnlyList<SnapshotEntry> entries, int? keep, TimeSpan? olderThan, DateTimeOffset now)
    {
        var newestFirst = entries.OrderByDescending(e => e.Id, StringComparer.Ordinal).ToList();
        var doomed = new List<SnapshotEntry>();
        for (int i = 0; i < newestFirst.Count; i++)
        {
            SnapshotEntry e = newestFirst[i];
            if (keep is int k && i < k) continue;
            if (olderThan is TimeSpan age && e.Time > now - age) continue;
            doomed.Add(e);
        }
        doomed.Reverse();
        return doomed;
    }
}
