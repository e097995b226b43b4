using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client.Tests;

public sealed class MetadataRefreshTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    [Fact]
    public async Task Producing_to_a_partition_the_cache_does_not_know_refreshes_metadata_and_succeeds()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        await using KafkaClient admin = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = "grow-" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateTopicsAsync([new NewTopic(topic, 1)]);
        Assert.Equal(1, client.Metadata.Topics[topic].PartitionCount);

        await admin.CreatePartitionsAsync(topic, 3);
        ProduceResult result = await client.ProduceAsync(topic, 2, [new ProducerRecord(null, [7])]);

        Assert.Equal(0, result.BaseOffset);
        Assert.Equal(3, client.Metadata.Topics[topic].PartitionCount);
    }

    [Fact]
    public async Task A_topic_that_does_not_exist_fails_with_UNKNOWN_TOPIC_OR_PARTITION_after_the_retries()
    {
        var options = new KafkaClientOptions { BootstrapServers = fixture.Broker.Bootstrap, AllowAutoTopicCreation = false, MaxRetries = 2 };
        await using KafkaClient client = await KafkaClient.ConnectAsync(options);

        var error = await Assert.ThrowsAsync<KafkaException>(() => client.ProduceAsync("missing-" + Guid.NewGuid().ToString("N")[..8], 0, [new ProducerRecord(null, [1])]));

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, error.ErrorCode);
        Assert.True(error.IsRetriable);
        Assert.Contains("UNKNOWN_TOPIC_OR_PARTITION (3)", error.Message);
    }

    [Fact]
    public async Task Producing_to_a_missing_topic_creates_it_when_auto_creation_is_allowed()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = "auto-" + Guid.NewGuid().ToString("N")[..8];

        ProduceResult result = await client.ProduceAsync(topic, 0, [new ProducerRecord(null, [1])]);

        Assert.Equal(0, result.BaseOffset);
        Assert.True(client.Metadata.Topics.ContainsKey(topic));
    }
}

public sealed class BrokerRestartTests
{
    [Fact]
    public async Task After_the_broker_restarts_requests_fail_over_to_a_new_connection()
    {
        await using BrokerProcess broker = await BrokerProcess.StartAsync();
        await using KafkaClient client = await KafkaClient.ConnectAsync(broker.Bootstrap);
        string topic = "restart-" + Guid.NewGuid().ToString("N")[..8];
        await client.CreateTopicsAsync([new NewTopic(topic, 1)]);
        await client.ProduceAsync(topic, 0, [new ProducerRecord(null, [1])]);
        KafkaConnection before = await client.GetLeaderConnectionAsync(topic, 0);

        await broker.Kill9Async();
        await broker.RestartAsync();
        ProduceResult result = await client.ProduceAsync(topic, 0, [new ProducerRecord(null, [2])]);

        Assert.Equal(1, result.BaseOffset);
        Assert.False(before.IsOpen);
        Assert.True((await client.GetLeaderConnectionAsync(topic, 0)).IsOpen);
    }

    [Fact]
    public async Task Requests_in_flight_when_the_broker_dies_fail_with_a_connection_error()
    {
        await using BrokerProcess broker = await BrokerProcess.StartAsync();
        await using KafkaConnection connection = await KafkaConnection.ConnectAsync("127.0.0.1", broker.KafkaPort);
        string topic = "dies-" + Guid.NewGuid().ToString("N")[..8];
        await using (KafkaClient client = await KafkaClient.ConnectAsync(broker.Bootstrap))
        {
            await client.CreateTopicsAsync([new NewTopic(topic, 1)]);
        }

        var fetch = new KafScale.Protocol.Messages.FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = 10_000,
            MinBytes = 1,
            MaxBytes = 1 << 20,
            SessionEpoch = -1,
            Topics = [new() { Topic = topic, Partitions = [new() { Partition = 0, PartitionMaxBytes = 1 << 20 }] }],
        };
        ValueTask<FetchResponseHandle> pending = connection.FetchAsync(fetch, 12);
        await Task.Delay(100);
        await broker.Kill9Async();

        var error = await Assert.ThrowsAsync<KafkaConnectionException>(async () => (await pending).Dispose());
        Assert.Equal(ErrorCode.NetworkException, error.ErrorCode);
        Assert.False(connection.IsOpen);
        await Assert.ThrowsAsync<KafkaConnectionException>(async () => await connection.SendAsync<KafScale.Protocol.Messages.MetadataResponse>(new KafScale.Protocol.Messages.MetadataRequest()));
    }
}

public sealed class StaleLeaderTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    [Fact]
    public async Task NOT_LEADER_OR_FOLLOWER_refreshes_metadata_and_the_retry_goes_to_the_new_leader()
    {
        BrokerProcess real = fixture.Broker;
        string topic = "moved-" + Guid.NewGuid().ToString("N")[..8];
        await using (KafkaClient setup = await KafkaClient.ConnectAsync(real.Bootstrap))
        {
            await setup.CreateTopicsAsync([new NewTopic(topic, 1)]);
        }

        // The fake is the bootstrap broker and claims to lead the partition until a Produce reaches it.
        int produceSeen = 0;
        int metadataSeen = 0;
        FakeBroker? fake = null;
        fake = new FakeBroker(
            [(ApiVersionsRequest.ApiKey, 0, 4), (MetadataRequest.ApiKey, 0, 12), (ProduceRequest.ApiKey, 3, 11)],
            maxApiVersionsVersion: 4,
            (header, body) =>
            {
                if (header.ApiKey == MetadataRequest.ApiKey)
                {
                    Interlocked.Increment(ref metadataSeen);
                    int leader = Volatile.Read(ref produceSeen) == 0 ? 100 : 200;
                    return new MetadataResponse
                    {
                        ClusterId = "fake",
                        ControllerId = 100,
                        Brokers =
                        [
                            new() { NodeId = 100, Host = "127.0.0.1", Port = fake!.Port },
                            new() { NodeId = 200, Host = "127.0.0.1", Port = real.KafkaPort },
                        ],
                        Topics =
                        [
                            new()
                            {
                                Name = topic,
                                TopicId = Guid.NewGuid(),
                                Partitions = [new() { PartitionIndex = 0, LeaderId = leader, LeaderEpoch = leader, ReplicaNodes = [leader], IsrNodes = [leader] }],
                            },
                        ],
                    };
                }

                if (header.ApiKey == ProduceRequest.ApiKey)
                {
                    Interlocked.Increment(ref produceSeen);
                    return new ProduceResponse
                    {
                        Responses =
                        [
                            new() { Name = topic, PartitionResponses = [new() { Index = 0, ErrorCode = (short)ErrorCode.NotLeaderOrFollower, BaseOffset = -1 }] },
                        ],
                    };
                }

                return null;
            });
        await using FakeBroker _ = fake;
        await using KafkaClient client = await KafkaClient.ConnectAsync($"127.0.0.1:{fake.Port}");

        ProduceResult result = await client.ProduceAsync(topic, 0, [new ProducerRecord(null, [42])]);

        Assert.Equal(0, result.BaseOffset);
        Assert.Equal(1, produceSeen);
        Assert.True(metadataSeen >= 2);
        Assert.Equal(200, client.Metadata.Topics[topic].Partitions[0].LeaderId);
        await using KafkaClient reader = await KafkaClient.ConnectAsync(real.Bootstrap);
        Assert.Equal(1, await reader.ListOffsetAsync(topic, 0, OffsetSpec.Latest));
    }
}
