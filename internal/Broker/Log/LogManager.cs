using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
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
/// The topics of the cluster and the partition logs this broker leads. Topics are learned
/// from the metadata store (a watch on /kafscale/topics/, so every broker sees creations,
/// deletions and config changes made through any other); a partition's log is opened only
/// when the leadership layer makes this broker its leader, and closed when it hands the
/// partition over. Also: retention, and the batched next_offset hints.
/// </summary>
internal sealed class LogManager : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, TopicState> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TopicState>.AlternateLookup<ReadOnlySpan<char>> _byName;
    private readonly IMetadataStore _meta;
    private readonly PartitionStorage _storage;
    private readonly LogRuntime _runtime;
    private readonly BrokerConfig _config;
    private readonly SemaphoreSlim _adminLock = new(1, 1);
    private readonly Lock _topicsLock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;
    private Task _background = Task.CompletedTask;
    private int _disposed;

    private LogManager(IMetadataStore meta, PartitionStorage storage, LogRuntime runtime, BrokerConfig config, ILogger log)
    {
        _meta = meta;
        _storage = storage;
        _runtime = runtime;
        _config = config;
        _log = log;
        _byName = _topics.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public IEnumerable<TopicState> Topics => _topics.Values;
    public LogRuntime Runtime => _runtime;
    public PartitionStorage Storage => _storage;

    /// <summary>A topic appeared, grew, or went away: the leadership layer re-evaluates.</summary>
    public event Action? TopicsChanged;

    /// <summary>A topic was deleted (its open logs are already abandoned).</summary>
    public event Action<TopicState>? TopicRemoved;

    /// <summary>
    /// Set by the leadership layer: waits (bounded) until partitions from the given index on
    /// have a leader, so a topic is usable when CreateTopics or CreatePartitions answers.
    /// </summary>
    public Func<TopicState, int, Task>? WaitForLeaders { get; set; }

    public bool TryGetTopic(string name, out TopicState topic) => _topics.TryGetValue(name, out topic!);

    /// <summary>Looks a topic up by its UTF-8 name straight from a request, without making a string.</summary>
    public bool TryGetTopic(ReadOnlySpan<byte> utf8Name, out TopicState topic)
    {
        topic = null!;
        if (utf8Name.Length is 0 or > 249) return false;
        Span<char> chars = stackalloc char[249];
        if (!System.Text.Encoding.UTF8.TryGetChars(utf8Name, chars, out int n)) return false;
        return _byName.TryGetValue(chars[..n], out topic!);
    }

    public TopicState? FindById(Guid id)
    {
        foreach (var t in _topics.Values) if (t.Id == id) return t;
        return null;
    }

    /// <summary>Every open partition log of this broker.</summary>
    public IEnumerable<PartitionLog> OpenLogs()
    {
        foreach (var t in _topics.Values)
            foreach (var log in t.Logs)
                if (log is not null) yield return log;
    }

    /// <summary>Loads the topics and starts following them; opens no partition.</summary>
    public static async Task<LogManager> OpenAsync(IMetadataStore meta, PartitionStorage storage, LogRuntime runtime, BrokerConfig config, ILogger log, CancellationToken ct)
    {
        var manager = new LogManager(meta, storage, runtime, config, log);
        var mirror = new PrefixMirror(meta, MetadataKeys.TopicsPrefix, log, manager.ResetTopics, manager.ApplyTopicEvent);
        manager._background = Task.WhenAll(
            mirror.RunAsync(manager._stop.Token),
            manager.HintLoopAsync(manager._stop.Token),
            manager.RetentionLoopAsync(manager._stop.Token));
        try { await mirror.Synced.WaitAsync(ct).ConfigureAwait(false); }
        catch
        {
            await manager.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return manager;
    }

    private static bool TryParseConfigKey(string key, out string name)
    {
        name = "";
        if (!key.StartsWith(MetadataKeys.TopicsPrefix, StringComparison.Ordinal) || !key.EndsWith("/config", StringComparison.Ordinal)) return false;
        name = key[MetadataKeys.TopicsPrefix.Length..^"/config".Length];
        return name.Length > 0 && !name.Contains('/');
    }

    private void ResetTopics(IReadOnlyList<KeyValue> all, long revision)
    {
        var present = new Dictionary<string, KeyValue>(StringComparer.Ordinal);
        _hints.Clear();
        foreach (var kv in all)
        {
            TrackHint(new WatchEvent(WatchEventType.Put, kv));
            if (TryParseConfigKey(kv.Key, out var name)) present[name] = kv;
        }
        foreach (var t in _topics.Values)
            if (!present.TryGetValue(t.Name, out var kv) || kv.CreateRevision != t.CreateRevision) RemoveTopic(t, "gone from the metadata store");
        foreach (var (name, kv) in present) ApplyTopic(name, kv);
    }

    /// <summary>
    /// The next_offset hints of every partition, as the watch sees them: the high watermark of a
    /// partition another broker leads, at most about a second old (consumer lag on the coordinator).
    /// </summary>
    private readonly ConcurrentDictionary<(string Topic, int Partition), long> _hints = new();

    public long? HintedHighWatermark(string topic, int partition) =>
        _hints.TryGetValue((topic, partition), out long v) ? v : null;

    private void TrackHint(WatchEvent e)
    {
        const string suffix = "/next_offset";
        string key = e.Kv.Key;
        if (!key.StartsWith(MetadataKeys.TopicsPrefix, StringComparison.Ordinal) || !key.EndsWith(suffix, StringComparison.Ordinal)) return;
        // /kafscale/topics/<topic>/partitions/<p>/next_offset
        var middle = key.AsSpan(MetadataKeys.TopicsPrefix.Length, key.Length - MetadataKeys.TopicsPrefix.Length - suffix.Length);
        int marker = middle.LastIndexOf("/partitions/");
        if (marker <= 0 || !int.TryParse(middle[(marker + "/partitions/".Length)..], NumberStyles.None, CultureInfo.InvariantCulture, out int partition)) return;
        var id = (middle[..marker].ToString(), partition);
        if (e.Type == WatchEventType.Delete) _hints.TryRemove(id, out _);
        else if (long.TryParse(Encoding.ASCII.GetString(e.Kv.Value), NumberStyles.None, CultureInfo.InvariantCulture, out long hint)) _hints[id] = hint;
    }

    private void ApplyTopicEvent(WatchEvent e)
    {
        TrackHint(e);
        if (!TryParseConfigKey(e.Kv.Key, out var name)) return;
        if (e.Type == WatchEventType.Put) ApplyTopic(name, e.Kv);
        // A namesake created after this deletion has a higher create revision: it stays.
        else if (_topics.TryGetValue(name, out var t) && t.CreateRevision < e.Kv.ModRevision) RemoveTopic(t, "deleted");
    }

    /// <summary>Adds a topic, or brings a known one up to date (partition count, configs).</summary>
    private TopicState? ApplyTopic(string name, KeyValue kv)
    {
        TopicRecord? record;
        try { record = JsonSerializer.Deserialize(kv.Value, BrokerJsonContext.Default.TopicRecord); }
        catch (JsonException ex)
        {
            _log.LogWarning("ignoring topic {Topic}: its config record is not valid JSON ({Error})", name, ex.Message);
            return null;
        }
        if (record is null || !Guid.TryParse(record.Id, out var id)) return null;
        TopicState topic;
        TopicState? replaced = null;
        bool changed = false;
        lock (_topicsLock)
        {
            if (_topics.TryGetValue(name, out var existing) && existing.CreateRevision != kv.CreateRevision)
            {
                // A namesake: the topic was deleted and created again.
                replaced = existing;
                existing = null;
            }
            if (existing is null)
            {
                topic = new TopicState(name, id, TopicConfig.From(record.Configs), record.CreatedMs, kv.CreateRevision);
                topic.Grow(record.Partitions);
                _topics[name] = topic;
                changed = true;
            }
            else
            {
                topic = existing;
                if (!SameConfigs(topic.Config.Overrides, record.Configs)) topic.Config = TopicConfig.From(record.Configs);
                changed = topic.Grow(record.Partitions);
            }
        }
        if (replaced is not null) Retire(replaced, "replaced by a new topic of the same name");
        if (changed) TopicsChanged?.Invoke();
        return topic;
    }

    private static bool SameConfigs(IReadOnlyDictionary<string, string> a, Dictionary<string, string> b)
    {
        if (a.Count != b.Count) return false;
        foreach (var (k, v) in b) if (!a.TryGetValue(k, out var x) || x != v) return false;
        return true;
    }

    private void RemoveTopic(TopicState topic, string why)
    {
        if (!_topics.TryRemove(new KeyValuePair<string, TopicState>(topic.Name, topic))) return;
        Retire(topic, why);
    }

    /// <summary>Ends the terms of a topic no longer in the map; never called under a lock (listeners take their own).</summary>
    private void Retire(TopicState topic, string why)
    {
        foreach (var log in topic.Logs) log?.Abandon(ErrorCodes.UnknownTopicOrPartition, deleted: true);
        _runtime.SegmentCache?.RemoveTopic(topic.Name);
        _log.LogInformation("topic {Topic} {Why}", topic.Name, why);
        TopicRemoved?.Invoke(topic);
        TopicsChanged?.Invoke();
    }

    /// <summary>
    /// Opens a partition this broker has just become the leader of: recovers its chain of
    /// segments from the store (the next_offset hint is only a hint), rebuilds the idempotent
    /// producers' state. The log is not yet visible to requests: see <see cref="Publish"/>.
    /// </summary>
    public async Task<PartitionLog> OpenPartitionAsync(TopicState topic, int partition, int epoch, CancellationToken ct)
    {
        var keys = await _meta.GetPrefixAsync(MetadataKeys.Partition(topic.Name, partition), ct).ConfigureAwait(false);
        long hint = 0, start = 0;
        foreach (var kv in keys.Kvs)
        {
            if (kv.Key.EndsWith("/next_offset", StringComparison.Ordinal)) hint = ParseLong(kv.Value);
            else if (kv.Key.EndsWith("/log_start_offset", StringComparison.Ordinal)) start = ParseLong(kv.Value);
        }
        var log = new PartitionLog(topic.Name, partition, topic, _storage, _runtime) { LeaderEpoch = epoch };
        var segments = await _storage.RecoverAsync(topic.Name, partition, hint, ct).ConfigureAwait(false);
        log.Load(segments, start);
        await ReplayProducerStateAsync(log, segments).ConfigureAwait(false);
        if (log.NextOffset != hint) _runtime.ScheduleHintUpdate(log);
        return log;
    }

    /// <summary>Makes an opened log the one requests use; false when the topic changed meanwhile.</summary>
    public bool Publish(PartitionLog log)
    {
        var topic = log.TopicState;
        lock (_topicsLock)
        {
            if (!_topics.TryGetValue(topic.Name, out var current) || current != topic) return false;
            return topic.SetLog(log.Partition, expected: null, log);
        }
    }

    private void Unpublish(PartitionLog log)
    {
        lock (_topicsLock) log.TopicState.SetLog(log.Partition, expected: log, null);
    }

    /// <summary>
    /// Graceful handoff: new appends are refused, everything appended is flushed and made
    /// durable (up to timeout), the final hint is written; then the term ends and whatever is
    /// still waiting is answered NOT_LEADER_OR_FOLLOWER (its producers retry on the next leader).
    /// </summary>
    public async Task ClosePartitionAsync(PartitionLog log, TimeSpan timeout)
    {
        log.BeginHandoff();
        if (!await log.FlushUntilDurableAsync(timeout).ConfigureAwait(false))
            _log.LogWarning("{Topic}-{Partition}: handoff could not flush everything within {Timeout}; the rest is refused", log.Topic, log.Partition, timeout);
        await WriteHintsAsync([log], CancellationToken.None).ConfigureAwait(false);
        log.Abandon(ErrorCodes.NotLeaderOrFollower);
        Unpublish(log);
    }

    /// <summary>Ends a term at once (lease lapsed, leader key gone): nothing more is acknowledged.</summary>
    public void DropPartition(PartitionLog log)
    {
        log.Abandon(ErrorCodes.NotLeaderOrFollower);
        Unpublish(log);
    }

    /// <summary>
    /// How much of a partition's newest data is replayed into the idempotent-producer state at
    /// open. A producer retries for seconds (delivery.timeout.ms defaults to 2 minutes), so the
    /// batches it may retry are in the newest segments.
    /// </summary>
    public static long ProducerStateReplayBytes { get; set; } = 64L * 1024 * 1024;

    private async Task ReplayProducerStateAsync(PartitionLog log, List<SegmentRef> segments)
    {
        int first = segments.Count;
        long bytes = 0;
        while (first > 0 && bytes < ProducerStateReplayBytes) bytes += segments[--first].Size;
        for (int i = first; i < segments.Count; i++)
        {
            var kfs = await _storage.GetSegmentAsync(log, segments[i]).ConfigureAwait(false);
            log.ReplayProducers(kfs.Span[KafScale.Storage.SegmentFormat.HeaderSize..(kfs.Length - KafScale.Storage.SegmentFormat.FooterSize)]);
        }
    }

    private static long ParseLong(byte[] value) =>
        long.TryParse(Encoding.ASCII.GetString(value), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? l : 0;

    private static byte[] Ascii(long value) => Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture));

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

    /// <summary>The topic as the store has it now (another broker may have just created it).</summary>
    private async Task<TopicState?> LearnTopicAsync(string name, CancellationToken ct)
    {
        var kv = await _meta.GetAsync(MetadataKeys.TopicConfig(name), ct).ConfigureAwait(false);
        return kv is null ? null : ApplyTopic(name, kv);
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
            if (_topics.ContainsKey(name) || await LearnTopicAsync(name, ct).ConfigureAwait(false) is not null)
                return new AdminResult(ErrorCodes.TopicAlreadyExists, $"topic '{name}' already exists");
            if (validateOnly) return AdminResult.Ok;
            var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in configs) if (v is not null) overrides[k] = v;
            var record = new TopicRecord { Id = Guid.NewGuid().ToString(), Partitions = partitions, Configs = overrides, CreatedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
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
            if (stored is not null) ApplyTopic(name, stored);
            if (!result.Succeeded) return new AdminResult(ErrorCodes.TopicAlreadyExists, $"topic '{name}' already exists");
            _topics.TryGetValue(name, out topic);
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
            if (!_topics.TryGetValue(name, out var topic) && (topic = await LearnTopicAsync(name, ct).ConfigureAwait(false)) is null)
                return new AdminResult(ErrorCodes.UnknownTopicOrPartition, $"topic '{name}' does not exist");
            // Locally first, so waiting producers hear UNKNOWN_TOPIC_OR_PARTITION rather than
            // NOT_LEADER_OR_FOLLOWER from the leader key going away.
            RemoveTopic(topic, "deleted");
            try
            {
                await _meta.TxnAsync(new TxnRequest([], [TxnOp.DeletePrefix(MetadataKeys.Topic(name)), TxnOp.DeletePrefix(ClusterKeys.LeadersOf(name))], []), ct).ConfigureAwait(false);
            }
            catch
            {
                try { await LearnTopicAsync(name, CancellationToken.None).ConfigureAwait(false); } catch { }
                throw;
            }
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
            return (AdminResult.Ok, ApplyTopic(name, result.Gets[0][0]), old);
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
        if (!await MoveLogStartAsync(log, offset, ct).ConfigureAwait(false)) return (ErrorCodes.NotLeaderOrFollower, -1);
        return (0, log.LogStartOffset);
    }

    /// <summary>False when this broker no longer leads the partition (or the topic is gone).</summary>
    private async Task<bool> MoveLogStartAsync(PartitionLog log, long offset, CancellationToken ct)
    {
        if (log.IsClosed || !_topics.TryGetValue(log.Topic, out var live) || live != log.TopicState) return false;
        var removed = log.AdvanceLogStart(offset);
        // Tied to the topic's incarnation: a deleted topic must not get its keys written back.
        var txn = await _meta.TxnAsync(new TxnRequest(
            [new Compare(MetadataKeys.TopicConfig(log.Topic), CompareTarget.CreateRevision, CompareResult.Equal, log.TopicState.CreateRevision)],
            [TxnOp.Put(MetadataKeys.LogStartOffset(log.Topic, log.Partition), Ascii(log.LogStartOffset))], []), ct).ConfigureAwait(false);
        if (!txn.Succeeded) return false;
        foreach (var segment in removed)
        {
            _runtime.SegmentCache?.Remove(new KafScale.Storage.SegmentCacheKey(log.Topic, log.Partition, segment.BaseOffset));
            await _storage.DeleteSegmentAsync(log.Topic, log.Partition, segment.BaseOffset, ct).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>
    /// Writes next_offset hints for partitions whose high watermark moved, at most about once a
    /// second (off the produce path; recovery never trusts them blindly).
    /// </summary>
    private async Task HintLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(1000, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            await WriteHintsAsync(_runtime.TakeDirtyHints(), CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One transaction for every hint, guarded by each topic's incarnation (a topic deleted
    /// meanwhile must not get keys back); if that fails, one transaction per topic.
    /// </summary>
    private async Task WriteHintsAsync(List<PartitionLog> dirty, CancellationToken ct)
    {
        var byTopic = new Dictionary<TopicState, List<TxnOp>>();
        foreach (var log in dirty)
        {
            // A handed-over log wrote its last hint before it closed; the new leader's are newer.
            if (log.IsClosed || !_topics.TryGetValue(log.Topic, out var t) || t != log.TopicState) continue;
            if (!byTopic.TryGetValue(t, out var ops)) byTopic[t] = ops = [];
            ops.Add(TxnOp.Put(MetadataKeys.NextOffset(log.Topic, log.Partition), Ascii(log.HighWatermark)));
        }
        if (byTopic.Count == 0) return;
        static Compare Guard(TopicState t) => new(MetadataKeys.TopicConfig(t.Name), CompareTarget.CreateRevision, CompareResult.Equal, t.CreateRevision);
        try
        {
            var all = await _meta.TxnAsync(new TxnRequest([.. byTopic.Keys.Select(Guard)], [.. byTopic.Values.SelectMany(o => o)], []), ct).ConfigureAwait(false);
            if (all.Succeeded || byTopic.Count == 1) return;
            foreach (var (t, ops) in byTopic) await _meta.TxnAsync(new TxnRequest([Guard(t)], ops, []), ct).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _log.LogWarning("could not write next_offset hints to the metadata store ({Error}); will retry", ex.Message);
            foreach (var log in dirty) if (!log.IsClosed) _runtime.ScheduleHintUpdate(log);
        }
    }

    /// <summary>Enforces retention.ms and retention.bytes by deleting whole segments.</summary>
    private async Task RetentionLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(TimeSpan.FromSeconds(RetentionCheckSeconds), ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            try { await EnforceRetentionAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
            catch (Exception ex) { _log.LogWarning("retention pass failed: {Error}", ex.Message); }
        }
    }

    /// <summary>Seconds between retention passes (KAFSCALE_RETENTION_CHECK_SECONDS for tests).</summary>
    public static int RetentionCheckSeconds { get; set; } = 30;

    /// <summary>Retention of the partitions this broker leads (each leader enforces its own).</summary>
    public async Task EnforceRetentionAsync(CancellationToken ct)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var log in OpenLogs().ToList())
        {
            var config = log.TopicState.Config;
            var segments = log.SegmentsSnapshot();
            long newStart = log.LogStartOffset;
            if (config.RetentionMsValue >= 0)
            {
                foreach (var s in segments)
                {
                    long ts = s.MaxTimestamp >= 0 ? s.MaxTimestamp : await _storage.ReadMaxTimestampAsync(log, s, ct).ConfigureAwait(false);
                    if (ts >= 0 && now - ts > config.RetentionMsValue) newStart = Math.Max(newStart, s.LastOffset + 1);
                    else break;
                }
            }
            if (config.RetentionBytesValue >= 0)
            {
                long total = 0;
                foreach (var s in segments) if (s.LastOffset >= newStart) total += s.Size;
                foreach (var s in segments)
                {
                    if (s.LastOffset < newStart) continue;
                    if (total <= config.RetentionBytesValue) break;
                    total -= s.Size;
                    newStart = s.LastOffset + 1;
                }
            }
            if (newStart > log.LogStartOffset)
            {
                _log.LogInformation("retention: {Topic}-{Partition} log start offset {Old} -> {New}", log.Topic, log.Partition, log.LogStartOffset, newStart);
                await MoveLogStartAsync(log, newStart, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Flushes everything pending in the open logs and writes their hints (tests and tools; brokers hand off through the leadership layer).</summary>
    public async Task FlushAllAsync(TimeSpan timeout)
    {
        var all = OpenLogs().ToList();
        await Task.WhenAll(all.Select(l => l.FlushUntilDurableAsync(timeout))).ConfigureAwait(false);
        foreach (var log in all) if (log.HasPending) log.Abandon(ErrorCodes.NotLeaderOrFollower);
        await WriteHintsAsync(all, CancellationToken.None).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        try { await _background.ConfigureAwait(false); } catch { }
        _stop.Dispose();
    }
}
