using System.Globalization;
using KafScale.Observability;

namespace KafScale.Processor;

/// <summary>The processor's metrics (upstream KafScale's names) on a <see cref="MetricsRegistry"/>.</summary>
public sealed class ProcessorMetrics
{
    private readonly Family<Counter> _records;
    private readonly Family<Counter> _errors;
    private readonly Family<Gauge> _lastOffset;
    private readonly Family<Counter> _conflicts;
    private readonly Counter _commits;
    private readonly Counter _files;
    private readonly Counter _bytes;

    public ProcessorMetrics(MetricsRegistry registry)
    {
        Registry = registry;
        _records = registry.CounterFamily("kafscale_processor_records_total",
            "Records by outcome: written (committed to the table), type_conflict (committed with some field written as null because its value did not fit the column), not_json (committed with base columns only: the value is not a JSON object), redone (written into files whose commit was abandoned; processed again)", "topic", "result");
        _errors = registry.CounterFamily("kafscale_processor_errors_total",
            "Errors by stage: list, read, decode, write, upload, commit, lease", "stage");
        _lastOffset = registry.GaugeFamily("kafscale_processor_last_offset",
            "Last offset of the partition committed to the table", "topic", "partition");
        _conflicts = registry.CounterFamily("kafscale_processor_field_conflicts_total",
            "JSON field values written as null because they did not fit their column's type", "topic");
        _commits = registry.Counter("kafscale_processor_commits_total", "Table commits (snapshots) made");
        _files = registry.Counter("kafscale_processor_files_total", "Data files committed");
        _bytes = registry.Counter("kafscale_processor_bytes_total", "Bytes of data files committed");
    }

    public MetricsRegistry Registry { get; }

    public void Records(string topic, string result, long count)
    {
        if (count > 0) _records.WithLabels(topic, result).Add(count);
    }

    public void Error(string stage) => _errors.WithLabels(stage).Increment();

    public void Conflicts(string topic, long count)
    {
        if (count > 0) _conflicts.WithLabels(topic).Add(count);
    }

    public void LastOffset(TopicPartition tp, long offset) =>
        _lastOffset.WithLabels(tp.Topic, tp.Partition.ToString(CultureInfo.InvariantCulture)).Set(offset);

    public void Commit(int files, long bytes)
    {
        _commits.Increment();
        _files.Add(files);
        _bytes.Add(bytes);
    }
}
