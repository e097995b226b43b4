using System.Buffers.Binary;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Tests.Handlers;

public sealed class MetadataHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static MetadataRequest Request(bool autoCreate, params string[] topics) => new()
    {
        Topics = [.. topics.Select(t => new MetadataRequest.MetadataRequestTopic { Name = t })],
        AllowAutoTopicCreation = autoCreate,
    };

    [Fact]
    public async Task A_metadata_store_outage_answers_LEADER_NOT_AVAILABLE_for_a_topic_it_would_create_and_describes_the_others()
    {
        string existing = await broker.CreateTopicAsync("md-e");
        string missing = HandlerHarness.Unique("md-n");
        MetadataResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<MetadataResponse>(Request(true, existing, missing), 12);
        Assert.Equal(ErrorCodes.None, response.Topics.Single(t => t.Name == existing).ErrorCode);
        Assert.Equal(ErrorCodes.LeaderNotAvailable, response.Topics.Single(t => t.Name == missing).ErrorCode);
        Assert.Contains(response.Brokers, b => b.NodeId == broker.BrokerId);

        // The client's retry after the outage creates it (answered LEADER_NOT_AVAILABLE, as Kafka
        // answers the request that creates a topic), and the one after that describes it.
        var creating = await broker.SendAsync<MetadataResponse>(Request(true, missing), 12);
        Assert.Equal(ErrorCodes.LeaderNotAvailable, creating.Topics.Single().ErrorCode);
        var after = await broker.SendAsync<MetadataResponse>(Request(true, missing), 12);
        Assert.Equal(ErrorCodes.None, after.Topics.Single().ErrorCode);
    }

    [Fact]
    public async Task An_unknown_topic_without_auto_creation_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        var response = await broker.SendAsync<MetadataResponse>(Request(false, HandlerHarness.Unique("md-u")), 12);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, response.Topics.Single().ErrorCode);
    }

    [Fact]
    public async Task An_invalid_topic_name_is_INVALID_TOPIC_EXCEPTION_and_is_not_created()
    {
        var response = await broker.SendAsync<MetadataResponse>(Request(true, "no/slashes"), 12);
        Assert.Equal(ErrorCodes.InvalidTopicException, response.Topics.Single().ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_is_answered_in_the_highest_without_topics()
    {
        var response = await broker.SendWithHeaderVersionAsync<MetadataResponse>(Request(false, "x"), headerVersion: 13, bodyVersion: 12, responseVersion: 12);
        Assert.Empty(response.Topics);
    }
}

public sealed class InitProducerIdHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_answers_COORDINATOR_LOAD_IN_PROGRESS_until_a_block_of_ids_can_be_reserved()
    {
        var request = new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = -1, ProducerId = -1, ProducerEpoch = -1 };
        InitProducerIdResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.SendAsync<InitProducerIdResponse>(request, 5);
        Assert.Equal(ErrorCodes.CoordinatorLoadInProgress, during.ErrorCode);
        Assert.Equal(-1, during.ProducerId);
        Assert.True(((ErrorCode)during.ErrorCode).IsRetriable());

        var after = await broker.SendAsync<InitProducerIdResponse>(request, 5);
        Assert.Equal(ErrorCodes.None, after.ErrorCode);
        Assert.True(after.ProducerId >= 0);
    }

    [Fact]
    public async Task A_transactional_id_is_TRANSACTIONAL_ID_AUTHORIZATION_FAILED()
    {
        var response = await broker.SendAsync<InitProducerIdResponse>(new InitProducerIdRequest { TransactionalId = "tx", TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 }, 5);
        Assert.Equal(ErrorCodes.TransactionalIdAuthorizationFailed, response.ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_is_UNSUPPORTED_VERSION()
    {
        var request = new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = -1, ProducerId = -1, ProducerEpoch = -1 };
        var response = await broker.SendWithHeaderVersionAsync<InitProducerIdResponse>(request, headerVersion: 6, bodyVersion: 5, responseVersion: 5);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.ErrorCode);
    }
}

public sealed class DescribeClusterHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_describing_the_cluster_from_memory()
    {
        DescribeClusterResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<DescribeClusterResponse>(new DescribeClusterRequest(), 1);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        Assert.Contains(response.Brokers, b => b.BrokerId == broker.BrokerId);
    }

    [Fact]
    public async Task A_version_above_the_highest_is_UNSUPPORTED_VERSION()
    {
        var response = await broker.SendWithHeaderVersionAsync<DescribeClusterResponse>(new DescribeClusterRequest(), headerVersion: 2, bodyVersion: 1, responseVersion: 1);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.ErrorCode);
    }
}

public sealed class DescribeLogDirsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static DescribeLogDirsRequest For(string topic, params int[] partitions) =>
        new() { Topics = [new DescribeLogDirsRequest.DescribableLogDirTopic { Topic = topic, Partitions = [.. partitions] }] };

    [Fact]
    public async Task Each_partition_reports_the_bytes_of_its_durable_data_in_one_log_dir_of_the_store()
    {
        string topic = await broker.CreateTopicAsync("ld", partitions: 2);
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(topic, 0, records: 50)).ErrorCode);

        var response = await broker.SendAsync<DescribeLogDirsResponse>(For(topic, 0, 1), 4);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        var dir = Assert.Single(response.Results);
        Assert.Equal(ErrorCodes.None, dir.ErrorCode);
        Assert.EndsWith("/objects/default", dir.LogDir, StringComparison.Ordinal);
        Assert.True(dir.TotalBytes > 0 && dir.UsableBytes > 0 && dir.UsableBytes <= dir.TotalBytes, $"volume {dir.TotalBytes}/{dir.UsableBytes}");
        var partitions = Assert.Single(dir.Topics, t => t.Name == topic).Partitions.OrderBy(p => p.PartitionIndex).ToList();
        Assert.Equal([0, 1], partitions.Select(p => p.PartitionIndex));
        // 50 records acknowledged with acks=-1 are durable, so counted; the empty partition is 0.
        Assert.True(partitions[0].PartitionSize > 50, $"partition 0 holds {partitions[0].PartitionSize} bytes");
        Assert.Equal(0, partitions[1].PartitionSize);
        Assert.All(partitions, p => { Assert.Equal(0, p.OffsetLag); Assert.False(p.IsFutureKey); });

        long before = partitions[0].PartitionSize;
        await broker.ProduceAsync(topic, 0, records: 50);
        var grown = await broker.SendAsync<DescribeLogDirsResponse>(For(topic, 0), 4);
        Assert.True(grown.Results.Single().Topics.Single().Partitions.Single().PartitionSize > before);
    }

    [Fact]
    public async Task All_topics_are_described_when_the_request_names_none_and_unknown_partitions_are_left_out()
    {
        string topic = await broker.CreateTopicAsync("ld-all");
        await broker.ProduceAsync(topic, 0);
        var all = await broker.SendAsync<DescribeLogDirsResponse>(new DescribeLogDirsRequest { Topics = null }, 4);
        Assert.Contains(all.Results.Single().Topics, t => t.Name == topic && t.Partitions.Single().PartitionSize > 0);

        var unknown = await broker.SendAsync<DescribeLogDirsResponse>(For(HandlerHarness.Unique("ld-none"), 0), 4);
        Assert.Equal(ErrorCodes.None, unknown.ErrorCode);
        Assert.Empty(unknown.Results.Single().Topics);
        var missingPartition = await broker.SendAsync<DescribeLogDirsResponse>(For(topic, 7), 1);
        Assert.Empty(missingPartition.Results.Single().Topics);
    }

    [Fact]
    public async Task Version_0_is_below_what_Kafka_4_accepts_and_is_UNSUPPORTED_VERSION()
    {
        var response = await broker.SendAsync<DescribeLogDirsResponse>(new DescribeLogDirsRequest { Topics = null }, 0);
        Assert.Empty(response.Results);
        var v3 = await broker.SendAsync<DescribeLogDirsResponse>(new DescribeLogDirsRequest { Topics = null }, 3);
        Assert.Equal(ErrorCodes.None, v3.ErrorCode);
        Assert.Single(v3.Results);
    }
}

public sealed class ApiVersionsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_does_not_change_the_advertised_apis()
    {
        ApiVersionsResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<ApiVersionsResponse>(new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" }, 4);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        Assert.Contains(response.ApiKeys, k => k.ApiKey == CreateTopicsRequest.ApiKey);
    }

    [Fact]
    public async Task An_unknown_version_gets_the_v0_answer_with_UNSUPPORTED_VERSION_and_the_api_list()
    {
        var response = await broker.SendWithHeaderVersionAsync<ApiVersionsResponse>(new ApiVersionsRequest(), headerVersion: 99, bodyVersion: 4, responseVersion: 0);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.ErrorCode);
        Assert.Contains(response.ApiKeys, k => k.ApiKey == ApiVersionsRequest.ApiKey && k.MaxVersion == 4);
    }
}

/// <summary>What the dispatcher and the connection do with frames no handler can serve.</summary>
public sealed class RequestDispatcherTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task An_unknown_api_key_gets_a_response_header_followed_by_UNSUPPORTED_VERSION_and_the_connection_stays_open()
    {
        await using var connection = await broker.ConnectAsync();
        using var writer = new KafkaWriter();
        new RequestHeader { RequestApiKey = 99, RequestApiVersion = 0, CorrelationId = 4711, ClientId = "t" }.Write(writer, 1);
        await connection.SendFrameAsync(writer.ToArray());
        byte[] frame = (await connection.ReadFrameAsync())!;
        Assert.Equal(10, frame.Length);
        Assert.Equal(4711, BinaryPrimitives.ReadInt32BigEndian(frame));
        Assert.Equal(ErrorCodes.UnsupportedVersion, BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(4)));
        Assert.Equal(0, BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(6)));

        var next = await connection.SendAsync<ApiVersionsResponse>(ApiVersionsRequest.ApiKey, 3, new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" });
        Assert.Equal(ErrorCodes.None, next.ErrorCode);
    }

    [Fact]
    public async Task A_body_that_does_not_decode_gets_a_well_formed_error_answer_not_a_closed_connection()
    {
        await using var connection = await broker.ConnectAsync();
        using var writer = new KafkaWriter();
        new RequestHeader { RequestApiKey = CreateTopicsRequest.ApiKey, RequestApiVersion = 7, CorrelationId = 9, ClientId = "t" }.Write(writer, 2);
        // A compact array claiming 1000 topics, then nothing.
        writer.WriteUnsignedVarInt(1001);
        await connection.SendFrameAsync(writer.ToArray());
        byte[] frame = (await connection.ReadFrameAsync())!;
        var response = RawKafkaConnectionDecode<CreateTopicsResponse>(frame, CreateTopicsRequest.ApiKey, 7, 9);
        Assert.Empty(response.Topics);
    }

    private static T RawKafkaConnectionDecode<T>(byte[] frame, short apiKey, short version, int correlationId) where T : IKafkaMessage, new() =>
        KafScale.TestSupport.RawKafkaConnection.DecodeResponse<T>(frame, apiKey, version, correlationId);

    [Fact]
    public async Task A_negative_frame_size_closes_the_connection_without_an_answer()
    {
        await using var connection = await broker.ConnectAsync();
        await connection.SendRawAsync(new byte[] { 0xFF, 0xFF, 0xFF, 0xF0, 0, 0, 0, 0 });
        var (closed, received) = await connection.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        Assert.True(closed);
        Assert.Equal(0, received);
    }

    [Fact]
    public async Task A_frame_too_short_for_a_request_header_closes_the_connection_without_an_answer()
    {
        await using var connection = await broker.ConnectAsync();
        await connection.SendFrameAsync(new byte[] { 0, 3, 0 });
        var (closed, received) = await connection.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        Assert.True(closed);
        Assert.Equal(0, received);
    }
}
