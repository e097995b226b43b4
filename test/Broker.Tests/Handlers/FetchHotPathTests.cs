using System.Buffers;
using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>
/// The Fetch handler as a hot path (docs/architecture.md, "The read path"): request frames go
/// straight to the broker's real request dispatcher in this process, as a connection hands them
/// over. Every served version answers as before, and serving a fetch allocates nothing once warm.
/// </summary>
public sealed class FetchHotPathTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    public static TheoryData<short> ServedVersions()
    {
        var data = new TheoryData<short>();
        for (short v = 4; v <= FetchRequest.HighestSupportedVersion; v++) data.Add(v);
        return data;
    }

    private static readonly ClientContext Client = new("127.0.0.1:50000");

    /// <summary>
    /// A consumer's fetch of partitions 0 (from offset 0) and 1 (from offset 5) of the topic, and of
    /// a topic that does not exist (a non-ASCII name before v13, an unknown id after).
    /// </summary>
    private static FetchRequest Request(string topic, Guid topicId, string missing) => new()
    {
        ReplicaId = -1,
        MaxWaitMs = 500,
        MinBytes = 1,
        MaxBytes = 1 << 20,
        SessionEpoch = -1,
        Topics =
        [
            new()
            {
                Topic = topic,
                TopicId = topicId,
                Partitions =
                [
                    new() { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 1 << 20 },
                    new() { Partition = 1, FetchOffset = 5, PartitionMaxBytes = 1 << 20 },
                ],
            },
            new() { Topic = missing, TopicId = Guid.NewGuid(), Partitions = [new() { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 1 << 20 }] },
        ],
        ForgottenTopicsData = [new() { Topic = "old", TopicId = Guid.NewGuid(), Partitions = [0, 1] }],
        RackId = "rack-a",
        ClusterId = "some-cluster",
    };

    private async Task<(string Name, Guid Id)> TopicWithDataAsync()
    {
        string name = await broker.CreateTopicAsync("fh", partitions: 2);
        for (int partition = 0; partition < 2; partition++)
            for (int i = 0; i < 3; i++)
                Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, partition, records: 4)).ErrorCode);
        Assert.True(broker.Logs.TryGetTopic(name, out var topic));
        return (name, topic.Id);
    }

    /// <summary>Dispatches one frame; a fetch with data to return completes without waiting.</summary>
    private ResponseFrame Serve(byte[] frame)
    {
        var pending = broker.Dispatcher.DispatchAsync(Client, frame);
        Assert.True(pending.IsCompletedSuccessfully, "the fetch should have been answered at once");
        return pending.Result ?? throw new InvalidOperationException("no response");
    }

    private FetchResponse ServeAndDecode(byte[] frame, short version, int correlationId)
    {
        using var response = Serve(frame);
        return RawKafkaConnection.DecodeResponse<FetchResponse>(response.Bytes[4..].ToArray(), ApiKeys.Fetch, version, correlationId);
    }

    [Theory]
    [MemberData(nameof(ServedVersions))]
    public async Task Every_served_version_returns_the_data_and_names_topics_as_the_client_did(short version)
    {
        var (name, id) = await TopicWithDataAsync();
        string missing = "mißing-" + HandlerHarness.Unique("t");
        byte[] frame = RawKafkaConnection.EncodeRequest(ApiKeys.Fetch, version, 41, Request(name, id, missing), "fetch-tests");
        var response = ServeAndDecode(frame, version, 41);

        Assert.Equal(2, response.Responses.Count);
        var found = response.Responses[0];
        var absent = response.Responses[1];
        if (version >= 13)
        {
            Assert.Equal(id, found.TopicId);
            Assert.Equal(ErrorCodes.UnknownTopicId, absent.Partitions.Single().ErrorCode);
        }
        else
        {
            Assert.Equal(name, found.Topic);
            // An unknown topic's name goes back byte for byte as the client sent it.
            Assert.Equal(missing, absent.Topic);
            Assert.Equal(ErrorCodes.UnknownTopicOrPartition, absent.Partitions.Single().ErrorCode);
        }

        Assert.Equal([0, 1], found.Partitions.Select(p => p.PartitionIndex));
        Assert.All(found.Partitions, p => Assert.Equal(ErrorCodes.None, p.ErrorCode));
        Assert.All(found.Partitions, p => Assert.Equal(12, p.HighWatermark));
        // Whole batches: from offset 0 all three, from offset 5 the batch holding it and the next.
        Assert.Equal(12, Batches.Records(found.Partitions[0].Records!.Value.ToArray()));
        Assert.Equal(8, Batches.Records(found.Partitions[1].Records!.Value.ToArray()));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(16)]
    [InlineData(17)]
    public async Task Serving_a_fetch_allocates_nothing_once_warm(short version)
    {
        var (name, id) = await TopicWithDataAsync();
        byte[] frame = RawKafkaConnection.EncodeRequest(ApiKeys.Fetch, version, 7, Request(name, id, "missing-" + HandlerHarness.Unique("t")), "fetch-tests");
        int expected;
        using (var first = Serve(frame)) expected = first.Length;
        Assert.True(expected > 2 * 3 * 4 * 8, "the response should carry the records");

        // Everything runs on this thread (the fetch has data and never waits), so the thread's
        // allocation counter sees the whole request: dispatch, walk, reads, response frame.
        for (int i = 0; i < 200; i++) Drain(frame);
        long bytes = 0, served = 0;
        long allocated = Allocations.LeastPerRound(_ => { bytes += Drain(frame); served++; }, 2_000);

        Assert.Equal(0, allocated);
        Assert.Equal(served * expected, bytes);

        int Drain(byte[] request)
        {
            using var response = Serve(request);
            return response.Length;
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(12)]
    [InlineData(17)]
    public async Task A_body_that_does_not_decode_is_answered_CORRUPT_MESSAGE_by_the_codec_path(short version)
    {
        var (name, id) = await TopicWithDataAsync();
        byte[] frame = RawKafkaConnection.EncodeRequest(ApiKeys.Fetch, version, 9, Request(name, id, "x"), "fetch-tests");
        var response = ServeAndDecode(frame[..^3], version, 9);
        if (version >= 7) Assert.Equal(ErrorCodes.CorruptMessage, response.ErrorCode);
        // The codec answers for whatever it decoded before the end, with no data.
        Assert.All(response.Responses.SelectMany(t => t.Partitions), p =>
        {
            Assert.Equal(ErrorCodes.CorruptMessage, p.ErrorCode);
            Assert.Equal(0, p.Records?.Length ?? 0);
        });
    }

    [Fact]
    public void An_unknown_topic_name_longer_than_any_topic_can_have_goes_back_as_sent()
    {
        // Before v13 the unknown topic's name is copied from the request into the response; a
        // name longer than any topic can have is not found and goes back as sent.
        string longName = new('n', 300);
        byte[] frame = RawKafkaConnection.EncodeRequest(ApiKeys.Fetch, 12, 3, Request(longName, Guid.Empty, "other"), "fetch-tests");
        var response = ServeAndDecode(frame, 12, 3);
        Assert.Equal(longName, response.Responses[0].Topic);
        Assert.All(response.Responses, t => Assert.Equal(ErrorCodes.UnknownTopicOrPartition, t.Partitions[0].ErrorCode));
    }

    [Fact]
    public async Task Large_record_slices_go_to_the_connection_without_a_copy_into_the_frame_and_allocate_nothing()
    {
        string name = await broker.CreateTopicAsync("fh-big", partitions: 1);
        for (int i = 0; i < 3; i++) Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 0, records: 400)).ErrorCode);
        var request = new FetchRequest
        {
            ReplicaId = -1, MaxWaitMs = 0, MinBytes = 0, MaxBytes = 1 << 20, SessionEpoch = -1,
            Topics = [new() { Topic = name, Partitions = [new() { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 1 << 20 }] }],
        };
        byte[] frame = RawKafkaConnection.EncodeRequest(ApiKeys.Fetch, 12, 5, request, "fetch-tests");

        using (var response = Serve(frame))
        {
            // The records are named, not copied: the frame's writer holds only the rest.
            Assert.True(response.Writer.WrittenCount + KafScale.Broker.Handlers.FetchHandler.DirectSliceBytes <= response.Length,
                $"writer {response.Writer.WrittenCount} bytes of a {response.Length}-byte frame");
            // What the connection writes is the frame, byte for byte.
            var pipe = new System.IO.Pipelines.Pipe();
            response.CopyTo(pipe.Writer);
            await pipe.Writer.FlushAsync();
            pipe.Writer.Complete();
            var written = (await pipe.Reader.ReadAtLeastAsync(response.Length + 1)).Buffer.ToArray();
            Assert.Equal(response.Bytes.ToArray(), written);
            var decoded = RawKafkaConnection.DecodeResponse<FetchResponse>(written[4..], ApiKeys.Fetch, 12, 5);
            Assert.Equal(1200, Batches.Records(decoded.Responses.Single().Partitions.Single().Records!.Value.ToArray()));
        }

        for (int i = 0; i < 200; i++) Serve(frame).Dispose();
        Assert.Equal(0, Allocations.LeastPerRound(_ => Serve(frame).Dispose(), 2_000));
    }
}
