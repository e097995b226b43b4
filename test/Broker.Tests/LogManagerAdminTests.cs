using KafScale.Broker.Log;
using KafScale.Storage;

namespace KafScale.Broker.Tests;

/// <summary>CreateTopics, CreatePartitions, AlterConfigs and DeleteTopics as the log manager carries them out.</summary>
public class LogManagerAdminTests
{
    private static readonly IReadOnlyDictionary<string, string?> NoConfigs = new Dictionary<string, string?>();
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task A_new_topic_has_the_requested_partitions_empty_logs_and_kafka_defaults()
    {
        await using var host = await LogHost.StartAsync();

        var result = await host.Logs.CreateTopicAsync("orders", 3, NoConfigs, validateOnly: false, None);

        Assert.Equal(0, result.ErrorCode);
        Assert.True(host.Logs.TryGetTopic("orders", out var topic));
        Assert.Equal(3, topic.PartitionCount);
        Assert.Equal([0, 1, 2], topic.Logs.Select(p => p!.Partition));
        Assert.All(host.Partitions("orders"), p => Assert.Equal((0L, 0L, 0L), (p.HighWatermark, p.LogStartOffset, p.NextOffset)));
        Assert.NotEqual(Guid.Empty, topic.Id);
        Assert.Same(topic, host.Logs.FindById(topic.Id));
        Assert.True(host.Logs.TryGetTopic("orders"u8, out var byUtf8));
        Assert.Same(topic, byUtf8);
        Assert.Equal(604800000, topic.Config.RetentionMsValue);
        Assert.Equal(-1, topic.Config.RetentionBytesValue);
        Assert.False(topic.Config.LogAppendTime);
        Assert.Empty(topic.Config.Overrides);
    }

    [Fact]
    public async Task Minus_one_partitions_means_the_broker_default()
    {
        await using var host = await LogHost.StartAsync(c => c.DefaultPartitions = 4);

        var result = await host.Logs.CreateTopicAsync("defaulted", -1, NoConfigs, false, None);

        Assert.Equal(0, result.ErrorCode);
        Assert.Equal(4, host.Partitions("defaulted").Length);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    [InlineData(100_001)]
    public async Task A_partition_count_out_of_range_is_INVALID_PARTITIONS(int partitions)
    {
        await using var host = await LogHost.StartAsync();

        var result = await host.Logs.CreateTopicAsync("t", partitions, NoConfigs, false, None);

        Assert.Equal(ErrorCodes.InvalidPartitions, result.ErrorCode);
        Assert.False(host.Logs.TryGetTopic("t", out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("has space")]
    [InlineData("slash/inside")]
    [InlineData("ümlaut")]
    [InlineData("star*")]
    public async Task An_invalid_topic_name_is_INVALID_TOPIC_EXCEPTION(string name)
    {
        await using var host = await LogHost.StartAsync();

        var result = await host.Logs.CreateTopicAsync(name, 1, NoConfigs, false, None);

        Assert.Equal(ErrorCodes.InvalidTopicException, result.ErrorCode);
        Assert.False(string.IsNullOrEmpty(result.Message));
        Assert.Empty(host.Logs.Topics);
    }

    [Fact]
    public async Task Topic_names_may_be_249_characters_of_letters_digits_dots_underscores_and_dashes()
    {
        await using var host = await LogHost.StartAsync();
        string longest = new('a', 249);

        Assert.Equal(0, (await host.Logs.CreateTopicAsync(longest, 1, NoConfigs, false, None)).ErrorCode);
        Assert.Equal(0, (await host.Logs.CreateTopicAsync("Az09._-", 1, NoConfigs, false, None)).ErrorCode);
        Assert.Equal(ErrorCodes.InvalidTopicException, (await host.Logs.CreateTopicAsync(new string('a', 250), 1, NoConfigs, false, None)).ErrorCode);
    }

    [Theory]
    [InlineData("cleanup.policy", "compact")]
    [InlineData("cleanup.policy", "delete,compact")]
    [InlineData("retention.ms", "soon")]
    [InlineData("no.such.config", "1")]
    public async Task An_unsupported_or_unknown_config_is_INVALID_CONFIG(string key, string value)
    {
        await using var host = await LogHost.StartAsync();

        var result = await host.Logs.CreateTopicAsync("t", 1, new Dictionary<string, string?> { [key] = value }, false, None);

        Assert.Equal(ErrorCodes.InvalidConfig, result.ErrorCode);
        Assert.Contains(key, result.Message);
        Assert.False(host.Logs.TryGetTopic("t", out _));
    }

    [Fact]
    public async Task Configs_that_clients_always_send_are_accepted_even_without_effect()
    {
        await using var host = await LogHost.StartAsync();

        var result = await host.Logs.CreateTopicAsync("t", 1, new Dictionary<string, string?> { ["min.insync.replicas"] = "2", ["compression.type"] = "producer" }, false, None);

        Assert.Equal(0, result.ErrorCode);
    }

    [Fact]
    public async Task Creating_an_existing_topic_is_TOPIC_ALREADY_EXISTS_and_keeps_the_original()
    {
        await using var host = await LogHost.StartAsync();
        await host.CreateTopicAsync("orders", 2);
        host.Logs.TryGetTopic("orders", out var original);

        var again = await host.Logs.CreateTopicAsync("orders", 5, NoConfigs, false, None);
        var dryRun = await host.Logs.CreateTopicAsync("orders", 5, NoConfigs, true, None);

        Assert.Equal(ErrorCodes.TopicAlreadyExists, again.ErrorCode);
        Assert.Equal(ErrorCodes.TopicAlreadyExists, dryRun.ErrorCode);
        Assert.True(host.Logs.TryGetTopic("orders", out var now));
        Assert.Same(original, now);
        Assert.Equal(2, now.PartitionCount);
    }

    [Fact]
    public async Task Validate_only_creates_nothing()
    {
        await using var host = await LogHost.StartAsync();

        var result = await host.Logs.CreateTopicAsync("dry", 2, NoConfigs, validateOnly: true, None);
        await host.RestartAsync();

        Assert.Equal(0, result.ErrorCode);
        Assert.False(host.Logs.TryGetTopic("dry", out _));
        Assert.Empty((await host.Metadata.GetPrefixAsync(MetadataKeys.Topic("dry"), None)).Kvs);
    }

    [Fact]
    public async Task Create_partitions_adds_empty_partitions_and_keeps_the_existing_ones()
    {
        await using var host = await LogHost.StartAsync();
        var before = await host.CreateTopicAsync("orders", 2);
        var append = before[1].AppendBlob(Batches.Make(3));
        Assert.Equal(0, await append.DurableAsync());

        var result = await host.Logs.CreatePartitionsAsync("orders", 5, validateOnly: false, None);

        Assert.Equal(0, result.ErrorCode);
        var after = host.Partitions("orders");
        Assert.Equal(5, after.Length);
        Assert.Same(before[0], after[0]);
        Assert.Same(before[1], after[1]);
        Assert.Equal(3, after[1].HighWatermark);
        Assert.All(after[2..], p => Assert.Equal(0, p.HighWatermark));
        var appended = after[4].AppendBlob(Batches.Make(1));
        Assert.Equal(0, await appended.DurableAsync());
        Assert.Equal([0L], await host.SegmentBasesAsync("orders", 4));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    public async Task Create_partitions_can_only_increase_the_count(int count)
    {
        await using var host = await LogHost.StartAsync();
        await host.CreateTopicAsync("orders", 2);

        var result = await host.Logs.CreatePartitionsAsync("orders", count, false, None);

        Assert.Equal(ErrorCodes.InvalidPartitions, result.ErrorCode);
        Assert.Equal(2, host.Partitions("orders").Length);
    }

    [Fact]
    public async Task Create_partitions_of_an_unknown_topic_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        await using var host = await LogHost.StartAsync();

        var result = await host.Logs.CreatePartitionsAsync("ghost", 3, false, None);

        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, result.ErrorCode);
    }

    [Fact]
    public async Task Create_partitions_with_validate_only_changes_nothing()
    {
        await using var host = await LogHost.StartAsync();
        await host.CreateTopicAsync("orders", 2);

        var result = await host.Logs.CreatePartitionsAsync("orders", 4, validateOnly: true, None);
        await host.RestartAsync();

        Assert.Equal(0, result.ErrorCode);
        Assert.Equal(2, host.Partitions("orders").Length);
    }

    [Fact]
    public async Task Set_configs_replaces_the_overrides_and_takes_effect_at_once()
    {
        await using var host = await LogHost.StartAsync();
        await host.CreateTopicAsync("orders", 1, new Dictionary<string, string?> { [TopicConfig.RetentionMs] = "1000" });

        var result = await host.Logs.SetConfigsAsync("orders", new Dictionary<string, string?> { [TopicConfig.RetentionBytes] = "5000", [TopicConfig.MessageTimestampType] = "LogAppendTime" }, false, None);

        Assert.Equal(0, result.ErrorCode);
        host.Logs.TryGetTopic("orders", out var topic);
        Assert.Equal(604800000, topic.Config.RetentionMsValue);
        Assert.Equal(5000, topic.Config.RetentionBytesValue);
        Assert.True(topic.Config.LogAppendTime);
        Assert.Equal(new Dictionary<string, string> { [TopicConfig.RetentionBytes] = "5000", [TopicConfig.MessageTimestampType] = "LogAppendTime" }, topic.Config.Overrides);
        var append = topic.Logs[0]!.AppendBlob(Batches.Make(1));
        Assert.True(append.LogAppendTime > 0);
        Assert.Equal(0, await append.DurableAsync());
    }

    [Theory]
    [InlineData("cleanup.policy", "compact")]
    [InlineData("segment.bytes", "13")]
    [InlineData("unknown.key", "x")]
    public async Task Set_configs_refuses_what_create_refuses_and_keeps_the_old_configs(string key, string value)
    {
        await using var host = await LogHost.StartAsync();
        await host.CreateTopicAsync("orders", 1, new Dictionary<string, string?> { [TopicConfig.RetentionMs] = "1000" });

        var result = await host.Logs.SetConfigsAsync("orders", new Dictionary<string, string?> { [key] = value }, false, None);

        Assert.Equal(ErrorCodes.InvalidConfig, result.ErrorCode);
        host.Logs.TryGetTopic("orders", out var topic);
        Assert.Equal(1000, topic.Config.RetentionMsValue);
    }

    [Fact]
    public async Task Set_configs_of_an_unknown_topic_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        await using var host = await LogHost.StartAsync();

        var result = await host.Logs.SetConfigsAsync("ghost", new Dictionary<string, string?> { [TopicConfig.RetentionMs] = "1" }, false, None);

        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, result.ErrorCode);
    }

    [Fact]
    public async Task Topic_id_partition_count_and_configs_survive_a_restart()
    {
        await using var host = await LogHost.StartAsync();
        await host.CreateTopicAsync("orders", 2, new Dictionary<string, string?> { [TopicConfig.RetentionMs] = "1000" });
        await host.Logs.CreatePartitionsAsync("orders", 3, false, None);
        await host.Logs.SetConfigsAsync("orders", new Dictionary<string, string?> { [TopicConfig.RetentionMs] = "2000", [TopicConfig.MessageTimestampType] = "LogAppendTime" }, false, None);
        await host.CreateTopicAsync("other", 1);
        host.Logs.TryGetTopic("orders", out var before);

        await host.RestartAsync();

        Assert.Equal(["orders", "other"], host.Logs.Topics.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.True(host.Logs.TryGetTopic("orders", out var after));
        Assert.Equal(before.Id, after.Id);
        Assert.Equal(before.CreatedMs, after.CreatedMs);
        Assert.Equal(3, after.PartitionCount);
        Assert.Equal(2000, after.Config.RetentionMsValue);
        Assert.True(after.Config.LogAppendTime);
        Assert.Equal(before.Config.Overrides, after.Config.Overrides);
    }

    [Fact]
    public async Task Delete_topic_removes_its_segments_and_metadata_but_not_a_topic_whose_name_it_prefixes()
    {
        await using var host = await LogHost.StartAsync();
        var doomed = await host.CreateTopicAsync("orders", 2);
        var kept = await host.CreateTopicAsync("orders2", 1);
        foreach (var log in doomed.Concat(kept)) Assert.Equal(0, await log.AppendBlob(Batches.Make(2)).DurableAsync());

        var result = await host.Logs.DeleteTopicAsync("orders", None);

        Assert.Equal(0, result.ErrorCode);
        Assert.False(host.Logs.TryGetTopic("orders", out _));
        Assert.Empty(await host.ListAsync(SegmentKeys.TopicPrefix(host.Namespace, "orders")));
        Assert.Empty((await host.Metadata.GetPrefixAsync(MetadataKeys.Topic("orders"), None)).Kvs);
        Assert.Equal([0L], await host.SegmentBasesAsync("orders2"));
        Assert.NotEmpty((await host.Metadata.GetPrefixAsync(MetadataKeys.Topic("orders2"), None)).Kvs);

        await host.RestartAsync();
        Assert.Equal(["orders2"], host.Logs.Topics.Select(t => t.Name));
        Assert.Equal(2, host.Log("orders2").HighWatermark);
    }

    [Fact]
    public async Task A_seal_under_way_when_its_topic_is_deleted_leaves_nothing_in_the_store()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        // The seal's index upload waits at the gate: the .kfs is in the store, the .index not yet.
        var gate = host.Store.Hold(k => k.StartsWith(SegmentKeys.TopicPrefix(host.Namespace, "orders"), StringComparison.Ordinal) && k.EndsWith(".index", StringComparison.Ordinal));
        Assert.Equal(0, await log.AppendBlob(Batches.Make(2)).DurableAsync());
        await gate.Arrived.WaitAsync(TimeSpan.FromSeconds(30));

        var deleting = host.Logs.DeleteTopicAsync("orders", None);
        await Task.Delay(200);
        Assert.False(deleting.IsCompleted);
        gate.Release();
        var result = await deleting.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, result.ErrorCode);
        Assert.Empty(await host.ListAsync(SegmentKeys.TopicPrefix(host.Namespace, "orders")));
    }

    [Fact]
    public async Task A_deleted_topic_can_be_created_again_and_starts_empty()
    {
        await using var host = await LogHost.StartAsync();
        var first = (await host.CreateTopicAsync("orders"))[0];
        Assert.Equal(0, await first.AppendBlob(Batches.Make(4)).DurableAsync());
        host.Logs.TryGetTopic("orders", out var old);
        await host.Logs.DeleteTopicAsync("orders", None);

        var again = (await host.CreateTopicAsync("orders"))[0];

        host.Logs.TryGetTopic("orders", out var now);
        Assert.NotEqual(old.Id, now.Id);
        Assert.Equal(0, again.HighWatermark);
        var append = again.AppendBlob(Batches.Make(1));
        Assert.Equal(0, append.BaseOffset);
        Assert.Equal(0, await append.DurableAsync());
    }

    [Fact]
    public async Task Deleting_an_unknown_topic_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        await using var host = await LogHost.StartAsync();

        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, (await host.Logs.DeleteTopicAsync("ghost", None)).ErrorCode);
    }

    [Fact]
    public async Task Deleting_a_topic_answers_its_waiting_producers_and_refuses_further_appends()
    {
        await using var host = await LogHost.StartAsync(c => c.FlushIntervalMs = 600_000);
        var log = (await host.CreateTopicAsync("orders"))[0];
        var waiting = log.AppendBlob(Batches.Make(2));

        await host.Logs.DeleteTopicAsync("orders", None);

        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, await waiting.DurableAsync());
        Assert.NotEqual(0, log.Append(Batches.Make(1), 1).ErrorCode);
    }
}
