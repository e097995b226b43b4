using System.Globalization;

namespace KafScale.Storage;

/// <summary>Which object of a segment a key names.</summary>
public enum SegmentObjectKind
{
    /// <summary>The <c>.kfs</c> data object.</summary>
    Segment,

    /// <summary>The <c>.index</c> sparse index.</summary>
    Index,
}

/// <summary>A parsed segment object key.</summary>
public readonly record struct SegmentKey(string Namespace, string Topic, int Partition, long BaseOffset, SegmentObjectKind Kind)
{
    public override string ToString() => Kind == SegmentObjectKind.Segment
        ? SegmentKeys.Segment(Namespace, Topic, Partition, BaseOffset)
        : SegmentKeys.Index(Namespace, Topic, Partition, BaseOffset);
}

/// <summary>
/// Object keys of the segment format:
/// <c>&lt;namespace&gt;/&lt;topic&gt;/&lt;partition&gt;/segment-&lt;20-digit base offset&gt;.kfs</c> and <c>.index</c>.
/// The 20-digit zero padding makes ascending key order equal ascending offset order.
/// </summary>
public static class SegmentKeys
{
    public const string DefaultNamespace = "default";
    public const string SegmentSuffix = ".kfs";
    public const string IndexSuffix = ".index";
    public const string FilePrefix = "segment-";
    private const int OffsetDigits = 20;

    public static string Segment(string ns, string topic, int partition, long baseOffset) =>
        Format(ns, topic, partition, baseOffset, SegmentSuffix);

    public static string Index(string ns, string topic, int partition, long baseOffset) =>
        Format(ns, topic, partition, baseOffset, IndexSuffix);

    /// <summary>The <c>.index</c> key that belongs to a <c>.kfs</c> key.</summary>
    public static string IndexFor(string segmentKey)
    {
        if (!segmentKey.EndsWith(SegmentSuffix, StringComparison.Ordinal))
            throw new ArgumentException($"'{segmentKey}' is not a segment key", nameof(segmentKey));
        return string.Concat(segmentKey.AsSpan(0, segmentKey.Length - SegmentSuffix.Length), IndexSuffix);
    }

    /// <summary>Prefix of every object of one partition (ends with '/').</summary>
    public static string PartitionPrefix(string ns, string topic, int partition)
    {
        CheckParts(ns, topic, partition);
        return string.Create(CultureInfo.InvariantCulture, $"{ns}/{topic}/{partition}/");
    }

    /// <summary>Prefix of every object of one topic (ends with '/').</summary>
    public static string TopicPrefix(string ns, string topic)
    {
        CheckParts(ns, topic, 0);
        return string.Create(CultureInfo.InvariantCulture, $"{ns}/{topic}/");
    }

    /// <summary>Parses a segment or index key; false for any other key.</summary>
    public static bool TryParse(string key, out SegmentKey parsed)
    {
        parsed = default;
        if (string.IsNullOrEmpty(key))
            return false;

        int fileStart = key.LastIndexOf('/');
        if (fileStart <= 0)
            return false;
        int partitionStart = key.LastIndexOf('/', fileStart - 1);
        if (partitionStart <= 0)
            return false;
        int topicStart = key.LastIndexOf('/', partitionStart - 1);
        if (topicStart <= 0)
            return false;

        string ns = key.Substring(0, topicStart);
        string topic = key.Substring(topicStart + 1, partitionStart - topicStart - 1);
        ReadOnlySpan<char> partitionText = key.AsSpan(partitionStart + 1, fileStart - partitionStart - 1);
        ReadOnlySpan<char> file = key.AsSpan(fileStart + 1);
        if (topic.Length == 0)
            return false;
        if (!TryParseDecimal(partitionText, maxDigits: 10, out long partition) || partition > int.MaxValue ||
            (partitionText.Length > 1 && partitionText[0] == '0'))
            return false;

        SegmentObjectKind kind;
        ReadOnlySpan<char> digits;
        if (file.EndsWith(SegmentSuffix, StringComparison.Ordinal))
        {
            kind = SegmentObjectKind.Segment;
            digits = file.Slice(0, file.Length - SegmentSuffix.Length);
        }
        else if (file.EndsWith(IndexSuffix, StringComparison.Ordinal))
        {
            kind = SegmentObjectKind.Index;
            digits = file.Slice(0, file.Length - IndexSuffix.Length);
        }
        else
        {
            return false;
        }
        if (!digits.StartsWith(FilePrefix, StringComparison.Ordinal))
            return false;
        digits = digits.Slice(FilePrefix.Length);
        if (digits.Length != OffsetDigits || !TryParseDecimal(digits, OffsetDigits, out long baseOffset))
            return false;

        parsed = new SegmentKey(ns, topic, (int)partition, baseOffset, kind);
        return true;
    }

    private static bool TryParseDecimal(ReadOnlySpan<char> text, int maxDigits, out long value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > maxDigits)
            return false;
        ulong v = 0;
        foreach (char c in text)
        {
            if (c is < '0' or > '9')
                return false;
            v = v * 10 + (ulong)(c - '0');
            if (v > long.MaxValue)
                return false;
        }
        value = (long)v;
        return true;
    }

    private static string Format(string ns, string topic, int partition, long baseOffset, string suffix)
    {
        CheckParts(ns, topic, partition);
        ArgumentOutOfRangeException.ThrowIfNegative(baseOffset);
        return string.Create(CultureInfo.InvariantCulture, $"{ns}/{topic}/{partition}/{FilePrefix}{baseOffset:D20}{suffix}");
    }

    private static void CheckParts(string ns, string topic, int partition)
    {
        ArgumentException.ThrowIfNullOrEmpty(ns);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        if (topic.Contains('/') || topic is "." or "..")
            throw new ArgumentException($"'{topic}' is not a valid topic name", nameof(topic));
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
    }
}
