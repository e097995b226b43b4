namespace KafScale.Metadata;

/// <summary>Base of the failures a metadata store reports beyond argument and cancellation errors.</summary>
public class MetadataStoreException : Exception
{
    public MetadataStoreException(string message) : base(message) { }
    public MetadataStoreException(string message, Exception? inner) : base(message, inner) { }
}

/// <summary>
/// A watch asked for a revision whose events are no longer kept (etcd's ErrCompacted). Re-read the
/// keys with GetPrefixAsync and watch again from the revision it returns plus one.
/// </summary>
public sealed class CompactedRevisionException : MetadataStoreException
{
    public CompactedRevisionException(long requestedRevision, long compactedRevision, string? detail = null)
        : base($"Watch from revision {requestedRevision} is not possible: events up to revision {compactedRevision} are no longer kept"
            + (detail is null ? "" : $" ({detail})")
            + ". Re-read the keys and watch from the revision of that read plus one.")
    {
        RequestedRevision = requestedRevision;
        CompactedRevision = compactedRevision;
    }

    public long RequestedRevision { get; }

    /// <summary>The newest revision whose events are gone; a watch may start at this plus one.</summary>
    public long CompactedRevision { get; }
}

/// <summary>A put or transaction named a lease that does not exist (expired, revoked, or never granted).</summary>
public sealed class LeaseNotFoundException : MetadataStoreException
{
    public LeaseNotFoundException(long leaseId)
        : base($"Lease {leaseId:x} does not exist (expired, revoked, or granted by an earlier incarnation of this process).")
    {
        LeaseId = leaseId;
    }

    public long LeaseId { get; }
}

/// <summary>The embedded store's directory is locked by another open store (in this or another process).</summary>
public sealed class MetadataStoreLockedException : MetadataStoreException
{
    public MetadataStoreLockedException(string directory, Exception? inner)
        : base($"The metadata directory '{directory}' is in use by another kafscale process (its LOCK file is held). "
            + "Stop that process, or give this one its own --data-dir / KAFSCALE_DATA_DIR.", inner)
    {
        Directory = directory;
    }

    public string Directory { get; }
}

/// <summary>The store cannot serve requests: etcd unreachable, or the embedded log failed to write.</summary>
public sealed class MetadataStoreUnavailableException : MetadataStoreException
{
    public MetadataStoreUnavailableException(string message, Exception? inner = null) : base(message, inner) { }
}
