using KafScale.Protocol.Messages;

namespace KafScale.Broker.Tests.Handlers;

public sealed class ProduceHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static ProduceRequest Request(string topic, int partition, byte[] records, short acks = -1) => new()
    {
        Acks = acks,
        TimeoutMs = 10_000,
        TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = records }] }],
    };

    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_appends_because_the_write_path_does_not_use_the_store()
    {
        string name = await broker.CreateTopicAsync("pr-o");
        ProduceResponse.PartitionProduceResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.ProduceAsync(name, 0, records: 4);
        Assert.Equal(ErrorCodes.None, during.ErrorCode);
        Assert.Equal(0, during.BaseOffset);
    }

    [Fact]
    public async Task An_unknown_topic_or_partition_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        string name = await broker.CreateTopicAsync("pr-u");
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, (await broker.ProduceAsync(HandlerHarness.Unique("pr-x"), 0)).ErrorCode);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, (await broker.ProduceAsync(name, 5)).ErrorCode);
    }

    [Fact]
    public async Task Acks_other_than_0_1_or_minus_1_is_INVALID_REQUIRED_ACKS()
    {
        string name = await broker.CreateTopicAsync("pr-a");
        var response = await broker.SendAsync<ProduceResponse>(Request(name, 0, Batches.Make(1), acks: 2), 11);
        Assert.Equal(ErrorCodes.InvalidRequiredAcks, response.Responses.Single().PartitionResponses.Single().ErrorCode);
    }

    [Fact]
    public async Task A_batch_with_a_bad_crc_is_CORRUPT_MESSAGE_and_nothing_is_appended()
    {
        string name = await broker.CreateTopicAsync("pr-c");
        byte[] batch = Batches.Make(2);
        batch[^1] ^= 0xFF;
        var response = await broker.SendAsync<ProduceResponse>(Request(name, 0, batch), 11);
        Assert.Equal(ErrorCodes.CorruptMessage, response.Responses.Single().PartitionResponses.Single().ErrorCode);
        Assert.Equal(0, (await broker.ProduceAsync(name, 0)).BaseOffset);
    }

    [Fact]
    public async Task Version_2_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION_and_nothing_is_appended()
    {
        string name = await broker.CreateTopicAsync("pr-v");
        var response = await broker.SendAsync<ProduceResponse>(Request(name, 0, Batches.Make(1)), 2);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.Responses.Single().PartitionResponses.Single().ErrorCode);
        Assert.Equal(0, (await broker.ProduceAsync(name, 0)).BaseOffset);
    }
}

public sealed class FetchHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    /// <summary>v12: the newest version that names topics (v13+ use topic ids).</summary>
    private const short ByName = 12;

    private static FetchRequest Request(string topic, int partition, long offset) => new()
    {
        ReplicaId = -1,
        MaxWaitMs = 0,
        MinBytes = 0,
        MaxBytes = 1 << 20,
        SessionEpoch = -1,
        Topics = [new FetchRequest.FetchTopic { Topic = topic, Partitions = [new FetchRequest.FetchPartition { Partition = partition, FetchOffset = offset, PartitionMaxBytes = 1 << 20, CurrentLeaderEpoch = -1, LastFetchedEpoch = -1, LogStartOffset = -1 }] }],
    };

    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_reads_because_the_read_path_does_not_use_the_store()
    {
        string name = await broker.CreateTopicAsync("fe-o");
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 0, records: 3)).ErrorCode);
        FetchResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<FetchResponse>(Request(name, 0, 0), ByName);
        var p = response.Responses.Single().Partitions.Single();
        Assert.Equal(ErrorCodes.None, p.ErrorCode);
        Assert.Equal(3, p.HighWatermark);
        Assert.Equal(3, Batches.Records(p.Records!.Value.ToArray()));
    }

    [Fact]
    public async Task An_unknown_topic_or_partition_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        string name = await broker.CreateTopicAsync("fe-u");
        var unknownTopic = await broker.SendAsync<FetchResponse>(Request(HandlerHarness.Unique("fe-x"), 0, 0), ByName);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownTopic.Responses.Single().Partitions.Single().ErrorCode);
        var unknownPartition = await broker.SendAsync<FetchResponse>(Request(name, 3, 0), ByName);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownPartition.Responses.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task An_offset_beyond_the_high_watermark_is_OFFSET_OUT_OF_RANGE()
    {
        string name = await broker.CreateTopicAsync("fe-r");
        var response = await broker.SendAsync<FetchResponse>(Request(name, 0, 42), ByName);
        Assert.Equal(ErrorCodes.OffsetOutOfRange, response.Responses.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Version_3_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION_for_every_partition()
    {
        string name = await broker.CreateTopicAsync("fe-v");
        var response = await broker.SendAsync<FetchResponse>(Request(name, 0, 0), 3);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.Responses.Single().Partitions.Single().ErrorCode);
    }
}

public sealed class ListOffsetsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static ListOffsetsRequest Request(string topic, int partition, long timestamp) => new()
    {
        ReplicaId = -1,
        Topics = [new ListOffsetsRequest.ListOffsetsTopic { Name = topic, Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = partition, Timestamp = timestamp, CurrentLeaderEpoch = -1 }] }],
    };

    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_answering_the_latest_offset()
    {
        string name = await broker.CreateTopicAsync("lo-o");
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 0, records: 6)).ErrorCode);
        ListOffsetsResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<ListOffsetsResponse>(Request(name, 0, -1), 10);
        var p = response.Topics.Single().Partitions.Single();
        Assert.Equal(ErrorCodes.None, p.ErrorCode);
        Assert.Equal(6, p.Offset);
    }

    [Fact]
    public async Task An_unknown_topic_or_partition_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        string name = await broker.CreateTopicAsync("lo-u");
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition,
            (await broker.SendAsync<ListOffsetsResponse>(Request(HandlerHarness.Unique("lo-x"), 0, -1), 10)).Topics.Single().Partitions.Single().ErrorCode);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition,
            (await broker.SendAsync<ListOffsetsResponse>(Request(name, 9, -1), 10)).Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task A_negative_timestamp_that_names_no_special_offset_is_INVALID_REQUEST()
    {
        string name = await broker.CreateTopicAsync("lo-i");
        var response = await broker.SendAsync<ListOffsetsResponse>(Request(name, 0, -42), 10);
        Assert.Equal(ErrorCodes.InvalidRequest, response.Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Version_0_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION_for_every_partition()
    {
        string name = await broker.CreateTopicAsync("lo-v");
        var response = await broker.SendAsync<ListOffsetsResponse>(Request(name, 0, -1), 0);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.Topics.Single().Partitions.Single().ErrorCode);
    }
}

public sealed class OffsetForLeaderEpochHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static OffsetForLeaderEpochRequest Request(string topic, int partition, int leaderEpoch) => new()
    {
        ReplicaId = -1,
        Topics = [new OffsetForLeaderEpochRequest.OffsetForLeaderTopic { Topic = topic, Partitions = [new OffsetForLeaderEpochRequest.OffsetForLeaderPartition { Partition = partition, CurrentLeaderEpoch = -1, LeaderEpoch = leaderEpoch }] }],
    };

    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_answering_the_end_offset()
    {
        string name = await broker.CreateTopicAsync("oe-o");
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 0, records: 2)).ErrorCode);
        OffsetForLeaderEpochResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<OffsetForLeaderEpochResponse>(Request(name, 0, 0), 4);
        var p = response.Topics.Single().Partitions.Single();
        Assert.Equal(ErrorCodes.None, p.ErrorCode);
        Assert.Equal(2, p.EndOffset);
    }

    [Fact]
    public async Task An_unknown_topic_or_partition_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        var response = await broker.SendAsync<OffsetForLeaderEpochResponse>(Request(HandlerHarness.Unique("oe-x"), 0, 0), 4);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, response.Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task An_epoch_newer_than_the_leaders_is_UNKNOWN_LEADER_EPOCH()
    {
        string name = await broker.CreateTopicAsync("oe-e");
        var response = await broker.SendAsync<OffsetForLeaderEpochResponse>(Request(name, 0, 1_000_000), 4);
        Assert.Equal(ErrorCodes.UnknownLeaderEpoch, response.Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Version_1_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION_for_every_partition()
    {
        string name = await broker.CreateTopicAsync("oe-v");
        var response = await broker.SendAsync<OffsetForLeaderEpochResponse>(Request(name, 0, 0), 1);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.Topics.Single().Partitions.Single().ErrorCode);
    }
}
