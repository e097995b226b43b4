using KafScale.Iceberg;
using KafScale.Processor.Tables;

namespace KafScale.Processor.Iceberg;

/// <summary>
/// Processor tables in an Iceberg catalog (filesystem/Hadoop layout or REST): a commit is a
/// fast append whose snapshot summary carries every partition's next offset, made through
/// <see cref="Commits.CommitWithRetryAsync"/>; each attempt re-checks ownership and the commit rule
/// against the table's current metadata.
/// </summary>
public sealed class IcebergTableStore(ICatalog catalog, string description, int commitAttempts = 10) : ITableStore
{
    public string Description => description;

    public Task EnsureNamespaceAsync(string ns, CancellationToken ct) => catalog.EnsureNamespaceAsync(ns, ct);

    private static TableIdentifier Id(TableName t) => new(t.Namespace, t.Name);

    public async Task<TableState?> LoadAsync(TableName table, CancellationToken ct)
    {
        var md = await catalog.LoadTableAsync(Id(table), ct).ConfigureAwait(false);
        return md is null ? null : ToState(md);
    }

    public async Task<TableState> CreateAsync(TableName table, IReadOnlyList<TableColumn> columns, int? daySourceId, CancellationToken ct)
    {
        var schema = new IcebergSchema(0, [.. columns.Select(c => new IcebergField(c.Id, c.Name, ToIceberg(c.Type), c.Required))]);
        var spec = daySourceId is int src
            ? new PartitionSpec(0, [new PartitionField(src, 1000, columns.First(c => c.Id == src).Name + "_day", "day")])
            : PartitionSpec.Unpartitioned;
        var properties = new Dictionary<string, string>
        {
            ["write.format.default"] = "parquet",
            ["write.parquet.compression-codec"] = "zstd",
            ["kafscale.table-shape"] = "processor-v1",
        };
        try
        {
            return ToState(await catalog.CreateTableAsync(Id(table), schema, spec, properties, ct).ConfigureAwait(false));
        }
        catch (TableAlreadyExistsException)
        {
            return await LoadAsync(table, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"table {table} exists but cannot be loaded");
        }
    }

    public async Task<string> WriteDataFileAsync(TableState table, string relativePath, ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        string uri = table.Location.TrimEnd('/') + "/" + relativePath;
        await catalog.FileIO.WriteAsync(uri, bytes, ct).ConfigureAwait(false);
        return uri;
    }

    public Task DeleteDataFileAsync(string uri, CancellationToken ct) => catalog.FileIO.DeleteAsync(uri, ct);

    public async Task<CommitOutcome> CommitAsync(TableName table, CommitRequest request, Func<CancellationToken, Task<bool>> stillOwner, CancellationToken ct)
    {
        string? reason = null;
        var md = await Commits.CommitWithRetryAsync(catalog, Id(table), async (current, c) =>
        {
            if (!await stillOwner(c).ConfigureAwait(false))
            {
                reason = "this instance no longer owns all of the partitions";
                return null;
            }
            var decision = CommitPlanner.Decide(ToState(current), request);
            if (!decision.Proceed)
            {
                reason = decision.Reason;
                return null;
            }
            IcebergSchema? newSchema = null;
            if (decision.NewColumns.Count > 0)
            {
                int schemaId = current.Schemas.Max(s => s.SchemaId) + 1;
                newSchema = new IcebergSchema(schemaId,
                    [.. current.CurrentSchema.Fields, .. decision.NewColumns.OrderBy(n => n.Id).Select(n => new IcebergField(n.Id, n.Name, ToIceberg(n.Type), false))]);
            }
            var summary = new Dictionary<string, string> { [OffsetSummary.WriterKey] = OffsetSummary.WriterValue };
            OffsetSummary.Write(decision.MergedOffsets, summary);
            bool partitioned = current.DefaultSpec.Fields.Count > 0;
            var files = request.Files.Select(f => ToDataFile(f, partitioned)).ToList();
            return await FastAppend.PrepareAsync(catalog.FileIO, current, files, summary, newSchema, c).ConfigureAwait(false);
        }, commitAttempts, ct).ConfigureAwait(false);
        if (md is null) return new CommitOutcome(false, null, reason ?? "the commit kept conflicting", null);
        return new CommitOutcome(true, ToState(md), null, md.CurrentSnapshot?.SnapshotId);
    }

    private static DataFile ToDataFile(WrittenFile f, bool partitioned)
    {
        var sizes = new Dictionary<int, long>();
        var values = new Dictionary<int, long>();
        var nulls = new Dictionary<int, long>();
        var lower = new Dictionary<int, byte[]>();
        var upper = new Dictionary<int, byte[]>();
        foreach (var c in f.Columns)
        {
            sizes[c.FieldId] = c.CompressedBytes;
            values[c.FieldId] = c.ValueCount;
            nulls[c.FieldId] = c.NullCount;
            if (c.Min is not null) lower[c.FieldId] = c.Min;
            if (c.Max is not null) upper[c.FieldId] = c.Max;
        }
        return new DataFile
        {
            FilePath = f.Uri,
            RecordCount = f.RecordCount,
            FileSizeInBytes = f.SizeBytes,
            PartitionValues = partitioned ? [f.DayPartition] : [],
            ColumnSizes = sizes,
            ValueCounts = values,
            NullValueCounts = nulls,
            LowerBounds = lower,
            UpperBounds = upper,
        };
    }

    public static TableState ToState(TableMetadata md)
    {
        var snapshots = md.Snapshots.ToDictionary(s => s.SnapshotId, s => new SnapshotInfo(s.SnapshotId, s.ParentSnapshotId, s.Summary));
        var offsets = OffsetRecovery.Resolve(md.CurrentSnapshot?.SnapshotId, snapshots);
        int? day = null;
        foreach (var pf in md.DefaultSpec.Fields)
            if (pf.Transform == "day") day = pf.SourceId;
        var fields = md.CurrentSchema.Fields.Select(f => (f.Id, f.Name, FromIceberg(f.Type), f.Required)).ToList();
        return new TableState(fields, md.LastColumnId, offsets, day, md.Location, md.CurrentSnapshot?.SnapshotId);
    }

    public static IcebergPrimitive ToIceberg(ColumnType t) => t switch
    {
        ColumnType.Boolean => IcebergPrimitive.Boolean,
        ColumnType.Int => IcebergPrimitive.Int,
        ColumnType.Long => IcebergPrimitive.Long,
        ColumnType.Float => IcebergPrimitive.Float,
        ColumnType.Double => IcebergPrimitive.Double,
        ColumnType.Date => IcebergPrimitive.Date,
        ColumnType.Timestamp => IcebergPrimitive.Timestamp,
        ColumnType.Timestamptz => IcebergPrimitive.Timestamptz,
        ColumnType.String => IcebergPrimitive.String,
        _ => IcebergPrimitive.Binary,
    };

    public static ColumnType FromIceberg(IcebergPrimitive t) => t switch
    {
        IcebergPrimitive.Boolean => ColumnType.Boolean,
        IcebergPrimitive.Int => ColumnType.Int,
        IcebergPrimitive.Long => ColumnType.Long,
        IcebergPrimitive.Float => ColumnType.Float,
        IcebergPrimitive.Double => ColumnType.Double,
        IcebergPrimitive.Date => ColumnType.Date,
        IcebergPrimitive.Timestamp => ColumnType.Timestamp,
        IcebergPrimitive.Timestamptz => ColumnType.Timestamptz,
        IcebergPrimitive.String => ColumnType.String,
        _ => ColumnType.Binary,
    };

    public ValueTask DisposeAsync() => catalog.DisposeAsync();
}
