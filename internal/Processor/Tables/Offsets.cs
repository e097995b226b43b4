using System.Globalization;

namespace KafScale.Processor.Tables;

/// <summary>
/// The processed offsets kept in Iceberg snapshot summaries. One property per topic-partition:
/// <c>kafscale.next-offset.&lt;topic&gt;.&lt;partition&gt;</c> = the first offset NOT yet in the table
/// (Kafka's committed-offset convention: last processed offset + 1). The partition is the text
/// after the last dot, so topic names may contain dots. Every processor snapshot carries the
/// offsets of every partition (merged from its parent), so the current snapshot alone says where
/// to resume.
/// </summary>
public static class OffsetSummary
{
    public const string Prefix = "kafscale.next-offset.";

    /// <summary>Marks snapshots written by the processor.</summary>
    public const string WriterKey = "kafscale.writer";
    public const string WriterValue = "kafscale-processor";

    public static string Key(TopicPartition tp) => string.Create(CultureInfo.InvariantCulture, $"{Prefix}{tp.Topic}.{tp.Partition}");

    /// <summary>True when the summary holds processor offsets.</summary>
    public static bool HasOffsets(IReadOnlyDictionary<string, string> summary)
    {
        foreach (var k in summary.Keys)
            if (k.StartsWith(Prefix, StringComparison.Ordinal)) return true;
        return false;
    }

    public static Dictionary<TopicPartition, long> Read(IReadOnlyDictionary<string, string> summary)
    {
        var result = new Dictionary<TopicPartition, long>();
        foreach (var (k, v) in summary)
        {
            if (!k.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            int dot = k.LastIndexOf('.');
            if (dot <= Prefix.Length) continue;
            if (!int.TryParse(k.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int p)) continue;
            if (!long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out long next)) continue;
            result[new TopicPartition(k[Prefix.Length..dot], p)] = next;
        }
        return result;
    }

    public static void Write(IReadOnlyDictionary<TopicPartition, long> offsets, IDictionary<string, string> summary)
    {
        foreach (var (tp, next) in offsets)
            summary[Key(tp)] = next.ToString(CultureInfo.InvariantCulture);
    }
}

/// <summary>A snapshot as far as offsets are concerned: id, parent, summary.</summary>
public readonly record struct SnapshotInfo(long Id, long? ParentId, IReadOnlyDictionary<string, string> Summary);

/// <summary>Where the processor resumes: offsets from the current snapshot, or from its nearest ancestor that has them.</summary>
public static class OffsetRecovery
{
    /// <summary>
    /// Offsets of the newest snapshot in the current snapshot's ancestry that carries processor
    /// offsets (a snapshot another writer committed, e.g. a compaction, carries none; its parent's
    /// still hold). Empty when none does.
    /// </summary>
    public static Dictionary<TopicPartition, long> Resolve(long? currentSnapshotId, IReadOnlyDictionary<long, SnapshotInfo> snapshots)
    {
        long? id = currentSnapshotId;
        var seen = new HashSet<long>();
        while (id is long i && seen.Add(i) && snapshots.TryGetValue(i, out var s))
        {
            if (OffsetSummary.HasOffsets(s.Summary)) return OffsetSummary.Read(s.Summary);
            id = s.ParentId;
        }
        return [];
    }
}
