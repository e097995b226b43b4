namespace KafScale.Metadata.Embedded;

public sealed class EmbeddedMetadataStoreOptions
{
    /// <summary>
    /// The log is compacted into a snapshot once it grows past this. Metadata is small (about 100
    /// bytes per offset commit), so 32 MiB means a snapshot every few hundred thousand mutations,
    /// and a restart replays at most that much.
    /// </summary>
    public long CompactionThresholdBytes { get; init; } = 32L << 20;

    /// <summary>
    /// How many recent events are kept for watchers to resume from or catch up with. A watcher
    /// further behind than this gets a CompactedRevisionException and must re-read.
    /// </summary>
    public int WatchHistoryEvents { get; init; } = 16_384;

    /// <summary>How often lease deadlines are checked: the precision of lease expiry.</summary>
    public TimeSpan LeaseCheckInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The clock of lease deadlines and of the lease check timer (tests pass a fake one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>What <see cref="EmbeddedMetadataStore.OpenAsync(string, EmbeddedMetadataStoreOptions, CancellationToken)"/> found on disk, for the log line at startup.</summary>
/// <param name="SnapshotRevision">Revision of the snapshot loaded; 0 when there was none.</param>
/// <param name="RecordsReplayed">Log records applied on top of the snapshot.</param>
/// <param name="TornBytesDropped">Bytes at the end of the log that were not a whole record (a crash during an append) and were dropped.</param>
/// <param name="LeasedKeysDeleted">Keys bound to leases of the previous incarnation, deleted at open.</param>
/// <param name="Revision">The store revision after opening.</param>
public sealed record EmbeddedRecoveryInfo(long SnapshotRevision, int RecordsReplayed, long TornBytesDropped, int LeasedKeysDeleted, long Revision);
