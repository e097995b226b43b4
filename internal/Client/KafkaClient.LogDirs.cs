using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>
/// Partition sizes as the brokers' log dirs report them (DescribeLogDirs): bytes per partition,
/// and the brokers that did not answer (their partitions are missing from <see cref="Bytes"/>).
/// </summary>
public sealed record PartitionSizes(IReadOnlyDictionary<(string Topic, int Partition), long> Bytes, IReadOnlyList<int> BrokersNotAnswering)
{
    /// <summary>The size of one partition, or null when no broker reported it.</summary>
    public long? Of(string topic, int partition) => Bytes.TryGetValue((topic, partition), out long b) ? b : null;

    /// <summary>A topic's size: the sum over its partitions, or null when any of them is unknown.</summary>
    public long? OfTopic(string topic, int partitionCount)
    {
        long total = 0;
        for (int p = 0; p < partitionCount; p++)
        {
            if (Of(topic, p) is not long b) return null;
            total += b;
        }

        return total;
    }
}

public sealed partial class KafkaClient
{
    /// <summary>
    /// Asks every broker of the cluster for the sizes of the partitions it holds (DescribeLogDirs,
    /// as <c>kafka-log-dirs.sh</c> does), for the topics named or all (null). Kafka requires DESCRIBE
    /// on the cluster: without it this throws CLUSTER_AUTHORIZATION_FAILED. A broker that does not
    /// answer is listed in <see cref="PartitionSizes.BrokersNotAnswering"/>. Where two brokers
    /// report a partition (during a leadership change) the current leader's answer counts.
    /// </summary>
    public async Task<PartitionSizes> DescribePartitionSizesAsync(IReadOnlyCollection<string>? topics, CancellationToken cancellationToken = default)
    {
        ClusterMetadata metadata = Metadata;
        if (metadata.Brokers.Count == 0)
        {
            metadata = await RefreshMetadataAsync([], cancellationToken).ConfigureAwait(false);
        }

        async Task<(int Broker, DescribeLogDirsResponse? Response, Exception? Error)> Ask(int broker)
        {
            try
            {
                var request = new DescribeLogDirsRequest();
                if (topics is null)
                {
                    request.Topics = null;
                }
                else
                {
                    foreach (string t in topics)
                    {
                        int count = metadata.Topics.TryGetValue(t, out TopicMetadata? tm) ? tm.PartitionCount : 0;
                        request.Topics!.Add(new DescribeLogDirsRequest.DescribableLogDirTopic { Topic = t, Partitions = [.. Enumerable.Range(0, count)] });
                    }
                }

                KafkaConnection connection = await GetConnectionAsync(broker, cancellationToken).ConfigureAwait(false);
                return (broker, await connection.SendAsync<DescribeLogDirsResponse>(request, cancellationToken).ConfigureAwait(false), null);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                return (broker, null, ex);
            }
        }

        var answers = await Task.WhenAll(metadata.Brokers.Keys.Select(Ask)).ConfigureAwait(false);
        var bytes = new Dictionary<(string, int), long>();
        var silent = new List<int>();
        foreach (var (broker, response, _) in answers.OrderBy(a => a.Broker))
        {
            if (response is null)
            {
                silent.Add(broker);
                continue;
            }

            KafkaException.ThrowIfError(response.ErrorCode, $"DescribeLogDirs on broker {broker}");
            foreach (var dir in response.Results.Where(d => d.ErrorCode == 0))
            {
                foreach (var topic in dir.Topics)
                {
                    foreach (var p in topic.Partitions.Where(p => !p.IsFutureKey))
                    {
                        var key = (topic.Name, p.PartitionIndex);
                        bool leader = metadata.Topics.TryGetValue(topic.Name, out TopicMetadata? tm)
                            && tm.TryGetPartition(p.PartitionIndex, out PartitionMetadata pm) && pm.LeaderId == broker;
                        if (leader || !bytes.ContainsKey(key))
                        {
                            bytes[key] = p.PartitionSize;
                        }
                    }
                }
            }
        }

        return new PartitionSizes(bytes, silent);
    }
}
