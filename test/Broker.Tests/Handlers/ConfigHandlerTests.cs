using KafScale.Protocol.Messages;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>Resource types of the config APIs: 2 is a topic, 4 a broker.</summary>
internal static class ConfigResources
{
    public const sbyte Topic = 2;
    public const sbyte Broker = 4;
}

public sealed class DescribeConfigsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static DescribeConfigsRequest Request(sbyte type, string name) => new()
    {
        Resources = [new DescribeConfigsRequest.DescribeConfigsResource { ResourceType = type, ResourceName = name, ConfigurationKeys = null }],
    };

    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_describing_a_known_topic_from_memory()
    {
        string name = await broker.CreateTopicAsync("dc-o");
        DescribeConfigsResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Topic, name), 4);
        var result = response.Results.Single();
        Assert.Equal(ErrorCodes.None, result.ErrorCode);
        Assert.Contains(result.Configs, c => c.Name == "retention.ms");
    }

    [Fact]
    public async Task An_unknown_topic_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        var response = await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Topic, HandlerHarness.Unique("dc-u")), 4);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, response.Results.Single().ErrorCode);
    }

    [Fact]
    public async Task An_unsupported_resource_type_is_INVALID_REQUEST()
    {
        var response = await broker.SendAsync<DescribeConfigsResponse>(Request(99, "x"), 4);
        Assert.Equal(ErrorCodes.InvalidRequest, response.Results.Single().ErrorCode);
    }

    [Fact]
    public async Task Version_0_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION_for_every_resource()
    {
        string name = await broker.CreateTopicAsync("dc-v");
        var response = await broker.SendAsync<DescribeConfigsResponse>(Request(ConfigResources.Topic, name), 0);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.Results.Single().ErrorCode);
    }
}

public sealed class AlterConfigsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static AlterConfigsRequest Request(sbyte type, string name, string key, string? value) => new()
    {
        Resources =
        [
            new AlterConfigsRequest.AlterConfigsResource
            {
                ResourceType = type,
                ResourceName = name,
                Configs = [new AlterConfigsRequest.AlterableConfig { Name = key, Value = value }],
            },
        ],
    };

    [Fact]
    public async Task A_metadata_store_outage_answers_REQUEST_TIMED_OUT_and_a_retry_afterwards_succeeds()
    {
        string name = await broker.CreateTopicAsync("ac-o");
        AlterConfigsResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.SendAsync<AlterConfigsResponse>(Request(ConfigResources.Topic, name, "retention.ms", "60000"), 2);
        Assert.Equal(ErrorCodes.RequestTimedOut, during.Responses.Single().ErrorCode);
        Assert.Equal(name, during.Responses.Single().ResourceName);
        var after = await broker.SendAsync<AlterConfigsResponse>(Request(ConfigResources.Topic, name, "retention.ms", "60000"), 2);
        Assert.Equal(ErrorCodes.None, after.Responses.Single().ErrorCode);
    }

    [Fact]
    public async Task An_unknown_topic_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        var response = await broker.SendAsync<AlterConfigsResponse>(Request(ConfigResources.Topic, HandlerHarness.Unique("ac-u"), "retention.ms", "1000"), 2);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, response.Responses.Single().ErrorCode);
    }

    [Theory]
    [InlineData("retention.ms", "soon")]
    [InlineData("no.such.config", "1")]
    public async Task An_invalid_or_unknown_config_is_INVALID_CONFIG(string key, string value)
    {
        string name = await broker.CreateTopicAsync("ac-i");
        var response = await broker.SendAsync<AlterConfigsResponse>(Request(ConfigResources.Topic, name, key, value), 2);
        Assert.Equal(ErrorCodes.InvalidConfig, response.Responses.Single().ErrorCode);
    }

    [Fact]
    public async Task A_broker_resource_is_INVALID_REQUEST()
    {
        var response = await broker.SendAsync<AlterConfigsResponse>(Request(ConfigResources.Broker, "0", "log.retention.ms", "1"), 2);
        Assert.Equal(ErrorCodes.InvalidRequest, response.Responses.Single().ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_gets_a_well_formed_answer_that_reports_no_success()
    {
        var response = await broker.SendWithHeaderVersionAsync<AlterConfigsResponse>(
            Request(ConfigResources.Topic, "t", "retention.ms", "1"), headerVersion: 3, bodyVersion: 2, responseVersion: 2);
        Assert.Empty(response.Responses);
    }
}

public sealed class IncrementalAlterConfigsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static IncrementalAlterConfigsRequest Request(sbyte type, string name, string key, sbyte operation, string? value) => new()
    {
        Resources =
        [
            new IncrementalAlterConfigsRequest.AlterConfigsResource
            {
                ResourceType = type,
                ResourceName = name,
                Configs = [new IncrementalAlterConfigsRequest.AlterableConfig { Name = key, ConfigOperation = operation, Value = value }],
            },
        ],
    };

    [Fact]
    public async Task A_metadata_store_outage_answers_REQUEST_TIMED_OUT_and_a_retry_afterwards_succeeds()
    {
        string name = await broker.CreateTopicAsync("ia-o");
        IncrementalAlterConfigsResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.SendAsync<IncrementalAlterConfigsResponse>(Request(ConfigResources.Topic, name, "retention.ms", 0, "60000"), 1);
        Assert.Equal(ErrorCodes.RequestTimedOut, during.Responses.Single().ErrorCode);
        var after = await broker.SendAsync<IncrementalAlterConfigsResponse>(Request(ConfigResources.Topic, name, "retention.ms", 0, "60000"), 1);
        Assert.Equal(ErrorCodes.None, after.Responses.Single().ErrorCode);
    }

    [Fact]
    public async Task An_unknown_topic_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        var response = await broker.SendAsync<IncrementalAlterConfigsResponse>(Request(ConfigResources.Topic, HandlerHarness.Unique("ia-u"), "retention.ms", 0, "1000"), 1);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, response.Responses.Single().ErrorCode);
    }

    [Fact]
    public async Task An_unknown_operation_is_INVALID_CONFIG()
    {
        string name = await broker.CreateTopicAsync("ia-i");
        var response = await broker.SendAsync<IncrementalAlterConfigsResponse>(Request(ConfigResources.Topic, name, "retention.ms", 9, "1"), 1);
        Assert.Equal(ErrorCodes.InvalidConfig, response.Responses.Single().ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_gets_a_well_formed_answer_that_reports_no_success()
    {
        var response = await broker.SendWithHeaderVersionAsync<IncrementalAlterConfigsResponse>(
            Request(ConfigResources.Topic, "t", "retention.ms", 0, "1"), headerVersion: 2, bodyVersion: 1, responseVersion: 1);
        Assert.Empty(response.Responses);
    }
}
