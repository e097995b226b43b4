using KafScale.Broker.Log;
using KafScale.Groups;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Clustering;

/// <summary>
/// Who leads what (docs/architecture.md, "Leadership and fencing"): one
/// <see cref="LeaseSlotReconciler{TKey, THandle}"/> for the partitions and one for the
/// consumer-group coordinator shards, both following this broker's lease and the live brokers.
/// Every broker answers "who leads this" from the watched keys.
/// </summary>
internal sealed class PartitionLeadership : IAsyncDisposable
{
    private readonly BrokerRegistry _registry;
    private readonly LogManager _logs;
    private readonly PartitionSlots _partitionSlots;
    private readonly LeaseSlotReconciler<PartitionId, PartitionLog> _partitions;
    private readonly LeaseSlotReconciler<int, int> _shards;
    private readonly int _shardCount;
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;

    public PartitionLeadership(IMetadataStore meta, BrokerRegistry registry, LogManager logs, GroupCoordinatorService groups, ILogger log)
    {
        _registry = registry;
        _logs = logs;
        _log = log;
        _shardCount = groups.ShardCount;
        _partitionSlots = new PartitionSlots(meta, logs, log);
        _partitions = new LeaseSlotReconciler<PartitionId, PartitionLog>(meta, registry, _partitionSlots, log);
        _shards = new LeaseSlotReconciler<int, int>(meta, registry, new CoordinatorShardSlots(meta, groups), log, LogLevel.Debug);
    }

    /// <summary>How long a handoff may spend flushing before the rest is refused.</summary>
    public TimeSpan HandoffFlushTimeout
    {
        get => _partitionSlots.HandoffFlushTimeout;
        init => _partitionSlots.HandoffFlushTimeout = value;
    }

    private int Me => _registry.BrokerId;

    /// <summary>Starts watching and reconciling; completes when the first reconciliation has settled (or after timeout).</summary>
    public async Task StartAsync(TimeSpan settleTimeout, CancellationToken ct)
    {
        _registry.Changed += Poke;
        _registry.LeaseLost += DropAll;
        _logs.Registry.TopicsChanged += _partitions.Poke;
        _logs.Registry.TopicRemoved += t => _partitions.Forget(id => id.Topic == t.Name);
        _logs.Runtime.Closed += _ => _partitions.Poke();
        _logs.Admin.WaitForLeaders = WaitForLeadersAsync;
        _partitions.Start();
        _shards.Start();
        await Task.WhenAll(_partitions.Synced, _shards.Synced).WaitAsync(ct).ConfigureAwait(false);
        Poke();
        try { await Task.WhenAll(_partitions.Settled, _shards.Settled).WaitAsync(settleTimeout, ct).ConfigureAwait(false); }
        catch (TimeoutException) { _log.LogWarning("leadership did not settle within {Timeout}; serving what is ready", settleTimeout); }
    }

    /// <summary>The current leader and leader epoch of a partition, or null while it has none.</summary>
    public LeaderInfo? LeaderOf(string topic, int partition) => _partitions.HolderOf(new PartitionId(topic, partition));

    /// <summary>The broker leading a coordinator shard, or -1.</summary>
    public int CoordinatorOf(int shard) => shard >= 0 && shard < _shardCount ? _shards.HolderOf(shard)?.BrokerId ?? -1 : -1;

    /// <summary>How many coordinator shards this broker leads now.</summary>
    public int ShardsLed => _shards.Leading;

    public void Poke()
    {
        _partitions.Poke();
        _shards.Poke();
    }

    /// <summary>The lease may have lapsed: every term ends now, before anything else can be acknowledged.</summary>
    private void DropAll()
    {
        int partitions = _partitions.DropAll(), shards = _shards.DropAll();
        if (partitions > 0 || shards > 0)
            _log.LogWarning("dropped {Partitions} partitions and {Shards} coordinator shards after losing the lease", partitions, shards);
    }

    /// <summary>Waits (up to a few seconds) until partitions from 'from' on have a leader that has opened them.</summary>
    public async Task WaitForLeadersAsync(TopicState topic, int from)
    {
        Poke();
        long deadline = Environment.TickCount64 + 5000;
        while (Environment.TickCount64 < deadline && !_stop.IsCancellationRequested)
        {
            bool ready = true;
            var logs = topic.Logs;
            for (int p = from; p < logs.Length && ready; p++)
            {
                var leader = LeaderOf(topic.Name, p);
                ready = leader is not null && (leader.BrokerId != Me || logs[p] is not null);
            }
            if (ready) return;
            try { await Task.Delay(10, _stop.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>
    /// Graceful shutdown: stop taking anything new, then hand every partition over (flush,
    /// delete its key) and every coordinator shard (unload, delete its key). The registration
    /// goes first, so the other brokers start wanting what this one leads.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _partitions.StopTakingNew();
        _shards.StopTakingNew();
        await _registry.DeregisterAsync(CancellationToken.None).ConfigureAwait(false);
        _partitionSlots.HandoffFlushTimeout = timeout;
        var (partitions, count) = _partitions.HandOverAll();
        var (shards, _) = _shards.HandOverAll();
        using var cut = new CancellationTokenSource(timeout);
        try { await Task.WhenAll(partitions, shards).WaitAsync(cut.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { _log.LogWarning("handoff at shutdown did not finish within {Timeout}", timeout); }
        if (count > 0) _log.LogInformation("handed {Count} partitions over", count);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _partitions.DisposeAsync().ConfigureAwait(false);
        await _shards.DisposeAsync().ConfigureAwait(false);
    }
}
