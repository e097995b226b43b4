using KafScale.Protocol.Messages;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>
/// docs/architecture.md, "The read path": a long-polling fetch waits on its own partitions only,
/// is woken by new data there or by the end of the partition's term, and not by writes elsewhere.
/// </summary>
public sealed class FetchLongPollTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static FetchRequest LongPoll(string topic, int partition, long offset) => new()
    {
        ReplicaId = -1,
        MaxWaitMs = 60_000,
        MinBytes = 1,
        MaxBytes = 1 << 20,
        SessionEpoch = -1,
        Topics = [new FetchRequest.FetchTopic { Topic = topic, Partitions = [new FetchRequest.FetchPartition { Partition = partition, FetchOffset = offset, PartitionMaxBytes = 1 << 20, CurrentLeaderEpoch = -1, LastFetchedEpoch = -1, LogStartOffset = -1 }] }],
    };

    private async Task WaitUntilWaitingAsync(string topic, int partition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!(broker.Logs.TryGetTopic(topic, out var t) && t.Logs[partition] is { WaitingFetches: > 0 }))
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"no fetch waits on {topic}-{partition} after 15 s");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task A_produce_wakes_only_the_fetches_waiting_on_its_partition()
    {
        string name = await broker.CreateTopicAsync("lp-w", partitions: 2);
        var wakeups = broker.Logs.Runtime.Metrics.FetchWakeups;
        var fetch = broker.SendAsync<FetchResponse>(LongPoll(name, 1, 0), 12);
        await WaitUntilWaitingAsync(name, 1);
        long before = wakeups.Value;

        // Writes to the other partition do not wake it.
        for (int i = 0; i < 10; i++) Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 0)).ErrorCode);
        Assert.False(fetch.IsCompleted);
        Assert.Equal(1, broker.Logs.TryGetTopic(name, out var topic) ? topic.Logs[1]!.WaitingFetches : -1);

        // A write to its partition does, long before its 60 s max wait.
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 1, records: 4)).ErrorCode);
        var p = (await fetch.WaitAsync(TimeSpan.FromSeconds(30))).Responses.Single().Partitions.Single();
        Assert.Equal(ErrorCodes.None, p.ErrorCode);
        Assert.Equal(4, Batches.Records(p.Records!.Value.ToArray()));
        Assert.Equal(1, wakeups.Value - before);
        Assert.Equal(0, topic.Logs[1]!.WaitingFetches);
    }

    [Fact]
    public async Task A_long_poll_on_a_partition_whose_topic_is_deleted_ends_at_once_with_an_error()
    {
        string name = await broker.CreateTopicAsync("lp-d");
        var fetch = broker.SendAsync<FetchResponse>(LongPoll(name, 0, 0), 12);
        await WaitUntilWaitingAsync(name, 0);
        var delete = new DeleteTopicsRequest { TimeoutMs = 10_000 };
        delete.Topics.Add(new DeleteTopicsRequest.DeleteTopicState { Name = name });
        var deleted = await broker.SendAsync<DeleteTopicsResponse>(delete, 6);
        Assert.Equal(ErrorCodes.None, deleted.Responses.Single().ErrorCode);
        var p = (await fetch.WaitAsync(TimeSpan.FromSeconds(30))).Responses.Single().Partitions.Single();
        Assert.NotEqual(ErrorCodes.None, p.ErrorCode);
    }
}
