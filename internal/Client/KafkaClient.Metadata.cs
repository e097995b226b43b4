using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

public sealed partial class KafkaClient
{
    /// <summary>
    /// Asks the cluster about <paramref name="topics"/> (null: every topic; empty: brokers only)
    /// and merges the answer into <see cref="Metadata"/>. Never creates topics.
    /// </summary>
    public async Task<ClusterMetadata> RefreshMetadataAsync(IReadOnlyCollection<string>? topics, CancellationToken cancellationToken = default)
    {
        await RequestMetadataAsync(topics, allowAutoCreate: false, cancellationToken).ConfigureAwait(false);
        return Metadata;
    }

    /// <summary>
    /// A topic's metadata for producing: a Metadata request that may create the topic when
    /// <see cref="KafkaClientOptions.AllowAutoTopicCreation"/> is set and the broker allows it,
    /// then <see cref="GetTopicAsync"/> (which waits for every partition's leader).
    /// </summary>
    public async Task<TopicMetadata> LookupOrCreateTopicAsync(string topic, CancellationToken cancellationToken = default)
    {
        await LookupTopicAsync(topic, refresh: true, _options.AllowAutoTopicCreation, cancellationToken).ConfigureAwait(false);
        return await GetTopicAsync(topic, refresh: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every topic the cluster has now (Metadata for all topics), without what the cache remembers of deleted ones.</summary>
    public async Task<IReadOnlyDictionary<string, TopicMetadata>> ListTopicsAsync(CancellationToken cancellationToken = default) =>
        await RequestMetadataAsync(null, allowAutoCreate: false, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// A topic's metadata: from the cache, or asked for when absent or when
    /// <paramref name="refresh"/> is set. Retries while the topic is unknown or has partitions
    /// without a leader (a topic just created); then throws with the broker's error code.
    /// </summary>
    public async Task<TopicMetadata> GetTopicAsync(string topic, bool refresh = false, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            TopicMetadata metadata = await LookupTopicAsync(topic, refresh || attempt > 0, allowAutoCreate: false, cancellationToken).ConfigureAwait(false);
            ErrorCode error = metadata.ErrorCode;
            if (error == ErrorCode.None)
            {
                foreach (PartitionMetadata p in metadata.Partitions)
                {
                    if (p.LeaderId < 0 || p.ErrorCode != ErrorCode.None)
                    {
                        error = p.ErrorCode == ErrorCode.None ? ErrorCode.LeaderNotAvailable : p.ErrorCode;
                        break;
                    }
                }

                if (error == ErrorCode.None)
                {
                    return metadata;
                }
            }

            if (!IsStaleMetadata(error) || attempt >= _options.MaxRetries)
            {
                throw new KafkaException(error, $"metadata of topic '{topic}'");
            }

            await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One lookup, no retries: the result may carry an error code (callers retry).</summary>
    internal async Task<TopicMetadata> LookupTopicAsync(string topic, bool refresh, bool allowAutoCreate, CancellationToken cancellationToken)
    {
        if (!refresh && Metadata.Topics.TryGetValue(topic, out TopicMetadata? cached))
        {
            return cached;
        }

        Dictionary<string, TopicMetadata> answered = await RequestMetadataAsync([topic], allowAutoCreate, cancellationToken).ConfigureAwait(false);
        return answered.TryGetValue(topic, out TopicMetadata? fresh)
            ? fresh
            : new TopicMetadata(topic, Guid.Empty, ErrorCode.UnknownTopicOrPartition, []);
    }

    private async Task<Dictionary<string, TopicMetadata>> RequestMetadataAsync(IReadOnlyCollection<string>? topics, bool allowAutoCreate, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                KafkaConnection connection = await GetAnyConnectionAsync(cancellationToken).ConfigureAwait(false);
                short version = connection.GetVersion(MetadataRequest.ApiKey);
                var request = new MetadataRequest
                {
                    AllowAutoTopicCreation = allowAutoCreate,
                    Topics = topics is null && version >= 1 ? null : [],
                };
                foreach (string topic in topics ?? [])
                {
                    request.Topics!.Add(new MetadataRequest.MetadataRequestTopic { Name = topic });
                }

                MetadataResponse response = await connection.SendAsync<MetadataResponse>(request, version, cancellationToken).ConfigureAwait(false);
                return Merge(response, connection);
            }
            catch (KafkaConnectionException) when (attempt < _options.MaxRetries)
            {
                await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private Dictionary<string, TopicMetadata> Merge(MetadataResponse response, KafkaConnection answeredBy)
    {
        var brokers = new Dictionary<int, BrokerNode>();
        foreach (var b in response.Brokers)
        {
            brokers[b.NodeId] = new BrokerNode(b.NodeId, b.Host, b.Port, b.Rack);
        }

        var answered = new Dictionary<string, TopicMetadata>(StringComparer.Ordinal);
        foreach (var t in response.Topics)
        {
            if (t.Name is null)
            {
                continue;
            }

            var partitions = new List<PartitionMetadata>(t.Partitions.Count);
            foreach (var p in t.Partitions)
            {
                partitions.Add(new PartitionMetadata(p.PartitionIndex, p.LeaderId, p.LeaderEpoch, (ErrorCode)p.ErrorCode));
            }

            partitions.Sort(static (a, b) => a.Partition.CompareTo(b.Partition));
            answered[t.Name] = new TopicMetadata(t.Name, t.TopicId, (ErrorCode)t.ErrorCode, partitions);
        }

        lock (_lock)
        {
            var topics = new Dictionary<string, TopicMetadata>(_metadata.Topics, StringComparer.Ordinal);
            foreach (TopicMetadata topic in answered.Values)
            {
                if (topic.ErrorCode == ErrorCode.None)
                {
                    topics[topic.Name] = topic;
                }
                else
                {
                    topics.Remove(topic.Name);
                }
            }

            _metadata = new ClusterMetadata(response.ClusterId, response.ControllerId, brokers, topics);

            // The connection that answered doubles as that broker's connection.
            if (ReferenceEquals(answeredBy, _bootstrapConnection))
            {
                foreach (BrokerNode broker in brokers.Values)
                {
                    if (string.Equals(broker.Host, answeredBy.Host, StringComparison.OrdinalIgnoreCase) && broker.Port == answeredBy.Port
                        && (!_connections.TryGetValue(broker.NodeId, out Task<KafkaConnection>? existing) || IsDead(existing)))
                    {
                        _connections[broker.NodeId] = Task.FromResult(answeredBy);
                    }
                }
            }
        }

        return answered;
    }
}
