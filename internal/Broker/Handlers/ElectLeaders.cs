using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// ElectLeaders (43). A partition's leader is whichever live broker holds its lease, and that
/// broker is also its preferred leader (docs/architecture.md, "Leadership and fencing"; there
/// are no other replicas to prefer). So a partition with a leader answers ELECTION_NOT_NEEDED
/// for either election type, as Kafka does when the preferred (or any) leader already leads; one
/// whose lease is free answers the retriable PREFERRED_LEADER_NOT_AVAILABLE or
/// ELIGIBLE_LEADERS_NOT_AVAILABLE, since the live brokers claim it by themselves within the
/// lease TTL. A request for every partition (null) leaves out the ones that need nothing, as Kafka does.
/// Needs ALTER on the cluster.
/// </summary>
internal sealed class ElectLeadersHandler(Cluster cluster) : ApiHandler<ElectLeadersRequest, ElectLeadersResponse>
{
    private const sbyte Preferred = 0;
    private const sbyte Unclean = 1;

    public override short ApiKey => ElectLeadersRequest.ApiKey;
    public override string Name => "ElectLeaders";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => ElectLeadersRequest.HighestSupportedVersion;

    protected override ValueTask<ElectLeadersResponse?> HandleAsync(RequestContext context, ElectLeadersRequest request, short version)
    {
        if (!context.AuthorizeCluster(AclOperation.Alter))
            return ValueTask.FromResult<ElectLeadersResponse?>(Refuse(request, ErrorCodes.ClusterAuthorizationFailed, "ElectLeaders needs ALTER on the cluster"));
        if (request.ElectionType is not (Preferred or Unclean))
            return ValueTask.FromResult<ElectLeadersResponse?>(Refuse(request, ErrorCodes.InvalidRequest, $"unknown election type {request.ElectionType}: 0 is preferred, 1 unclean"));
        var response = new ElectLeadersResponse();
        if (request.TopicPartitions is null)
        {
            foreach (var topic in cluster.Logs.Topics.OrderBy(t => t.Name, StringComparer.Ordinal))
            {
                var result = new ElectLeadersResponse.ReplicaElectionResult { Topic = topic.Name };
                response.ReplicaElectionResults.Add(result);
                for (int p = 0; p < topic.PartitionCount; p++)
                {
                    var outcome = Elect(topic.Name, p, request.ElectionType);
                    if (outcome.ErrorCode != ErrorCodes.ElectionNotNeeded) result.PartitionResult.Add(outcome);
                }
            }
        }
        else
        {
            foreach (var t in request.TopicPartitions)
            {
                var result = new ElectLeadersResponse.ReplicaElectionResult { Topic = t.Topic };
                response.ReplicaElectionResults.Add(result);
                foreach (int p in t.Partitions) result.PartitionResult.Add(Elect(t.Topic, p, request.ElectionType));
            }
        }
        return ValueTask.FromResult<ElectLeadersResponse?>(response);
    }

    private ElectLeadersResponse.PartitionResult Elect(string topicName, int partition, sbyte electionType)
    {
        var result = new ElectLeadersResponse.PartitionResult { PartitionId = partition };
        if (!cluster.Logs.TryGetTopic(topicName, out var topic) || partition < 0 || partition >= topic.PartitionCount)
        {
            result.ErrorCode = ErrorCodes.UnknownTopicOrPartition;
            result.ErrorMessage = $"partition {topicName}-{partition} does not exist";
            return result;
        }
        if (cluster.LeaderOf(topicName, partition) is { } leader && cluster.Broker(leader.BrokerId) is not null)
        {
            result.ErrorCode = ErrorCodes.ElectionNotNeeded;
            result.ErrorMessage = $"broker {leader.BrokerId} leads {topicName}-{partition}: it holds the partition's lease, which makes it the preferred leader";
            return result;
        }
        result.ErrorCode = electionType == Preferred ? ErrorCodes.PreferredLeaderNotAvailable : ErrorCodes.EligibleLeadersNotAvailable;
        result.ErrorMessage = $"no live broker holds the lease of {topicName}-{partition} yet; one claims it within the lease TTL, retry then";
        return result;
    }

    /// <summary>Kafka's answer to a request it refuses as a whole: the error at the top and for every partition named.</summary>
    private static ElectLeadersResponse Refuse(ElectLeadersRequest request, short errorCode, string? message)
    {
        var response = new ElectLeadersResponse { ErrorCode = errorCode };
        foreach (var t in request.TopicPartitions ?? [])
        {
            var result = new ElectLeadersResponse.ReplicaElectionResult { Topic = t.Topic };
            foreach (int p in t.Partitions) result.PartitionResult.Add(new ElectLeadersResponse.PartitionResult { PartitionId = p, ErrorCode = errorCode, ErrorMessage = message });
            response.ReplicaElectionResults.Add(result);
        }
        return response;
    }

    protected override ElectLeadersResponse ErrorResponse(ElectLeadersRequest request, short errorCode) => Refuse(request, errorCode, null);
}
