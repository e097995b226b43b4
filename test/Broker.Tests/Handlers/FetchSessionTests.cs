using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>
/// Incremental fetch sessions (KIP-227; docs/protocol.md, "Fetch sessions") through the broker's
/// real request dispatcher in this process: a full fetch with epoch 0 makes a session, incremental
/// fetches carry only what changed and get only partitions with news, and the session errors are
/// Kafka's.
/// </summary>
public sealed class FetchSessionTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static readonly ClientContext Client = new("127.0.0.1:50001");
    private int _correlation;

    /// <summary>A topic of two partitions with 12 records each.</summary>
    private async Task<(string Name, Guid Id)> TopicAsync()
    {
        string name = await broker.CreateTopicAsync("fs", partitions: 2);
        for (int partition = 0; partition < 2; partition++)
            for (int i = 0; i < 3; i++)
                Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, partition, records: 4)).ErrorCode);
        Assert.True(broker.Logs.TryGetTopic(name, out var topic));
        return (name, topic.Id);
    }

    private static FetchRequest.FetchTopic Topic(string name, Guid id, params (int Partition, long Offset)[] partitions) => new()
    {
        Topic = name,
        TopicId = id,
        Partitions = [.. partitions.Select(p => new FetchRequest.FetchPartition { Partition = p.Partition, FetchOffset = p.Offset, PartitionMaxBytes = 1 << 20 })],
    };

    /// <summary>A fetch that never waits (min_bytes 0), so the dispatcher answers it at once.</summary>
    private static FetchRequest Request(int sessionId, int epoch, int maxBytes = 1 << 20, params FetchRequest.FetchTopic[] topics) => new()
    {
        ReplicaId = -1,
        MaxWaitMs = 0,
        MinBytes = 0,
        MaxBytes = maxBytes,
        SessionId = sessionId,
        SessionEpoch = epoch,
        Topics = [.. topics],
    };

    private byte[] Encode(FetchRequest request, short version, out int correlation)
    {
        correlation = Interlocked.Increment(ref _correlation);
        return RawKafkaConnection.EncodeRequest(ApiKeys.Fetch, version, correlation, request, "session-tests");
    }

    private ResponseFrame Serve(byte[] frame)
    {
        var pending = broker.Dispatcher.DispatchAsync(Client, frame);
        Assert.True(pending.IsCompletedSuccessfully, "a fetch with min_bytes 0 is answered at once");
        return pending.Result ?? throw new InvalidOperationException("no response");
    }

    private FetchResponse Fetch(FetchRequest request, short version)
    {
        byte[] frame = Encode(request, version, out int correlation);
        using var response = Serve(frame);
        return RawKafkaConnection.DecodeResponse<FetchResponse>(response.Bytes[4..].ToArray(), ApiKeys.Fetch, version, correlation);
    }

    private static List<(int Partition, long HighWatermark, int Records)> Partitions(FetchResponse response) =>
        [.. response.Responses.SelectMany(t => t.Partitions).Select(p => (p.PartitionIndex, p.HighWatermark, p.Records is { Length: > 0 } r ? Batches.Records(r.ToArray()) : 0))];

    [Theory]
    [InlineData(12)]
    [InlineData(17)]
    public async Task An_incremental_fetch_gets_only_the_partitions_with_news(short version)
    {
        var (name, id) = await TopicAsync();
        // A full fetch with epoch 0 at the end of both partitions: both answered, and a session made.
        var full = Fetch(Request(0, 0, topics: Topic(name, id, (0, 12), (1, 12))), version);
        Assert.Equal(ErrorCodes.None, full.ErrorCode);
        Assert.NotEqual(0, full.SessionId);
        Assert.Equal([(0, 12L, 0), (1, 12L, 0)], Partitions(full));

        // Nothing changed: an incremental fetch that names no partition gets none.
        var quiet = Fetch(Request(full.SessionId, 1), version);
        Assert.Equal(full.SessionId, quiet.SessionId);
        Assert.Empty(quiet.Responses);

        // Records on partition 1: only it comes back, from the offset the session holds.
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 1, records: 4)).ErrorCode);
        var news = Fetch(Request(full.SessionId, 2), version);
        Assert.Equal([(1, 16L, 4)], Partitions(news));
        if (version >= 13) Assert.Equal(id, news.Responses.Single().TopicId);
        else Assert.Equal(name, news.Responses.Single().Topic);

        // The client moves partition 1 on: nothing is new any more.
        Assert.Empty(Fetch(Request(full.SessionId, 3, topics: Topic(name, id, (1, 16))), version).Responses);

        // A partition forgotten is no longer answered, whatever happens to it.
        var forget = Request(full.SessionId, 4);
        forget.ForgottenTopicsData = [new() { Topic = name, TopicId = id, Partitions = [0] }];
        Assert.Empty(Fetch(forget, version).Responses);
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 0, records: 2)).ErrorCode);
        Assert.Empty(Fetch(Request(full.SessionId, 5), version).Responses);

        // Added back by an incremental fetch, it is answered at once.
        Assert.Equal([(0, 14L, 2)], Partitions(Fetch(Request(full.SessionId, 6, topics: Topic(name, id, (0, 12))), version)));
    }

    [Fact]
    public async Task Session_errors_are_top_level_with_session_id_zero_and_no_topics()
    {
        var (name, id) = await TopicAsync();
        var full = Fetch(Request(0, 0, topics: Topic(name, id, (0, 0))), 12);
        Assert.NotEqual(0, full.SessionId);

        var unknown = Fetch(Request(full.SessionId ^ 0x5a5a5a, 1), 12);
        Assert.Equal(ErrorCodes.FetchSessionIdNotFound, unknown.ErrorCode);
        Assert.Equal(0, unknown.SessionId);
        Assert.Empty(unknown.Responses);

        var skipped = Fetch(Request(full.SessionId, 2), 12);
        Assert.Equal(ErrorCodes.InvalidFetchSessionEpoch, skipped.ErrorCode);
        Assert.Empty(skipped.Responses);

        // Made with names (v12), used with ids (v13): refused, as Kafka does.
        var switched = Fetch(Request(full.SessionId, 1), 13);
        Assert.Equal(ErrorCodes.FetchSessionTopicIdError, switched.ErrorCode);

        // None of the refused requests used up the epoch.
        var ok = Fetch(Request(full.SessionId, 1), 12);
        Assert.Equal(ErrorCodes.None, ok.ErrorCode);
        Assert.Equal(full.SessionId, ok.SessionId);

        // Epoch -1 closes the session and is served as a full fetch without one.
        var closing = Fetch(Request(full.SessionId, -1, topics: Topic(name, id, (1, 0))), 12);
        Assert.Equal(0, closing.SessionId);
        Assert.Equal([(1, 12L, 12)], Partitions(closing));
        Assert.Equal(ErrorCodes.FetchSessionIdNotFound, Fetch(Request(full.SessionId, 2), 12).ErrorCode);
    }

    [Fact]
    public async Task A_full_fetch_with_epoch_minus_one_makes_no_session_and_versions_before_7_have_none()
    {
        var (name, id) = await TopicAsync();
        int before = broker.FetchSessions.Count;
        var sessionless = Fetch(Request(0, -1, topics: Topic(name, id, (0, 0))), 12);
        Assert.Equal(0, sessionless.SessionId);
        Assert.Equal([(0, 12L, 12)], Partitions(sessionless));
        Assert.Equal([(0, 12L, 12)], Partitions(Fetch(Request(0, 0, topics: Topic(name, id, (0, 0))), 6)));
        Assert.Equal(before, broker.FetchSessions.Count);
    }

    [Fact]
    public async Task Partitions_that_returned_records_go_to_the_back_so_a_small_limit_serves_each_in_turn()
    {
        var (name, id) = await TopicAsync();
        // max_bytes 1: each response carries one batch (KIP-74), of the session's first partition with data.
        var full = Fetch(Request(0, 0, maxBytes: 1, topics: Topic(name, id, (0, 0), (1, 0))), 12);
        Assert.Equal([(0, 12L, 4), (1, 12L, 0)], Partitions(full));
        // The session keeps the request's order at first; the client keeps asking from offset 0.
        Assert.Equal([(0, 12L, 4)], Partitions(Fetch(Request(full.SessionId, 1, maxBytes: 1), 12)));
        // Partition 0 returned records, so partition 1 is first now, and then 0 again.
        Assert.Equal([(1, 12L, 4)], Partitions(Fetch(Request(full.SessionId, 2, maxBytes: 1), 12)));
        Assert.Equal([(0, 12L, 4)], Partitions(Fetch(Request(full.SessionId, 3, maxBytes: 1), 12)));
    }

    [Fact]
    public async Task A_long_poll_waits_on_the_quiet_partitions_it_leaves_out_and_wakes_when_one_gets_records()
    {
        var (name, id) = await TopicAsync();
        Assert.True(broker.Logs.TryGetTopic(name, out var topic));
        var full = Fetch(Request(0, 0, topics: Topic(name, id, (0, 12), (1, 12))), 17);
        Assert.NotEqual(0, full.SessionId);

        // Both partitions are quiet, so the incremental fetch reads neither; it must still wait on both.
        var poll = Request(full.SessionId, 1);
        poll.MaxWaitMs = 30_000;
        poll.MinBytes = 1;
        byte[] frame = Encode(poll, 17, out int correlation);
        var pending = broker.Dispatcher.DispatchAsync(Client, frame);
        Assert.False(pending.IsCompleted, "nothing is new, so the fetch waits");
        Assert.Equal(1, topic.Logs[0]!.WaitingFetches);
        Assert.Equal(1, topic.Logs[1]!.WaitingFetches);

        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 1, records: 4)).ErrorCode);
        using var response = await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        var answer = RawKafkaConnection.DecodeResponse<FetchResponse>(response!.Bytes[4..].ToArray(), ApiKeys.Fetch, 17, correlation);
        Assert.Equal([(1, 16L, 4)], Partitions(answer));
        Assert.Equal(0, topic.Logs[0]!.WaitingFetches);
        Assert.Equal(0, topic.Logs[1]!.WaitingFetches);
    }

    [Fact]
    public async Task A_quiet_partition_whose_log_start_moves_is_answered_with_the_new_log_start()
    {
        var (name, id) = await TopicAsync();
        var full = Fetch(Request(0, 0, topics: Topic(name, id, (0, 12), (1, 12))), 12);
        Assert.Empty(Fetch(Request(full.SessionId, 1), 12).Responses);

        var deleted = await broker.SendAsync<DeleteRecordsResponse>(new DeleteRecordsRequest
        {
            TimeoutMs = 10_000,
            Topics = [new() { Name = name, Partitions = [new() { PartitionIndex = 0, Offset = 5 }] }],
        }, 2);
        Assert.Equal(ErrorCodes.None, deleted.Topics.Single().Partitions.Single().ErrorCode);

        var moved = Fetch(Request(full.SessionId, 2), 12);
        var partition = Assert.Single(moved.Responses.Single().Partitions);
        Assert.Equal((0, 12L, 5L), (partition.PartitionIndex, partition.HighWatermark, partition.LogStartOffset));
        Assert.Empty(Fetch(Request(full.SessionId, 3), 12).Responses);
    }

    [Fact]
    public async Task A_client_that_moves_to_the_high_watermark_is_told_the_high_watermark_it_was_not_told_yet()
    {
        var (name, id) = await TopicAsync();
        var full = Fetch(Request(0, 0, topics: Topic(name, id, (0, 12), (1, 12))), 17);
        Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, 1, records: 4)).ErrorCode);
        // The client seeks partition 1 to its end before fetching it: no records, but a new high watermark.
        Assert.Equal([(1, 16L, 0)], Partitions(Fetch(Request(full.SessionId, 1, topics: Topic(name, id, (1, 16))), 17)));
        Assert.Empty(Fetch(Request(full.SessionId, 2), 17).Responses);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(17)]
    public async Task A_consumer_of_a_session_reads_every_record_once_while_records_arrive_on_random_partitions(short version)
    {
        const int partitions = 6;
        string name = await broker.CreateTopicAsync("fs-model", partitions);
        Assert.True(broker.Logs.TryGetTopic(name, out var topic));
        var random = new Random(version);
        var produced = new long[partitions];
        var position = new long[partitions];
        // A full fetch from offset 0 of every partition makes the session.
        var full = Fetch(Request(0, 0, topics: Topic(topic.Name, topic.Id, [.. Enumerable.Range(0, partitions).Select(p => (p, 0L))])), version);
        Assert.NotEqual(0, full.SessionId);
        int epoch = 1;
        var moved = new List<(int, long)>();
        for (int round = 0; round < 400; round++)
        {
            // Records land on a few random partitions between fetches, or on none.
            for (int k = random.Next(3); k > 0; k--)
            {
                int p = random.Next(partitions);
                int records = 1 + random.Next(3);
                Assert.Equal(ErrorCodes.None, (await broker.ProduceAsync(name, p, records)).ErrorCode);
                produced[p] += records;
            }
            // max_bytes 1: one batch a response, so partitions fall behind and must be read later.
            var request = Request(full.SessionId, epoch++, maxBytes: 1, topics: moved.Count == 0 ? [] : [Topic(topic.Name, topic.Id, [.. moved])]);
            var response = Fetch(request, version);
            Assert.Equal(ErrorCodes.None, response.ErrorCode);
            moved.Clear();
            foreach (var (partition, highWatermark, records) in Partitions(response))
            {
                Assert.Equal(produced[partition], highWatermark);
                if (records == 0) continue;
                position[partition] += records;
                moved.Add((partition, position[partition]));
            }
        }
        // Once nothing more arrives, the session hands over the rest, and then has no news.
        for (int round = 0; round < 1_000 && !position.SequenceEqual(produced); round++)
        {
            var response = Fetch(Request(full.SessionId, epoch++, maxBytes: 1, topics: moved.Count == 0 ? [] : [Topic(topic.Name, topic.Id, [.. moved])]), version);
            moved.Clear();
            foreach (var (partition, _, records) in Partitions(response))
            {
                if (records == 0) continue;
                position[partition] += records;
                moved.Add((partition, position[partition]));
            }
        }
        Assert.Equal(produced, position);
        Assert.True(produced.Sum() > 200, "the rounds produced records");
        Assert.Empty(Fetch(Request(full.SessionId, epoch++, topics: moved.Count == 0 ? [] : [Topic(topic.Name, topic.Id, [.. moved])]), version).Responses);
    }

    [Fact]
    public async Task Serving_an_incremental_fetch_allocates_nothing_once_warm()
    {
        var (name, id) = await TopicAsync();
        var full = Fetch(Request(0, 0, topics: Topic(name, id, (0, 0), (1, 4))), 17);
        // Every incremental fetch has records to return (the session's offsets do not move) and
        // names partition 1 again, as a client does for a partition whose position it changed.
        var frames = new byte[300 + 3 * 2_000][];
        for (int i = 0; i < frames.Length; i++) frames[i] = Encode(Request(full.SessionId, i + 1, topics: Topic(name, id, (1, 4))), 17, out _);
        int expected;
        using (var first = Serve(frames[0])) expected = first.Length;
        for (int i = 1; i < 300; i++) Serve(frames[i]).Dispose();

        long bytes = 0, served = 0;
        long allocated = Allocations.LeastPerRound(i =>
        {
            using var response = Serve(frames[300 + i]);
            bytes += response.Length;
            served++;
        }, 2_000);

        Assert.Equal(0, allocated);
        Assert.Equal(served * expected, bytes);
    }
}
