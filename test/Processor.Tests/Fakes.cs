using KafScale.Processor.Tables;
using KafScale.Records;
using KafScale.Storage;

namespace KafScale.Processor.Tests;

/// <summary>
/// In-process fake of the table format (named as such): keeps rows as objects. It stands in only
/// where the unit tests check the processor's own logic; the end-to-end tests use the real Parquet
/// files and Iceberg catalog through the built binary.
/// </summary>
public sealed class CapturingFormat : IDataFileFormat
{
    public string Extension => ".rows";
    public List<CapturingWriter> Writers { get; } = [];

    public IDataFileWriter Create(IReadOnlyList<TableColumn> columns)
    {
        var w = new CapturingWriter(columns);
        lock (Writers) Writers.Add(w);
        return w;
    }
}

public sealed class CapturingWriter(IReadOnlyList<TableColumn> columns) : IDataFileWriter
{
    private object?[] _row = new object?[columns.Count];
    private bool[] _set = new bool[columns.Count];
    public IReadOnlyList<TableColumn> Columns { get; } = columns;
    public List<object?[]> Rows { get; } = [];
    public bool Finished { get; private set; }
    public long RowCount => Rows.Count;

    private void Set(int c, object? v)
    {
        if (_set[c]) throw new InvalidOperationException($"column {c} written twice in one row");
        _set[c] = true;
        _row[c] = v;
    }

    public void WriteNull(int column)
    {
        if (Columns[column].Required) throw new InvalidOperationException($"null in required column {Columns[column].Name}");
        Set(column, null);
    }
    public void WriteBoolean(int column, bool value) => Set(column, value);
    public void WriteInt32(int column, int value) => Set(column, value);
    public void WriteInt64(int column, long value) => Set(column, value);
    public void WriteFloat(int column, float value) => Set(column, value);
    public void WriteDouble(int column, double value) => Set(column, value);
    public void WriteBytes(int column, ReadOnlySpan<byte> value) => Set(column, value.ToArray());

    public void EndRow()
    {
        for (int i = 0; i < _set.Length; i++)
            if (!_set[i]) throw new InvalidOperationException($"column {Columns[i].Name} got no value");
        Rows.Add(_row);
        _row = new object?[Columns.Count];
        _set = new bool[Columns.Count];
    }

    public DataFileContent Finish()
    {
        Finished = true;
        return new DataFileContent(new byte[] { 1, 2, 3 }, Rows.Count, []);
    }

    public void Dispose() { }

    public object? Get(int row, string column)
    {
        for (int i = 0; i < Columns.Count; i++) if (Columns[i].Name == column) return Rows[row][i];
        return null;
    }
}

/// <summary>In-process fake catalog (named as such): one table state per name, commits under a lock with the processor's own commit rule.</summary>
public sealed class InMemoryTableStore : ITableStore
{
    private readonly Dictionary<TableName, TableState> _tables = [];
    private readonly Dictionary<string, int> _files = [];
    public List<(TableName Table, CommitRequest Request)> Commits { get; } = [];
    public Func<TableName, CommitRequest, Task>? BeforeCommit { get; set; }
    public string Description => "in-memory";

    public Task EnsureNamespaceAsync(string ns, CancellationToken ct) => Task.CompletedTask;

    public Task<TableState?> LoadAsync(TableName table, CancellationToken ct)
    {
        lock (_tables) return Task.FromResult(_tables.TryGetValue(table, out var s) ? s : null);
    }

    public Task<TableState> CreateAsync(TableName table, IReadOnlyList<TableColumn> columns, int? daySourceId, CancellationToken ct)
    {
        lock (_tables)
        {
            if (!_tables.TryGetValue(table, out var s))
                _tables[table] = s = new TableState([.. columns.Select(c => (c.Id, c.Name, c.Type, c.Required))], columns.Max(c => c.Id),
                    new Dictionary<TopicPartition, long>(), daySourceId, $"mem://{table}", null);
            return Task.FromResult(s);
        }
    }

    public Task<string> WriteDataFileAsync(TableState table, string relativePath, ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        string uri = table.Location + "/" + relativePath;
        lock (_files) _files[uri] = bytes.Length;
        return Task.FromResult(uri);
    }

    public Task DeleteDataFileAsync(string uri, CancellationToken ct)
    {
        lock (_files) _files.Remove(uri);
        return Task.CompletedTask;
    }

    public int FileCount { get { lock (_files) return _files.Count; } }

    public async Task<CommitOutcome> CommitAsync(TableName table, CommitRequest request, Func<CancellationToken, Task<bool>> stillOwner, CancellationToken ct)
    {
        if (BeforeCommit is not null) await BeforeCommit(table, request);
        if (!await stillOwner(ct)) return new CommitOutcome(false, null, "not the owner", null);
        lock (_tables)
        {
            var current = _tables[table];
            var d = CommitPlanner.Decide(current, request);
            if (!d.Proceed) return new CommitOutcome(false, null, d.Reason, null);
            var fields = current.Fields.Concat(d.NewColumns.Select(c => (c.Id, c.Name, c.Type, c.Required))).ToList();
            long id = (current.SnapshotId ?? 0) + 1;
            var next = current with { Fields = fields, LastColumnId = Math.Max(current.LastColumnId, fields.Max(f => f.Id)), NextOffsets = d.MergedOffsets, SnapshotId = id };
            _tables[table] = next;
            Commits.Add((table, request));
            return new CommitOutcome(true, next, null, id);
        }
    }

    /// <summary>Simulates another writer committing offsets for a partition.</summary>
    public void ForceOffset(TableName table, TopicPartition tp, long next)
    {
        lock (_tables)
        {
            var s = _tables[table];
            var o = new Dictionary<TopicPartition, long>(s.NextOffsets) { [tp] = next };
            _tables[table] = s with { NextOffsets = o, SnapshotId = (s.SnapshotId ?? 0) + 1 };
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Writes real segments (.kfs + .index) with the storage library, as a broker would.</summary>
public static class Segments
{
    public sealed record Rec(byte[]? Key, byte[]? Value, long Timestamp, RecordHeader[]? Headers = null);

    /// <summary>Writes one segment of batches of <paramref name="perBatch"/> records; returns the next offset.</summary>
    public static async Task<long> WriteAsync(IObjectStore store, string topic, int partition, long baseOffset, IReadOnlyList<Rec> records,
        CompressionType codec = CompressionType.None, int perBatch = 10, bool writeIndex = true, bool controlBatchAtEnd = false, string ns = "default")
    {
        var batches = new List<ReadOnlyMemory<byte>>();
        long offset = baseOffset;
        for (int i = 0; i < records.Count; i += perBatch)
        {
            using var b = new RecordBatchBuilder(codec) { BaseOffset = offset };
            foreach (var r in records.Skip(i).Take(perBatch)) b.Add(r.Key, r.Value, r.Timestamp, r.Headers);
            offset += b.Count;
            batches.Add(b.Build());
        }
        if (controlBatchAtEnd)
        {
            using var c = new RecordBatchBuilder { BaseOffset = offset, IsControl = true, IsTransactional = true, ProducerId = 7, ProducerEpoch = 0 };
            c.Add(new byte[] { 0, 0, 0, 0 }, new byte[] { 0, 0, 0, 0, 0, 0 }, 1);
            offset += 1;
            batches.Add(c.Build());
        }
        var objects = SegmentWriter.Build(batches, 1_700_000_000_000);
        await store.PutAsync(SegmentKeys.Segment(ns, topic, partition, baseOffset), objects.Segment, default);
        if (writeIndex) await store.PutAsync(SegmentKeys.Index(ns, topic, partition, baseOffset), objects.Index, default);
        return offset;
    }

    public static List<Rec> Json(int count, Func<int, string> value, long ts = 1_700_000_000_000) =>
        [.. Enumerable.Range(0, count).Select(i => new Rec(System.Text.Encoding.UTF8.GetBytes($"k{i}"), System.Text.Encoding.UTF8.GetBytes(value(i)), ts + i))];
}
