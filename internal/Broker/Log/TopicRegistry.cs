using System.Collections.Concurrent;
using System.Text.Json;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>
/// The topics of the cluster, as the metadata store has them: a watch on /kafscale/topics/ (see
/// <see cref="LogManager.OpenAsync"/>) keeps every broker's view current with creations,
/// deletions and config changes made through any other. Also the one lock under which a
/// partition's open log is published into its topic, so a log never lands in a deleted topic.
/// </summary>
internal sealed class TopicRegistry
{
    private readonly ConcurrentDictionary<string, TopicState> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TopicState>.AlternateLookup<ReadOnlySpan<char>> _byName;
    /// <summary>The same topics by id, for Fetch v13+ and the other requests that name topics by id.</summary>
    private readonly ConcurrentDictionary<Guid, TopicState> _byId = new();
    private readonly IMetadataStore _meta;
    private readonly LogRuntime _runtime;
    private readonly Lock _lock = new();
    private readonly ILogger _log;

    public TopicRegistry(IMetadataStore meta, LogRuntime runtime, ILogger log)
    {
        _meta = meta;
        _runtime = runtime;
        _log = log;
        _byName = _topics.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public IEnumerable<TopicState> Topics => _topics.Values;

    /// <summary>A topic appeared, grew, or went away: the leadership layer re-evaluates.</summary>
    public event Action? TopicsChanged;

    /// <summary>A topic was deleted (its open logs are already abandoned).</summary>
    public event Action<TopicState>? TopicRemoved;

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

    public TopicState? FindById(Guid id) => _byId.TryGetValue(id, out var t) ? t : null;

    /// <summary>True while the topic is the incarnation of its name this broker knows (not deleted, not replaced).</summary>
    public bool IsCurrent(TopicState topic) => _topics.TryGetValue(topic.Name, out var live) && live == topic;

    /// <summary>Every open partition log of this broker.</summary>
    public IEnumerable<PartitionLog> OpenLogs()
    {
        foreach (var t in _topics.Values)
            foreach (var log in t.Logs)
                if (log is not null) yield return log;
    }

    /// <summary>The key of a topic's config record, /kafscale/topics/&lt;name&gt;/config.</summary>
    public static bool TryParseConfigKey(string key, out string name)
    {
        name = "";
        if (!key.StartsWith(MetadataKeys.TopicsPrefix, StringComparison.Ordinal) || !key.EndsWith("/config", StringComparison.Ordinal)) return false;
        name = key[MetadataKeys.TopicsPrefix.Length..^"/config".Length];
        return name.Length > 0 && !name.Contains('/');
    }

    /// <summary>The watch read every topic key again: topics it no longer has are removed.</summary>
    public void Reset(IReadOnlyList<KeyValue> all)
    {
        var present = new Dictionary<string, KeyValue>(StringComparer.Ordinal);
        foreach (var kv in all)
            if (TryParseConfigKey(kv.Key, out var name)) present[name] = kv;
        foreach (var t in _topics.Values)
            if (!present.TryGetValue(t.Name, out var kv) || kv.CreateRevision != t.CreateRevision) Remove(t, "gone from the metadata store");
        foreach (var (name, kv) in present) Apply(name, kv);
    }

    public void Apply(WatchEvent e)
    {
        if (!TryParseConfigKey(e.Kv.Key, out var name)) return;
        if (e.Type == WatchEventType.Put) Apply(name, e.Kv);
        // A namesake created after this deletion has a higher create revision: it stays.
        else if (_topics.TryGetValue(name, out var t) && t.CreateRevision < e.Kv.ModRevision) Remove(t, "deleted");
    }

    /// <summary>Adds a topic, or brings a known one up to date (partition count, configs).</summary>
    public TopicState? Apply(string name, KeyValue kv)
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
        lock (_lock)
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
                _byId[id] = topic;
                if (replaced is not null) _byId.TryRemove(new KeyValuePair<Guid, TopicState>(replaced.Id, replaced));
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

    /// <summary>The topic as the store has it now (another broker may have just created it).</summary>
    public async Task<TopicState?> LearnAsync(string name, CancellationToken ct)
    {
        var kv = await _meta.GetAsync(MetadataKeys.TopicConfig(name), ct).ConfigureAwait(false);
        return kv is null ? null : Apply(name, kv);
    }

    private static bool SameConfigs(IReadOnlyDictionary<string, string> a, Dictionary<string, string> b)
    {
        if (a.Count != b.Count) return false;
        foreach (var (k, v) in b) if (!a.TryGetValue(k, out var x) || x != v) return false;
        return true;
    }

    public void Remove(TopicState topic, string why)
    {
        if (!_topics.TryRemove(new KeyValuePair<string, TopicState>(topic.Name, topic))) return;
        _byId.TryRemove(new KeyValuePair<Guid, TopicState>(topic.Id, topic));
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

    /// <summary>Makes an opened log the one requests use; false when the topic changed meanwhile.</summary>
    public bool Publish(PartitionLog log)
    {
        var topic = log.TopicState;
        bool published;
        lock (_lock)
        {
            published = _topics.TryGetValue(topic.Name, out var current) && current == topic
                && topic.SetLog(log.Partition, expected: null, log);
        }
        EndOpening(topic, log.Partition);
        return published;
    }

    /// <summary>
    /// Partitions this broker has won and is opening: a produce for one of them waits for the
    /// open rather than sending the client back to its metadata (docs/architecture.md,
    /// "Requests for a partition being opened").
    /// </summary>
    private readonly ConcurrentDictionary<(TopicState Topic, int Partition), TaskCompletionSource> _opening = new();
    private int _openingCount;

    /// <summary>True while any partition is being opened here (one read on the produce path).</summary>
    public bool AnyOpening => Volatile.Read(ref _openingCount) > 0;

    /// <summary>Marks a won partition as being opened, until <see cref="Publish"/> or <see cref="EndOpening"/>.</summary>
    public void BeginOpening(TopicState topic, int partition)
    {
        if (_opening.TryAdd((topic, partition), new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)))
            Interlocked.Increment(ref _openingCount);
    }

    /// <summary>The open ended (published, discarded or failed): whoever waits on it goes on.</summary>
    public void EndOpening(TopicState topic, int partition)
    {
        if (!_opening.TryRemove((topic, partition), out var done)) return;
        Interlocked.Decrement(ref _openingCount);
        done.TrySetResult();
    }

    /// <summary>Completes when the partition's open here ends; null when none is under way.</summary>
    public Task? Opening(TopicState topic, int partition) =>
        _opening.TryGetValue((topic, partition), out var open) ? open.Task : null;

    public void Unpublish(PartitionLog log)
    {
        lock (_lock) log.TopicState.SetLog(log.Partition, expected: log, null);
    }
}
