using KafScale.Broker.Log;

namespace KafScale.Broker.Tests;

/// <summary>Topic configs with Kafka's names, defaults and value rules.</summary>
public class TopicConfigTests
{
    private static string? Validate(string key, string? value) =>
        TopicConfig.Validate(new Dictionary<string, string?> { [key] = value });

    [Theory]
    [InlineData("cleanup.policy", "delete")]
    [InlineData("retention.ms", "-1")]
    [InlineData("retention.ms", "0")]
    [InlineData("retention.ms", "9223372036854775807")]
    [InlineData("retention.bytes", "-1")]
    [InlineData("retention.bytes", "1073741824000")]
    [InlineData("segment.bytes", "14")]
    [InlineData("segment.bytes", "2147483647")]
    [InlineData("max.message.bytes", "0")]
    [InlineData("max.message.bytes", "1048588")]
    [InlineData("message.timestamp.type", "CreateTime")]
    [InlineData("message.timestamp.type", "LogAppendTime")]
    public void Values_kafka_accepts_are_valid(string key, string value)
    {
        Assert.Null(Validate(key, value));
    }

    [Theory]
    [InlineData("cleanup.policy", "compact")]
    [InlineData("cleanup.policy", "compact,delete")]
    [InlineData("cleanup.policy", "remove")]
    [InlineData("cleanup.policy", "")]
    [InlineData("retention.ms", "-2")]
    [InlineData("retention.ms", "1.5")]
    [InlineData("retention.ms", "")]
    [InlineData("retention.ms", "9223372036854775808")]
    [InlineData("retention.bytes", "lots")]
    [InlineData("retention.bytes", "-100")]
    [InlineData("segment.bytes", "13")]
    [InlineData("segment.bytes", "-1")]
    [InlineData("segment.bytes", "2147483648")]
    [InlineData("max.message.bytes", "-1")]
    [InlineData("max.message.bytes", "1MB")]
    [InlineData("message.timestamp.type", "logappendtime")]
    [InlineData("message.timestamp.type", "BrokerTime")]
    public void Values_kafka_refuses_are_reported_with_the_key(string key, string value)
    {
        string? error = Validate(key, value);

        Assert.NotNull(error);
        Assert.Contains(key, error);
    }

    [Fact]
    public void Compaction_is_refused_with_a_message_that_says_why()
    {
        string? error = Validate(TopicConfig.CleanupPolicy, "compact");

        Assert.NotNull(error);
        Assert.Contains("not supported", error);
        Assert.Contains("cleanup.policy=delete", error);
    }

    [Fact]
    public void A_null_value_means_reset_to_default_and_is_valid()
    {
        Assert.Null(Validate(TopicConfig.SegmentBytes, null));
        Assert.Null(Validate(TopicConfig.CleanupPolicy, null));
    }

    [Fact]
    public void Keys_without_a_rule_here_are_left_to_the_caller()
    {
        // LogManager decides between "known but ignored" and "unknown"; Validate only checks values.
        Assert.Null(Validate("compression.type", "whatever"));
    }

    [Fact]
    public void The_first_invalid_value_of_several_is_reported()
    {
        var error = TopicConfig.Validate(new Dictionary<string, string?>
        {
            [TopicConfig.RetentionMs] = "1000",
            [TopicConfig.SegmentBytes] = "1",
        });

        Assert.NotNull(error);
        Assert.Contains(TopicConfig.SegmentBytes, error);
    }

    [Fact]
    public void Defaults_are_kafkas()
    {
        var config = TopicConfig.From(new Dictionary<string, string>());

        Assert.Equal(604_800_000, config.RetentionMsValue);
        Assert.Equal(-1, config.RetentionBytesValue);
        Assert.Equal(1_073_741_824, config.SegmentBytesValue);
        Assert.Equal(1_048_588, config.MaxMessageBytesValue);
        Assert.False(config.LogAppendTime);
        Assert.Empty(config.Overrides);
        Assert.Equal("delete", TopicConfig.Defaults[TopicConfig.CleanupPolicy]);
        Assert.Equal("CreateTime", TopicConfig.Defaults[TopicConfig.MessageTimestampType]);
    }

    [Fact]
    public void Overrides_take_effect_and_are_reported_as_set()
    {
        var overrides = new Dictionary<string, string>
        {
            [TopicConfig.RetentionMs] = "-1",
            [TopicConfig.RetentionBytes] = "1000",
            [TopicConfig.SegmentBytes] = "4096",
            [TopicConfig.MaxMessageBytes] = "100",
            [TopicConfig.MessageTimestampType] = "LogAppendTime",
        };

        var config = TopicConfig.From(overrides);

        Assert.Equal(-1, config.RetentionMsValue);
        Assert.Equal(1000, config.RetentionBytesValue);
        Assert.Equal(4096, config.SegmentBytesValue);
        Assert.Equal(100, config.MaxMessageBytesValue);
        Assert.True(config.LogAppendTime);
        Assert.Equal(overrides, config.Overrides);
        overrides[TopicConfig.RetentionMs] = "5";
        Assert.Equal("-1", config.Overrides[TopicConfig.RetentionMs]);
    }

    [Fact]
    public void Every_value_validate_accepts_can_be_loaded()
    {
        var accepted = new Dictionary<string, string?>
        {
            [TopicConfig.RetentionMs] = "+5",
            [TopicConfig.RetentionBytes] = "-1",
            [TopicConfig.SegmentBytes] = "14",
            [TopicConfig.MaxMessageBytes] = "0",
        };
        Assert.Null(TopicConfig.Validate(accepted));

        var config = TopicConfig.From(accepted.ToDictionary(kv => kv.Key, kv => kv.Value!));

        Assert.Equal(5, config.RetentionMsValue);
    }
}
