using System.Text.Json;
using KafScale.Broker.Clustering;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>Outcome of an admin operation: a Kafka error code and an optional message.</summary>
internal readonly record struct AdminResult(short ErrorCode, string? Message = null)
{
    public static readonly AdminResult Ok = new(0);
}

/// <summary>
/// CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs and DeleteRecords: changes to the
/// topic records in the metadata store, one at a time on this broker (compare-and-set against
/// the others). The topic watch then carries each change to every broker.
/// </summary>
internal sealed class TopicAdministration(IMetadataStore meta, PartitionStorage storage, TopicRegistry topics, PartitionLifecycle partitions, BrokerConfig config, ILogger log, TimeProvider time)
{
    private readonly IMetadataStore _meta = meta;
    private readonly PartitionStorage _storage = storage;
    private readonly TopicRegistry _topics = topics;
    private readonly PartitionLifecycle _partitions = partitions;
    private readonly BrokerConfig _config = config;
    private readonly ILogger _log = log;
    private readonly TimeProvider _time = time;
    private readonly SemaphoreSlim _adminLock = new(1, 1);
    private static readonly TimeSpan SealWaitOnDelete = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Set by the leadership layer: waits (bounded) until partitions from the given index on
    /// have a leader, so a topic is usable when CreateTopics or CreatePartitions answers.
    /// </summary>
    public Func<TopicState, int, Task>? WaitForLeaders { get; set; }

    /// <summary>Kafka's rule: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".</summary>
    public static string? ValidateTopicName(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "topic name is empty";
        if (name is "." or "..") return $"topic name '{name}' is not allowed";
        if (name.Length > 249) return "topic name is longer than 249 characters";
        foreach (char c in name)
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
                return $"topic name '{name}' contains '{c}': only ASCII letters, digits, '.', '_' and '-' are allowed";
        return null;
    }

    public async Task<AdminResult> CreateTopicAsync(string name, int partitions, IReadOnlyDictionary<string, string?> configs, bool validateOnly, CancellationToken ct)
    {
        if (ValidateTopicName(name) is { } bad) return new AdminResult(ErrorCodes.InvalidTopicException, bad);
        if (partitions == -1) partitions = _config.DefaultPartitions;
        if (partitions < 1 || partitions > 100_000) return new AdminResult(ErrorCodes.InvalidPartitions, $"number of partitions must be at least 1, got {partitions}");
        if (TopicConfig.Validate(configs) is { } invalid) return new AdminResult(ErrorCodes.InvalidConfig, invalid);
        foreach (var key in configs.Keys)
            if (!TopicConfig.Defaults.ContainsKey(key) && !KnownIgnoredConfigs.Contains(key))
                return new AdminResult(ErrorCodes.InvalidConfig, $"unknown topic config '{key}'");
        TopicState? topic;
        await _adminLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_topics.TryGetTopic(name, out _) || await _topics.LearnAsync(name, ct).ConfigureAwait(false) is not null)
                return new AdminResult(ErrorCodes.TopicAlreadyExists, $"topic '{name}' already exists");
            if (validateOnly) return AdminResult.Ok;
            var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in configs) if (v is not null) overrides[k] = v;
            var record = new TopicRecord { Id = Guid.NewGuid().ToString(), Partitions = partitions, Configs = overrides, CreatedMs = _time.GetUtcNow().ToUnixTimeMilliseconds() };
            string configKey = MetadataKeys.TopicConfig(name);
            // A new topic starts empty even if a deleted namesake left keys or late uploads behind.
            await _meta.TxnAsync(new TxnRequest([Compare.KeyMissing(configKey)], [TxnOp.DeletePrefix(MetadataKeys.PartitionsPrefix(name))], []), ct).ConfigureAwait(false);
            await _storage.DeleteTopicAsync(name, ct).ConfigureAwait(false);
            var txn = new TxnRequest(
                [Compare.KeyMissing(configKey)],
                [TxnOp.Put(configKey, JsonSerializer.SerializeToUtf8Bytes(record, BrokerJsonContext.Default.TopicRecord)), TxnOp.Get(configKey)],
                [TxnOp.Get(configKey)]);
            var result = await _meta.TxnAsync(txn, ct).ConfigureAwait(false);
            var stored = result.Gets.Count > 0 && result.Gets[0].Count > 0 ? result.Gets[0][0] : null;
            if (stored is not null) _topics.Apply(name, stored);
            if (!result.Succeeded) return new AdminResult(ErrorCodes.TopicAlreadyExists, $"topic '{name}' already exists");
            topic = _topics.TryGetTopic(name, out var created) ? created : null;
            _log.LogInformation("created topic {Topic} with {Partitions} partitions", name, partitions);
        }
        finally { _adminLock.Release(); }
        if (topic is not null && WaitForLeaders is { } wait) await wait(topic, 0).ConfigureAwait(false);
        return AdminResult.Ok;
    }

    /// <summary>Kafka topic configs accepted (clients send them) but without effect here.</summary>
    public static readonly HashSet<string> KnownIgnoredConfigs = new(StringComparer.Ordinal)
    {
        "min.insync.replicas", "unclean.leader.election.enable", "compression.type", "segment.ms", "flush.messages", "flush.ms",
        "index.interval.bytes", "segment.index.bytes", "file.delete.delay.ms", "preallocate", "min.cleanable.dirty.ratio",
        "delete.retention.ms", "min.compaction.lag.ms", "max.compaction.lag.ms", "message.downconversion.enable",
        "message.timestamp.difference.max.ms", "message.timestamp.before.max.ms", "message.timestamp.after.max.ms",
        "segment.jitter.ms", "follower.replication.throttled.replicas", "leader.replication.throttled.replicas",
        "local.retention.ms", "local.retention.bytes", "remote.storage.enable", "message.format.version",
    };

    /// <summary>
    /// Deletes the topic's keys (its leader keys with them) and every object it has in the
    /// store. Leaders elsewhere learn it from the watch, end their terms and remove any late
    /// upload of theirs.
    /// </summary>
    public async Task<AdminResult> DeleteTopicAsync(string name, CancellationToken ct)
    {
        await _adminLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (!_topics.TryGetTopic(name, out TopicState? topic) && (topic = await _topics.LearnAsync(name, ct).ConfigureAwait(false)) is null)
                return new AdminResult(ErrorCodes.UnknownTopicOrPartition, $"topic '{name}' does not exist");
            // Locally first, so waiting producers hear UNKNOWN_TOPIC_OR_PARTITION rather than
            // NOT_LEADER_OR_FOLLOWER from the leader key going away.
            _topics.Remove(topic, "deleted");
            try
            {
                await _meta.TxnAsync(new TxnRequest([], [TxnOp.DeletePrefix(MetadataKeys.Topic(name)), TxnOp.DeletePrefix(ClusterKeys.LeadersOf(name))], []), ct).ConfigureAwait(false);
            }
            catch
            {
                try { await _topics.LearnAsync(name, CancellationToken.None).ConfigureAwait(false); } catch { }
                throw;
            }
            // A seal under way when the term ended would land after the listing below; it takes
            // its own segment back, and waiting for it (bounded) means none is left once we answer.
            var seals = new List<Task>();
            foreach (var log in topic.Logs) if (log is not null) seals.Add(log.SealSettledAsync());
            try { await Task.WhenAll(seals).WaitAsync(SealWaitOnDelete, ct).ConfigureAwait(false); }
            catch (TimeoutException) { }
            await _storage.DeleteTopicAsync(name, ct).ConfigureAwait(false);
            return AdminResult.Ok;
        }
        finally { _adminLock.Release(); }
    }

    /// <summary>Changes the stored topic record with a compare on its revision, retrying when another broker got in between.</summary>
    private async Task<(AdminResult Result, TopicState? Topic, int OldPartitions)> UpdateRecordAsync(string name, Func<TopicRecord, AdminResult?> change, CancellationToken ct)
    {
        string configKey = MetadataKeys.TopicConfig(name);
        for (int attempt = 0; attempt < 5; attempt++)
        {
            var kv = await _meta.GetAsync(configKey, ct).ConfigureAwait(false);
            if (kv is null) return (new AdminResult(ErrorCodes.UnknownTopicOrPartition, $"topic '{name}' does not exist"), null, 0);
            var record = JsonSerializer.Deserialize(kv.Value, BrokerJsonContext.Default.TopicRecord)!;
            int old = record.Partitions;
            if (change(record) is { } refused) return (refused, null, old);
            var result = await _meta.TxnAsync(new TxnRequest(
                [Compare.ModRevisionEquals(configKey, kv.ModRevision)],
                [TxnOp.Put(configKey, JsonSerializer.SerializeToUtf8Bytes(record, BrokerJsonContext.Default.TopicRecord)), TxnOp.Get(configKey)],
                []), ct).ConfigureAwait(false);
            if (!result.Succeeded) continue;
            return (AdminResult.Ok, _topics.Apply(name, result.Gets[0][0]), old);
        }
        return (new AdminResult(ErrorCodes.RequestTimedOut, $"topic '{name}' kept changing; try again"), null, 0);
    }

    public async Task<AdminResult> CreatePartitionsAsync(string name, int count, bool validateOnly, CancellationToken ct)
    {
        (AdminResult Result, TopicState? Topic, int OldPartitions) outcome;
        await _adminLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            outcome = await UpdateRecordAsync(name, record =>
            {
                int current = record.Partitions;
                if (count <= current) return new AdminResult(ErrorCodes.InvalidPartitions, $"topic '{name}' has {current} partitions; the new count must be larger, got {count}");
                if (count > 100_000) return new AdminResult(ErrorCodes.InvalidPartitions, "too many partitions");
                if (validateOnly) return AdminResult.Ok;
                record.Partitions = count;
                return null;
            }, ct).ConfigureAwait(false);
        }
        finally { _adminLock.Release(); }
        if (outcome.Topic is not null && WaitForLeaders is { } wait) await wait(outcome.Topic, outcome.OldPartitions).ConfigureAwait(false);
        return outcome.Result;
    }

    /// <summary>Replaces the topic's overrides with the given set (callers compute incremental changes).</summary>
    public async Task<AdminResult> SetConfigsAsync(string name, IReadOnlyDictionary<string, string?> overrides, bool validateOnly, CancellationToken ct)
    {
        if (TopicConfig.Validate(overrides) is { } invalid) return new AdminResult(ErrorCodes.InvalidConfig, invalid);
        foreach (var key in overrides.Keys)
            if (!TopicConfig.Defaults.ContainsKey(key) && !KnownIgnoredConfigs.Contains(key))
                return new AdminResult(ErrorCodes.InvalidConfig, $"unknown topic config '{key}'");
        await _adminLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var clean = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in overrides) if (v is not null) clean[k] = v;
            var outcome = await UpdateRecordAsync(name, record =>
            {
                if (validateOnly) return AdminResult.Ok;
                record.Configs = clean;
                return null;
            }, ct).ConfigureAwait(false);
            return outcome.Result;
        }
        finally { _adminLock.Release(); }
    }

    /// <summary>DeleteRecords: moves the log start offset and deletes whole segments below it.</summary>
    public async Task<(short ErrorCode, long LowWatermark)> DeleteRecordsAsync(PartitionLog log, long offset, CancellationToken ct)
    {
        long hw = log.HighWatermark;
        if (offset == -1) offset = hw;
        if (offset < 0 || offset > hw) return (ErrorCodes.OffsetOutOfRange, -1);
        if (!await _partitions.AdvanceLogStartAsync(log, offset, ct).ConfigureAwait(false)) return (ErrorCodes.NotLeaderOrFollower, -1);
        return (0, log.LogStartOffset);
    }
}
