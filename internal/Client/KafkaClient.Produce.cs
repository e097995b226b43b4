using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;

namespace KafScale.Client;

/// <summary>Encoded record batches (RecordBatch v2, one or more) for one partition.</summary>
public readonly record struct PartitionRecords(int Partition, ReadOnlyMemory<byte> Records);

/// <summary>Where a partition's records landed. With acks=0 the offsets are -1 (no response).</summary>
public readonly record struct ProduceResult(int Partition, long BaseOffset, long LogAppendTimeMs, long LogStartOffset);

/// <summary>A record to produce; a null timestamp means now.</summary>
public sealed record ProducerRecord(byte[]? Key, byte[]? Value, long? TimestampMs = null, IReadOnlyList<RecordHeader>? Headers = null);

public sealed partial class KafkaClient
{
    /// <summary>
    /// Produces records to one partition as a single batch compressed with
    /// <paramref name="compression"/>, and returns where the batch landed.
    /// </summary>
    public async Task<ProduceResult> ProduceAsync(string topic, int partition, IReadOnlyList<ProducerRecord> records, Acks acks = Acks.All,
        CompressionType compression = CompressionType.None, CancellationToken cancellationToken = default)
    {
        byte[] batch = BuildBatch(records, compression);
        IReadOnlyList<ProduceResult> results = await ProduceAsync(topic, [new PartitionRecords(partition, batch)], acks, cancellationToken).ConfigureAwait(false);
        return results[0];
    }

    /// <summary>Encodes records as one RecordBatch v2 (the first record's time is the base timestamp).</summary>
    public static byte[] BuildBatch(IReadOnlyList<ProducerRecord> records, CompressionType compression = CompressionType.None)
    {
        if (records.Count == 0)
        {
            throw new ArgumentException("a batch needs at least one record", nameof(records));
        }

        using var builder = new RecordBatchBuilder(compression);
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (ProducerRecord record in records)
        {
            builder.Add(record.Key, record.Value, record.TimestampMs ?? now, record.Headers);
        }

        return builder.Build();
    }

    /// <summary>
    /// Produces the given batches, one request per leader with all of that leader's partitions,
    /// requests to different leaders in parallel. Partitions whose leader moved (or whose
    /// connection broke) are retried after a metadata refresh; a retry after a broken
    /// connection may duplicate records (this client is not idempotent). Results are in the
    /// order of <paramref name="partitions"/>.
    /// </summary>
    public async Task<IReadOnlyList<ProduceResult>> ProduceAsync(string topic, IReadOnlyList<PartitionRecords> partitions, Acks acks = Acks.All,
        CancellationToken cancellationToken = default)
    {
        var results = new ProduceResult[partitions.Count];
        List<int> remaining = [.. Enumerable.Range(0, partitions.Count)];
        for (int attempt = 0; ; attempt++)
        {
            TopicMetadata metadata = await LookupTopicAsync(topic, refresh: attempt > 0, _options.AllowAutoTopicCreation, cancellationToken).ConfigureAwait(false);
            var retry = new List<(int Index, KafkaException Error)>();
            var byLeader = new Dictionary<int, List<int>>();
            foreach (int index in remaining)
            {
                int partition = partitions[index].Partition;
                if (metadata.TryGetLeader(partition, out int leader))
                {
                    if (!byLeader.TryGetValue(leader, out List<int>? list))
                    {
                        byLeader[leader] = list = [];
                    }

                    list.Add(index);
                }
                else
                {
                    retry.Add((index, new KafkaException(metadata.NoLeaderError(partition), $"Produce to {topic}-{partition}: no leader known")));
                }
            }

            var sends = new List<Task<List<(int Index, KafkaException Error)>>>(byLeader.Count);
            foreach ((int leader, List<int> indexes) in byLeader)
            {
                sends.Add(ProduceToLeaderAsync(topic, leader, indexes, partitions, acks, results, cancellationToken));
            }

            foreach (var failures in await Task.WhenAll(sends).ConfigureAwait(false))
            {
                retry.AddRange(failures);
            }

            if (retry.Count == 0)
            {
                return results;
            }

            foreach ((_, KafkaException error) in retry)
            {
                if (!IsStaleMetadata(error.ErrorCode) || attempt >= _options.MaxRetries)
                {
                    throw error;
                }
            }

            remaining = [.. retry.Select(r => r.Index)];
            await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<List<(int Index, KafkaException Error)>> ProduceToLeaderAsync(string topic, int leader, List<int> indexes,
        IReadOnlyList<PartitionRecords> partitions, Acks acks, ProduceResult[] results, CancellationToken cancellationToken)
    {
        var failures = new List<(int, KafkaException)>();
        var topicData = new ProduceRequest.TopicProduceData { Name = topic };
        foreach (int index in indexes)
        {
            topicData.PartitionData.Add(new ProduceRequest.PartitionProduceData { Index = partitions[index].Partition, Records = partitions[index].Records });
        }

        var request = new ProduceRequest
        {
            Acks = (short)acks,
            TimeoutMs = (int)Math.Min(_options.Connection.RequestTimeout.TotalMilliseconds, int.MaxValue),
            TopicData = [topicData],
        };

        ProduceResponse? response;
        try
        {
            KafkaConnection connection = await GetConnectionAsync(leader, cancellationToken).ConfigureAwait(false);
            response = await connection.ProduceAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaConnectionException ex)
        {
            foreach (int index in indexes)
            {
                failures.Add((index, ex));
            }

            return failures;
        }

        if (response is null)
        {
            foreach (int index in indexes)
            {
                results[index] = new ProduceResult(partitions[index].Partition, -1, -1, -1);
            }

            return failures;
        }

        foreach (int index in indexes)
        {
            int partition = partitions[index].Partition;
            ProduceResponse.PartitionProduceResponse? answer = Find(response, topic, partition);
            if (answer is null)
            {
                failures.Add((index, new KafkaException(ErrorCode.UnknownServerError, $"Produce to {topic}-{partition}: the response left the partition out")));
            }
            else if (answer.ErrorCode != 0)
            {
                failures.Add((index, KafkaException.FromCode(answer.ErrorCode, $"Produce to {topic}-{partition}", answer.ErrorMessage)));
            }
            else
            {
                results[index] = new ProduceResult(partition, answer.BaseOffset, answer.LogAppendTimeMs, answer.LogStartOffset);
            }
        }

        return failures;
    }

    private static ProduceResponse.PartitionProduceResponse? Find(ProduceResponse response, string topic, int partition)
    {
        foreach (var t in response.Responses)
        {
            if (t.Name != topic)
            {
                continue;
            }

            foreach (var p in t.PartitionResponses)
            {
                if (p.Index == partition)
                {
                    return p;
                }
            }
        }

        return null;
    }
}
