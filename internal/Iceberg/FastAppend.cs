using System.Globalization;
using System.Security.Cryptography;

namespace KafScale.Iceberg;

/// <summary>Fast-append commits: a new manifest of the added files, the parent's manifests carried forward unchanged.</summary>
public static class FastAppend
{
    public static async Task<IReadOnlyList<TableUpdate>> PrepareAsync(IFileIO io, TableMetadata @base, IReadOnlyList<DataFile> files,
        IReadOnlyDictionary<string, string> summaryProperties, IcebergSchema? newSchema, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(io);
        ArgumentNullException.ThrowIfNull(@base);
        ArgumentNullException.ThrowIfNull(files);
        var updates = new List<TableUpdate>();

        IcebergSchema schema = @base.CurrentSchema;
        if (newSchema is not null && !newSchema.SameColumns(schema))
        {
            CheckEvolution(@base, newSchema);
            IcebergSchema? existing = @base.Schemas.FirstOrDefault(s => s.SameColumns(newSchema));
            int schemaId = existing?.SchemaId ?? @base.Schemas.Max(s => s.SchemaId) + 1;
            schema = newSchema.WithSchemaId(schemaId);
            updates.Add(new AddSchemaUpdate(schema, Math.Max(@base.LastColumnId, newSchema.HighestFieldId)));
            updates.Add(new SetCurrentSchemaUpdate(-1));
        }

        PartitionSpec spec = @base.DefaultSpec;
        Snapshot? parent = @base.CurrentSnapshot;
        long sequenceNumber = @base.LastSequenceNumber + 1;
        long snapshotId = NewSnapshotId(@base);
        long nowMs = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), @base.LastUpdatedMs);
        string metadataDir = MetadataDirectory(@base);
        var codec = Manifests.CodecFor(@base);
        string commitId = Guid.NewGuid().ToString();

        var manifests = new List<ManifestFile>();
        if (files.Count > 0)
        {
            byte[] manifest = Manifests.WriteAddedManifest(schema, spec, snapshotId, files, codec);
            string manifestPath = $"{metadataDir}/{commitId}-m0.avro";
            await io.WriteAsync(manifestPath, manifest, ct).ConfigureAwait(false);
            manifests.Add(new ManifestFile(manifestPath, manifest.Length, spec.SpecId, 0, sequenceNumber, sequenceNumber, snapshotId,
                files.Count, 0, 0, files.Sum(f => f.RecordCount), 0, 0, Manifests.Summarize(spec, schema, files)));
        }
        if (parent is not null)
        {
            byte[] list = await io.ReadAsync(parent.ManifestList, ct).ConfigureAwait(false)
                ?? throw new IcebergException($"the manifest list {parent.ManifestList} of snapshot {parent.SnapshotId} is missing");
            manifests.AddRange(Manifests.ReadManifestList(list));
        }

        string manifestListPath = $"{metadataDir}/snap-{snapshotId.ToString(CultureInfo.InvariantCulture)}-1-{commitId}.avro";
        byte[] manifestList = Manifests.WriteManifestList(snapshotId, parent?.SnapshotId, sequenceNumber, manifests, codec);
        await io.WriteAsync(manifestListPath, manifestList, ct).ConfigureAwait(false);

        var summary = Summary(parent, spec, schema, files, summaryProperties);
        var snapshot = new Snapshot(snapshotId, parent?.SnapshotId, sequenceNumber, nowMs, manifestListPath, schema.SchemaId, summary);
        updates.Add(new AddSnapshotUpdate(snapshot));
        updates.Add(new SetSnapshotRefUpdate("main", snapshotId));
        return updates;
    }

    /// <summary>Where manifests go: write.metadata.path, else &lt;location&gt;/metadata.</summary>
    public static string MetadataDirectory(TableMetadata table) =>
        table.Properties.TryGetValue("write.metadata.path", out string? p) && p.Length > 0 ? p.TrimEnd('/') : table.Location.TrimEnd('/') + "/metadata";

    private static void CheckEvolution(TableMetadata @base, IcebergSchema newSchema)
    {
        foreach (IcebergField f in newSchema.Fields)
        {
            foreach (IcebergSchema old in @base.Schemas)
            {
                if (old.FindById(f.Id) is IcebergField before && before.Type != f.Type && !IsPromotion(before.Type, f.Type))
                    throw new IcebergException($"column '{f.Name}' (id {f.Id}) changes type from {IcebergSchema.TypeName(before.Type)} to {IcebergSchema.TypeName(f.Type)}; "
                        + "only int->long and float->double are allowed (a new column needs a new field id)");
            }
            if (f.Id > @base.LastColumnId)
                continue;
            if (!@base.Schemas.Any(s => s.FindById(f.Id) is not null))
                throw new IcebergException($"new column '{f.Name}' reuses field id {f.Id}; new columns need ids above the table's last-column-id {@base.LastColumnId}");
        }
        foreach (IcebergField f in newSchema.Fields)
            if (f.Required && @base.CurrentSchema.FindById(f.Id) is null)
                throw new IcebergException($"new column '{f.Name}' is required; columns added to an existing table must be optional");
    }

    private static bool IsPromotion(IcebergPrimitive from, IcebergPrimitive to) =>
        (from == IcebergPrimitive.Int && to == IcebergPrimitive.Long) || (from == IcebergPrimitive.Float && to == IcebergPrimitive.Double);

    private static long NewSnapshotId(TableMetadata @base)
    {
        while (true)
        {
            long id = RandomNumberGenerator.GetInt32(int.MaxValue) * (long)int.MaxValue + RandomNumberGenerator.GetInt32(int.MaxValue);
            if (id > 0 && @base.SnapshotById(id) is null)
                return id;
        }
    }

    private static Dictionary<string, string> Summary(Snapshot? parent, PartitionSpec spec, IcebergSchema schema,
        IReadOnlyList<DataFile> files, IReadOnlyDictionary<string, string> extra)
    {
        static string S(long v) => v.ToString(CultureInfo.InvariantCulture);
        long addedRecords = files.Sum(f => f.RecordCount);
        long addedSize = files.Sum(f => f.FileSizeInBytes);
        var partitions = new HashSet<string>(StringComparer.Ordinal);
        foreach (DataFile f in files)
            partitions.Add(string.Join('\u001f', Manifests.PartitionValues(spec, schema, f).Select(v => v switch
            {
                null => "null",
                byte[] b => Convert.ToHexString(b),
                IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
                _ => v.ToString(),
            })));

        var summary = new Dictionary<string, string>(StringComparer.Ordinal) { ["operation"] = "append" };
        foreach (var kv in extra)
            if (kv.Key != "operation")
                summary[kv.Key] = kv.Value;
        if (files.Count > 0)
        {
            summary["added-data-files"] = S(files.Count);
            summary["added-records"] = S(addedRecords);
            summary["added-files-size"] = S(addedSize);
            summary["changed-partition-count"] = S(partitions.Count);
        }
        bool parentHasTotals = parent is null || parent.Summary.ContainsKey("total-records");
        if (parentHasTotals)
        {
            summary["total-records"] = S((parent?.SummaryLong("total-records") ?? 0) + addedRecords);
            summary["total-files-size"] = S((parent?.SummaryLong("total-files-size") ?? 0) + addedSize);
            summary["total-data-files"] = S((parent?.SummaryLong("total-data-files") ?? 0) + files.Count);
            summary["total-delete-files"] = S(parent?.SummaryLong("total-delete-files") ?? 0);
            summary["total-position-deletes"] = S(parent?.SummaryLong("total-position-deletes") ?? 0);
            summary["total-equality-deletes"] = S(parent?.SummaryLong("total-equality-deletes") ?? 0);
        }
        return summary;
    }
}

public static class Commits
{
    public static async Task<TableMetadata?> CommitWithRetryAsync(ICatalog catalog, TableIdentifier id,
        Func<TableMetadata, CancellationToken, Task<IReadOnlyList<TableUpdate>?>> prepare, int maxAttempts, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(prepare);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxAttempts, 1);
        for (int attempt = 1; ; attempt++)
        {
            TableMetadata current = await catalog.LoadTableAsync(id, ct).ConfigureAwait(false)
                ?? throw new IcebergException($"table {id} does not exist");
            IReadOnlyList<TableUpdate>? updates = await prepare(current, ct).ConfigureAwait(false);
            if (updates is null)
                return null;
            try
            {
                return await catalog.CommitAsync(id, current, updates, ct).ConfigureAwait(false);
            }
            catch (CommitConflictException)
            {
                // Someone else committed first: reload and prepare again on top of their snapshot.
                await DeleteUncommittedAsync(catalog.FileIO, updates, ct).ConfigureAwait(false);
                if (attempt >= maxAttempts)
                    throw;
                await Task.Delay(Math.Min(1000, 20 * attempt * attempt) + Random.Shared.Next(20), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Best effort: removes the manifest list and the new manifests of snapshots whose commit was
    /// refused (a conflict means the catalog did not take them, so nothing refers to them).
    /// </summary>
    public static async Task DeleteUncommittedAsync(IFileIO io, IReadOnlyList<TableUpdate> refused, CancellationToken ct)
    {
        foreach (TableUpdate u in refused)
        {
            if (u is not AddSnapshotUpdate add)
                continue;
            try
            {
                byte[]? list = await io.ReadAsync(add.Snapshot.ManifestList, ct).ConfigureAwait(false);
                if (list is null)
                    continue;
                foreach (ManifestFile m in Manifests.ReadManifestList(list))
                    if (m.AddedSnapshotId == add.Snapshot.SnapshotId)
                        await io.DeleteAsync(m.ManifestPath, ct).ConfigureAwait(false);
                await io.DeleteAsync(add.Snapshot.ManifestList, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Leftovers are harmless: orphan-file cleanup removes them.
            }
        }
    }
}
