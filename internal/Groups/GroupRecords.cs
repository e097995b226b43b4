using System.Globalization;
using System.Text.Json.Serialization;

namespace KafScale.Groups;

/// <summary>
/// A committed offset at /kafscale/consumers/&lt;group&gt;/offsets/&lt;topic&gt;/&lt;p&gt;: upstream
/// KafScale's JSON. leader_epoch is ours, written only when known; upstream's reader ignores it.
/// </summary>
internal sealed class OffsetRecord
{
    [JsonPropertyName("offset")] public long Offset { get; set; }
    [JsonPropertyName("metadata")] public string Metadata { get; set; } = "";
    [JsonPropertyName("committed_at")] public string CommittedAt { get; set; } = "";
    [JsonPropertyName("leader_epoch")][JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? LeaderEpoch { get; set; }
}

/// <summary>A group's membership at /kafscale/groups/&lt;group&gt;/state, written when a generation settles.</summary>
internal sealed class GroupStateRecord
{
    [JsonPropertyName("protocol_type")] public string? ProtocolType { get; set; }
    [JsonPropertyName("generation")] public int Generation { get; set; }
    [JsonPropertyName("protocol")] public string? Protocol { get; set; }
    [JsonPropertyName("leader")] public string? Leader { get; set; }
    /// <summary>When the group entered its current state (Empty: the start of offset retention).</summary>
    [JsonPropertyName("state_changed_at")] public string StateChangedAt { get; set; } = "";
    [JsonPropertyName("members")] public List<GroupMemberRecord> Members { get; set; } = [];
}

internal sealed class GroupMemberRecord
{
    [JsonPropertyName("member_id")] public string MemberId { get; set; } = "";
    [JsonPropertyName("group_instance_id")] public string? GroupInstanceId { get; set; }
    [JsonPropertyName("client_id")] public string ClientId { get; set; } = "";
    [JsonPropertyName("client_host")] public string ClientHost { get; set; } = "";
    [JsonPropertyName("session_timeout_ms")] public int SessionTimeoutMs { get; set; }
    [JsonPropertyName("rebalance_timeout_ms")] public int RebalanceTimeoutMs { get; set; }
    /// <summary>The member's metadata for the group's protocol (base64).</summary>
    [JsonPropertyName("subscription")] public byte[] Subscription { get; set; } = [];
    /// <summary>The leader's assignment for the member (base64).</summary>
    [JsonPropertyName("assignment")] public byte[] Assignment { get; set; } = [];
}

[JsonSerializable(typeof(OffsetRecord))]
[JsonSerializable(typeof(GroupStateRecord))]
[JsonSourceGenerationOptions(WriteIndented = false)]
internal sealed partial class GroupJsonContext : JsonSerializerContext;

/// <summary>RFC 3339 timestamps as upstream writes them (Go's RFC3339Nano: UTC, trailing zeros dropped).</summary>
internal static class Rfc3339
{
    public static string Format(DateTimeOffset time)
    {
        var utc = time.UtcDateTime;
        string s = utc.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture).TrimEnd('0');
        return (s.EndsWith('.') ? s[..^1] : s) + "Z";
    }

    /// <summary>Accepts any RFC 3339 time, including Go's nine fractional digits.</summary>
    public static DateTimeOffset Parse(string? text, DateTimeOffset fallback)
    {
        if (string.IsNullOrEmpty(text)) return fallback;
        // .NET parses at most seven fractional digits: drop the nanoseconds it cannot hold.
        int dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0)
        {
            int end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end])) end++;
            if (end - dot - 1 > 7) text = string.Concat(text.AsSpan(0, dot + 8), text.AsSpan(end));
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
            ? parsed
            : fallback;
    }
}
