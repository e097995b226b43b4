using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>A topic to create; -1 partitions or replicas take the broker's defaults.</summary>
public sealed record NewTopic(string Name, int Partitions = -1, short ReplicationFactor = -1)
{
    public IReadOnlyDictionary<string, string?>? Configs { get; init; }
}

public sealed partial class KafkaClient
{
    /// <summary>
    /// Creates topics on the controller and waits until Metadata shows a leader for every
    /// partition. With <paramref name="ignoreIfExists"/>, TOPIC_ALREADY_EXISTS is not an error.
    /// </summary>
    public async Task CreateTopicsAsync(IReadOnlyList<NewTopic> topics, bool ignoreIfExists = true, CancellationToken cancellationToken = default)
    {
        var request = new CreateTopicsRequest { TimeoutMs = AdminTimeoutMs };
        foreach (NewTopic topic in topics)
        {
            var creatable = new CreateTopicsRequest.CreatableTopic
            {
                Name = topic.Name,
                NumPartitions = topic.Partitions,
                ReplicationFactor = topic.ReplicationFactor,
            };
            foreach ((string name, string? value) in topic.Configs ?? new Dictionary<string, string?>())
            {
                creatable.Configs.Add(new CreateTopicsRequest.CreatableTopicConfig { Name = name, Value = value });
            }

            request.Topics.Add(creatable);
        }

        CreateTopicsResponse response = await SendToControllerAsync<CreateTopicsResponse>(request, cancellationToken).ConfigureAwait(false);
        foreach (var result in response.Topics)
        {
            if (result.ErrorCode == (short)ErrorCode.TopicAlreadyExists && ignoreIfExists)
            {
                continue;
            }

            KafkaException.ThrowIfError(result.ErrorCode, $"CreateTopics '{result.Name}'", result.ErrorMessage);
        }

        foreach (NewTopic topic in topics)
        {
            await GetTopicAsync(topic.Name, refresh: true, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Grows a topic to <paramref name="totalPartitions"/> partitions.</summary>
    public async Task CreatePartitionsAsync(string topic, int totalPartitions, CancellationToken cancellationToken = default)
    {
        var request = new CreatePartitionsRequest
        {
            TimeoutMs = AdminTimeoutMs,
            Topics = [new CreatePartitionsRequest.CreatePartitionsTopic { Name = topic, Count = totalPartitions, Assignments = null }],
        };
        CreatePartitionsResponse response = await SendToControllerAsync<CreatePartitionsResponse>(request, cancellationToken).ConfigureAwait(false);
        foreach (var result in response.Results)
        {
            KafkaException.ThrowIfError(result.ErrorCode, $"CreatePartitions '{result.Name}' to {totalPartitions}", result.ErrorMessage);
        }

        await GetTopicAsync(topic, refresh: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes topics by name. With <paramref name="ignoreIfMissing"/>, UNKNOWN_TOPIC_OR_PARTITION is not an error.</summary>
    public async Task DeleteTopicsAsync(IReadOnlyList<string> topics, bool ignoreIfMissing = false, CancellationToken cancellationToken = default)
    {
        var request = new DeleteTopicsRequest { TimeoutMs = AdminTimeoutMs, TopicNames = [.. topics] };
        foreach (string topic in topics)
        {
            request.Topics.Add(new DeleteTopicsRequest.DeleteTopicState { Name = topic });
        }

        DeleteTopicsResponse response = await SendToControllerAsync<DeleteTopicsResponse>(request, cancellationToken).ConfigureAwait(false);
        foreach (var result in response.Responses)
        {
            if (result.ErrorCode == (short)ErrorCode.UnknownTopicOrPartition && ignoreIfMissing)
            {
                continue;
            }

            KafkaException.ThrowIfError(result.ErrorCode, $"DeleteTopics '{result.Name}'", result.ErrorMessage);
        }

        await RequestMetadataAsync(topics, allowAutoCreate: false, cancellationToken).ConfigureAwait(false);
    }

    private int AdminTimeoutMs => (int)Math.Min(_options.Connection.RequestTimeout.TotalMilliseconds, int.MaxValue);

    /// <summary>Admin requests go to the controller Metadata names, or to any broker when it names none.</summary>
    private async Task<TResponse> SendToControllerAsync<TResponse>(IKafkaMessage request, CancellationToken cancellationToken)
        where TResponse : IKafkaMessage, new()
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                int controller = Metadata.ControllerId;
                KafkaConnection connection = controller >= 0 && Metadata.Brokers.ContainsKey(controller)
                    ? await GetConnectionAsync(controller, cancellationToken).ConfigureAwait(false)
                    : await GetAnyConnectionAsync(cancellationToken).ConfigureAwait(false);
                return await connection.SendAsync<TResponse>(request, cancellationToken).ConfigureAwait(false);
            }
            catch (KafkaConnectionException) when (attempt < _options.MaxRetries)
            {
                await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
                await RefreshMetadataAsync([], cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
