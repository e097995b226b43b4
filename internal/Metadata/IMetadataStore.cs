namespace KafScale.Metadata;

/// <summary>A stored key with etcd's bookkeeping (revisions are store-wide and increasing).</summary>
public sealed record KeyValue(string Key, byte[] Value, long CreateRevision, long ModRevision, long Version, long Lease);

public enum CompareTarget { Value, Version, CreateRevision, ModRevision, Lease }
public enum CompareResult { Equal, NotEqual, Greater, Less }

/// <summary>
/// One compare of a transaction, with etcd's semantics: a missing key has Version,
/// CreateRevision and ModRevision 0 and Lease 0, and compares on Value fail for it.
/// </summary>
public sealed record Compare(string Key, CompareTarget Target, CompareResult Result, long Number = 0, byte[]? Value = null)
{
    public static Compare KeyMissing(string key) => new(key, CompareTarget.CreateRevision, CompareResult.Equal, 0);
    public static Compare ValueEquals(string key, byte[] value) => new(key, CompareTarget.Value, CompareResult.Equal, 0, value);
    public static Compare ModRevisionEquals(string key, long revision) => new(key, CompareTarget.ModRevision, CompareResult.Equal, revision);
}

public enum TxnOpKind { Put, Delete, DeletePrefix, Get, GetPrefix }

public sealed record TxnOp(TxnOpKind Kind, string Key, byte[]? Value = null, long Lease = 0)
{
    public static TxnOp Put(string key, byte[] value, long lease = 0) => new(TxnOpKind.Put, key, value, lease);
    public static TxnOp Delete(string key) => new(TxnOpKind.Delete, key);
    public static TxnOp DeletePrefix(string prefix) => new(TxnOpKind.DeletePrefix, prefix);
    public static TxnOp Get(string key) => new(TxnOpKind.Get, key);
    public static TxnOp GetPrefix(string prefix) => new(TxnOpKind.GetPrefix, prefix);
}

public sealed record TxnRequest(IReadOnlyList<Compare> Compares, IReadOnlyList<TxnOp> Success, IReadOnlyList<TxnOp> Failure);

/// <summary>Result of a transaction: which branch ran, and for each Get/GetPrefix op of that branch its keys.</summary>
public sealed record TxnResult(bool Succeeded, long Revision, IReadOnlyList<IReadOnlyList<KeyValue>> Gets);

public sealed record RangeResult(IReadOnlyList<KeyValue> Kvs, long Revision);

public enum WatchEventType { Put, Delete }

public sealed record WatchEvent(WatchEventType Type, KeyValue Kv);

/// <summary>
/// The metadata store, with etcd v3's semantics (docs/metadata.md). Two implementations:
/// etcd, and an embedded single-process store persisted on local disk.
/// </summary>
public interface IMetadataStore : IAsyncDisposable
{
    string Kind { get; }

    Task<KeyValue?> GetAsync(string key, CancellationToken cancellationToken);

    /// <summary>All keys starting with prefix, ascending by key, and the store revision.</summary>
    Task<RangeResult> GetPrefixAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Returns the new store revision.</summary>
    Task<long> PutAsync(string key, byte[] value, long lease, CancellationToken cancellationToken);

    /// <summary>Returns how many keys were deleted.</summary>
    Task<long> DeleteAsync(string key, CancellationToken cancellationToken);

    Task<long> DeletePrefixAsync(string prefix, CancellationToken cancellationToken);

    Task<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken);

    /// <summary>Grants a lease; returns its id (non-zero).</summary>
    Task<long> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>
    /// Refreshes the lease. Returns the remaining TTL, or null when the lease no longer exists
    /// (expired or revoked), in which case its keys are gone.
    /// </summary>
    Task<TimeSpan?> KeepAliveAsync(long leaseId, CancellationToken cancellationToken);

    /// <summary>Revokes the lease and deletes its keys.</summary>
    Task RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken);

    /// <summary>
    /// Events for keys under prefix with revision &gt;= fromRevision (0 = from now on), in
    /// revision order, until cancelled.
    /// </summary>
    IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long fromRevision, CancellationToken cancellationToken);
}
