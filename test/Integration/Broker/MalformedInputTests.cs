using System.Buffers.Binary;
using System.Text;
using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Broker;

/// <summary>
/// Bytes no client library would send, over a plain socket. The broker either answers with a
/// well-formed response carrying the Kafka error code, or (when the bytes are not a request at
/// all) closes that one connection; it keeps serving everyone else either way.
/// </summary>
public sealed class MalformedInputTests(ITestOutputHelper output) : BrokerTest(output)
{
    private const int MaxRequestBytes = 1024 * 1024;
    private static readonly BrokerOptions Limited = new() { MaxRequestBytes = MaxRequestBytes, AutoCreateTopics = false };
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(15);

    public static TheoryData<string> GarbageKinds => new()
    {
        "http-request",
        "negative-size",
        "frame-shorter-than-a-request-header",
        "client-id-longer-than-the-frame",
        "size-prefix-above-max-request-bytes",
    };

    [Theory]
    [MemberData(nameof(GarbageKinds))]
    public Task Garbage_closes_its_connection_without_an_answer_and_the_broker_keeps_serving(string kind) =>
        WithBrokerAsync(async broker =>
        {
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);

            await connection.SendRawAsync(Garbage(kind));

            (bool closed, int received) = await connection.WaitForCloseAsync(CloseTimeout);
            Assert.True(closed, $"the broker kept the connection open after {kind} for {CloseTimeout}");
            Assert.Equal(0, received);
            await AssertBrokerServesAsync(broker);
        }, Limited);

    [Fact]
    public Task A_truncated_frame_blocks_no_other_client_and_its_connection_is_closed_at_end_of_stream() =>
        WithBrokerAsync(async broker =>
        {
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            byte[] frame = RawKafkaConnection.EncodeRequest(ApiKeys.Metadata, RawRequests.MetadataVersion, 1,
                new MetadataRequest { Topics = null, AllowAutoTopicCreation = false });
            byte[] truncated = new byte[4 + (frame.Length / 2)];
            BinaryPrimitives.WriteInt32BigEndian(truncated, frame.Length);
            frame.AsSpan(0, frame.Length / 2).CopyTo(truncated.AsSpan(4));

            await connection.SendRawAsync(truncated);
            await AssertBrokerServesAsync(broker);
            connection.ShutdownSend();

            (bool closed, int received) = await connection.WaitForCloseAsync(CloseTimeout);
            Assert.True(closed, "the broker kept a connection open after end-of-stream inside a frame");
            Assert.Equal(0, received);
            await AssertBrokerServesAsync(broker);
        }, Limited);

    [Fact]
    public Task A_request_just_under_max_request_bytes_is_served() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("big");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            using var builder = new RecordBatchBuilder();
            builder.Add(Encoding.UTF8.GetBytes("big"), new byte[MaxRequestBytes - 4096], DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);

            ProduceResponse.PartitionProduceResponse response = await RawRequests.ProduceAsync(connection, topic, 0, builder.Build());

            Assert.Equal(0, response.ErrorCode);
            Assert.Equal(1, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
        }, Limited);

    [Fact]
    public Task A_batch_with_a_wrong_CRC_is_refused_with_CORRUPT_MESSAGE_and_nothing_is_appended() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("crc");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
            byte[] batch = RawRequests.Batch("corrupt", 0, 5);
            batch[RecordBatch.CrcOffset + 2] ^= 0x5A;
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);

            ProduceResponse.PartitionProduceResponse response = await RawRequests.ProduceAsync(connection, topic, 0, batch);

            Assert.Equal((short)ErrorCode.CorruptMessage, response.ErrorCode);
            Assert.Equal(0, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
            await AssertConnectionServesAsync(connection);
            await AssertBrokerServesAsync(broker);
        }, Limited);

    [Fact]
    public Task An_unknown_api_key_is_answered_with_UNSUPPORTED_VERSION() =>
        WithBrokerAsync(async broker =>
        {
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            const short UnknownKey = 777;
            int correlationId = connection.NextCorrelationId();
            using var writer = new KafkaWriter();
            new RequestHeader { RequestApiKey = UnknownKey, RequestApiVersion = 0, CorrelationId = correlationId, ClientId = "kafscale-it" }.Write(writer, 1);

            await connection.SendFrameAsync(writer.ToArray());

            byte[] frame = await connection.ReadFrameAsync() ?? throw new InvalidDataException(
                "the broker closed the connection instead of answering an unknown api key with UNSUPPORTED_VERSION");
            Assert.True(frame.Length >= 6, $"answer too short: {Convert.ToHexString(frame)}");
            Assert.Equal(correlationId, BinaryPrimitives.ReadInt32BigEndian(frame));
            Assert.Equal((short)ErrorCode.UnsupportedVersion, BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(4)));
            await AssertConnectionServesAsync(connection);
            await AssertBrokerServesAsync(broker);
        }, Limited);

    [Fact]
    public Task ApiVersions_above_the_highest_version_is_answered_in_v0_with_UNSUPPORTED_VERSION_and_the_api_list() =>
        WithBrokerAsync(async broker =>
        {
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            const short TooHigh = 127;
            int correlationId = connection.NextCorrelationId();
            // As a newer client sends it (KIP-511): flexible header v2 and a v3-shaped body.
            using var writer = new KafkaWriter();
            new RequestHeader { RequestApiKey = ApiKeys.ApiVersions, RequestApiVersion = TooHigh, CorrelationId = correlationId, ClientId = "kafscale-it" }.Write(writer, 2);
            new ApiVersionsRequest { ClientSoftwareName = "future-client", ClientSoftwareVersion = "99.0" }.Write(writer, 3);

            await connection.SendFrameAsync(writer.ToArray());

            byte[] frame = await connection.ReadFrameAsync() ?? throw new InvalidDataException("the broker closed the connection");
            ApiVersionsResponse response = RawKafkaConnection.DecodeResponse<ApiVersionsResponse>(frame, ApiKeys.ApiVersions, 0, correlationId);
            Assert.Equal((short)ErrorCode.UnsupportedVersion, response.ErrorCode);
            ApiVersionsResponse.ApiVersion versions = Assert.Single(response.ApiKeys, k => k.ApiKey == ApiKeys.ApiVersions);
            Assert.True(versions.MaxVersion >= 3, $"ApiVersions max {versions.MaxVersion}");
            Assert.Contains(response.ApiKeys, k => k.ApiKey == ApiKeys.Produce);
            Assert.Contains(response.ApiKeys, k => k.ApiKey == ApiKeys.Fetch);
            Assert.Contains(response.ApiKeys, k => k.ApiKey == ApiKeys.Metadata);
            await AssertConnectionServesAsync(connection);
            await AssertBrokerServesAsync(broker);
        }, Limited);

    [Fact]
    public Task A_Produce_to_a_partition_the_topic_does_not_have_is_refused_with_UNKNOWN_TOPIC_OR_PARTITION() =>
        WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("nopartition");
            await RawRequests.CreateTopicAsync(broker, topic, partitions: 2);
            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);

            ProduceResponse.PartitionProduceResponse missingPartition = await RawRequests.ProduceAsync(connection, topic, 5, RawRequests.Batch("x", 0, 1));
            ProduceResponse.PartitionProduceResponse missingTopic = await RawRequests.ProduceAsync(connection, topic + "-absent", 0, RawRequests.Batch("x", 0, 1));

            Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, missingPartition.ErrorCode);
            Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, missingTopic.ErrorCode);
            Assert.Equal(0, await RawRequests.ListOffsetAsync(broker, topic, 0, -1));
            await AssertConnectionServesAsync(connection);
            await AssertBrokerServesAsync(broker);
        }, Limited);

    private static byte[] Garbage(string kind)
    {
        switch (kind)
        {
            case "http-request":
                return Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
            case "negative-size":
                return [0xFF, 0xFF, 0xFF, 0xF0, 0, 18, 0, 3, 0, 0, 0, 1];
            case "frame-shorter-than-a-request-header":
                return [0, 0, 0, 3, 0, 3, 0];
            case "client-id-longer-than-the-frame":
            {
                // Metadata v1 header whose client id claims 32767 bytes of a 12-byte frame.
                byte[] frame = [0, 0, 0, 12, 0, 3, 0, 1, 0, 0, 0, 7, 0x7F, 0xFF, (byte)'a', (byte)'b'];
                return frame;
            }
            case "size-prefix-above-max-request-bytes":
            {
                byte[] bytes = new byte[4 + 4096];
                BinaryPrimitives.WriteInt32BigEndian(bytes, (2 * MaxRequestBytes) + 1);
                BinaryPrimitives.WriteInt16BigEndian(bytes.AsSpan(4), ApiKeys.Produce);
                BinaryPrimitives.WriteInt16BigEndian(bytes.AsSpan(6), 9);
                return bytes;
            }
            default:
                throw new ArgumentException(kind, nameof(kind));
        }
    }

    /// <summary>A new connection gets ApiVersions and Metadata answered.</summary>
    private static async Task AssertBrokerServesAsync(BrokerProcess broker)
    {
        await using RawKafkaConnection other = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        await AssertConnectionServesAsync(other);
        MetadataResponse metadata = await other.SendAsync<MetadataResponse>(ApiKeys.Metadata, RawRequests.MetadataVersion,
            new MetadataRequest { Topics = null, AllowAutoTopicCreation = false });
        Assert.Single(metadata.Brokers);
    }

    private static async Task AssertConnectionServesAsync(RawKafkaConnection connection)
    {
        ApiVersionsResponse versions = await connection.SendAsync<ApiVersionsResponse>(ApiKeys.ApiVersions, 3,
            new ApiVersionsRequest { ClientSoftwareName = "kafscale-it", ClientSoftwareVersion = "1" });
        Assert.Equal(0, versions.ErrorCode);
        Assert.NotEmpty(versions.ApiKeys);
    }
}
