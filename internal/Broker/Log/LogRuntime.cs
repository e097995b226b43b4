using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>
/// What every partition log shares: flush and seal settings, the WAL writer, the segment cache, the
/// "new data" signal that wakes long-polling fetches, and the set of partitions whose
/// metadata hint needs writing.
/// </summary>
internal sealed class LogRuntime(BrokerConfig config, BrokerMetrics metrics, ILogger log, TimeProvider? time = null)
{
    /// <summary>The clock of flush.interval.ms (tests drive it).</summary>
    public TimeProvider Time { get; } = time ?? TimeProvider.System;

    /// <summary>Monotonic milliseconds on <see cref="Time"/>; allocation-free, for the append path.</summary>
    public long NowMs => Time.GetTimestamp() / (Time.TimestampFrequency / 1000);

    private readonly HashSet<PartitionLog> _dirtyHints = [];
    private readonly Lock _dirtyLock = new();
    private long _pendingBytes;

    public int FlushIntervalMs { get; } = config.FlushIntervalMs;
    public int SegmentBytes { get; } = config.SegmentBytes;
    public int MaxWalUploads { get; } = Math.Max(1, config.MaxWalUploads);
    public long FlushMaxBytes { get; } = config.FlushMaxBytes;
    public long SegmentMs { get; } = config.SegmentMs;
    public long MaxUnsealedBytes { get; } = config.MaxUnsealedBytes;
    public long MaxPendingBytes { get; } = config.MaxPendingBytes;
    public int MaxParallelUploads { get; } = config.MaxParallelUploads;
    public int WalMergeObjects { get; } = config.WalMergeObjects;
    /// <summary>
    /// True while produced bytes not yet durable exceed MaxPendingBytes (512 MiB), or durable bytes not
    /// yet sealed exceed twice --max-unsealed-bytes (sealing cannot keep up): produce is refused.
    /// </summary>
    public bool OverPendingLimit => Interlocked.Read(ref _pendingBytes) > MaxPendingBytes || Interlocked.Read(ref _unsealedBytes) > 2 * MaxUnsealedBytes;

    /// <summary>The broker's WAL writer (null only in tests that build logs by hand).</summary>
    public WalFlusher? Wal { get; set; }

    private long _unsealedBytes;

    /// <summary>Durable bytes held in memory until sealed, across partitions.</summary>
    public long UnsealedBytes => Interlocked.Read(ref _unsealedBytes);
    public void AddUnsealed(long bytes) => Interlocked.Add(ref _unsealedBytes, bytes);

    /// <summary>Seals a partition on the thread pool (one seal of a partition at a time: see PartitionLog.SealAsync).</summary>
    public void ScheduleSeal(PartitionLog partition) =>
        ThreadPool.UnsafeQueueUserWorkItem(static p => _ = p.SealAsync(), partition, preferLocal: false);
    public BrokerMetrics Metrics { get; } = metrics;
    public ILogger Log { get; } = log;
    public KafScale.Storage.SegmentCache? SegmentCache { get; set; }

    /// <summary>Windows read ahead by cold reads of sealed segments (null: reads take only what the fetch needs).</summary>
    public ReadAheadCache? ReadAhead { get; set; }

    /// <summary>This broker's lease as far as writes are concerned (never lapses without a cluster).</summary>
    public KafScale.Broker.Clustering.LeaseGuard Lease { get; set; } = KafScale.Broker.Clustering.LeaseGuard.Unbounded();

    /// <summary>Called (on the thread pool) when a partition log's term ends, whoever ended it.</summary>
    public Action<PartitionLog>? Closed { get; set; }

    public void OnClosed(PartitionLog log) => Closed?.Invoke(log);

    public long PendingBytes => Interlocked.Read(ref _pendingBytes);
    public void AddPending(long bytes) => Interlocked.Add(ref _pendingBytes, bytes);

    public void Cache(PartitionLog partition, SegmentRef segment, ReadOnlyMemory<byte> kfs) =>
        SegmentCache?.Add(partition.Topic, partition.Partition, segment.BaseOffset, kfs);

    public void ScheduleHintUpdate(PartitionLog partition)
    {
        lock (_dirtyLock) _dirtyHints.Add(partition);
    }

    public List<PartitionLog> TakeDirtyHints()
    {
        lock (_dirtyLock)
        {
            var list = new List<PartitionLog>(_dirtyHints);
            _dirtyHints.Clear();
            return list;
        }
    }
}
