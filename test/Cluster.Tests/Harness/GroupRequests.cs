using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Cluster.Tests.Harness;

/// <summary>Consumer-group questions asked of one broker over a raw connection.</summary>
public static class GroupRequests
{
    /// <summary>FindCoordinator (v2) for a group: the error code and the coordinator's node id and port.</summary>
    public static async Task<(short ErrorCode, int NodeId, int Port)> FindCoordinatorAsync(BrokerNode via, string group)
    {
        await using var connection = await RawKafkaConnection.ConnectAsync(via.KafkaPort);
        var response = await connection.SendAsync<FindCoordinatorResponse>(ApiKeys.FindCoordinator, 2,
            new FindCoordinatorRequest { Key = group, KeyType = 0 });
        return (response.ErrorCode, response.NodeId, response.Port);
    }

    /// <summary>OffsetFetch (v5) of a topic's partitions from a broker (the group's coordinator): partition to committed offset (-1 when none).</summary>
    public static async Task<Dictionary<int, long>> CommittedAsync(BrokerNode coordinator, string group, string topic, int partitions)
    {
        await using var connection = await RawKafkaConnection.ConnectAsync(coordinator.KafkaPort);
        var request = new OffsetFetchRequest
        {
            GroupId = group,
            Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = topic, PartitionIndexes = [.. Enumerable.Range(0, partitions)] }],
        };
        var response = await connection.SendAsync<OffsetFetchResponse>(ApiKeys.OffsetFetch, 5, request);
        if (response.ErrorCode != 0) throw new InvalidDataException($"OffsetFetch {group}: error {response.ErrorCode}");
        var result = new Dictionary<int, long>();
        foreach (var t in response.Topics.Where(t => t.Name == topic))
            foreach (var p in t.Partitions)
            {
                if (p.ErrorCode != 0) throw new InvalidDataException($"OffsetFetch {group} {topic}/{p.PartitionIndex}: error {p.ErrorCode}");
                result[p.PartitionIndex] = p.CommittedOffset;
            }
        return result;
    }
}
