using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Log;

/// <summary>
/// The next_offset hints (/kafscale/topics/&lt;topic&gt;/partitions/&lt;p&gt;/next_offset): this broker
/// writes them for the partitions it leads, batched about once a second off the produce path,
/// and reads everyone's from the topic watch: the high watermark of a partition another broker
/// leads, at most about a second old (consumer lag on the coordinator). Recovery never trusts
/// a hint blindly.
/// </summary>
internal sealed class NextOffsetHints(IMetadataStore meta, TopicRegistry topics, LogRuntime runtime, ILogger log, TimeProvider time)
{
    private const string Suffix = "/next_offset";
    private readonly ConcurrentDictionary<(string Topic, int Partition), long> _hints = new();

    public long? HintedHighWatermark(string topic, int partition) =>
        _hints.TryGetValue((topic, partition), out long v) ? v : null;

    /// <summary>The watch read every topic key again.</summary>
    public void Reset(IReadOnlyList<KeyValue> all)
    {
        _hints.Clear();
        foreach (var kv in all) Track(new WatchEvent(WatchEventType.Put, kv));
    }

    public void Track(WatchEvent e)
    {
        string key = e.Kv.Key;
        if (!key.StartsWith(MetadataKeys.TopicsPrefix, StringComparison.Ordinal) || !key.EndsWith(Suffix, StringComparison.Ordinal)) return;
        // /kafscale/topics/<topic>/partitions/<p>/next_offset
        var middle = key.AsSpan(MetadataKeys.TopicsPrefix.Length, key.Length - MetadataKeys.TopicsPrefix.Length - Suffix.Length);
        int marker = middle.LastIndexOf("/partitions/");
        if (marker <= 0 || !int.TryParse(middle[(marker + "/partitions/".Length)..], NumberStyles.None, CultureInfo.InvariantCulture, out int partition)) return;
        var id = (middle[..marker].ToString(), partition);
        if (e.Type == WatchEventType.Delete) _hints.TryRemove(id, out _);
        else if (long.TryParse(Encoding.ASCII.GetString(e.Kv.Value), NumberStyles.None, CultureInfo.InvariantCulture, out long hint)) _hints[id] = hint;
    }

    /// <summary>Writes the hints of partitions whose high watermark moved, once a second until stopped.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try { await Task.Delay(TimeSpan.FromSeconds(1), time, ct).ConfigureAwait(false); } catch (OperationCanceledException) { break; }
            await WriteAsync(runtime.TakeDirtyHints(), CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One transaction for every hint, guarded by each topic's incarnation (a topic deleted
    /// meanwhile must not get keys back); if that fails, one transaction per topic.
    /// </summary>
    public async Task WriteAsync(List<PartitionLog> dirty, CancellationToken ct, bool handoff = false)
    {
        var byTopic = new Dictionary<TopicState, List<TxnOp>>();
        foreach (var p in dirty)
        {
            // A handed-over log wrote its last hint before it closed; the new leader's are newer.
            if (p.IsClosed || !topics.IsCurrent(p.TopicState)) continue;
            if (!byTopic.TryGetValue(p.TopicState, out var ops)) byTopic[p.TopicState] = ops = [];
            var (highWatermark, lastSegment) = p.HintState;
            ops.Add(TxnOp.Put(MetadataKeys.NextOffset(p.Topic, p.Partition), Ascii(highWatermark)));
            // Where the next leader's open starts listing (docs/metadata.md).
            if (lastSegment > 0) ops.Add(TxnOp.Put(MetadataKeys.LastSegment(p.Topic, p.Partition), Ascii(lastSegment)));
            // A handoff that sealed everything says so, and the next leader need not read the WAL
            // (docs/metadata.md, "Keys"). It counts only for the very next epoch, so a
            // stale one is harmless and never deleted.
            if (handoff && p.SealedThrough is long end)
                ops.Add(TxnOp.Put(MetadataKeys.SealedHandoff(p.Topic, p.Partition), SealedHandoff.Format(p.LeaderEpoch, end)));
        }
        if (byTopic.Count == 0) return;
        static Compare Guard(TopicState t) => new(MetadataKeys.TopicConfig(t.Name), CompareTarget.CreateRevision, CompareResult.Equal, t.CreateRevision);
        try
        {
            var all = await meta.TxnAsync(new TxnRequest([.. byTopic.Keys.Select(Guard)], [.. byTopic.Values.SelectMany(o => o)], []), ct).ConfigureAwait(false);
            if (all.Succeeded || byTopic.Count == 1) return;
            foreach (var (t, ops) in byTopic) await meta.TxnAsync(new TxnRequest([Guard(t)], ops, []), ct).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            log.LogWarning("could not write next_offset hints to the metadata store ({Error}); will retry", ex.Message);
            foreach (var p in dirty) if (!p.IsClosed) runtime.ScheduleHintUpdate(p);
        }
    }

    internal static byte[] Ascii(long value) => Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture));
}

/// <summary>The sealed_handoff key's value: ASCII "epoch:offset" (docs/metadata.md).</summary>
internal static class SealedHandoff
{
    public static byte[] Format(int epoch, long end) => Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{epoch}:{end}"));

    public static bool TryParse(byte[]? value, out int epoch, out long end)
    {
        epoch = 0;
        end = 0;
        if (value is null) return false;
        var text = Encoding.ASCII.GetString(value).AsSpan();
        int colon = text.IndexOf(':');
        return colon > 0
            && int.TryParse(text[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out epoch)
            && long.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out end);
    }
}
