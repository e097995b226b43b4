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

    /// <summary>
    /// A one-partition topic being created whose open waits until <see cref="Release"/> (or the
    /// disposal, which also stops holding opens); started once the broker is opening it.
    /// </summary>
    private sealed class HeldOpen(HandlerHarness broker, string name, TaskCompletionSource release, Task<CreateTopicsResponse> created) : IAsyncDisposable
    {
        public string Name => name;
        public Task<CreateTopicsResponse> Created => created;
        public void Release() => release.SetResult();

        public static async Task<HeldOpen> StartAsync(HandlerHarness broker, string prefix)
        {
            string name = HandlerHarness.Unique(prefix);
            var release = new TaskCompletionSource();
            broker.Metadata.HoldPrefixReads = (p => p.Contains($"/topics/{name}/partitions/", StringComparison.Ordinal), release.Task);
            var request = new CreateTopicsRequest { TimeoutMs = 10_000 };
            request.Topics.Add(new CreateTopicsRequest.CreatableTopic { Name = name, NumPartitions = 1, ReplicationFactor = -1 });
            var held = new HeldOpen(broker, name, release, broker.SendAsync<CreateTopicsResponse>(request, CreateTopicsRequest.HighestSupportedVersion));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (!(broker.Logs.TryGetTopic(name, out var topic) && broker.Logs.Registry.Opening(topic, 0) is not null))
            {
                if (DateTime.UtcNow > deadline)
                {
                    await held.DisposeAsync();
                    Assert.Fail($"the broker did not begin opening {name}-0 within 15 s");
                }
                await Task.Delay(10);
            }
            return held;
        }

        public ValueTask DisposeAsync()
        {
            broker.Metadata.HoldPrefixReads = null;
            release.TrySetResult();
            return ValueTask.CompletedTask;
        }
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
        await using var held = await HeldOpen.StartAsync(broker, "po-w");
        await using var connection = await broker.ConnectAsync();
        // Six pipelined requests of 1 to 6 records: each must land right after the one before it.
        var sent = new List<(int CorrelationId, int Records)>();
        for (int records = 1; records <= 6; records++)
        {
            int id = connection.NextCorrelationId();
            await connection.SendFrameAsync(RawKafkaConnection.EncodeRequest(ProduceRequest.ApiKey, ProduceRequest.HighestSupportedVersion, id, Request(held.Name, Batches.Make(records, $"r{records}"))));
            sent.Add((id, records));
        }
        // Time for the broker to read the requests while the open is still held (without the
        // wait they are answered NOT_LEADER_OR_FOLLOWER right away).
        await Task.Delay(300);
        held.Release();

        long expected = 0;
        foreach (var (id, records) in sent)
        {
            var answer = Decode(await connection.ReadFrameAsync(), id);
            Assert.Equal((ErrorCodes.None, expected), (answer.ErrorCode, answer.BaseOffset));
            expected += records;
        }
        Assert.Equal(ErrorCodes.None, (await held.Created).Topics.Single().ErrorCode);
    }

    [Fact]
    public async Task A_produce_whose_timeout_ends_before_the_open_is_NOT_LEADER_OR_FOLLOWER_and_appends_nothing()
    {
        await using var held = await HeldOpen.StartAsync(broker, "po-t");
        await using (var connection = await broker.ConnectAsync())
        {
            var answer = await connection.SendAsync<ProduceResponse>(ProduceRequest.ApiKey, ProduceRequest.HighestSupportedVersion, Request(held.Name, Batches.Make(3), timeoutMs: 300));
            Assert.Equal(ErrorCodes.NotLeaderOrFollower, answer.Responses.Single().PartitionResponses.Single().ErrorCode);
        }
        held.Release();
        Assert.Equal(ErrorCodes.None, (await held.Created).Topics.Single().ErrorCode);
        await broker.WaitForLeadersAsync(held.Name, 1);
        var after = await broker.ProduceAsync(held.Name, 0, records: 2);
        Assert.Equal((ErrorCodes.None, 0L), (after.ErrorCode, after.BaseOffset));
    }
}
