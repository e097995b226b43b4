using System.Text;
using KafScale.Protocol.HotPath;
using KafScale.Protocol.Messages;

namespace KafScale.Protocol.Tests;

/// <summary>
/// Byte strings assembled by hand from the field tables of the Kafka protocol guide, so they do not
/// depend on the generator's reading of the schemas.
/// </summary>
public class WireVectorTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static string Ascii(string s) => Convert.ToHexString(Encoding.ASCII.GetBytes(s));

    // ApiVersions v3 request, header v2: api_key 18, api_version 3, correlation_id 1,
    // client_id "rdkafka" (int16 length even in v2), empty tagged fields; body: compact strings
    // client_software_name "librdkafka", client_software_version "2.0.2", empty tagged fields.
    private static readonly byte[] ApiVersionsV3Frame = Hex(
        "0012 0003 00000001 0007" + Ascii("rdkafka") + "00" +
        "0B" + Ascii("librdkafka") + "06" + Ascii("2.0.2") + "00");

    [Fact]
    public void ApiVersions_v3_request_header_and_body_parse_from_hand_made_bytes()
    {
        KafkaRequestHeader header = KafkaRequestHeader.Parse(ApiVersionsV3Frame);

        Assert.Equal(ApiKeys.ApiVersions, header.ApiKey);
        Assert.Equal(3, header.ApiVersion);
        Assert.Equal(1, header.CorrelationId);
        Assert.Equal(2, header.HeaderVersion);
        Assert.Equal("rdkafka", header.GetClientId(ApiVersionsV3Frame));
        Assert.Equal(2 + 2 + 4 + 2 + 7 + 1, header.BodyOffset);

        var request = new ApiVersionsRequest();
        var reader = new KafkaReader(ApiVersionsV3Frame.AsMemory(header.BodyOffset));
        request.Read(ref reader, header.ApiVersion);
        Assert.Equal("librdkafka", request.ClientSoftwareName);
        Assert.Equal("2.0.2", request.ClientSoftwareVersion);
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void ApiVersions_v3_request_is_written_byte_for_byte()
    {
        using var writer = new KafkaWriter();
        new RequestHeader { RequestApiKey = 18, RequestApiVersion = 3, CorrelationId = 1, ClientId = "rdkafka" }.Write(writer, 2);
        new ApiVersionsRequest { ClientSoftwareName = "librdkafka", ClientSoftwareVersion = "2.0.2" }.Write(writer, 3);

        Assert.Equal(Convert.ToHexString(ApiVersionsV3Frame), Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void ApiVersions_v0_response_uses_int32_arrays_and_no_tagged_fields()
    {
        var response = new ApiVersionsResponse
        {
            ErrorCode = 0,
            ApiKeys = [new() { ApiKey = 0, MinVersion = 3, MaxVersion = 11 }, new() { ApiKey = 18, MinVersion = 0, MaxVersion = 4 }],
        };
        using var writer = new KafkaWriter();
        response.Write(writer, 0);

        Assert.Equal("0000" + "00000002" + "0000" + "0003" + "000B" + "0012" + "0000" + "0004", Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void ApiVersions_v3_response_uses_compact_arrays_and_tagged_sections_everywhere()
    {
        var response = new ApiVersionsResponse
        {
            ErrorCode = 35,
            ApiKeys = [new() { ApiKey = 18, MinVersion = 0, MaxVersion = 4 }],
            ThrottleTimeMs = 7,
        };
        using var writer = new KafkaWriter();
        response.Write(writer, 3);

        // error 35, compact array of 1, (18, 0, 4, no tags), throttle 7, no tags
        Assert.Equal("0023" + "02" + "0012" + "0000" + "0004" + "00" + "00000007" + "00", Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void Metadata_v12_request_with_a_topic_id_and_name()
    {
        var id = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        byte[] expected = Hex(
            "02" +                                   // compact array: 1 topic
            "00112233445566778899AABBCCDDEEFF" +     // topic_id, most significant byte first
            "07" + Ascii("orders") +                 // compact nullable string
            "00" +                                   // topic tagged fields
            "01" +                                   // allow_auto_topic_creation
            "00" +                                   // include_topic_authorized_operations
            "00");                                   // tagged fields
        var request = new MetadataRequest
        {
            Topics = [new() { TopicId = id, Name = "orders" }],
            AllowAutoTopicCreation = true,
            IncludeTopicAuthorizedOperations = false,
        };

        using var writer = new KafkaWriter();
        request.Write(writer, 12);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(writer.WrittenSpan));

        var decoded = new MetadataRequest();
        var reader = new KafkaReader(expected);
        decoded.Read(ref reader, 12);
        Assert.Equal(id, decoded.Topics![0].TopicId);
        Assert.Equal("orders", decoded.Topics[0].Name);
    }

    [Fact]
    public void Metadata_v12_request_for_all_topics_is_a_null_array()
    {
        var decoded = new MetadataRequest();
        var reader = new KafkaReader(Hex("00 01 00 00"));
        decoded.Read(ref reader, 12);
        Assert.Null(decoded.Topics);

        // Before v1 there is no null: an empty int32 array means all topics.
        reader = new KafkaReader(Hex("00000000"));
        decoded.Read(ref reader, 0);
        Assert.Empty(decoded.Topics!);
    }

    // Produce v9: transactional_id null, acks -1, timeout 30000, one topic "events" with two
    // partitions (0: 3 record bytes, 1: null records). Tagged fields end each partition, the topic
    // and the request.
    internal static readonly byte[] ProduceV9Body = Hex(
        "00" + "FFFF" + "00007530" +
        "02" + "07" + Ascii("events") +
        "03" +
        "00000000" + "04" + "AABBCC" + "00" +
        "00000001" + "00" + "00" +
        "00" +
        "00");

    [Fact]
    public void Produce_v9_request_with_tagged_sections_after_each_partition()
    {
        var request = new ProduceRequest();
        var reader = new KafkaReader(ProduceV9Body);
        request.Read(ref reader, 9);

        Assert.Null(request.TransactionalId);
        Assert.Equal(-1, request.Acks);
        Assert.Equal(30000, request.TimeoutMs);
        ProduceRequest.TopicProduceData topic = Assert.Single(request.TopicData);
        Assert.Equal("events", topic.Name);
        Assert.Equal(2, topic.PartitionData.Count);
        Assert.Equal(new byte[] { 0xAA, 0xBB, 0xCC }, topic.PartitionData[0].Records!.Value.ToArray());
        Assert.Equal(1, topic.PartitionData[1].Index);
        Assert.Null(topic.PartitionData[1].Records);

        using var writer = new KafkaWriter();
        request.Write(writer, 9);
        Assert.Equal(ProduceV9Body, writer.ToArray());
    }

    [Fact]
    public void Produce_v3_request_uses_int16_strings_and_int32_lengths()
    {
        byte[] body = Hex(
            "0002" + Ascii("tx") + "0001" + "000003E8" +
            "00000001" + "0001" + Ascii("t") +
            "00000001" + "00000005" + "00000002" + "0102");
        var request = new ProduceRequest();
        var reader = new KafkaReader(body);
        request.Read(ref reader, 3);

        Assert.Equal("tx", request.TransactionalId);
        Assert.Equal(1000, request.TimeoutMs);
        Assert.Equal(5, request.TopicData[0].PartitionData[0].Index);
        Assert.Equal(new byte[] { 1, 2 }, request.TopicData[0].PartitionData[0].Records!.Value.ToArray());
    }

    [Fact]
    public void Fetch_v12_response_frame_from_the_hot_writer()
    {
        using var writer = new KafkaWriter();
        var fetch = new FetchResponseWriter(writer);
        fetch.Begin(version: 12, correlationId: 9, throttleTimeMs: 0, errorCode: 0, sessionId: 0, topicCount: 1);
        fetch.BeginTopic("t"u8, partitionCount: 1);
        fetch.Partition(partitionIndex: 2, errorCode: 0, highWatermark: 10, lastStableOffset: 10, logStartOffset: 0, preferredReadReplica: -1, recordsLength: 2);
        fetch.WriteRecords([0xDE, 0xAD]);
        fetch.EndTopic();
        fetch.End();

        string body =
            "00000009" + "00" +                     // correlation id, header tagged fields (header v1)
            "00000000" + "0000" + "00000000" +      // throttle, error, session
            "02" + "02" + Ascii("t") + "02" +       // 1 topic "t", 1 partition
            "00000002" + "0000" + "000000000000000A" + "000000000000000A" + "0000000000000000" +
            "00" +                                  // aborted transactions: null
            "FFFFFFFF" +                            // preferred read replica
            "03" + "DEAD" + "00" +                  // records (compact), partition tagged fields
            "00" + "00";                            // topic and response tagged fields
        int size = body.Length / 2;
        Assert.Equal(size.ToString("X8") + body, Convert.ToHexString(writer.WrittenSpan));
    }

    [Fact]
    public void Produce_v8_response_frame_from_the_hot_writer()
    {
        using var writer = new KafkaWriter();
        var produce = new ProduceResponseWriter(writer);
        produce.Begin(version: 8, correlationId: 3, topicCount: 1);
        produce.BeginTopic("t"u8, partitionCount: 1);
        produce.Partition(partitionIndex: 0, errorCode: 6, baseOffset: -1);
        produce.EndTopic();
        produce.End(throttleTimeMs: 0);

        string body =
            "00000003" +                            // correlation id (header v0)
            "00000001" + "0001" + Ascii("t") + "00000001" +
            "00000000" + "0006" + "FFFFFFFFFFFFFFFF" + "FFFFFFFFFFFFFFFF" + "FFFFFFFFFFFFFFFF" +
            "00000000" + "FFFF" +                   // no record errors, null error message
            "00000000";                             // throttle time
        Assert.Equal((body.Length / 2).ToString("X8") + body, Convert.ToHexString(writer.WrittenSpan));
    }
}
