using System.Globalization;

namespace KafScale.Groups;

/// <summary>
/// The metadata-store keys of groups (documented in docs/metadata.md). Offsets keep upstream
/// KafScale's key and JSON so its tools still read them. Group ids are used verbatim, as
/// upstream does; keys are parsed from the end (topic names cannot contain '/', group ids can).
/// </summary>
public static class GroupKeys
{
    public const string GroupsPrefix = "/kafscale/groups/";
    public const string ConsumersPrefix = "/kafscale/consumers/";
    private const string StateSuffix = "/state";
    private const string OffsetsSegment = "/offsets/";

    public static string State(string groupId) => GroupsPrefix + groupId + StateSuffix;

    public static string Offset(string groupId, string topic, int partition) =>
        ConsumersPrefix + groupId + OffsetsSegment + topic + "/" + partition.ToString(CultureInfo.InvariantCulture);

    public static bool TryParseState(string key, out string groupId)
    {
        groupId = "";
        if (!key.StartsWith(GroupsPrefix, StringComparison.Ordinal) || !key.EndsWith(StateSuffix, StringComparison.Ordinal)) return false;
        int length = key.Length - GroupsPrefix.Length - StateSuffix.Length;
        if (length < 0) return false;
        groupId = key.Substring(GroupsPrefix.Length, length);
        return true;
    }

    public static bool TryParseOffset(string key, out string groupId, out TopicPartition partition)
    {
        groupId = "";
        partition = default;
        if (!key.StartsWith(ConsumersPrefix, StringComparison.Ordinal)) return false;
        int lastSlash = key.LastIndexOf('/');
        if (lastSlash <= ConsumersPrefix.Length) return false;
        if (!int.TryParse(key.AsSpan(lastSlash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int p)) return false;
        int topicSlash = key.LastIndexOf('/', lastSlash - 1);
        if (topicSlash < ConsumersPrefix.Length) return false;
        string topic = key.Substring(topicSlash + 1, lastSlash - topicSlash - 1);
        if (topic.Length == 0) return false;
        // What precedes "/<topic>/<p>" must be "<prefix><group>/offsets".
        int groupEnd = topicSlash + 1 - OffsetsSegment.Length;
        if (groupEnd < ConsumersPrefix.Length || string.CompareOrdinal(key, groupEnd, OffsetsSegment, 0, OffsetsSegment.Length) != 0) return false;
        groupId = key.Substring(ConsumersPrefix.Length, groupEnd - ConsumersPrefix.Length);
        partition = new TopicPartition(topic, p);
        return true;
    }
}
