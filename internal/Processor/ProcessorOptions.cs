using KafScale.Processor.Config;

namespace KafScale.Processor;

/// <summary>Settings of an Iceberg processor run.</summary>
public sealed record ProcessorOptions
{
    /// <summary>Topics to process; empty = the topics named in the configuration file.</summary>
    public IReadOnlyList<string> Topics { get; init; } = [];

    /// <summary>First part of every segment key (the broker's --s3-namespace).</summary>
    public string SegmentNamespace { get; init; } = "default";

    /// <summary>Namespace of tables whose mapping names none.</summary>
    public string TableNamespace { get; init; } = "kafscale";

    public ProcessorConfig Config { get; init; } = new();

    /// <summary>Process every complete segment present, then stop.</summary>
    public bool Once { get; init; }

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Segment bytes read for one commit of a table (bounds memory and commit size).</summary>
    public long MaxCommitBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>Input bytes after which a data file is closed and a new one started.</summary>
    public long TargetFileBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary>Partitions processed at once.</summary>
    public int Parallelism { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Commit attempts after conflicts before the round is given up (and retried).</summary>
    public int CommitAttempts { get; init; } = 10;
}
