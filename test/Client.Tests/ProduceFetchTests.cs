using System.Text;
using KafScale.Protocol;
using KafScale.Records;
using Record = KafScale.Records.Record;

namespace KafScale.Client.Tests;

public sealed class ProduceFetchTests(BrokerFixture fixture) : IClassFixture<BrokerFixture>
{
    private static string NewTopicName() => "t-" + Guid.NewGuid().ToString("N")[..10];

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    public async Task Records_produced_with_acks_all_are_fetched_back_unchanged(CompressionType compression)
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = NewTopicName();
        await client.CreateTopicsAsync([new NewTopic(topic, 3)]);

        var records = Enumerable.Range(0, 50)
            .Select(i => new ProducerRecord(
                i % 5 == 0 ? null : Encoding.UTF8.GetBytes($"key-{i}"),
                Encoding.UTF8.GetBytes(new string((char)('a' + i % 26), i * 10)),
                1_700_000_000_000 + i,
                i % 2 == 0 ? [new RecordHeader("h", [(byte)i])] : null))
            .ToList();

        ProduceResult first = await client.ProduceAsync(topic, 1, records.Take(20).ToList(), Acks.All, compression);
        ProduceResult second = await client.ProduceAsync(topic, 1, records.Skip(20).ToList(), Acks.All, compression);

        Assert.Equal(0, first.BaseOffset);
        Assert.Equal(20, second.BaseOffset);
        Assert.Equal(50, await client.ListOffsetAsync(topic, 1, OffsetSpec.Latest));
        Assert.Equal(0, await client.ListOffsetAsync(topic, 1, OffsetSpec.Earliest));
        Assert.Equal(0, await client.ListOffsetAsync(topic, 0, OffsetSpec.Latest));

        var fetched = new List<Record>();
        long offset = 0;
        while (fetched.Count < records.Count)
        {
            using FetchResult result = await client.FetchAsync(topic, 1, offset);
            FetchedPartition partition = Assert.Single(result.Partitions);
            partition.ThrowIfError();
            Assert.Equal(50, partition.HighWatermark);
            List<Record> batch = partition.ReadRecords();
            Assert.NotEmpty(batch);
            fetched.AddRange(batch);
            offset = partition.NextOffset;
        }

        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), fetched.Select(r => r.Offset));
        for (int i = 0; i < records.Count; i++)
        {
            Assert.Equal(records[i].Key, fetched[i].Key);
            Assert.Equal(records[i].Value, fetched[i].Value);
            Assert.Equal(records[i].TimestampMs, fetched[i].Timestamp);
            Assert.Equal(records[i].Headers?.Count ?? 0, fetched[i].Headers.Length);
        }
    }

    [Fact]
    public async Task One_request_produces_to_several_partitions_and_a_fetch_reads_them_all()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = NewTopicName();
        await client.CreateTopicsAsync([new NewTopic(topic, 4)]);

        var batches = Enumerable.Range(0, 4)
            .Select(p => new PartitionRecords(p, KafkaClient.BuildBatch(
                Enumerable.Range(0, p + 1).Select(i => new ProducerRecord(null, Encoding.UTF8.GetBytes($"p{p}-r{i}"))).ToList())))
            .ToList();
        IReadOnlyList<ProduceResult> results = await client.ProduceAsync(topic, batches, Acks.Leader);

        Assert.Equal([0, 1, 2, 3], results.Select(r => r.Partition));
        Assert.All(results, r => Assert.Equal(0, r.BaseOffset));

        using FetchResult fetched = await client.FetchAsync(topic, Enumerable.Range(0, 4).Select(p => new FetchPosition(p, 0)).ToList());
        Assert.Equal(4, fetched.Partitions.Count);
        foreach (FetchedPartition partition in fetched.Partitions)
        {
            partition.ThrowIfError();
            Assert.Equal(
                Enumerable.Range(0, partition.Partition + 1).Select(i => $"p{partition.Partition}-r{i}"),
                partition.ReadRecords().Select(r => Encoding.UTF8.GetString(r.Value!)));
        }
    }

    [Fact]
    public async Task Produce_with_acks_0_gets_no_response_but_the_records_arrive()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = NewTopicName();
        await client.CreateTopicsAsync([new NewTopic(topic, 1)]);

        ProduceResult result = await client.ProduceAsync(topic, 0, [new ProducerRecord(null, [1, 2, 3])], Acks.None);
        Assert.Equal(-1, result.BaseOffset);

        // A later acks=1 request on the same connection is answered after the acks=0 one was handled.
        ProduceResult next = await client.ProduceAsync(topic, 0, [new ProducerRecord(null, [4])], Acks.Leader);
        Assert.Equal(1, next.BaseOffset);
    }

    [Fact]
    public async Task Fetching_past_the_end_reports_OFFSET_OUT_OF_RANGE_as_an_error_code()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = NewTopicName();
        await client.CreateTopicsAsync([new NewTopic(topic, 1)]);
        await client.ProduceAsync(topic, 0, [new ProducerRecord(null, [1])]);

        using FetchResult result = await client.FetchAsync(topic, 0, 100, new FetchOptions { MaxWaitMs = 10 });

        FetchedPartition partition = Assert.Single(result.Partitions);
        Assert.Equal(ErrorCode.OffsetOutOfRange, partition.ErrorCode);
        var error = Assert.Throws<KafkaException>(partition.ThrowIfError);
        Assert.Equal(ErrorCode.OffsetOutOfRange, error.ErrorCode);
        Assert.StartsWith("OFFSET_OUT_OF_RANGE (1)", error.Message);
    }

    [Fact]
    public async Task Creating_an_existing_topic_is_an_error_only_when_asked()
    {
        await using KafkaClient client = await KafkaClient.ConnectAsync(fixture.Broker.Bootstrap);
        string topic = NewTopicName();
        await client.CreateTopicsAsync([new NewTopic(topic, 2)]);
        await client.CreateTopicsAsync([new NewTopic(topic, 2)], ignoreIfExists: true);

        var error = await Assert.ThrowsAsync<KafkaException>(() => client.CreateTopicsAsync([new NewTopic(topic, 2)], ignoreIfExists: false));
        Assert.Equal(ErrorCode.TopicAlreadyExists, error.ErrorCode);
        Assert.False(error.IsRetriable);
    }
}
