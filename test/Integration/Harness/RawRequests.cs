using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;
using Xunit;
using Record = KafScale.Records.Record;

namespace KafScale.Integration.Harness;

/// <summary>
/// Requests the tests send with the repository's own codec, for setup (topics) and for checks that
/// must not depend on a client library (what is stored, what a partition holds).
/// </summary>
public static class RawRequests
{
    public const short CreateTopicsVersion = 5;
    public const short MetadataVersion = 9;
    public const short ProduceVersion = 9;
    public const short FetchVersion = 11;
    public const short ListOffsetsVersion = 5;

    /// <summary>Creates a topic and asserts success.</summary>
    public static async Task CreateTopicAsync(BrokerProcess broker, string topic, int partitions, IReadOnlyDictionary<string, string>? configs = null)
    {
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        var request = new CreateTopicsRequest
        {
            TimeoutMs = 15_000,
            Topics =
            [
                new CreateTopicsRequest.CreatableTopic
                {
                    Name = topic,
                    NumPartitions = partitions,
                    ReplicationFactor = 1,
                    Configs = (configs ?? new Dictionary<string, string>())
                        .Select(c => new CreateTopicsRequest.CreatableTopicConfig { Name = c.Key, Value = c.Value })
                        .ToList(),
                },
            ],
        };
        CreateTopicsResponse response = await connection.SendAsync<CreateTopicsResponse>(ApiKeys.CreateTopics, CreateTopicsVersion, request);
        CreateTopicsResponse.CreatableTopicResult result = Assert.Single(response.Topics);
        Assert.True(result.ErrorCode == 0, $"CreateTopics {topic}: error {result.ErrorCode} {result.ErrorMessage}");
    }

    /// <summary>The topic as Metadata describes it, without creating it.</summary>
    public static async Task<MetadataResponse.MetadataResponseTopic> TopicMetadataAsync(BrokerProcess broker, string topic)
    {
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        var request = new MetadataRequest
        {
            Topics = [new MetadataRequest.MetadataRequestTopic { Name = topic }],
            AllowAutoTopicCreation = false,
        };
        MetadataResponse response = await connection.SendAsync<MetadataResponse>(ApiKeys.Metadata, MetadataVersion, request);
        return Assert.Single(response.Topics, t => t.Name == topic);
    }

    public static ProduceRequest ProduceRequestFor(string topic, int partition, byte[] batches, short acks) => new()
    {
        Acks = acks,
        TimeoutMs = 15_000,
        TopicData =
        [
            new ProduceRequest.TopicProduceData
            {
                Name = topic,
                PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = batches }],
            },
        ],
    };

    /// <summary>Produces batches to one partition with acks=all; returns the partition response.</summary>
    public static async Task<ProduceResponse.PartitionProduceResponse> ProduceAsync(RawKafkaConnection connection, string topic, int partition, byte[] batches)
    {
        ProduceResponse response = await connection.SendAsync<ProduceResponse>(
            ApiKeys.Produce, ProduceVersion, ProduceRequestFor(topic, partition, batches, acks: -1));
        ProduceResponse.TopicProduceResponse t = Assert.Single(response.Responses);
        Assert.Equal(topic, t.Name);
        ProduceResponse.PartitionProduceResponse p = Assert.Single(t.PartitionResponses);
        Assert.Equal(partition, p.Index);
        return p;
    }

    /// <summary>A batch of records "{prefix}-{i}" with keys "k-{i}" and the given timestamps.</summary>
    public static byte[] Batch(string prefix, int first, int count, Func<int, long>? timestamp = null, CompressionType compression = CompressionType.None)
    {
        using var builder = new RecordBatchBuilder(compression);
        for (int i = first; i < first + count; i++)
        {
            long ts = timestamp?.Invoke(i) ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            builder.Add(System.Text.Encoding.UTF8.GetBytes($"k-{i}"), System.Text.Encoding.UTF8.GetBytes($"{prefix}-{i}"), ts);
        }

        return builder.Build();
    }

    /// <summary>Fetches one partition from an offset (one round, no waiting).</summary>
    public static async Task<FetchResponse.PartitionData> FetchAsync(BrokerProcess broker, string topic, int partition, long offset, int maxBytes = 4 * 1024 * 1024)
    {
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        var request = new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = 0,
            MinBytes = 0,
            MaxBytes = maxBytes,
            IsolationLevel = 0,
            SessionId = 0,
            SessionEpoch = -1,
            Topics =
            [
                new FetchRequest.FetchTopic
                {
                    Topic = topic,
                    Partitions =
                    [
                        new FetchRequest.FetchPartition
                        {
                            Partition = partition,
                            CurrentLeaderEpoch = -1,
                            FetchOffset = offset,
                            LogStartOffset = -1,
                            PartitionMaxBytes = maxBytes,
                        },
                    ],
                },
            ],
        };
        FetchResponse response = await connection.SendAsync<FetchResponse>(ApiKeys.Fetch, FetchVersion, request);
        Assert.Equal(0, response.ErrorCode);
        FetchResponse.FetchableTopicResponse t = Assert.Single(response.Responses);
        return Assert.Single(t.Partitions);
    }

    /// <summary>Every record of a partition, read with the repository's record decoder.</summary>
    public static async Task<List<Record>> ReadPartitionAsync(BrokerProcess broker, string topic, int partition)
    {
        var records = new List<Record>();
        long offset = 0;
        long highWatermark = await ListOffsetAsync(broker, topic, partition, -1);
        while (offset < highWatermark)
        {
            FetchResponse.PartitionData data = await FetchAsync(broker, topic, partition, offset);
            Assert.True(data.ErrorCode == 0, $"Fetch {topic}/{partition}@{offset}: error {data.ErrorCode}");
            byte[] bytes = data.Records?.ToArray() ?? [];
            List<Record> batch = DecodeWholeBatches(bytes, out _).Where(r => r.Offset >= offset).ToList();
            Assert.True(batch.Count > 0, $"Fetch {topic}/{partition}@{offset} returned no records below the high watermark {highWatermark}");
            records.AddRange(batch);
            offset = batch[^1].Offset + 1;
        }

        return records;
    }

    /// <summary>
    /// The records of the whole batches in a Fetch answer. A Fetch may end in a partial batch
    /// (Kafka allows it), which is ignored; <paramref name="headers"/> describes each whole batch.
    /// </summary>
    public static List<Record> DecodeWholeBatches(byte[] bytes, out List<RecordBatchHeader> headers)
    {
        var records = new List<Record>();
        headers = new List<RecordBatchHeader>();
        int position = 0;
        while (true)
        {
            int size = RecordBatch.PeekTotalSize(bytes.AsSpan(position));
            if (size < 0 || size > bytes.Length - position)
            {
                break;
            }

            byte[] batch = bytes.AsSpan(position, size).ToArray();
            Assert.True(RecordBatch.IsCrcValid(batch), $"the batch at byte {position} of a Fetch answer has a wrong CRC");
            headers.Add(new RecordBatchHeader(batch));
            records.AddRange(RecordBatchReader.ReadAll(batch));
            position += size;
        }

        return records;
    }

    /// <summary>ListOffsets for one partition: -1 latest, -2 earliest, or a timestamp. Returns the offset.</summary>
    public static async Task<long> ListOffsetAsync(BrokerProcess broker, string topic, int partition, long timestamp)
    {
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            IsolationLevel = 0,
            Topics =
            [
                new ListOffsetsRequest.ListOffsetsTopic
                {
                    Name = topic,
                    Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = partition, CurrentLeaderEpoch = -1, Timestamp = timestamp }],
                },
            ],
        };
        ListOffsetsResponse response = await connection.SendAsync<ListOffsetsResponse>(ApiKeys.ListOffsets, ListOffsetsVersion, request);
        ListOffsetsResponse.ListOffsetsPartitionResponse p = Assert.Single(Assert.Single(response.Topics).Partitions);
        Assert.True(p.ErrorCode == 0, $"ListOffsets {topic}/{partition} at {timestamp}: error {p.ErrorCode}");
        return p.Offset;
    }

    /// <summary>Waits until the partitions' high watermarks add up to <paramref name="total"/> (acks=0 gives no other signal).</summary>
    public static async Task WaitForHighWatermarksAsync(BrokerProcess broker, string topic, int partitions, long total, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        long sum = 0;
        while (DateTime.UtcNow < deadline)
        {
            sum = 0;
            for (int p = 0; p < partitions; p++)
            {
                sum += await ListOffsetAsync(broker, topic, p, -1);
            }

            if (sum >= total)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"{topic}: high watermarks add up to {sum}, expected {total} within {timeout}");
    }
}
