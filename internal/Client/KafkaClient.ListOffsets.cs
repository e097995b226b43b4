using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>An answer of ListOffsets.</summary>
public readonly record struct ListedOffset(int Partition, long Offset, long Timestamp, int LeaderEpoch);

public sealed partial class KafkaClient
{
    /// <summary>
    /// The offset of each partition at <paramref name="timestamp"/>: a time in ms, or
    /// <see cref="OffsetSpec.Latest"/> / <see cref="OffsetSpec.Earliest"/> / <see cref="OffsetSpec.MaxTimestamp"/>.
    /// </summary>
    public async Task<IReadOnlyDictionary<int, ListedOffset>> ListOffsetsAsync(string topic, IReadOnlyList<int> partitions, long timestamp,
        CancellationToken cancellationToken = default)
    {
        var results = new Dictionary<int, ListedOffset>();
        List<int> remaining = [.. partitions];
        for (int attempt = 0; ; attempt++)
        {
            TopicMetadata metadata = await LookupTopicAsync(topic, refresh: attempt > 0, allowAutoCreate: false, cancellationToken).ConfigureAwait(false);
            var retry = new List<(int Partition, KafkaException Error)>();
            var byLeader = new Dictionary<int, List<int>>();
            foreach (int partition in remaining)
            {
                if (metadata.TryGetLeader(partition, out int leader))
                {
                    if (!byLeader.TryGetValue(leader, out List<int>? list))
                    {
                        byLeader[leader] = list = [];
                    }

                    list.Add(partition);
                }
                else
                {
                    retry.Add((partition, new KafkaException(metadata.NoLeaderError(partition), $"ListOffsets {topic}-{partition}: no leader known")));
                }
            }

            var sends = new List<Task<List<(int, KafkaException)>>>(byLeader.Count);
            foreach ((int leader, List<int> list) in byLeader)
            {
                sends.Add(ListOffsetsOnLeaderAsync(metadata, leader, list, timestamp, results, cancellationToken));
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

            remaining = [.. retry.Select(r => r.Partition)];
            await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The offset of one partition at <paramref name="timestamp"/> (see <see cref="OffsetSpec"/>).</summary>
    public async Task<long> ListOffsetAsync(string topic, int partition, long timestamp, CancellationToken cancellationToken = default)
    {
        IReadOnlyDictionary<int, ListedOffset> offsets = await ListOffsetsAsync(topic, [partition], timestamp, cancellationToken).ConfigureAwait(false);
        return offsets[partition].Offset;
    }

    private async Task<List<(int, KafkaException)>> ListOffsetsOnLeaderAsync(TopicMetadata metadata, int leader, List<int> partitions, long timestamp,
        Dictionary<int, ListedOffset> results, CancellationToken cancellationToken)
    {
        var failures = new List<(int, KafkaException)>();
        var requestTopic = new ListOffsetsRequest.ListOffsetsTopic { Name = metadata.Name };
        foreach (int partition in partitions)
        {
            requestTopic.Partitions.Add(new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = partition, Timestamp = timestamp, CurrentLeaderEpoch = -1 });
        }

        var request = new ListOffsetsRequest
        {
            ReplicaId = -1,
            Topics = [requestTopic],
            TimeoutMs = (int)Math.Min(_options.Connection.RequestTimeout.TotalMilliseconds, int.MaxValue),
        };

        ListOffsetsResponse response;
        try
        {
            KafkaConnection connection = await GetConnectionAsync(leader, cancellationToken).ConfigureAwait(false);
            response = await connection.SendAsync<ListOffsetsResponse>(request, cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaConnectionException ex)
        {
            foreach (int partition in partitions)
            {
                failures.Add((partition, ex));
            }

            return failures;
        }

        foreach (int partition in partitions)
        {
            ListOffsetsResponse.ListOffsetsPartitionResponse? answer = null;
            foreach (var t in response.Topics)
            {
                if (t.Name == metadata.Name)
                {
                    answer = t.Partitions.Find(p => p.PartitionIndex == partition) ?? answer;
                }
            }

            if (answer is null)
            {
                failures.Add((partition, new KafkaException(ErrorCode.UnknownServerError, $"ListOffsets {metadata.Name}-{partition}: the response left the partition out")));
            }
            else if (answer.ErrorCode != 0)
            {
                failures.Add((partition, KafkaException.FromCode(answer.ErrorCode, $"ListOffsets {metadata.Name}-{partition}")));
            }
            else
            {
                lock (results)
                {
                    results[partition] = new ListedOffset(partition, answer.Offset, answer.Timestamp, answer.LeaderEpoch);
                }
            }
        }

        return failures;
    }
}
