// These tests hold ValueTasks in collections on purpose, to have many requests in flight; each
// is awaited exactly once.
#pragma warning disable CA2012
using KafScale.Protocol.Messages;

namespace KafScale.Client.Tests;

public sealed class PipeliningTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    [Fact]
    public async Task Many_requests_in_flight_on_one_connection_are_answered_in_send_order()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = "pipe-" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateTopicsAsync([new NewTopic(topic, 1)]);
        await using KafkaConnection connection = await client.OpenConnectionAsync(client.Metadata.Brokers.Keys.First());

        const int requests = 300;
        var produces = new List<ValueTask<ProduceResponse?>>(requests);
        var metadata = new List<ValueTask<MetadataResponse>>();
        var request = new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 30_000,
            TopicData = [new ProduceRequest.TopicProduceData { Name = topic, PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0 }] }],
        };
        for (int i = 0; i < requests; i++)
        {
            // The request is encoded before ProduceAsync returns, so one object serves every send.
            request.TopicData[0].PartitionData[0].Records = KafkaClient.BuildBatch([new ProducerRecord(null, BitConverter.GetBytes(i))]);
            produces.Add(connection.ProduceAsync(request));
            if (i % 50 == 0)
            {
                metadata.Add(connection.SendAsync<MetadataResponse>(new MetadataRequest { Topics = [new() { Name = topic }] }));
            }
        }

        Assert.True(connection.InFlightCount > 0 || produces.All(p => p.IsCompleted));
        var offsets = new List<long>();
        foreach (ValueTask<ProduceResponse?> produce in produces)
        {
            ProduceResponse response = (await produce)!;
            var partition = Assert.Single(Assert.Single(response.Responses).PartitionResponses);
            Assert.Equal(0, partition.ErrorCode);
            offsets.Add(partition.BaseOffset);
        }

        Assert.Equal(Enumerable.Range(0, requests).Select(i => (long)i), offsets);
        foreach (ValueTask<MetadataResponse> m in metadata)
        {
            Assert.Equal(topic, Assert.Single((await m).Topics).Name);
        }

        using FetchResult fetched = await client.FetchAsync(topic, 0, 0, new FetchOptions { PartitionMaxBytes = 10 << 20 });
        var values = fetched.Partitions[0].ReadRecords().Select(r => BitConverter.ToInt32(r.Value!)).ToList();
        Assert.Equal(Enumerable.Range(0, requests), values);
    }

    [Fact]
    public async Task Sending_a_request_allocates_only_its_pending_entry()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = "alloc-" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateTopicsAsync([new NewTopic(topic, 1)]);
        await using KafkaConnection connection = await client.OpenConnectionAsync(client.Metadata.Brokers.Keys.First());
        var request = new ProduceRequest
        {
            Acks = 1,
            TimeoutMs = 30_000,
            TopicData =
            [
                new ProduceRequest.TopicProduceData
                {
                    Name = topic,
                    PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = KafkaClient.BuildBatch([new ProducerRecord(null, new byte[1000])]) }],
                },
            ],
        };
        short version = connection.GetVersion(ProduceRequest.ApiKey);
        var sends = new ValueTask<ProduceResponse?>[64];

        long steadyState = 0;
        for (int round = 0; round < 8; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < sends.Length; i++)
            {
                sends[i] = connection.ProduceAsync(request, version);
            }

            long perRequest = (GC.GetAllocatedBytesForCurrentThread() - before) / sends.Length;
            foreach (ValueTask<ProduceResponse?> send in sends)
            {
                Assert.NotNull(await send);
            }

            steadyState = perRequest;
        }

        // The first rounds grow the two send buffers (rented once, kept); then only the pending
        // entry (about 100 bytes) remains.
        Assert.True(steadyState <= 160, $"{steadyState} bytes allocated per request");
    }

    [Fact]
    public async Task Concurrent_senders_share_one_connection()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = "conc-" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateTopicsAsync([new NewTopic(topic, 4)]);

        var tasks = Enumerable.Range(0, 8).Select(sender => Task.Run(async () =>
        {
            for (int i = 0; i < 25; i++)
            {
                await client.ProduceAsync(topic, sender % 4, [new ProducerRecord(null, [(byte)sender, (byte)i])], Acks.Leader);
            }
        }));
        await Task.WhenAll(tasks);

        IReadOnlyDictionary<int, ListedOffset> ends = await client.ListOffsetsAsync(topic, [0, 1, 2, 3], OffsetSpec.Latest);
        Assert.All(ends.Values, e => Assert.Equal(50, e.Offset));
    }

    [Fact]
    public async Task A_cancelled_request_gives_up_waiting_without_breaking_the_connection()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = "cancel-" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateTopicsAsync([new NewTopic(topic, 1)]);
        TopicMetadata metadata = await client.GetTopicAsync(topic);
        await using KafkaConnection connection = await client.OpenConnectionAsync(metadata.Partitions[0].LeaderId);

        // A long poll on an empty partition: the broker holds the answer for up to 3 s.
        var fetch = new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = 3000,
            MinBytes = 1,
            MaxBytes = 1 << 20,
            SessionEpoch = -1,
            Topics = [new FetchRequest.FetchTopic { Topic = topic, TopicId = metadata.TopicId, Partitions = [new() { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 1 << 20 }] }],
        };
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => (await connection.FetchAsync(fetch, cancel.Token)).Dispose());

        // The next request waits behind the abandoned one, then gets its own answer.
        MetadataResponse response = await connection.SendAsync<MetadataResponse>(new MetadataRequest { Topics = [new() { Name = topic }] });
        Assert.Equal(topic, Assert.Single(response.Topics).Name);
        Assert.True(connection.IsOpen);
    }
}
