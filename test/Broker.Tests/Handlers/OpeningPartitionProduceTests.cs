using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>
/// A produce for a partition this broker has won and is still opening waits for the open instead
/// of sending the client back to its metadata (docs/architecture.md, "Requests for a partition
/// being opened"). The open is held by holding its first metadata read.
/// </summary>
public sealed class OpeningPartitionProduceTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static ProduceRequest Request(string topic, byte[] records, int timeoutMs = 10_000) => new()
    {
        Acks = -1,
        TimeoutMs = timeoutMs,
        TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = records }] }],
    };

    /// <summary>Creates a one-partition topic whose open waits for <paramref name="release"/>; returns once the broker is opening it.</summary>
    private async Task<Task<CreateTopicsResponse>> CreateWithHeldOpenAsync(string name, Task release)
    {
        broker.Metadata.HoldPrefixReads = (prefix => prefix.Contains($"/topics/{name}/partitions/", StringComparison.Ordinal), release);
        var request = new CreateTopicsRequest { TimeoutMs = 10_000 };
        request.Topics.Add(new CreateTopicsRequest.CreatableTopic { Name = name, NumPartitions = 1, ReplicationFactor = -1 });
        var create = broker.SendAsync<CreateTopicsResponse>(request, CreateTopicsRequest.HighestSupportedVersion);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!(broker.Logs.TryGetTopic(name, out var topic) && broker.Logs.Registry.Opening(topic, 0) is not null))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the broker did not begin opening {name}-0 within 15 s");
            await Task.Delay(10);
        }
        return create;
    }

    private static ProduceResponse.PartitionProduceResponse Decode(byte[]? frame, int correlationId)
    {
        Assert.NotNull(frame);
        var response = RawKafkaConnection.DecodeResponse<ProduceResponse>(frame, ProduceRequest.ApiKey, ProduceRequest.HighestSupportedVersion, correlationId);
        return response.Responses.Single().PartitionResponses.Single();
    }

    [Fact]
    public async Task Produces_sent_while_the_partition_opens_wait_for_it_and_are_appended_in_request_order()
    {
        string name = HandlerHarness.Unique("po-w");
        var release = new TaskCompletionSource();
        try
        {
            var create = await CreateWithHeldOpenAsync(name, release.Task);
            await using var connection = await broker.ConnectAsync();
            int first = connection.NextCorrelationId(), second = connection.NextCorrelationId();
            await connection.SendFrameAsync(RawKafkaConnection.EncodeRequest(ProduceRequest.ApiKey, ProduceRequest.HighestSupportedVersion, first, Request(name, Batches.Make(3, "a"))));
            await connection.SendFrameAsync(RawKafkaConnection.EncodeRequest(ProduceRequest.ApiKey, ProduceRequest.HighestSupportedVersion, second, Request(name, Batches.Make(2, "b"))));
            // Time for the broker to read both requests while the open is still held (without
            // the wait they are answered NOT_LEADER_OR_FOLLOWER right away).
            await Task.Delay(300);
            release.SetResult();

            var a = Decode(await connection.ReadFrameAsync(), first);
            var b = Decode(await connection.ReadFrameAsync(), second);
            Assert.Equal((ErrorCodes.None, 0L), (a.ErrorCode, a.BaseOffset));
            Assert.Equal((ErrorCodes.None, 3L), (b.ErrorCode, b.BaseOffset));
            Assert.Equal(ErrorCodes.None, (await create).Topics.Single().ErrorCode);
        }
        finally
        {
            broker.Metadata.HoldPrefixReads = null;
            release.TrySetResult();
        }
    }

    [Fact]
    public async Task A_produce_whose_timeout_ends_before_the_open_is_NOT_LEADER_OR_FOLLOWER_and_appends_nothing()
    {
        string name = HandlerHarness.Unique("po-t");
        var release = new TaskCompletionSource();
        try
        {
            var create = await CreateWithHeldOpenAsync(name, release.Task);
            await using (var connection = await broker.ConnectAsync())
            {
                var answer = await connection.SendAsync<ProduceResponse>(ProduceRequest.ApiKey, ProduceRequest.HighestSupportedVersion, Request(name, Batches.Make(3), timeoutMs: 300));
                Assert.Equal(ErrorCodes.NotLeaderOrFollower, answer.Responses.Single().PartitionResponses.Single().ErrorCode);
            }
            release.SetResult();
            Assert.Equal(ErrorCodes.None, (await create).Topics.Single().ErrorCode);
            await broker.WaitForLeadersAsync(name, 1);
            var after = await broker.ProduceAsync(name, 0, records: 2);
            Assert.Equal((ErrorCodes.None, 0L), (after.ErrorCode, after.BaseOffset));
        }
        finally
        {
            broker.Metadata.HoldPrefixReads = null;
            release.TrySetResult();
        }
    }
}
