namespace KafScale.Processor.Tables;

/// <summary>The committed state of a table as the processor sees it.</summary>
public sealed record TableState(
    IReadOnlyList<(int Id, string Name, ColumnType Type, bool Required)> Fields,
    int LastColumnId,
    IReadOnlyDictionary<TopicPartition, long> NextOffsets,
    int? DaySourceId,
    string Location,
    long? SnapshotId);

/// <summary>One partition's part of a commit: the range of offsets its files hold.</summary>
/// <param name="ExpectedNext">The table's next offset for the partition when the work started (null: none committed).</param>
/// <param name="NewNext">The next offset once the commit lands.</param>
public readonly record struct OffsetRange(long? ExpectedNext, long NewNext);

/// <summary>What a commit adds: files, offsets, and the columns the files were written with.</summary>
public sealed record CommitRequest(
    IReadOnlyList<WrittenFile> Files,
    IReadOnlyDictionary<TopicPartition, OffsetRange> Offsets,
    IReadOnlyList<TableColumn> Columns,
    long Records,
    long Bytes);

/// <summary>The decision for one commit attempt against the table's current state.</summary>
public sealed record CommitDecision(bool Proceed, string? Reason, IReadOnlyList<TableColumn> NewColumns, IReadOnlyDictionary<TopicPartition, long> MergedOffsets);

/// <summary>
/// The exactly-once rule, checked against the table's state at each commit attempt (a retry after
/// a conflict checks again against the newer state): every partition in the commit must still be
/// at the offset the work started from (else someone else committed those records: abandon), and
/// the columns the files use must match the table's (same id, name and type) or be new with ids
/// above the table's last column id. The merged offsets keep every other partition's offset.
/// </summary>
public static class CommitPlanner
{
    public static CommitDecision Decide(TableState current, CommitRequest request)
    {
        foreach (var (tp, range) in request.Offsets)
        {
            long? now = current.NextOffsets.TryGetValue(tp, out long n) ? n : null;
            if (now != range.ExpectedNext)
                return Abandon($"partition {tp} is at offset {Show(now)} in the table, not {Show(range.ExpectedNext)}: another writer committed it");
        }
        var added = new List<TableColumn>();
        foreach (var c in request.Columns)
        {
            int at = -1;
            for (int i = 0; i < current.Fields.Count; i++)
                if (current.Fields[i].Id == c.Id) { at = i; break; }
            if (at >= 0)
            {
                var f = current.Fields[at];
                if (f.Name != c.Name || f.Type != c.Type)
                    return Abandon($"column id {c.Id} is now {f.Name} ({ColumnTypes.Name(f.Type)}) in the table, not {c.Name} ({ColumnTypes.Name(c.Type)})");
                continue;
            }
            if (c.Id <= current.LastColumnId)
                return Abandon($"column id {c.Id} ({c.Name}) was assigned to another column meanwhile");
            foreach (var f in current.Fields)
                if (string.Equals(f.Name, c.Name, StringComparison.OrdinalIgnoreCase))
                    return Abandon($"column {c.Name} was added meanwhile with id {f.Id}");
            added.Add(c);
        }
        var merged = new Dictionary<TopicPartition, long>(current.NextOffsets);
        foreach (var (tp, range) in request.Offsets) merged[tp] = range.NewNext;
        return new CommitDecision(true, null, added, merged);

        static CommitDecision Abandon(string reason) => new(false, reason, [], new Dictionary<TopicPartition, long>());
        static string Show(long? o) => o is long v ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none";
    }
}
