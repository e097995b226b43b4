using System.Globalization;
using System.Text;
using KafScale.Processor.Config;
using KafScale.Processor.Leases;
using KafScale.Processor.Segments;
using KafScale.Processor.Tables;
using KafScale.Storage;
using Microsoft.Extensions.Logging;

namespace KafScale.Processor;

/// <summary>The outcome of one round of a table.</summary>
public sealed record RoundResult(long Records, int Files, bool Committed, bool MoreWork, bool Retry, IReadOnlyList<string> Errors);

/// <summary>
/// Moves one topic into its table, round by round: load the table (creating it the first time),
/// list the topic's segments, plan each owned partition from the table's committed offsets, run
/// the partitions in parallel, and commit every file with the new offsets in one snapshot. A
/// commit that loses a race (offsets or columns moved) discards its files and the round is redone
/// from the newer state, so no record is ever committed twice.
/// </summary>
public sealed class TableProcessor
{
    private readonly string _topic;
    private readonly TableName _table;
    private readonly TopicMapping _mapping;
    private readonly ProcessorOptions _options;
    private readonly IObjectStore _segments;
    private readonly ITableStore _tables;
    private readonly IDataFileFormat _format;
    private readonly IPartitionOwnership _ownership;
    private readonly ProcessorMetrics _metrics;
    private readonly ILogger _log;
    private readonly Dictionary<string, long> _footers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _rejectedLogged = new(StringComparer.Ordinal);
    private SortedDictionary<int, List<SegmentEntry>>? _fixedListing;

    public TableProcessor(string topic, ProcessorOptions options, IObjectStore segments, ITableStore tables, IDataFileFormat format,
        IPartitionOwnership ownership, ProcessorMetrics metrics, ILogger log)
    {
        _topic = topic;
        _options = options;
        _mapping = options.Config.For(topic);
        _table = new TableName(_mapping.Namespace ?? options.TableNamespace, _mapping.Table ?? topic);
        _segments = segments;
        _tables = tables;
        _format = format;
        _ownership = ownership;
        _metrics = metrics;
        _log = log;
    }

    public string Topic => _topic;
    public TableName Table => _table;

    /// <summary>The topic's partitions as listed (fixed after the first listing when <see cref="ProcessorOptions.Once"/>).</summary>
    public async Task<SortedDictionary<int, List<SegmentEntry>>> ListAsync(CancellationToken ct)
    {
        if (_fixedListing is not null) return _fixedListing;
        SortedDictionary<int, List<SegmentEntry>> listing;
        try { listing = await SegmentScanner.ListTopicAsync(_segments, _options.SegmentNamespace, _topic, ct).ConfigureAwait(false); }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _metrics.Error("list");
            throw new ProcessorException($"cannot list the segments of topic {_topic}: {ex.Message}", ex);
        }
        // --once processes what is present when it starts, even if producers keep writing.
        if (_options.Once) _fixedListing = listing;
        return listing;
    }

    /// <summary>Loads the table, creating it with the mapping's columns and partitioning when it does not exist.</summary>
    public async Task<TableState> OpenTableAsync(CancellationToken ct)
    {
        TableState? state;
        try
        {
            state = await _tables.LoadAsync(_table, ct).ConfigureAwait(false);
            if (state is not null) return state;
            var tracker = new SchemaTracker(BaseColumns.All, BaseColumns.Count, _mapping);
            var columns = tracker.Snapshot.Columns;
            int? daySource = _mapping.PartitionDayColumn is string day ? columns.First(c => c.Name == day).Id : null;
            await _tables.EnsureNamespaceAsync(_table.Namespace, ct).ConfigureAwait(false);
            state = await _tables.CreateAsync(_table, columns, daySource, ct).ConfigureAwait(false);
            _log.LogInformation("created table {Table} at {Location} ({Columns} columns{Partitioned})", _table, state.Location, columns.Count,
                daySource is null ? "" : $", partitioned by day({_mapping.PartitionDayColumn})");
            return state;
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not ProcessorException)
        {
            _metrics.Error("commit");
            throw new ProcessorException($"cannot open table {_table} ({_tables.Description}): {ex.Message}", ex);
        }
    }

    /// <summary>
    /// One round over the partitions this instance owns. <paramref name="owned"/> is the set of
    /// partitions claimed this round (all of them without etcd).
    /// </summary>
    public async Task<RoundResult> RunRoundAsync(SortedDictionary<int, List<SegmentEntry>> listing, IReadOnlySet<TopicPartition> owned, CancellationToken ct)
    {
        var state = await OpenTableAsync(ct).ConfigureAwait(false);
        var tracker = new SchemaTracker(SchemaTracker.Bind(state.Fields, _mapping), state.LastColumnId, _mapping);
        string? dayColumn = state.DaySourceId is int src ? state.Fields.FirstOrDefault(f => f.Id == src).Name : null;

        var mine = listing.Keys.Select(p => new TopicPartition(_topic, p)).Where(owned.Contains).ToList();
        if (mine.Count == 0) return new RoundResult(0, 0, false, false, false, []);
        long budget = Math.Max(1, _options.MaxCommitBytes / mine.Count);
        var plans = new List<(TopicPartition Tp, PartitionPlan Plan, long? Expected)>();
        bool more = false;
        foreach (var tp in mine)
        {
            var entries = listing[tp.Partition];
            long? expected = state.NextOffsets.TryGetValue(tp, out long n) ? n : null;
            await LearnLastFooterAsync(entries, ct).ConfigureAwait(false);
            var plan = SegmentPlanner.Plan(entries, expected ?? 0, e => _footers.TryGetValue(e.Key, out long l) ? l : null, budget);
            if (plan.Segments.Count > 0) plans.Add((tp, plan, expected));
            else if (plan.WaitingFor is not null) _log.LogDebug("partition {Partition}: {Waiting}", tp, plan.WaitingFor);
        }
        if (plans.Count == 0) return new RoundResult(0, 0, false, false, false, []);

        using var gate = new SemaphoreSlim(_options.Parallelism);
        var tasks = plans.Select(async p =>
        {
            await gate.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                var worker = new PartitionWorker(_segments, _tables, state, tracker, _format, p.Tp, p.Expected, _options.TargetFileBytes, dayColumn, OnRejected);
                return await Task.Run(() => worker.RunAsync(p.Plan, listing[p.Tp.Partition], FooterSeen, ct), ct).ConfigureAwait(false);
            }
            finally { gate.Release(); }
        }).ToList();
        var results = await Task.WhenAll(tasks).ConfigureAwait(false);

        var errors = new List<string>();
        var commit = new List<PartitionResult>();
        foreach (var r in results)
        {
            if (r.Error is not null)
            {
                _metrics.Error(r.ErrorStage ?? "write");
                errors.Add($"partition {r.Partition}: {r.Error}");
                _log.LogError("partition {Partition}: {Error} (nothing of this partition is committed this round; it is retried)", r.Partition, r.Error);
                await PartitionWorker.DiscardAsync(_tables, r, ct).ConfigureAwait(false);
                continue;
            }
            if (r.RetentionGap is (long from, long to))
                _log.LogWarning("partition {Partition}: offsets {From}..{To} are no longer in the bucket (retention); continuing at {Next}", r.Partition, from, to, to + 1);
            if (r.Advanced) commit.Add(r);
            if (plans.First(p => p.Tp == r.Partition).Plan.Truncated && r.Waiting is null) more = true;
        }
        if (commit.Count == 0) return new RoundResult(0, 0, false, false, false, errors);

        var request = new CommitRequest(
            [.. commit.SelectMany(r => r.Files)],
            commit.ToDictionary(r => r.Partition, r => new OffsetRange(r.ExpectedNext, r.NewNext)),
            tracker.Snapshot.Columns,
            commit.Sum(r => r.Records),
            commit.Sum(r => r.Bytes));
        CommitOutcome outcome;
        try
        {
            outcome = await _tables.CommitAsync(_table, request, async c =>
            {
                try { return await _ownership.StillOwnsAsync(request.Offsets.Keys, c).ConfigureAwait(false); }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _metrics.Error("lease");
                    _log.LogWarning("cannot confirm partition ownership before committing: {Error}", ex.Message);
                    return false;
                }
            }, ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The commit may or may not have landed (e.g. a lost answer): the files stay, and the
            // next round reads the table's offsets and decides. Unreferenced files are harmless.
            _metrics.Error("commit");
            errors.Add($"commit to {_table} failed: {ex.Message}");
            _log.LogError("commit to {Table} failed: {Error} (retried from the table's offsets)", _table, ex.Message);
            return new RoundResult(0, 0, false, true, true, errors);
        }
        if (!outcome.Committed)
        {
            foreach (var r in commit)
            {
                _metrics.Records(_topic, "redone", r.Records);
                await PartitionWorker.DiscardAsync(_tables, r, ct).ConfigureAwait(false);
            }
            _log.LogWarning("commit to {Table} abandoned: {Reason}; redoing from the table's current state", _table, outcome.Reason);
            return new RoundResult(0, 0, false, true, true, errors);
        }

        long records = request.Records, conflicts = commit.Sum(r => r.Conflicts), notJson = commit.Sum(r => r.NotJson);
        _metrics.Records(_topic, "written", records);
        _metrics.Records(_topic, "type_conflict", conflicts);
        _metrics.Records(_topic, "not_json", notJson);
        _metrics.Conflicts(_topic, conflicts);
        _metrics.Commit(request.Files.Count, request.Bytes);
        foreach (var r in commit) _metrics.LastOffset(r.Partition, r.NewNext - 1);
        var offsets = new StringBuilder();
        foreach (var r in commit.OrderBy(r => r.Partition.Partition))
        {
            if (offsets.Length > 0) offsets.Append(", ");
            offsets.Append(CultureInfo.InvariantCulture, $"{r.Partition.Partition}: {r.StartOffset}..{r.NewNext - 1}");
        }
        _log.LogInformation("committed {Table} snapshot {Snapshot}: topic {Topic}, partitions {Partitions}, records {Records}, files {Files}, bytes {Bytes}, offsets [{Offsets}]{Conflicts}",
            _table, outcome.SnapshotId, _topic, commit.Count, records, request.Files.Count, request.Bytes, offsets.ToString(),
            conflicts > 0 ? $", rows with type conflicts {conflicts}" : "");
        return new RoundResult(records, request.Files.Count, true, more, false, errors);
    }

    /// <summary>Partitions of the listing (owned by anyone) that still have complete segments the table lacks.</summary>
    public async Task<int> PendingAsync(SortedDictionary<int, List<SegmentEntry>> listing, CancellationToken ct)
    {
        var state = await OpenTableAsync(ct).ConfigureAwait(false);
        int pending = 0;
        foreach (var (p, entries) in listing)
        {
            long next = state.NextOffsets.TryGetValue(new TopicPartition(_topic, p), out long n) ? n : 0;
            await LearnLastFooterAsync(entries, ct).ConfigureAwait(false);
            if (SegmentPlanner.Plan(entries, next, e => _footers.TryGetValue(e.Key, out long l) ? l : null, long.MaxValue).Segments.Count > 0) pending++;
        }
        return pending;
    }

    /// <summary>Initial metric values for partitions already in the table.</summary>
    public void PublishOffsets(TableState state)
    {
        foreach (var (tp, next) in state.NextOffsets)
            if (tp.Topic == _topic) _metrics.LastOffset(tp, next - 1);
    }

    private void FooterSeen(string key, long last)
    {
        lock (_footers) _footers[key] = last;
    }

    /// <summary>Reads the footer of a partition's last complete segment (16 bytes), so a fully processed tail is not read again.</summary>
    private async Task LearnLastFooterAsync(List<SegmentEntry> entries, CancellationToken ct)
    {
        var last = entries.LastOrDefault(e => e.HasIndex);
        if (last is null || last.Size < SegmentFormat.MinimumSegmentSize) return;
        lock (_footers) if (_footers.ContainsKey(last.Key)) return;
        var buffer = new byte[SegmentFormat.FooterSize];
        try
        {
            int n = await _segments.ReadRangeAsync(last.Key, last.Size - SegmentFormat.FooterSize, buffer, ct).ConfigureAwait(false);
            if (n == buffer.Length && SegmentDecoder.LastOffsetFromFooter(buffer) is long l) FooterSeen(last.Key, l);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _log.LogDebug("cannot read the footer of {Key}: {Error}", last.Key, ex.Message);
        }
    }

    private void OnRejected(string field, FieldRejection why)
    {
        lock (_rejectedLogged)
            if (!_rejectedLogged.Add(field)) return;
        string reason = why switch
        {
            FieldRejection.InferenceOff => "column inference is off for this topic (declare it in the mapping)",
            FieldRejection.ReservedName => "its name is a base column's; map it under another name with field: " + field,
            FieldRejection.NameClash => "another column has the same name in another letter case",
            FieldRejection.Limit => $"the table reached max_inferred_columns ({_mapping.MaxInferredColumns})",
            _ => why.ToString(),
        };
        _log.LogInformation("topic {Topic}: JSON field '{Field}' does not become a column of {Table}: {Reason}", _topic, field, _table, reason);
    }
}

/// <summary>A processor failure with a message for operators (one line).</summary>
public sealed class ProcessorException(string message, Exception? inner = null) : Exception(message, inner);
