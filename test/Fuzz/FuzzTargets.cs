namespace KafScale.Fuzz;

/// <summary>
/// One fuzz target: its name (what scripts/fuzz.sh and the corpus folders call it), what it
/// covers, and the production code it drives. <see cref="Run"/> catches only the exceptions the
/// covered readers document for bad input; anything else escaping it is a finding.
/// </summary>
public sealed record FuzzTarget(string Name, string Covers, Action<byte[]> Run);

/// <summary>A bug that no exception type shows by itself (an allocation over the limit).</summary>
public sealed class FuzzFindingException(string message) : Exception(message);

public static class FuzzTargets
{
    /// <summary>
    /// The broker's request size limit (its max request bytes, Kafka's socket.request.max.bytes,
    /// 100 MiB by default). No single input may make a reader allocate more than this: a reader
    /// that does trusts a length field before checking the bytes are there (docs/reliability.md).
    /// </summary>
    public const long AllocationLimitBytes = 100L * 1024 * 1024;

    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("request", "request framing, header and every generated request decoder, the Produce fast path", RequestTarget.Run),
        new("records", "RecordBatchValidator and RecordBatchReader (every codec)", RecordsTarget.Run),
        new("segment", ".kfs segment and .index readers, segments verify", SegmentTarget.Run),
        new("metadata-log", "the embedded metadata store's log: the offline reader and recovery at open", MetadataLogTarget.Run),
        new("snapshot", "the metadata snapshot file reader", SnapshotTarget.Run),
        new("wal", "WAL object reader (trailer, footer, open), chunk CRCs and batch checks, the chain rule and Slice", WalTarget.Run),
    ];

    public static FuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"unknown fuzz target '{name}'; the targets are: {string.Join(", ", All.Select(t => t.Name))}", nameof(name));

    /// <summary>Runs one input through the target and checks what it allocated.</summary>
    /// <exception cref="FuzzFindingException">The input made the readers allocate more than <see cref="AllocationLimitBytes"/>.</exception>
    public static void RunChecked(FuzzTarget target, byte[] input)
    {
        long before = GC.GetTotalAllocatedBytes(precise: false);
        target.Run(input);
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - before;
        if (allocated > AllocationLimitBytes)
            throw new FuzzFindingException($"{target.Name}: an input of {input.Length} bytes allocated {allocated} bytes (limit {AllocationLimitBytes})");
    }
}
