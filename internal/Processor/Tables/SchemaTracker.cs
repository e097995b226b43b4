using KafScale.Processor.Config;

namespace KafScale.Processor.Tables;

/// <summary>Why a JSON field did not become a column.</summary>
public enum FieldRejection { None, InferenceOff, NullValue, ReservedName, NameClash, Limit }

/// <summary>
/// The columns of one table while a commit is being prepared: the committed schema, the declared
/// columns it still lacks, and columns inferred from JSON fields since. Shared by the partition
/// workers of the table (they add columns under a lock); each worker encodes rows against an
/// immutable <see cref="Snapshot"/> and moves to a newer one (rolling its file) when it meets a new field.
/// </summary>
public sealed class SchemaTracker
{
    private readonly Lock _lock = new();
    private readonly TopicMapping _mapping;
    private readonly List<TableColumn> _columns;
    private SchemaSnapshot _snapshot;
    private int _lastColumnId;
    private int _inferred;

    /// <param name="tableColumns">The table's current columns (ids from the catalog), sources bound with <see cref="Bind"/>.</param>
    /// <param name="lastColumnId">The table's last assigned column id.</param>
    public SchemaTracker(IReadOnlyList<TableColumn> tableColumns, int lastColumnId, TopicMapping mapping)
    {
        _mapping = mapping;
        _columns = [.. tableColumns];
        _lastColumnId = Math.Max(lastColumnId, tableColumns.Count == 0 ? 0 : tableColumns.Max(c => c.Id));
        CommittedLastColumnId = lastColumnId;
        foreach (var c in tableColumns)
            if (c.Id > BaseColumns.Count && !IsDeclared(c.Name)) _inferred++;
        // Declared columns the table does not have yet join with the next commit.
        foreach (var d in mapping.Columns)
        {
            if (_columns.Exists(c => string.Equals(c.Name, d.Name, StringComparison.OrdinalIgnoreCase))) continue;
            _columns.Add(new TableColumn(++_lastColumnId, d.Name, d.Type, false, d.Source, d.JsonField));
        }
        if (mapping.PartitionDayColumn == ProcessorConfig.TimestampColumn && !_columns.Exists(c => c.Name == ProcessorConfig.TimestampColumn))
            _columns.Add(new TableColumn(++_lastColumnId, ProcessorConfig.TimestampColumn, ColumnType.Timestamptz, false, ColumnSourceKind.RecordTimestamp));
        _snapshot = new SchemaSnapshot(1, [.. _columns]);
    }

    public int CommittedLastColumnId { get; }

    public SchemaSnapshot Snapshot
    {
        get { lock (_lock) return _snapshot; }
    }

    private bool IsDeclared(string name) => _mapping.Columns.Any(d => d.Name == name);

    /// <summary>
    /// Gives each column of a table its value source: ids 1-8 are the base columns, declared columns
    /// follow their mapping, any other column reads the JSON field of its own name.
    /// </summary>
    public static List<TableColumn> Bind(IEnumerable<(int Id, string Name, ColumnType Type, bool Required)> fields, TopicMapping mapping)
    {
        var result = new List<TableColumn>();
        foreach (var (id, name, type, required) in fields)
        {
            if (id <= BaseColumns.Count && BaseColumns.All[id - 1].Name == name)
            {
                result.Add(BaseColumns.All[id - 1]);
                continue;
            }
            var declared = mapping.Columns.FirstOrDefault(d => d.Name == name);
            if (declared is not null)
                result.Add(new TableColumn(id, name, type, required, declared.Source, declared.JsonField));
            else if (name == ProcessorConfig.TimestampColumn && type == ColumnType.Timestamptz)
                result.Add(new TableColumn(id, name, type, required, ColumnSourceKind.RecordTimestamp));
            else
                result.Add(new TableColumn(id, name, type, required, ColumnSourceKind.JsonField, name));
        }
        return result;
    }

    /// <summary>
    /// The column for a JSON field not bound in <paramref name="seen"/>: an existing one (added by
    /// another worker) or a new inferred one. Null with the reason when the field stays out.
    /// </summary>
    public TableColumn? Resolve(string field, ColumnType? inferred, out FieldRejection rejection, out SchemaSnapshot snapshot)
    {
        lock (_lock)
        {
            snapshot = _snapshot;
            foreach (var c in _columns)
            {
                if (c.Source == ColumnSourceKind.JsonField && c.JsonField == field)
                {
                    rejection = FieldRejection.None;
                    return c;
                }
            }
            if (!_mapping.InferColumns) { rejection = FieldRejection.InferenceOff; return null; }
            if (inferred is not ColumnType type) { rejection = FieldRejection.NullValue; return null; }
            if (BaseColumns.IsBaseName(field)) { rejection = FieldRejection.ReservedName; return null; }
            if (field.Length == 0 || _columns.Exists(c => string.Equals(c.Name, field, StringComparison.OrdinalIgnoreCase)))
            {
                rejection = FieldRejection.NameClash;
                return null;
            }
            if (_inferred >= _mapping.MaxInferredColumns) { rejection = FieldRejection.Limit; return null; }
            var column = new TableColumn(++_lastColumnId, field, type, false, ColumnSourceKind.JsonField, field);
            _columns.Add(column);
            _inferred++;
            _snapshot = new SchemaSnapshot(_snapshot.Version + 1, [.. _columns]);
            snapshot = _snapshot;
            rejection = FieldRejection.None;
            return column;
        }
    }
}

/// <summary>An immutable column list with a version that grows when a column is added.</summary>
public sealed record SchemaSnapshot(int Version, IReadOnlyList<TableColumn> Columns);
