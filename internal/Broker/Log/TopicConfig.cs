using System.Globalization;

namespace KafScale.Broker.Log;

/// <summary>
/// The topic configs that mean something here, with Kafka's names and defaults. Other
/// well-known keys are accepted and reported, so that tools which always send them work.
/// </summary>
public sealed class TopicConfig
{
    public const string RetentionMs = "retention.ms";
    public const string RetentionBytes = "retention.bytes";
    public const string SegmentBytes = "segment.bytes";
    public const string MaxMessageBytes = "max.message.bytes";
    public const string MessageTimestampType = "message.timestamp.type";
    public const string CleanupPolicy = "cleanup.policy";

    /// <summary>Kafka's defaults for the keys above.</summary>
    public static readonly IReadOnlyDictionary<string, string> Defaults = new Dictionary<string, string>
    {
        [CleanupPolicy] = "delete",
        [RetentionMs] = "604800000",
        [RetentionBytes] = "-1",
        [SegmentBytes] = "1073741824",
        [MaxMessageBytes] = "1048588",
        [MessageTimestampType] = "CreateTime",
    };

    public long RetentionMsValue { get; private init; } = 604800000;
    public long RetentionBytesValue { get; private init; } = -1;
    public int SegmentBytesValue { get; private init; } = 1073741824;
    public int MaxMessageBytesValue { get; private init; } = 1048588;
    public bool LogAppendTime { get; private init; }

    /// <summary>Explicitly set values (what DescribeConfigs reports as not default).</summary>
    public IReadOnlyDictionary<string, string> Overrides { get; private init; } = new Dictionary<string, string>();

    /// <summary>Validates a full set of overrides; returns an error message or null.</summary>
    public static string? Validate(IReadOnlyDictionary<string, string?> overrides)
    {
        foreach (var (key, value) in overrides)
        {
            if (value is null) continue;
            switch (key)
            {
                case CleanupPolicy:
                    if (value != "delete")
                        return value.Contains("compact", StringComparison.Ordinal)
                            ? "cleanup.policy=compact is not supported: KafScale does not compact topics (use cleanup.policy=delete)"
                            : $"invalid cleanup.policy '{value}'";
                    break;
                case RetentionMs:
                case RetentionBytes:
                    if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) || l < -1)
                        return $"invalid value '{value}' for {key}: expected -1 or a non-negative integer";
                    break;
                case SegmentBytes:
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int sb) || sb < 14)
                        return $"invalid value '{value}' for {key}: expected an integer >= 14";
                    break;
                case MaxMessageBytes:
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int mb) || mb < 0)
                        return $"invalid value '{value}' for {key}: expected a non-negative integer";
                    break;
                case MessageTimestampType:
                    if (value is not ("CreateTime" or "LogAppendTime"))
                        return $"invalid value '{value}' for {key}: expected CreateTime or LogAppendTime";
                    break;
            }
        }
        return null;
    }

    public static TopicConfig From(IReadOnlyDictionary<string, string> overrides)
    {
        string Get(string k) => overrides.TryGetValue(k, out var v) ? v : Defaults[k];
        return new TopicConfig
        {
            RetentionMsValue = long.Parse(Get(RetentionMs), CultureInfo.InvariantCulture),
            RetentionBytesValue = long.Parse(Get(RetentionBytes), CultureInfo.InvariantCulture),
            SegmentBytesValue = int.Parse(Get(SegmentBytes), CultureInfo.InvariantCulture),
            MaxMessageBytesValue = int.Parse(Get(MaxMessageBytes), CultureInfo.InvariantCulture),
            LogAppendTime = Get(MessageTimestampType) == "LogAppendTime",
            Overrides = new Dictionary<string, string>(overrides),
        };
    }
}
