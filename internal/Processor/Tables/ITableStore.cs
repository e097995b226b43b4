namespace KafScale.Processor.Tables;

/// <summary>A table's identity: namespace and name.</summary>
public readonly record struct TableName(string Namespace, string Name)
{
    public override string ToString() => $"{Namespace}.{Name}";
}

/// <summary>The outcome of a commit: the new state, or why it was abandoned.</summary>
public sealed record CommitOutcome(bool Committed, TableState? State, string? Reason, long? SnapshotId);

/// <summary>
/// The table format and catalog behind a seam: load or create a table, put data files in its
/// storage, and commit them atomically with the offsets (Iceberg in production).
/// </summary>
public interface ITableStore : IAsyncDisposable
{
    /// <summary>A description for logs ("filesystem catalog at file:///...").</summary>
    string Description { get; }

    /// <summary>Checks that the catalog answers (the namespace exists or can be created).</summary>
    Task EnsureNamespaceAsync(string ns, CancellationToken ct);

    /// <summary>The table's state, or null when it does not exist.</summary>
    Task<TableState?> LoadAsync(TableName table, CancellationToken ct);

    /// <summary>Creates the table (or loads it when someone else just did).</summary>
    Task<TableState> CreateAsync(TableName table, IReadOnlyList<TableColumn> columns, int? daySourceId, CancellationToken ct);

    /// <summary>Writes a data file under the table's data location; returns its URI.</summary>
    Task<string> WriteDataFileAsync(TableState table, string relativePath, ReadOnlyMemory<byte> bytes, CancellationToken ct);

    /// <summary>Deletes a data file that will never be committed.</summary>
    Task DeleteDataFileAsync(string uri, CancellationToken ct);

    /// <summary>
    /// Commits the files and offsets atomically, retrying on conflicts: each attempt re-runs
    /// <see cref="CommitPlanner.Decide"/> against the table's current state and first calls
    /// <paramref name="stillOwner"/> (false abandons the commit).
    /// </summary>
    Task<CommitOutcome> CommitAsync(TableName table, CommitRequest request, Func<CancellationToken, Task<bool>> stillOwner, CancellationToken ct);
}
