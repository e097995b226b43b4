using KafScale.Processor.Leases;
using KafScale.Processor.Segments;
using KafScale.Processor.Tables;
using KafScale.Storage;
using Microsoft.Extensions.Logging;

namespace KafScale.Processor;

/// <summary>
/// Runs the processor: every round lists the topics' segments in the bucket, claims this
/// instance's partitions, and lets each topic's <see cref="TableProcessor"/> commit what is new.
/// With <see cref="ProcessorOptions.Once"/> it stops when the tables hold every complete segment
/// that was present at the start (exit code 0), or after a round with errors (exit code 1).
/// </summary>
public sealed class ProcessorService
{
    private readonly ProcessorOptions _options;
    private readonly IObjectStore _segments;
    private readonly ITableStore _tables;
    private readonly IPartitionOwnership _ownership;
    private readonly ProcessorMetrics _metrics;
    private readonly ILogger _log;
    private readonly List<TableProcessor> _processors = [];

    public ProcessorService(ProcessorOptions options, IObjectStore segments, ITableStore tables, IDataFileFormat format,
        IPartitionOwnership ownership, ProcessorMetrics metrics, ILogger log)
    {
        _options = options;
        _segments = segments;
        _tables = tables;
        _ownership = ownership;
        _metrics = metrics;
        _log = log;
        var topics = options.Topics.Count > 0 ? options.Topics : [.. options.Config.Topics.Keys];
        foreach (var t in topics.Distinct(StringComparer.Ordinal))
            _processors.Add(new TableProcessor(t, options, segments, tables, format, ownership, metrics, log));
    }

    /// <summary>True once the first round finished without errors (for /readyz).</summary>
    public bool Ready { get; private set; }

    public IReadOnlyList<TableProcessor> Tables => _processors;

    /// <summary>
    /// Runs until cancelled (or, with --once, until done). Returns the exit code.
    /// <paramref name="stopAfterRound"/> asks for a graceful stop: the round in progress finishes
    /// and commits, then the loop ends (<paramref name="ct"/> stops at once, leaving only
    /// uncommitted files behind).
    /// </summary>
    public async Task<int> RunAsync(CancellationToken ct, CancellationToken stopAfterRound = default)
    {
        if (_processors.Count == 0) throw new ProcessorException("no topics to process: give --topics or name topics in the --config file");
        foreach (var p in _processors)
        {
            var state = await p.OpenTableAsync(ct).ConfigureAwait(false);
            p.PublishOffsets(state);
            _log.LogInformation("topic {Topic} -> table {Table} at {Location}, resuming at {Offsets}", p.Topic, p.Table, state.Location, Describe(state, p.Topic));
        }
        _log.LogInformation("processing {Topics} from {Store} into {Catalog}; partitions: {Ownership}{Mode}",
            string.Join(",", _processors.Select(p => p.Topic)), _segments.Kind, _tables.Description, _ownership.Description,
            _options.Once ? "; --once" : $"; polling every {_options.PollInterval.TotalSeconds:0.###} s");
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (stopAfterRound.IsCancellationRequested)
            {
                _log.LogInformation("stopping: the last round was committed");
                return 0;
            }
            var errors = new List<string>();
            var listings = new Dictionary<TableProcessor, SortedDictionary<int, List<SegmentEntry>>>();
            try
            {
                foreach (var p in _processors) listings[p] = await p.ListAsync(ct).ConfigureAwait(false);
                var all = listings.SelectMany(kv => kv.Value.Keys.Select(part => new TopicPartition(kv.Key.Topic, part))).ToList();
                IReadOnlySet<TopicPartition> owned;
                try { owned = await _ownership.AcquireAsync(all, ct).ConfigureAwait(false); }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _metrics.Error("lease");
                    throw new ProcessorException($"cannot claim partitions: {ex.Message}", ex);
                }
                foreach (var p in _processors)
                {
                    for (int round = 0; ; round++)
                    {
                        var r = await p.RunRoundAsync(listings[p], owned, ct).ConfigureAwait(false);
                        errors.AddRange(r.Errors);
                        if (!(r.Retry || r.MoreWork) || r.Errors.Count > 0) break;
                        if (r.Retry && round >= _options.CommitAttempts)
                        {
                            errors.Add($"table {p.Table}: commits kept being abandoned");
                            break;
                        }
                    }
                }
            }
            catch (ProcessorException ex)
            {
                errors.Add(ex.Message);
                _log.LogError("{Error}", ex.Message);
            }
            if (errors.Count == 0) Ready = true;
            if (_options.Once)
            {
                if (errors.Count > 0)
                {
                    _log.LogError("stopping with errors: {Errors}", string.Join("; ", errors));
                    return 1;
                }
                int pending = 0;
                foreach (var p in _processors) pending += await p.PendingAsync(listings[p], ct).ConfigureAwait(false);
                if (pending == 0)
                {
                    _log.LogInformation("done: the tables hold every complete segment that was present");
                    return 0;
                }
                _log.LogInformation("{Pending} partitions are still being processed by other instances; waiting", pending);
            }
            using var pause = CancellationTokenSource.CreateLinkedTokenSource(ct, stopAfterRound);
            try { await Task.Delay(_options.PollInterval, pause.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
    }

    private static string Describe(TableState state, string topic)
    {
        var parts = state.NextOffsets.Where(kv => kv.Key.Topic == topic).OrderBy(kv => kv.Key.Partition).Select(kv => $"{kv.Key.Partition}:{kv.Value}").ToList();
        return parts.Count == 0 ? "the start of every partition" : "next offsets " + string.Join(" ", parts);
    }
}
