using System.Globalization;
using System.Text;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Processor.Leases;

/// <summary>Which partitions this processor instance may write.</summary>
public interface IPartitionOwnership : IAsyncDisposable
{
    string Description { get; }

    /// <summary>Claims this instance's share of <paramref name="partitions"/> (releasing what is no longer its share) and returns what it owns.</summary>
    Task<IReadOnlySet<TopicPartition>> AcquireAsync(IReadOnlyCollection<TopicPartition> partitions, CancellationToken ct);

    /// <summary>True when this instance still owns every one of the partitions (checked right before a commit).</summary>
    Task<bool> StillOwnsAsync(IEnumerable<TopicPartition> partitions, CancellationToken ct);
}

/// <summary>A single instance: it owns every partition.</summary>
public sealed class SoleOwnership : IPartitionOwnership
{
    public string Description => "single instance (no --etcd-endpoints): every partition";

    public Task<IReadOnlySet<TopicPartition>> AcquireAsync(IReadOnlyCollection<TopicPartition> partitions, CancellationToken ct) =>
        Task.FromResult<IReadOnlySet<TopicPartition>>(new HashSet<TopicPartition>(partitions));

    public Task<bool> StillOwnsAsync(IEnumerable<TopicPartition> partitions, CancellationToken ct) => Task.FromResult(true);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// Instances sharing a processor group split partitions through the metadata store (etcd):
/// <list type="bullet">
/// <item><c>&lt;prefix&gt;/members/&lt;instance&gt;</c>: one key per live instance, bound to its lease.</item>
/// <item><c>&lt;prefix&gt;/owners/&lt;topic&gt;/&lt;partition&gt;</c>: the instance writing the partition, bound to its lease,
/// created only if absent (a txn comparing create revision 0).</item>
/// </list>
/// Each round, an instance computes the balanced assignment over the live members (partitions of a
/// topic in order, dealt round-robin over the sorted member ids from a per-topic start), claims its
/// share when free, and releases what is no longer its share. Before a commit it re-checks, in one
/// txn comparing each owner key's create revision with the one its claim produced, that the keys
/// are still its own. A lease that expires (a paused or partitioned instance) deletes its keys;
/// the instance notices on its next keep-alive and starts over with a new lease.
/// </summary>
public sealed class LeaseOwnership : IPartitionOwnership
{
    private readonly IMetadataStore _store;
    private readonly ILogger _log;
    private readonly string _prefix;
    private readonly TimeSpan _ttl;
    private readonly Dictionary<TopicPartition, long> _owned = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private long _lease;
    private Task _keepAlive = Task.CompletedTask;
    private volatile bool _leaseLost;

    private LeaseOwnership(IMetadataStore store, string prefix, string instanceId, TimeSpan ttl, ILogger log)
    {
        _store = store;
        _prefix = prefix.TrimEnd('/');
        InstanceId = instanceId;
        _ttl = ttl;
        _log = log;
    }

    public string InstanceId { get; }
    public string Description => $"shared through the metadata store under {_prefix}/ as instance {InstanceId}";

    public static async Task<LeaseOwnership> StartAsync(IMetadataStore store, string prefix, string instanceId, TimeSpan ttl, ILogger log, CancellationToken ct)
    {
        var o = new LeaseOwnership(store, prefix, instanceId, ttl, log);
        await o.RegisterAsync(ct).ConfigureAwait(false);
        o._keepAlive = o.KeepAliveLoopAsync(o._stop.Token);
        return o;
    }

    private string MemberKey(string id) => $"{_prefix}/members/{id}";
    private string OwnerKey(TopicPartition tp) => string.Create(CultureInfo.InvariantCulture, $"{_prefix}/owners/{tp.Topic}/{tp.Partition}");

    private async Task RegisterAsync(CancellationToken ct)
    {
        _lease = await _store.GrantLeaseAsync(_ttl, ct).ConfigureAwait(false);
        await _store.PutAsync(MemberKey(InstanceId), Encoding.UTF8.GetBytes(InstanceId), _lease, ct).ConfigureAwait(false);
        _leaseLost = false;
    }

    private async Task KeepAliveLoopAsync(CancellationToken ct)
    {
        var period = TimeSpan.FromMilliseconds(Math.Max(200, _ttl.TotalMilliseconds / 3));
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(period, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            try
            {
                var left = await _store.KeepAliveAsync(_lease, ct).ConfigureAwait(false);
                if (left is null)
                {
                    _log.LogWarning("processor lease {Lease} expired: its partitions are released; registering again", _lease);
                    _leaseLost = true;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception ex)
            {
                _log.LogWarning("processor lease keep-alive failed: {Error}", ex.Message);
            }
        }
    }

    /// <summary>The balanced assignment: partitions of each topic dealt round-robin over the sorted members.</summary>
    public static Dictionary<TopicPartition, string> Assign(IReadOnlyCollection<TopicPartition> partitions, IReadOnlyList<string> members)
    {
        var result = new Dictionary<TopicPartition, string>();
        if (members.Count == 0) return result;
        var sorted = members.OrderBy(m => m, StringComparer.Ordinal).ToArray();
        foreach (var group in partitions.GroupBy(p => p.Topic))
        {
            int start = (int)(StableHash(group.Key) % (uint)sorted.Length);
            int i = 0;
            foreach (var tp in group.OrderBy(p => p.Partition))
                result[tp] = sorted[(start + i++) % sorted.Length];
        }
        return result;
    }

    private static uint StableHash(string s)
    {
        uint h = 2166136261;
        foreach (char c in s) h = (h ^ c) * 16777619;
        return h;
    }

    public async Task<IReadOnlySet<TopicPartition>> AcquireAsync(IReadOnlyCollection<TopicPartition> partitions, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_leaseLost)
            {
                _owned.Clear();
                await RegisterAsync(ct).ConfigureAwait(false);
            }
            var members = (await _store.GetPrefixAsync($"{_prefix}/members/", ct).ConfigureAwait(false)).Kvs
                .Select(kv => Encoding.UTF8.GetString(kv.Value)).ToList();
            if (!members.Contains(InstanceId))
            {
                // Our member key vanished with an expired lease that the keep-alive has not noticed yet.
                _owned.Clear();
                await RegisterAsync(ct).ConfigureAwait(false);
                members.Add(InstanceId);
            }
            var assignment = Assign(partitions, members);
            foreach (var tp in _owned.Keys.ToList())
            {
                if (assignment.TryGetValue(tp, out var who) && who == InstanceId) continue;
                var key = OwnerKey(tp);
                await _store.TxnAsync(new TxnRequest(
                    [new Compare(key, CompareTarget.CreateRevision, CompareResult.Equal, _owned[tp])],
                    [TxnOp.Delete(key)], []), ct).ConfigureAwait(false);
                _owned.Remove(tp);
                _log.LogInformation("released partition {Partition} (now assigned to {Owner})", tp, who ?? "nobody");
            }
            foreach (var (tp, who) in assignment)
            {
                if (who != InstanceId || _owned.ContainsKey(tp)) continue;
                var key = OwnerKey(tp);
                var r = await _store.TxnAsync(new TxnRequest(
                    [Compare.KeyMissing(key)],
                    [TxnOp.Put(key, Encoding.UTF8.GetBytes(InstanceId), _lease)],
                    [TxnOp.Get(key)]), ct).ConfigureAwait(false);
                if (r.Succeeded)
                {
                    _owned[tp] = r.Revision;
                    _log.LogInformation("claimed partition {Partition}", tp);
                }
                else if (r.Gets.Count > 0 && r.Gets[0].Count > 0 && Encoding.UTF8.GetString(r.Gets[0][0].Value) == InstanceId && r.Gets[0][0].Lease == _lease)
                {
                    _owned[tp] = r.Gets[0][0].CreateRevision;
                }
            }
            return new HashSet<TopicPartition>(_owned.Keys);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<bool> StillOwnsAsync(IEnumerable<TopicPartition> partitions, CancellationToken ct)
    {
        if (_leaseLost) return false;
        var compares = new List<Compare>();
        foreach (var tp in partitions)
        {
            if (!_owned.TryGetValue(tp, out long rev)) return false;
            compares.Add(new Compare(OwnerKey(tp), CompareTarget.CreateRevision, CompareResult.Equal, rev));
        }
        if (compares.Count == 0) return true;
        var r = await _store.TxnAsync(new TxnRequest(compares, [], []), ct).ConfigureAwait(false);
        return r.Succeeded;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try { await _keepAlive.ConfigureAwait(false); } catch { }
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            // Revoking the lease deletes the member and owner keys: the others take over at once.
            await _store.RevokeLeaseAsync(_lease, cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.LogWarning("could not revoke the processor lease (it will expire): {Error}", ex.Message);
        }
        _stop.Dispose();
        _gate.Dispose();
    }
}
