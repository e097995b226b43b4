using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>A partition and the offset to read from.</summary>
public readonly record struct FetchPosition(int Partition, long Offset);

/// <summary>Limits of one Fetch (Kafka's consumer defaults unless set).</summary>
public sealed record FetchOptions
{
    /// <summary>How long the broker may wait for <see cref="MinBytes"/> to accumulate.</summary>
    public int MaxWaitMs { get; init; } = 500;

    public int MinBytes { get; init; } = 1;

    public int MaxBytes { get; init; } = 50 * 1024 * 1024;

    public int PartitionMaxBytes { get; init; } = 1024 * 1024;

    /// <summary>0 = read uncommitted, 1 = read committed.</summary>
    public sbyte IsolationLevel { get; init; }
}

public sealed partial class KafkaClient
{
    /// <summary>
    /// Fetches from several partitions of one topic, one request per leader, in parallel.
    /// Partitions whose leader moved are retried after a metadata refresh; any other partition
    /// error (OFFSET_OUT_OF_RANGE, ...) is reported in <see cref="FetchedPartition.ErrorCode"/>.
    /// Dispose the result when done with its records.
    /// </summary>
    public async Task<FetchResult> FetchAsync(string topic, IReadOnlyList<FetchPosition> positions, FetchOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new FetchOptions();
        var result = new FetchResult();
        try
        {
            List<FetchPosition> remaining = [.. positions];
            for (int attempt = 0; ; attempt++)
            {
                TopicMetadata metadata = await LookupTopicAsync(topic, refresh: attempt > 0, allowAutoCreate: false, cancellationToken).ConfigureAwait(false);
                var retry = new List<(FetchPosition Position, ErrorCode Error)>();
                var byLeader = new Dictionary<int, List<FetchPosition>>();
                foreach (FetchPosition position in remaining)
                {
                    if (metadata.TryGetLeader(position.Partition, out int leader))
                    {
                        if (!byLeader.TryGetValue(leader, out List<FetchPosition>? list))
                        {
                            byLeader[leader] = list = [];
                        }

                        list.Add(position);
                    }
                    else
                    {
                        retry.Add((position, metadata.NoLeaderError(position.Partition)));
                    }
                }

                var sends = new List<Task<List<(FetchPosition, ErrorCode)>>>(byLeader.Count);
                foreach ((int leader, List<FetchPosition> list) in byLeader)
                {
                    sends.Add(FetchFromLeaderAsync(metadata, leader, list, options, result, cancellationToken));
                }

                foreach (var failures in await Task.WhenAll(sends).ConfigureAwait(false))
                {
                    retry.AddRange(failures);
                }

                if (retry.Count == 0)
                {
                    return result;
                }

                if (attempt >= _options.MaxRetries)
                {
                    foreach ((FetchPosition position, ErrorCode error) in retry)
                    {
                        result.Add(new FetchedPartition(topic, position.Partition, position.Offset, error, -1, -1, -1, ReadOnlyMemory<byte>.Empty));
                    }

                    return result;
                }

                remaining = [.. retry.Select(r => r.Position)];
                await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Fetches one partition.</summary>
    public Task<FetchResult> FetchAsync(string topic, int partition, long offset, FetchOptions? options = null, CancellationToken cancellationToken = default) =>
        FetchAsync(topic, [new FetchPosition(partition, offset)], options, cancellationToken);

    private async Task<List<(FetchPosition, ErrorCode)>> FetchFromLeaderAsync(TopicMetadata metadata, int leader, List<FetchPosition> positions,
        FetchOptions options, FetchResult result, CancellationToken cancellationToken)
    {
        var failures = new List<(FetchPosition, ErrorCode)>();
        FetchResponseHandle handle;
        bool byId;
        try
        {
            KafkaConnection connection = await GetConnectionAsync(leader, cancellationToken).ConfigureAwait(false);
            short version = connection.GetVersion(FetchRequest.ApiKey);
            byId = version >= 13;
            if (byId && metadata.TopicId == Guid.Empty)
            {
                throw new KafkaException(ErrorCode.UnknownTopicId, $"Fetch v{version} needs the id of topic '{metadata.Name}', which Metadata did not report");
            }

            var fetchTopic = new FetchRequest.FetchTopic { Topic = metadata.Name, TopicId = metadata.TopicId };
            foreach (FetchPosition position in positions)
            {
                int epoch = metadata.TryGetPartition(position.Partition, out PartitionMetadata p) ? p.LeaderEpoch : -1;
                fetchTopic.Partitions.Add(new FetchRequest.FetchPartition
                {
                    Partition = position.Partition,
                    FetchOffset = position.Offset,
                    CurrentLeaderEpoch = epoch,
                    PartitionMaxBytes = options.PartitionMaxBytes,
                });
            }

            var request = new FetchRequest
            {
                ReplicaId = -1,
                MaxWaitMs = options.MaxWaitMs,
                MinBytes = options.MinBytes,
                MaxBytes = options.MaxBytes,
                IsolationLevel = options.IsolationLevel,
                SessionId = 0,
                SessionEpoch = -1,
                Topics = [fetchTopic],
            };
            handle = await connection.FetchAsync(request, version, cancellationToken).ConfigureAwait(false);
        }
        catch (KafkaConnectionException)
        {
            foreach (FetchPosition position in positions)
            {
                failures.Add((position, ErrorCode.NetworkException));
            }

            return failures;
        }

        result.Own(handle);
        FetchResponse response = handle.Response;
        KafkaException.ThrowIfError(response.ErrorCode, $"Fetch from {metadata.Name} on broker {leader}");
        foreach (FetchPosition position in positions)
        {
            FetchResponse.PartitionData? data = null;
            foreach (var t in response.Responses)
            {
                if (byId ? t.TopicId == metadata.TopicId : t.Topic == metadata.Name)
                {
                    foreach (var p in t.Partitions)
                    {
                        if (p.PartitionIndex == position.Partition)
                        {
                            data = p;
                        }
                    }
                }
            }

            ErrorCode error = data is null ? ErrorCode.UnknownTopicOrPartition : (ErrorCode)data.ErrorCode;
            if (IsStaleMetadata(error))
            {
                failures.Add((position, error));
                continue;
            }

            result.Add(data is null
                ? new FetchedPartition(metadata.Name, position.Partition, position.Offset, error, -1, -1, -1, ReadOnlyMemory<byte>.Empty)
                : new FetchedPartition(metadata.Name, position.Partition, position.Offset, error, data.HighWatermark, data.LastStableOffset,
                    data.LogStartOffset, data.Records ?? ReadOnlyMemory<byte>.Empty));
        }

        return failures;
    }
}
