using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// AlterPartitionReassignments (45). A partition's one replica is the live broker holding its
/// lease (docs/architecture.md, "Leadership and fencing"), so the only reassignment that can
/// succeed is to that broker alone, which changes nothing. Anything else gets the error Kafka
/// gives for it (UNKNOWN_TOPIC_OR_PARTITION, NO_REASSIGNMENT_IN_PROGRESS for a cancel,
/// INVALID_REPLICA_ASSIGNMENT for a list naming no broker, an unknown one or one twice) or
/// INVALID_REPLICA_ASSIGNMENT with a message saying why this broker cannot do it. Needs ALTER on the cluster.
/// </summary>
internal sealed class AlterPartitionReassignmentsHandler(Cluster cluster) : ApiHandler<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse>
{
    public override short ApiKey => AlterPartitionReassignmentsRequest.ApiKey;
    public override string Name => "AlterPartitionReassignments";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => AlterPartitionReassignmentsRequest.HighestSupportedVersion;

    protected override ValueTask<AlterPartitionReassignmentsResponse?> HandleAsync(RequestContext context, AlterPartitionReassignmentsRequest request, short version)
    {
        if (!context.AuthorizeCluster(AclOperation.Alter)) return ValueTask.FromResult<AlterPartitionReassignmentsResponse?>(ErrorResponse(request, ErrorCodes.ClusterAuthorizationFailed));
        var response = new AlterPartitionReassignmentsResponse { ErrorCode = ErrorCodes.None, ErrorMessage = null };
        foreach (var t in request.Topics)
        {
            var result = new AlterPartitionReassignmentsResponse.ReassignableTopicResponse { Name = t.Name };
            response.Responses.Add(result);
            foreach (var p in t.Partitions)
            {
                var (error, message) = Reassign(t.Name, p.PartitionIndex, p.Replicas);
                result.Partitions.Add(new AlterPartitionReassignmentsResponse.ReassignablePartitionResponse { PartitionIndex = p.PartitionIndex, ErrorCode = error, ErrorMessage = message });
            }
        }
        return ValueTask.FromResult<AlterPartitionReassignmentsResponse?>(response);
    }

    /// <summary>Kafka's checks in Kafka's order, then the one KafScale adds: the target must be the current lease holder.</summary>
    private (short Error, string? Message) Reassign(string topicName, int partition, List<int>? replicas)
    {
        string tp = $"{topicName}-{partition}";
        if (!cluster.Logs.TryGetTopic(topicName, out var topic)) return (ErrorCodes.UnknownTopicOrPartition, $"topic '{topicName}' does not exist");
        if (partition < 0 || partition >= topic.PartitionCount) return (ErrorCodes.UnknownTopicOrPartition, $"partition {tp} does not exist");
        if (replicas is null) return (ErrorCodes.NoReassignmentInProgress, $"no reassignment of {tp} is in progress: partitions move by their leases, never by reassignment");
        if (replicas.Count == 0) return (ErrorCodes.InvalidReplicaAssignment, $"the assignment of {tp} names no broker");
        var named = new HashSet<int>();
        foreach (int id in replicas)
        {
            if (cluster.Broker(id) is null) return (ErrorCodes.InvalidReplicaAssignment, $"the assignment of {tp} names broker {id}, which is not a live broker of this cluster");
            if (!named.Add(id)) return (ErrorCodes.InvalidReplicaAssignment, $"the assignment of {tp} names broker {id} more than once");
        }
        if (replicas.Count != 1)
            return (ErrorCodes.InvalidReplicaAssignment, $"the assignment of {tp} has {replicas.Count} replicas, but partitions have 1 here: the object store, not replicas, keeps the data");
        if (cluster.LeaderOf(topicName, partition) is not { } leader || cluster.Broker(leader.BrokerId) is null)
            return (ErrorCodes.LeaderNotAvailable, $"no live broker holds the lease of {tp} yet; retry once one has claimed it");
        if (replicas[0] != leader.BrokerId)
            return (ErrorCodes.InvalidReplicaAssignment,
                $"{tp} is on broker {leader.BrokerId}, which holds its lease; partitions move between brokers only by their leases (when brokers join or leave), not by reassignment");
        return (ErrorCodes.None, null);
    }

    protected override AlterPartitionReassignmentsResponse ErrorResponse(AlterPartitionReassignmentsRequest request, short errorCode)
    {
        var response = new AlterPartitionReassignmentsResponse { ErrorCode = errorCode, ErrorMessage = null };
        foreach (var t in request.Topics)
        {
            var result = new AlterPartitionReassignmentsResponse.ReassignableTopicResponse { Name = t.Name };
            foreach (var p in t.Partitions) result.Partitions.Add(new AlterPartitionReassignmentsResponse.ReassignablePartitionResponse { PartitionIndex = p.PartitionIndex, ErrorCode = errorCode, ErrorMessage = null });
            response.Responses.Add(result);
        }
        return response;
    }
}
