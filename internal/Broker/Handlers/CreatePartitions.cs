using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// CreatePartitions (37): raises a topic's partition count. Manual assignments are checked by
/// Kafka's rules (one per new partition, each naming live brokers once, as many as the topic's
/// replication factor, which is 1 here) and then left to the leases: whichever live broker
/// claims a new partition's lease leads it (docs/architecture.md, "Leadership and fencing").
/// Needs ALTER on each topic (TOPIC_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class CreatePartitionsHandler(Cluster cluster) : ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse>
{
    public override short ApiKey => CreatePartitionsRequest.ApiKey;
    public override string Name => "CreatePartitions";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => CreatePartitionsRequest.HighestSupportedVersion;

    protected override async ValueTask<CreatePartitionsResponse?> HandleAsync(RequestContext context, CreatePartitionsRequest request, short version)
    {
        var response = new CreatePartitionsResponse();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in request.Topics)
        {
            var result = new CreatePartitionsResponse.CreatePartitionsTopicResult { Name = t.Name, ErrorMessage = null };
            response.Results.Add(result);
            if (!seen.Add(t.Name)) { result.ErrorCode = ErrorCodes.InvalidRequest; result.ErrorMessage = $"topic '{t.Name}' appears more than once in the request"; continue; }
            if (!context.Authorize(AclOperation.Alter, AclResourceType.Topic, t.Name)) { result.ErrorCode = ErrorCodes.TopicAuthorizationFailed; result.ErrorMessage = "Authorization failed: adding partitions needs ALTER on the topic"; continue; }
            if (t.Assignments is { } assignments && cluster.Logs.TryGetTopic(t.Name, out var topic) && t.Count > topic.PartitionCount
                && ValidateAssignments(assignments, topic.PartitionCount, t.Count) is { } invalid)
            {
                result.ErrorCode = ErrorCodes.InvalidReplicaAssignment;
                result.ErrorMessage = invalid;
                continue;
            }
            // An unknown topic or a count that is not an increase is answered by the log manager, before any assignment.
            var outcome = await cluster.Logs.CreatePartitionsAsync(t.Name, t.Count, request.ValidateOnly, CancellationToken.None).ConfigureAwait(false);
            result.ErrorCode = outcome.ErrorCode;
            result.ErrorMessage = outcome.Message;
        }
        return response;
    }

    /// <summary>Kafka's checks of manual assignments; the message for the first that fails, or null.</summary>
    private string? ValidateAssignments(List<CreatePartitionsRequest.CreatePartitionsAssignment> assignments, int current, int count)
    {
        int added = count - current;
        if (assignments.Count != added)
            return $"the topic grows from {current} to {count} partitions, which needs {added} assignment(s), but {assignments.Count} were given";
        for (int i = 0; i < assignments.Count; i++)
        {
            int partition = current + i;
            var brokers = assignments[i].BrokerIds;
            if (brokers.Count == 0) return $"the assignment of partition {partition} names no broker";
            var named = new HashSet<int>();
            foreach (int id in brokers)
            {
                if (cluster.Broker(id) is null) return $"the assignment of partition {partition} names broker {id}, which is not a live broker of this cluster";
                if (!named.Add(id)) return $"the assignment of partition {partition} names broker {id} more than once";
            }
            // The replication factor is 1: the object store, not replicas, keeps the data durable.
            if (brokers.Count != 1)
                return $"the assignment of partition {partition} has {brokers.Count} replicas, but the topic's partitions have 1 (KafScale keeps one replica; the object store holds the data)";
        }
        return null;
    }

    protected override CreatePartitionsResponse ErrorResponse(CreatePartitionsRequest request, short errorCode)
    {
        var response = new CreatePartitionsResponse();
        foreach (var t in request.Topics) response.Results.Add(new CreatePartitionsResponse.CreatePartitionsTopicResult { Name = t.Name, ErrorCode = errorCode, ErrorMessage = null });
        return response;
    }
}
