using KafScale.Metadata;
using KafScale.Observability;
using KafScale.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Groups;

/// <summary>
/// The group coordinator of a broker: routes each group to its shard
/// (<see cref="ShardOf(string, int)"/>) and the shard to its <see cref="GroupCoordinator"/>
/// when this broker leads it. Shards are loaded and unloaded whole, so a leadership layer can
/// hand them between brokers (docs/architecture.md, "Leadership and fencing"); a single broker loads them all.
/// </summary>
public sealed class GroupCoordinatorService : IAsyncDisposable
{
    private enum ShardStatus { NotLed, Loading, Active }

    private readonly IMetadataStore _store;
    private readonly GroupCoordinatorOptions _options;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly GroupCoordinator?[] _shards;
    private readonly ShardStatus[] _status;
    private readonly Lock _lock = new();
    private ConsumerLagMetrics? _lag;
    private int _disposed;

    public GroupCoordinatorService(IMetadataStore store, GroupCoordinatorOptions? options = null, ILoggerFactory? loggers = null, TimeProvider? time = null)
    {
        _store = store;
        _options = options ?? new GroupCoordinatorOptions();
        if (_options.ShardCount <= 0) throw new ArgumentOutOfRangeException(nameof(options), "ShardCount must be positive");
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _log = _loggers.CreateLogger("kafscale.groups");
        _time = time ?? TimeProvider.System;
        _shards = new GroupCoordinator?[_options.ShardCount];
        _status = new ShardStatus[_options.ShardCount];
    }

    public int ShardCount => _shards.Length;

    public GroupCoordinatorOptions Options => _options;

    /// <summary>
    /// The shard of a group: Java's String.hashCode of the group id, made non-negative, modulo
    /// the shard count. The same function Kafka uses to place groups on __consumer_offsets
    /// partitions, so every broker (in any language) agrees on it.
    /// </summary>
    public static int ShardOf(string groupId, int shardCount)
    {
        int h = 0;
        foreach (char c in groupId) h = unchecked(31 * h + c);
        return (h & 0x7fffffff) % shardCount;
    }

    public int ShardOf(string groupId) => ShardOf(groupId, _shards.Length);

    /// <summary>True when this broker leads the group's shard (loaded or loading).</summary>
    public bool IsCoordinatorFor(string groupId)
    {
        lock (_lock) return _status[ShardOf(groupId)] != ShardStatus.NotLed;
    }

    /// <summary>Loads every shard: this broker coordinates every group (single-broker mode).</summary>
    public async Task LoadAllShardsAsync(CancellationToken ct)
    {
        var shards = Enumerable.Range(0, _shards.Length).ToArray();
        lock (_lock)
            foreach (int s in shards) _status[s] = ShardStatus.Loading;
        var (states, offsets) = await ReadStoredAsync(ct).ConfigureAwait(false);
        var stateByShard = states.ToLookup(kv => GroupKeys.TryParseState(kv.Key, out var g) ? ShardOf(g) : -1);
        var offsetsByShard = offsets.ToLookup(kv => GroupKeys.TryParseOffset(kv.Key, out var g, out _) ? ShardOf(g) : -1);
        foreach (int s in shards) Activate(s, [.. stateByShard[s]], [.. offsetsByShard[s]], fence: null);
        int groups = 0;
        foreach (var c in _shards) groups += c?.GroupCount ?? 0;
        _log.LogInformation("group coordinator: {Shards} shards loaded with {Groups} groups", _shards.Length, groups);
    }

    /// <summary>
    /// Loads one shard this broker has just become the leader of. Until it is loaded its groups
    /// are answered COORDINATOR_LOAD_IN_PROGRESS.
    /// </summary>
    /// <param name="fence">Compares every write of the shard must pass (the shard's leadership), or null.</param>
    public async Task LoadShardAsync(int shard, IReadOnlyList<Compare>? fence, CancellationToken ct)
    {
        lock (_lock)
        {
            if (_status[shard] != ShardStatus.NotLed) return;
            _status[shard] = ShardStatus.Loading;
        }
        try
        {
            var (states, offsets) = await ReadStoredAsync(ct).ConfigureAwait(false);
            Activate(shard, states, offsets, fence);
        }
        catch
        {
            lock (_lock) _status[shard] = ShardStatus.NotLed;
            throw;
        }
    }

    /// <summary>
    /// Loads several shards this broker has just become the leader of, reading the stored
    /// groups once for all of them (a broker taking over many shards at start-up).
    /// </summary>
    public async Task LoadShardsAsync(IReadOnlyList<(int Shard, IReadOnlyList<Compare>? Fence)> shards, CancellationToken ct)
    {
        var loading = new List<(int Shard, IReadOnlyList<Compare>? Fence)>();
        lock (_lock)
        {
            foreach (var s in shards)
            {
                if (_status[s.Shard] != ShardStatus.NotLed) continue;
                _status[s.Shard] = ShardStatus.Loading;
                loading.Add(s);
            }
        }
        if (loading.Count == 0) return;
        try
        {
            var (states, offsets) = await ReadStoredAsync(ct).ConfigureAwait(false);
            var stateByShard = states.ToLookup(kv => GroupKeys.TryParseState(kv.Key, out var g) ? ShardOf(g) : -1);
            var offsetsByShard = offsets.ToLookup(kv => GroupKeys.TryParseOffset(kv.Key, out var g, out _) ? ShardOf(g) : -1);
            foreach (var (shard, fence) in loading) Activate(shard, [.. stateByShard[shard]], [.. offsetsByShard[shard]], fence);
        }
        catch
        {
            lock (_lock)
                foreach (var (shard, _) in loading)
                    if (_status[shard] == ShardStatus.Loading) _status[shard] = ShardStatus.NotLed;
            throw;
        }
    }

    /// <summary>True when this broker has the shard loaded or loading.</summary>
    public bool Leads(int shard)
    {
        lock (_lock) return _status[shard] != ShardStatus.NotLed;
    }

    /// <summary>Gives a shard up: its parked requests are answered NOT_COORDINATOR and its timers stop.</summary>
    public async Task UnloadShardAsync(int shard)
    {
        GroupCoordinator? coordinator;
        lock (_lock)
        {
            coordinator = _shards[shard];
            _shards[shard] = null;
            _status[shard] = ShardStatus.NotLed;
        }
        if (coordinator is not null) await coordinator.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<(IReadOnlyList<KeyValue> States, IReadOnlyList<KeyValue> Offsets)> ReadStoredAsync(CancellationToken ct)
    {
        var states = await _store.GetPrefixAsync(GroupKeys.GroupsPrefix, ct).ConfigureAwait(false);
        var offsets = await _store.GetPrefixAsync(GroupKeys.ConsumersPrefix, ct).ConfigureAwait(false);
        return (states.Kvs, offsets.Kvs);
    }

    private void Activate(int shard, IReadOnlyList<KeyValue> states, IReadOnlyList<KeyValue> offsets, IReadOnlyList<Compare>? fence)
    {
        var coordinator = new GroupCoordinator(shard, _store, _options, _time, _log, fence);
        coordinator.Load(
            states.Where(kv => GroupKeys.TryParseState(kv.Key, out var g) && ShardOf(g) == shard),
            offsets.Where(kv => GroupKeys.TryParseOffset(kv.Key, out var g, out _) && ShardOf(g) == shard));
        bool keep;
        lock (_lock)
        {
            keep = _status[shard] == ShardStatus.Loading && _disposed == 0;
            if (keep)
            {
                _shards[shard] = coordinator;
                _status[shard] = ShardStatus.Active;
            }
        }
        // Unloaded while loading: drop what was loaded.
        if (!keep) _ = coordinator.DisposeAsync().AsTask();
    }

    /// <summary>The coordinator of a group's shard, or the error a request for the group gets.</summary>
    public ErrorCode TryGetCoordinator(string groupId, out GroupCoordinator coordinator)
    {
        int shard = ShardOf(groupId);
        lock (_lock)
        {
            coordinator = _shards[shard]!;
            return _status[shard] switch
            {
                ShardStatus.Active => ErrorCode.None,
                ShardStatus.Loading => ErrorCode.CoordinatorLoadInProgress,
                _ => ErrorCode.NotCoordinator,
            };
        }
    }

    public Task<JoinGroupResult> JoinGroupAsync(JoinGroupInput input, CancellationToken ct = default)
    {
        var error = TryGetCoordinator(input.GroupId, out var c);
        return error == ErrorCode.None ? c.JoinGroupAsync(input, ct) : Task.FromResult(JoinGroupResult.Failed(input.MemberId, error));
    }

    public Task<SyncGroupResult> SyncGroupAsync(SyncGroupInput input, CancellationToken ct = default)
    {
        var error = TryGetCoordinator(input.GroupId, out var c);
        return error == ErrorCode.None ? c.SyncGroupAsync(input, ct) : Task.FromResult(SyncGroupResult.Failed(error));
    }

    public Task<ErrorCode> HeartbeatAsync(string groupId, string memberId, string? groupInstanceId, int generationId, CancellationToken ct = default)
    {
        var error = TryGetCoordinator(groupId, out var c);
        return error == ErrorCode.None ? c.HeartbeatAsync(groupId, memberId, groupInstanceId, generationId, ct) : Task.FromResult(error);
    }

    public Task<LeaveGroupResult> LeaveGroupAsync(string groupId, IReadOnlyList<LeavingMember> members, CancellationToken ct = default)
    {
        var error = TryGetCoordinator(groupId, out var c);
        return error == ErrorCode.None ? c.LeaveGroupAsync(groupId, members, ct) : Task.FromResult(new LeaveGroupResult(error, []));
    }

    public Task<ErrorCode[]> CommitOffsetsAsync(OffsetCommitInput input, CancellationToken ct = default)
    {
        var error = TryGetCoordinator(input.GroupId, out var c);
        if (error == ErrorCode.None) return c.CommitOffsetsAsync(input, ct);
        var errors = new ErrorCode[input.Offsets.Count];
        Array.Fill(errors, error);
        return Task.FromResult(errors);
    }

    public Task<OffsetFetchResult> FetchOffsetsAsync(string groupId, IReadOnlyList<TopicPartition>? partitions, CancellationToken ct = default)
    {
        var error = TryGetCoordinator(groupId, out var c);
        return error == ErrorCode.None ? c.FetchOffsetsAsync(groupId, partitions, ct) : Task.FromResult(new OffsetFetchResult(error, []));
    }

    public Task<OffsetDeleteResult> DeleteOffsetsAsync(string groupId, IReadOnlyList<TopicPartition> partitions, CancellationToken ct = default)
    {
        var error = TryGetCoordinator(groupId, out var c);
        return error == ErrorCode.None ? c.DeleteOffsetsAsync(groupId, partitions, ct) : Task.FromResult(new OffsetDeleteResult(error, []));
    }

    public Task<GroupDescription> DescribeGroupAsync(string groupId, CancellationToken ct = default)
    {
        var error = TryGetCoordinator(groupId, out var c);
        return error == ErrorCode.None ? c.DescribeGroupAsync(groupId, ct) : Task.FromResult(GroupDescription.Failed(groupId, error));
    }

    public Task<ErrorCode> DeleteGroupAsync(string groupId, CancellationToken ct = default)
    {
        var error = TryGetCoordinator(groupId, out var c);
        return error == ErrorCode.None ? c.DeleteGroupAsync(groupId, ct) : Task.FromResult(error);
    }

    /// <summary>Drops committed offsets of deleted topics from every group this broker coordinates (call after DeleteTopics).</summary>
    public async Task DeleteTopicOffsetsAsync(IReadOnlyCollection<string> topics, CancellationToken ct = default)
    {
        var set = topics.ToHashSet(StringComparer.Ordinal);
        GroupCoordinator?[] shards;
        lock (_lock) shards = (GroupCoordinator?[])_shards.Clone();
        foreach (var c in shards)
            if (c is not null) await c.DeleteTopicOffsetsAsync(set, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// ListGroups: the groups of the shards this broker leads, optionally only those in the
    /// given states (names compared case-insensitively, as Kafka does).
    /// COORDINATOR_LOAD_IN_PROGRESS while a shard is loading, with what is loaded so far.
    /// </summary>
    public ListGroupsResult ListGroups(IReadOnlyCollection<string>? statesFilter = null)
    {
        HashSet<GroupState>? states = null;
        if (statesFilter is { Count: > 0 })
        {
            states = [];
            foreach (var name in statesFilter)
                if (GroupStates.TryParse(name, out var s)) states.Add(s);
        }
        var error = ErrorCode.None;
        var coordinators = new List<GroupCoordinator>();
        lock (_lock)
        {
            for (int i = 0; i < _shards.Length; i++)
            {
                if (_status[i] == ShardStatus.Loading) error = ErrorCode.CoordinatorLoadInProgress;
                if (_shards[i] is { } c) coordinators.Add(c);
            }
        }
        var groups = new List<GroupListing>();
        foreach (var c in coordinators)
            foreach (var g in c.Listings())
                if (states is null || states.Contains(g.State)) groups.Add(g);
        groups.Sort(static (a, b) => string.CompareOrdinal(a.GroupId, b.GroupId));
        return new ListGroupsResult(error, groups);
    }

    /// <summary>Every committed offset of every group this broker coordinates.</summary>
    public IEnumerable<GroupOffset> CommittedOffsets()
    {
        GroupCoordinator?[] shards;
        lock (_lock) shards = (GroupCoordinator?[])_shards.Clone();
        foreach (var c in shards)
        {
            if (c is null) continue;
            foreach (var o in c.CommittedOffsets()) yield return o;
        }
    }

    /// <summary>
    /// Registers kafscale_consumer_lag (histogram), kafscale_consumer_lag_max and
    /// kafka_consumergroup_lag{group,topic,partition}. highWatermark gives a partition's high
    /// watermark, or null when the partition does not exist (its offsets are then not reported).
    /// </summary>
    public void RegisterLagMetrics(MetricsRegistry registry, Func<string, int, long?> highWatermark, TimeSpan? sampleInterval = null)
    {
        if (_lag is not null) throw new InvalidOperationException("lag metrics are already registered");
        _lag = new ConsumerLagMetrics(this, registry, highWatermark, sampleInterval ?? TimeSpan.FromSeconds(15), _time);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _lag?.Dispose();
        GroupCoordinator?[] shards;
        lock (_lock)
        {
            shards = (GroupCoordinator?[])_shards.Clone();
            Array.Clear(_shards);
            Array.Fill(_status, ShardStatus.NotLed);
        }
        foreach (var c in shards)
            if (c is not null) await c.DisposeAsync().ConfigureAwait(false);
    }
}
