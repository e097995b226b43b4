using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>Outcome of an admin operation: a Kafka error code and an optional message.</summary>
internal readonly record struct AdminResult(short ErrorCode, string? Message = null)
{
    public static readonly AdminResult Ok = new(0);
}

/// <summary>
/// The topics this broker serves: their metadata in the metadata store, their partition logs,
/// recovery at startup, retention, and the batched next_offset hints.
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

    public static async Task<LogManager> OpenAsync(IMetadataStore meta, PartitionStorage storage, LogRuntime runtime, BrokerConfig config, ILogger log, CancellationToken ct)
    {
        var manager = new LogManager(meta, storage, runtime, config, log);
        var range = await meta.GetPrefixAsync(MetadataKeys.TopicsPrefix, ct).ConfigureAwait(false);
        var values = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var kv in range.Kvs) values[kv.Key] = kv.Value;
        foreach (var kv in range.Kvs)
        {
            if (!kv.Key.EndsWith("/config", StringComparison.Ordinal)) continue;
            string name = kv.Key[MetadataKeys.TopicsPrefix.Length..^"/config".Length];
            if (name.Contains('/')) continue;
            var record = JsonSerializer.Deserialize(kv.Value, BrokerJsonContext.Default.TopicRecord);
            if (record is null) continue;
            var topic = new TopicState(name, Guid.Parse(record.Id), TopicConfig.From(record.Configs), record.CreatedMs);
            var logs = new PartitionLog[record.Partitions];
            for (int p = 0; p < logs.Length; p++)
            {
                long hint = ReadLong(values, MetadataKeys.NextOffset(name, p), 0);
                long start = ReadLong(values, MetadataKeys.LogStartOffset(name, p), 0);
                int epoch = (int)ReadLong(values, MetadataKeys.LeaderEpoch(name, p), 0);
                logs[p] = await manager.OpenPartitionAsync(topic, p, hint, start, epoch, ct).ConfigureAwait(false);
            }
            topic.Partitions = logs;
            manager._topics[name] = topic;
        }
        manager._background = Task.WhenAll(manager.HintLoopAsync(manager._stop.Token), manager.RetentionLoopAsync(manager._stop.Token));
        return manager;
    }

    private async Task<PartitionLog> OpenPartitionAsync(TopicState topic, int partition, long nextOffsetHint, long logStart, int epoch, CancellationToken ct)
    {
        var log = new PartitionLog(topic.Name, partition, topic, _storage, _runtime);
        var segments = await _storage.RecoverAsync(topic.Name, partition, nextOffsetHint, ct).ConfigureAwait(false);
        log.Load(segments, logStart);
        await ReplayProducerStateAsync(log, segments).ConfigureAwait(false);
        // A restart is a new leadership term: batches written from now on carry a higher epoch.
        log.LeaderEpoch = epoch + 1;
        await _meta.PutAsync(MetadataKeys.LeaderEpoch(topic.Name, partition), Ascii(log.LeaderEpoch), 0, ct).ConfigureAwait(false);
        if (log.NextOffset != nextOffsetHint) _runtime.ScheduleHintUpdate(log);
        return log;
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

    private static long ReadLong(Dictionary<string, byte[]> values, string key, long fallback) =>
        values.TryGetValue(key, out var v) && long.TryParse(Encoding.ASCII.GetString(v), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? l : fallback;

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

    public async Task<AdminResult> CreateTopicAsync(string name, int partitions, IReadOnlyDictionary<string, string?> configs, bool validateOnly, CancellationToken ct)
    {
        if (ValidateTopicName(name) is { } bad) return new AdminResult(ErrorCodes.InvalidTopicException, bad);
        if (partitions == -1) partitions = _config.DefaultPartitions;
        if (partitions < 1 || partitions > 100_000) return new AdminResult(ErrorCodes.InvalidPartitions, $"number of partitions must be at least 1, got {partitions}");
        if (TopicConfig.Validate(configs) is { } invalid) return new AdminResult(ErrorCodes.InvalidConfig, invalid);
        foreach (var key in configs.Keys)
            if (!TopicConfig.Defaults.ContainsKey(key) && !KnownIgnoredConfigs.Contains(key))
                return new AdminResult(ErrorCodes.InvalidConfig, $"unknown topic config '{key}'");
        await _adminLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_topics.ContainsKey(name)) return new AdminResult(ErrorCodes.TopicAlreadyExists, $"topic '{name}' already exists");
            if (validateOnly) return AdminResult.Ok;
            var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in configs) if (v is not null) overrides[k] = v;
            var record = new TopicRecord { Id = Guid.NewGuid().ToString(), Partitions = partitions, Configs = overrides, CreatedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
            var txn = new TxnRequest(
                [Compare.KeyMissing(MetadataKeys.TopicConfig(name))],
                [TxnOp.Put(MetadataKeys.TopicConfig(name), JsonSerializer.SerializeToUtf8Bytes(record, BrokerJsonContext.Default.TopicRecord))],
                []);
            var result = await _meta.TxnAsync(txn, ct).ConfigureAwait(false);
            if (!result.Succeeded) return new AdminResult(ErrorCodes.TopicAlreadyExists, $"topic '{name}' already exists");
            var topic = new TopicState(name, Guid.Parse(record.Id), TopicConfig.From(overrides), record.CreatedMs);
            // A new topic starts empty even if a deleted namesake's late upload left objects behind.
            await _storage.DeleteTopicAsync(name, ct).ConfigureAwait(false);
            var logs = new PartitionLog[partitions];
            for (int p = 0; p < partitions; p++)
                logs[p] = await OpenPartitionAsync(topic, p, 0, 0, 0, ct).ConfigureAwait(false);
            topic.Partitions = logs;
            _topics[name] = topic;
            _log.LogInformation("created topic {Topic} with {Partitions} partitions", name, partitions);
            return AdminResult.Ok;
        }
        finally { _adminLock.Release(); }
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

    public async Task<AdminResult> DeleteTopicAsync(string name, CancellationToken ct)
    {
        await _adminLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (!_topics.TryRemove(name, out var topic)) return new AdminResult(ErrorCodes.UnknownTopicOrPartition, $"topic '{name}' does not exist");
            foreach (var p in topic.Partitions) p.Abandon(ErrorCodes.UnknownTopicOrPartition, deleted: true);
            await _meta.DeletePrefixAsync(MetadataKeys.Topic(name), ct).ConfigureAwait(false);
            await _storage.DeleteTopicAsync(name, ct).ConfigureAwait(false);
            _runtime.SegmentCache?.RemoveTopic(name);
            _log.LogInformation("deleted topic {Topic}", name);
            return AdminResult.Ok;
        }
        finally { _adminLock.Release(); }
    }

    public async Task<AdminResult> CreatePartitionsAsync(string name, int count, bool validateOnly, CancellationToken ct)
    {
        await _adminLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (!_topics.TryGetValue(name, out var topic)) return new AdminResult(ErrorCodes.UnknownTopicOrPartition, $"topic '{name}' does not exist");
            int current = topic.Partitions.Length;
            if (count <= current) return new AdminResult(ErrorCodes.InvalidPartitions, $"topic '{name}' has {current} partitions; the new count must be larger, got {count}");
            if (count > 100_000) return new AdminResult(ErrorCodes.InvalidPartitions, "too many partitions");
            if (validateOnly) return AdminResult.Ok;
            var record = ToRecord(topic, count);
            await _meta.PutAsync(MetadataKeys.TopicConfig(name), JsonSerializer.SerializeToUtf8Bytes(record, BrokerJsonContext.Default.TopicRecord), 0, ct).ConfigureAwait(false);
            var logs = new PartitionLog[count];
            Array.Copy(topic.Partitions, logs, current);
            for (int p = current; p < count; p++) logs[p] = await OpenPartitionAsync(topic, p, 0, 0, 0, ct).ConfigureAwait(false);
            topic.Partitions = logs;
            return AdminResult.Ok;
        }
        finally { _adminLock.Release(); }
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
            if (!_topics.TryGetValue(name, out var topic)) return new AdminResult(ErrorCodes.UnknownTopicOrPartition, $"topic '{name}' does not exist");
            if (validateOnly) return AdminResult.Ok;
            var clean = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (k, v) in overrides) if (v is not null) clean[k] = v;
            var config = TopicConfig.From(clean);
            topic.Config = config;
            var record = ToRecord(topic, topic.Partitions.Length);
            await _meta.PutAsync(MetadataKeys.TopicConfig(name), JsonSerializer.SerializeToUtf8Bytes(record, BrokerJsonContext.Default.TopicRecord), 0, ct).ConfigureAwait(false);
            return AdminResult.Ok;
        }
        finally { _adminLock.Release(); }
    }

    private static TopicRecord ToRecord(TopicState topic, int partitions) => new()
    {
        Id = topic.Id.ToString(),
        Partitions = partitions,
        Configs = new Dictionary<string, string>(topic.Config.Overrides),
        CreatedMs = topic.CreatedMs,
    };

    /// <summary>DeleteRecords: moves the log start offset and deletes whole segments below it.</summary>
    public async Task<(short ErrorCode, long LowWatermark)> DeleteRecordsAsync(PartitionLog log, long offset, CancellationToken ct)
    {
        long hw = log.HighWatermark;
        if (offset == -1) offset = hw;
        if (offset < 0 || offset > hw) return (ErrorCodes.OffsetOutOfRange, -1);
        await MoveLogStartAsync(log, offset, ct).ConfigureAwait(false);
        return (0, log.LogStartOffset);
    }

    private async Task MoveLogStartAsync(PartitionLog log, long offset, CancellationToken ct)
    {
        // A topic deleted meanwhile must not get its keys written back.
        if (!_topics.TryGetValue(log.Topic, out var live) || !live.Partitions.Contains(log)) return;
        var removed = log.AdvanceLogStart(offset);
        await _meta.PutAsync(MetadataKeys.LogStartOffset(log.Topic, log.Partition), Ascii(log.LogStartOffset), 0, ct).ConfigureAwait(false);
        foreach (var segment in removed)
        {
            _runtime.SegmentCache?.Remove(new KafScale.Storage.SegmentCacheKey(log.Topic, log.Partition, segment.BaseOffset));
            await _storage.DeleteSegmentAsync(log.Topic, log.Partition, segment.BaseOffset, ct).ConfigureAwait(false);
        }
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
            await WriteHintsAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task WriteHintsAsync(CancellationToken ct)
    {
        var dirty = _runtime.TakeDirtyHints();
        if (dirty.Count == 0) return;
        var ops = new List<TxnOp>(dirty.Count);
        foreach (var log in dirty)
        {
            if (!_topics.TryGetValue(log.Topic, out var t) || !t.Partitions.Contains(log)) continue;
            ops.Add(TxnOp.Put(MetadataKeys.NextOffset(log.Topic, log.Partition), Ascii(log.HighWatermark)));
        }
        if (ops.Count == 0) return;
        try { await _meta.TxnAsync(new TxnRequest([], ops, []), ct).ConfigureAwait(false); }
        catch (Exception ex)
        {
            _log.LogWarning("could not write next_offset hints to the metadata store ({Error}); will retry", ex.Message);
            foreach (var log in dirty) _runtime.ScheduleHintUpdate(log);
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

    public async Task EnforceRetentionAsync(CancellationToken ct)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var topic in _topics.Values)
        {
            var config = topic.Config;
            foreach (var log in topic.Partitions)
            {
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
    }

    /// <summary>Flushes everything pending and writes the final hints (graceful shutdown).</summary>
    public async Task FlushAllAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var all = _topics.Values.SelectMany(t => t.Partitions).ToList();
        foreach (var log in all) await log.FlushAsync(force: true).ConfigureAwait(false);
        while (DateTime.UtcNow < deadline && all.Exists(l => l.HasPending))
        {
            foreach (var log in all) if (log.HasPending) await log.FlushAsync(force: true).ConfigureAwait(false);
            await Task.Delay(10).ConfigureAwait(false);
        }
        foreach (var log in all) if (log.HasPending) log.Abandon(ErrorCodes.NotLeaderOrFollower);
        foreach (var log in all) _runtime.ScheduleHintUpdate(log);
        await WriteHintsAsync(CancellationToken.None).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        try { await _background.ConfigureAwait(false); } catch { }
        _stop.Dispose();
    }
}
