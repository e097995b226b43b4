using System.Text.Json;
using KafScale.Broker.Log;
using KafScale.Groups;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Clustering;

/// <summary>
/// This broker as a member of the cluster: registration and lease, the topics, and the
/// partitions and coordinator shards it leads. Embedded mode is the same, with one member.
/// </summary>
internal sealed class ClusterNode : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;
    private Task _snapshots = Task.CompletedTask;
    private int _disposed;

    private ClusterNode(IMetadataStore meta, BrokerRegistry registry, LogManager logs, PartitionLeadership leadership, GroupCoordinatorService groups, string clusterId, ILogger log)
    {
        Metadata = meta;
        Registry = registry;
        Logs = logs;
        Leadership = leadership;
        Groups = groups;
        ClusterId = clusterId;
        _log = log;
    }

    public IMetadataStore Metadata { get; }
    public BrokerRegistry Registry { get; }
    public LogManager Logs { get; }
    public PartitionLeadership Leadership { get; }
    public GroupCoordinatorService Groups { get; }
    public string ClusterId { get; }
    public int BrokerId => Registry.BrokerId;

    /// <summary>Peers that stopped answering connections before their lease ended.</summary>
    public PeerLiveness Peers { get; private set; } = null!;

    /// <summary>
    /// Joins the cluster: registers (lease), follows the topics, and takes the leadership this
    /// broker should have; returns once the first round of claims has settled.
    /// </summary>
    public static async Task<ClusterNode> StartAsync(IMetadataStore meta, PartitionStorage storage, LogRuntime runtime, BrokerConfig config,
        GroupCoordinatorService groups, string clusterId, ILoggerFactory loggers, CancellationToken ct)
    {
        var log = loggers.CreateLogger("kafscale.cluster");
        var ttl = TimeSpan.FromMilliseconds(config.LeaseTtlMs);
        var registry = await BrokerRegistry.StartAsync(meta, config.BrokerId,
            [.. config.EffectiveListeners().Select(l => new BrokerEndpoint(l.Name, l.AdvertisedHost, l.AdvertisedPort))], ttl,
            TimeSpan.FromMilliseconds(config.LeaderRebalanceDelayMs), log, ct, IncarnationLock.Acquire(config.DataDir)).ConfigureAwait(false);
        LogManager? logs = null;
        PartitionLeadership? leadership = null;
        try
        {
            runtime.Lease = registry.Guard;
            runtime.Wal ??= new WalFlusher(storage, runtime, registry.BrokerId);
            logs = await LogManager.OpenAsync(meta, storage, runtime, config, loggers.CreateLogger("kafscale.log"), ct).ConfigureAwait(false);
            leadership = new PartitionLeadership(meta, registry, logs, groups, log);
            // Committed offsets of a deleted topic go with it, on whichever broker coordinates the group.
            logs.Registry.TopicRemoved += t => _ = groups.DeleteTopicOffsetsAsync([t.Name], CancellationToken.None);
            await leadership.StartAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false);
            var node = new ClusterNode(meta, registry, logs, leadership, groups, clusterId, log);
            logs.WalSweeper.IsSweeper = () => node.ControllerId == node.BrokerId && registry.Guard.MayWrite;
            node._snapshots = node.SnapshotLoopAsync(node._stop.Token);
            node.Peers = new PeerLiveness(() => registry.Live, () => registry.BrokerId, ttl, log);
            return node;
        }
        catch
        {
            if (leadership is not null) await leadership.DisposeAsync().ConfigureAwait(false);
            if (logs is not null) await logs.DisposeAsync().ConfigureAwait(false);
            await registry.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The controller Kafka clients are told about: the live broker with the lowest id.</summary>
    public int ControllerId
    {
        get
        {
            var ids = Registry.LiveIds;
            return ids.Length > 0 ? ids[0] : BrokerId;
        }
    }

    /// <summary>
    /// Keeps /kafscale/metadata/snapshot (upstream KafScale's cluster view) current: the
    /// controller rewrites it when the view changes, checked once a second.
    /// </summary>
    private async Task SnapshotLoopAsync(CancellationToken ct)
    {
        byte[]? last = null;
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(1000, ct).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
            if (ControllerId != BrokerId || !Registry.Guard.MayWrite) continue;
            try
            {
                byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(BuildSnapshot(), ClusterJsonContext.Default.SnapshotRecord);
                if (last is not null && bytes.AsSpan().SequenceEqual(last)) continue;
                await Metadata.PutAsync(ClusterKeys.Snapshot, bytes, 0, ct).ConfigureAwait(false);
                last = bytes;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception ex) { _log.LogDebug("could not write the metadata snapshot: {Error}", ex.Message); }
        }
    }

    public SnapshotRecord BuildSnapshot()
    {
        var snapshot = new SnapshotRecord { ControllerId = ControllerId, ClusterId = ClusterId };
        foreach (var b in Registry.Live) snapshot.Brokers.Add(new SnapshotBroker { NodeId = b.Id, Host = b.Host, Port = b.Port, Rack = b.Rack });
        foreach (var t in Logs.Topics.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var topic = new SnapshotTopic { Name = t.Name, TopicId = [.. t.Id.ToByteArray(bigEndian: true).Select(b => (int)b)] };
            for (int p = 0; p < t.PartitionCount; p++)
            {
                var leader = Leadership.LeaderOf(t.Name, p);
                int id = leader?.BrokerId ?? -1;
                topic.Partitions.Add(new SnapshotPartition
                {
                    ErrorCode = leader is null ? ErrorCodes.LeaderNotAvailable : (short)0,
                    PartitionIndex = p,
                    LeaderId = id,
                    LeaderEpoch = leader?.Epoch ?? -1,
                    ReplicaNodes = id >= 0 ? [id] : [],
                    IsrNodes = id >= 0 ? [id] : [],
                });
            }
            snapshot.Topics.Add(topic);
        }
        return snapshot;
    }

    /// <summary>Graceful leave: hand everything over (see <see cref="PartitionLeadership.StopAsync"/>).</summary>
    public Task StopAsync(TimeSpan timeout) => Leadership.StopAsync(timeout);

    /// <summary>Ends whatever is still led, stops following the store, and revokes the lease.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        try { await _snapshots.ConfigureAwait(false); } catch { }
        await Peers.DisposeAsync().ConfigureAwait(false);
        await Leadership.DisposeAsync().ConfigureAwait(false);
        await Logs.DisposeAsync().ConfigureAwait(false);
        await Registry.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
