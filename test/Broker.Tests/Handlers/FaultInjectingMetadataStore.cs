using KafScale.Metadata;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>
/// An in-process fault injector over a real metadata store: while <see cref="Unavailable"/> is
/// set, reads, writes and transactions throw the store's own "unavailable" exception, as etcd
/// out of reach or a failed embedded log does. Leases and watches already open carry on, as in
/// an outage shorter than the lease: the broker keeps its partitions and only the request
/// under test meets the outage.
/// </summary>
internal sealed class FaultInjectingMetadataStore(IMetadataStore inner) : IMetadataStore
{
    private volatile bool _unavailable;

    public bool Unavailable { get => _unavailable; set => _unavailable = value; }

    /// <summary>How many calls the injector refused (a test can check the handler really met the outage).</summary>
    public int Refused => Volatile.Read(ref _refused);
    private int _refused;

    public IMetadataStore Inner => inner;

    public string Kind => inner.Kind;

    private void ThrowIfUnavailable()
    {
        if (!_unavailable) return;
        Interlocked.Increment(ref _refused);
        throw new MetadataStoreUnavailableException("the metadata store is unavailable (fault injected by the test)");
    }

    public Task<KeyValue?> GetAsync(string key, CancellationToken cancellationToken)
    {
        ThrowIfUnavailable();
        return inner.GetAsync(key, cancellationToken);
    }

    /// <summary>Prefix reads whose prefix matches wait for the task (a partition's open begins with one); null holds nothing.</summary>
    public (Func<string, bool> Match, Task Release)? HoldPrefixReads { get; set; }

    /// <summary>How many prefix reads <see cref="HoldPrefixReads"/> has held so far.</summary>
    public int HeldPrefixReads => Volatile.Read(ref _heldPrefixReads);
    private int _heldPrefixReads;

    public async Task<RangeResult> GetPrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        ThrowIfUnavailable();
        if (HoldPrefixReads is { } hold && hold.Match(prefix))
        {
            Interlocked.Increment(ref _heldPrefixReads);
            await hold.Release.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        return await inner.GetPrefixAsync(prefix, cancellationToken).ConfigureAwait(false);
    }

    public Task<long> PutAsync(string key, byte[] value, long lease, CancellationToken cancellationToken)
    {
        ThrowIfUnavailable();
        return inner.PutAsync(key, value, lease, cancellationToken);
    }

    public Task<long> DeleteAsync(string key, CancellationToken cancellationToken)
    {
        ThrowIfUnavailable();
        return inner.DeleteAsync(key, cancellationToken);
    }

    public Task<long> DeletePrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        ThrowIfUnavailable();
        return inner.DeletePrefixAsync(prefix, cancellationToken);
    }

    public Task<TxnResult> TxnAsync(TxnRequest request, CancellationToken cancellationToken)
    {
        ThrowIfUnavailable();
        return inner.TxnAsync(request, cancellationToken);
    }

    public Task<long> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken) => inner.GrantLeaseAsync(ttl, cancellationToken);

    public Task<TimeSpan?> KeepAliveAsync(long leaseId, CancellationToken cancellationToken) => inner.KeepAliveAsync(leaseId, cancellationToken);

    public Task RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken) => inner.RevokeLeaseAsync(leaseId, cancellationToken);

    public IAsyncEnumerable<WatchEvent> WatchAsync(string prefix, long fromRevision, CancellationToken cancellationToken) =>
        inner.WatchAsync(prefix, fromRevision, cancellationToken);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
