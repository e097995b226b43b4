namespace KafScale.Metadata.Embedded;

public sealed partial class EmbeddedMetadataStore
{
    private sealed class Lease(long id, TimeSpan ttl, long deadline)
    {
        public readonly long Id = id;
        public readonly TimeSpan Ttl = ttl;
        public long Deadline = deadline;
        public readonly HashSet<string> Keys = new(StringComparer.Ordinal);
    }

    public Task<long> GrantLeaseAsync(TimeSpan ttl, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            ThrowIfUnusable();
            long id;
            do id = Random.Shared.NextInt64(1, long.MaxValue); while (_leases.ContainsKey(id));
            _leases.Add(id, new Lease(id, ttl, Deadline(ttl)));
            return Task.FromResult(id);
        }
    }

    public async Task<TimeSpan?> KeepAliveAsync(long leaseId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        TimeSpan? ttl = null;
        Task? durable;
        lock (_gate)
        {
            ThrowIfUnusable();
            durable = ReapExpiredLeases();
            if (_leases.TryGetValue(leaseId, out Lease? lease))
            {
                lease.Deadline = Deadline(lease.Ttl);
                ttl = lease.Ttl;
            }
        }
        // When the lease has just expired, its keys are deleted durably before the caller hears so.
        if (ttl is null && durable is not null) await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
        return ttl;
    }

    /// <summary>Revokes the lease and deletes its keys; a lease that no longer exists is not an error.</summary>
    public async Task RevokeLeaseAsync(long leaseId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Task? durable;
        lock (_gate)
        {
            ThrowIfUnusable();
            durable = ReapExpiredLeases();
            if (_leases.TryGetValue(leaseId, out Lease? lease)) durable = RevokeLocked(lease);
        }
        if (durable is not null) await durable.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task RunLeaseTimerAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.LeaseCheckInterval, _options.TimeProvider);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            lock (_gate)
            {
                if (_disposed || _log.Fault is not null) return;
                ReapExpiredLeases();
            }
        }
    }

    /// <summary>Revokes every lease past its deadline, each in its own revision (as etcd does).</summary>
    private Task? ReapExpiredLeases()
    {
        Task? last = null;
        if (_leases.Count == 0) return last;
        long now = Now();
        List<Lease>? expired = null;
        foreach (Lease lease in _leases.Values)
        {
            if (lease.Deadline <= now) (expired ??= []).Add(lease);
        }
        if (expired is null) return last;
        foreach (Lease lease in expired) last = RevokeLocked(lease);
        return last;
    }

    private Task? RevokeLocked(Lease lease)
    {
        _leases.Remove(lease.Id);
        if (lease.Keys.Count == 0) return _log.DurableTask();
        string[] keys = [.. lease.Keys];
        Array.Sort(keys, KeyOrder.Instance);
        foreach (string key in keys) WriteDelete(key);
        return CommitRevision();
    }

    private long Deadline(TimeSpan ttl) =>
        Now() + (long)(ttl.TotalSeconds * _options.TimeProvider.TimestampFrequency);
}
