using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Tests.Handlers;

public sealed class CreateTopicsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static CreateTopicsRequest Request(params (string Name, int Partitions)[] topics)
    {
        var request = new CreateTopicsRequest { TimeoutMs = 10_000 };
        foreach (var (name, partitions) in topics)
            request.Topics.Add(new CreateTopicsRequest.CreatableTopic { Name = name, NumPartitions = partitions, ReplicationFactor = -1 });
        return request;
    }

    [Fact]
    public async Task A_metadata_store_outage_answers_REQUEST_TIMED_OUT_for_every_topic_and_a_retry_afterwards_creates_them()
    {
        string a = HandlerHarness.Unique("ct-a"), b = HandlerHarness.Unique("ct-b");
        CreateTopicsResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.SendAsync<CreateTopicsResponse>(Request((a, 1), (b, 2)), 7);
        Assert.Equal([a, b], during.Topics.Select(t => t.Name));
        Assert.All(during.Topics, t => Assert.Equal(ErrorCodes.RequestTimedOut, t.ErrorCode));
        Assert.True(((ErrorCode)ErrorCodes.RequestTimedOut).IsRetriable());

        var after = await broker.SendAsync<CreateTopicsResponse>(Request((a, 1), (b, 2)), 7);
        Assert.All(after.Topics, t => Assert.Equal(ErrorCodes.None, t.ErrorCode));
    }

    [Theory]
    [InlineData("bad/name")]
    [InlineData("..")]
    [InlineData("")]
    public async Task An_invalid_topic_name_is_INVALID_TOPIC_EXCEPTION(string name)
    {
        var response = await broker.SendAsync<CreateTopicsResponse>(Request((name, 1)), 7);
        Assert.Equal(ErrorCodes.InvalidTopicException, response.Topics.Single().ErrorCode);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public async Task A_partition_count_below_one_other_than_minus_one_is_INVALID_PARTITIONS(int partitions)
    {
        var response = await broker.SendAsync<CreateTopicsResponse>(Request((HandlerHarness.Unique("ct-p"), partitions)), 7);
        Assert.Equal(ErrorCodes.InvalidPartitions, response.Topics.Single().ErrorCode);
    }

    [Fact]
    public async Task A_replication_factor_of_zero_is_INVALID_REPLICATION_FACTOR()
    {
        var request = Request((HandlerHarness.Unique("ct-r"), 1));
        request.Topics[0].ReplicationFactor = 0;
        var response = await broker.SendAsync<CreateTopicsResponse>(request, 7);
        Assert.Equal(ErrorCodes.InvalidReplicationFactor, response.Topics.Single().ErrorCode);
    }

    [Fact]
    public async Task An_existing_topic_is_TOPIC_ALREADY_EXISTS()
    {
        string name = await broker.CreateTopicAsync("ct-e");
        var response = await broker.SendAsync<CreateTopicsResponse>(Request((name, 1)), 7);
        Assert.Equal(ErrorCodes.TopicAlreadyExists, response.Topics.Single().ErrorCode);
    }

    [Fact]
    public async Task A_version_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION_for_every_topic_and_creates_nothing()
    {
        string name = HandlerHarness.Unique("ct-v");
        var response = await broker.SendAsync<CreateTopicsResponse>(Request((name, 1)), 1);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.Topics.Single().ErrorCode);
        var again = await broker.SendAsync<CreateTopicsResponse>(Request((name, 1)), 7);
        Assert.Equal(ErrorCodes.None, again.Topics.Single().ErrorCode);
    }
}

public sealed class DeleteTopicsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static DeleteTopicsRequest Request(params string[] names)
    {
        var request = new DeleteTopicsRequest { TimeoutMs = 10_000 };
        foreach (var n in names) request.Topics.Add(new DeleteTopicsRequest.DeleteTopicState { Name = n });
        return request;
    }

    [Fact]
    public async Task A_metadata_store_outage_answers_REQUEST_TIMED_OUT_never_a_claim_that_the_topic_is_gone_or_absent()
    {
        string name = await broker.CreateTopicAsync("dt-o");
        DeleteTopicsResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<DeleteTopicsResponse>(Request(name), 6);
        Assert.True(broker.Metadata.Refused > 0);
        var result = response.Responses.Single();
        Assert.Equal(name, result.Name);
        Assert.Equal(ErrorCodes.RequestTimedOut, result.ErrorCode);
    }

    [Fact]
    public async Task An_unknown_topic_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        var response = await broker.SendAsync<DeleteTopicsResponse>(Request(HandlerHarness.Unique("dt-u")), 6);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, response.Responses.Single().ErrorCode);
    }

    [Fact]
    public async Task An_unknown_topic_id_is_UNKNOWN_TOPIC_ID()
    {
        var request = new DeleteTopicsRequest { TimeoutMs = 10_000 };
        request.Topics.Add(new DeleteTopicsRequest.DeleteTopicState { Name = null, TopicId = Guid.NewGuid() });
        var response = await broker.SendAsync<DeleteTopicsResponse>(request, 6);
        Assert.Equal(ErrorCodes.UnknownTopicId, response.Responses.Single().ErrorCode);
    }

    [Fact]
    public async Task An_existing_topic_is_deleted()
    {
        string name = await broker.CreateTopicAsync("dt-d");
        var response = await broker.SendAsync<DeleteTopicsResponse>(Request(name), 6);
        Assert.Equal(ErrorCodes.None, response.Responses.Single().ErrorCode);
        var again = await broker.SendAsync<DeleteTopicsResponse>(Request(name), 6);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, again.Responses.Single().ErrorCode);
    }

    [Fact]
    public async Task Version_0_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION_for_every_topic_and_deletes_nothing()
    {
        string name = await broker.CreateTopicAsync("dt-v");
        var request = new DeleteTopicsRequest { TimeoutMs = 10_000, TopicNames = [name] };
        var response = await broker.SendAsync<DeleteTopicsResponse>(request, 0);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.Responses.Single().ErrorCode);
        await broker.WaitForLeadersAsync(name, 1);
    }
}

public sealed class CreatePartitionsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static CreatePartitionsRequest Request(string name, int count) => new()
    {
        TimeoutMs = 10_000,
        Topics = [new CreatePartitionsRequest.CreatePartitionsTopic { Name = name, Count = count, Assignments = null }],
    };

    [Fact]
    public async Task A_metadata_store_outage_answers_REQUEST_TIMED_OUT_and_a_retry_afterwards_succeeds()
    {
        string name = await broker.CreateTopicAsync("cp-o");
        CreatePartitionsResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.SendAsync<CreatePartitionsResponse>(Request(name, 3), 3);
        Assert.Equal(ErrorCodes.RequestTimedOut, during.Results.Single().ErrorCode);
        var after = await broker.SendAsync<CreatePartitionsResponse>(Request(name, 3), 3);
        Assert.Equal(ErrorCodes.None, after.Results.Single().ErrorCode);
        await broker.WaitForLeadersAsync(name, 3);
    }

    [Fact]
    public async Task An_unknown_topic_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        var response = await broker.SendAsync<CreatePartitionsResponse>(Request(HandlerHarness.Unique("cp-u"), 3), 3);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, response.Results.Single().ErrorCode);
    }

    [Fact]
    public async Task A_count_not_above_the_current_one_is_INVALID_PARTITIONS()
    {
        string name = await broker.CreateTopicAsync("cp-i", partitions: 2);
        var response = await broker.SendAsync<CreatePartitionsResponse>(Request(name, 2), 3);
        Assert.Equal(ErrorCodes.InvalidPartitions, response.Results.Single().ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_gets_a_well_formed_answer_that_reports_no_success()
    {
        string name = await broker.CreateTopicAsync("cp-v");
        var response = await broker.SendWithHeaderVersionAsync<CreatePartitionsResponse>(Request(name, 4), headerVersion: 4, bodyVersion: 3, responseVersion: 3);
        Assert.Empty(response.Results);
        await broker.WaitForLeadersAsync(name, 1);
    }
}

public sealed class DeleteRecordsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static DeleteRecordsRequest Request(string topic, int partition, long offset) => new()
    {
        TimeoutMs = 10_000,
        Topics = [new DeleteRecordsRequest.DeleteRecordsTopic { Name = topic, Partitions = [new DeleteRecordsRequest.DeleteRecordsPartition { PartitionIndex = partition, Offset = offset }] }],
    };

    [Fact]
    public async Task A_metadata_store_outage_answers_REQUEST_TIMED_OUT_for_every_partition()
    {
        string name = await broker.CreateTopicAsync("dr-o");
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 0, records: 5)).ErrorCode);
        DeleteRecordsResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<DeleteRecordsResponse>(Request(name, 0, 2), 2);
        var p = response.Topics.Single().Partitions.Single();
        Assert.Equal(ErrorCodes.RequestTimedOut, p.ErrorCode);
        Assert.Equal(-1, p.LowWatermark);
    }

    [Fact]
    public async Task An_unknown_topic_or_partition_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        string name = await broker.CreateTopicAsync("dr-u");
        var unknownTopic = await broker.SendAsync<DeleteRecordsResponse>(Request(HandlerHarness.Unique("dr-x"), 0, 0), 2);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownTopic.Topics.Single().Partitions.Single().ErrorCode);
        var unknownPartition = await broker.SendAsync<DeleteRecordsResponse>(Request(name, 7, 0), 2);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownPartition.Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task An_offset_beyond_the_high_watermark_is_OFFSET_OUT_OF_RANGE()
    {
        string name = await broker.CreateTopicAsync("dr-r");
        var response = await broker.SendAsync<DeleteRecordsResponse>(Request(name, 0, 10), 2);
        Assert.Equal(ErrorCodes.OffsetOutOfRange, response.Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Deleting_below_the_high_watermark_moves_the_low_watermark()
    {
        string name = await broker.CreateTopicAsync("dr-d");
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 0, records: 5)).ErrorCode);
        var p = (await broker.SendAsync<DeleteRecordsResponse>(Request(name, 0, 3), 2)).Topics.Single().Partitions.Single();
        Assert.Equal(ErrorCodes.None, p.ErrorCode);
        Assert.Equal(3, p.LowWatermark);
    }
}
