using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Metadata;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// Metadata (3): brokers, leaders and leader epochs. Unknown topics are created when both the
/// broker (--auto-create-topics) and the request (AllowAutoTopicCreation, v4+; always for
/// older versions) allow it, with --default-partitions partitions; the request that creates a
/// topic gets LEADER_NOT_AVAILABLE for it, as from Kafka. With the authorizer on, a list of all
/// topics leaves out those the principal may not DESCRIBE; a named one it may not describe answers
/// TOPIC_AUTHORIZATION_FAILED, and so does an unknown one it may not create (CREATE on the
/// cluster or the topic). Authorized-operations fields are filled when asked for (KIP-430).
/// </summary>
internal sealed class MetadataHandler(Cluster cluster) : ApiHandler<MetadataRequest, MetadataResponse>
{
    public override short ApiKey => MetadataRequest.ApiKey;
    public override string Name => "Metadata";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => MetadataRequest.HighestSupportedVersion;

    protected override async ValueTask<MetadataResponse?> HandleAsync(RequestContext context, MetadataRequest request, short version)
    {
        var response = new MetadataResponse
        {
            ClusterId = cluster.ClusterId,
            ControllerId = cluster.ControllerId,
        };
        AddBrokers(response, context.Client.Listener);
        var authorizer = context.Authorizer;
        if (version >= 8 && version <= 10 && request.IncludeClusterAuthorizedOperations)
            response.ClusterAuthorizedOperations = authorizer.AuthorizedOperations(context.Client, AclResourceType.Cluster, AclNames.ClusterName);

        bool allowCreate = cluster.Config.AutoCreateTopics && (version < 4 || request.AllowAutoTopicCreation);
        if (request.Topics is null || (version == 0 && request.Topics.Count == 0))
        {
            // Topics the principal may not describe are left out, not reported (Kafka does not disclose them).
            foreach (var t in cluster.Logs.Topics.OrderBy(t => t.Name, StringComparer.Ordinal))
                if (authorizer.Check(context.Client, AclOperation.Describe, AclResourceType.Topic, t.Name)) response.Topics.Add(Describe(t));
            AddTopicOperations(context, request, version, response);
            return response;
        }
        foreach (var requested in request.Topics)
        {
            TopicState? topic = null;
            string? name = requested.Name;
            if (name is null && requested.TopicId != Guid.Empty)
            {
                topic = cluster.Logs.FindById(requested.TopicId);
                if (topic is null)
                {
                    response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.UnknownTopicId, Name = null, TopicId = requested.TopicId });
                    continue;
                }
                if (!context.Authorize(AclOperation.Describe, AclResourceType.Topic, topic.Name))
                {
                    response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.TopicAuthorizationFailed, Name = null, TopicId = requested.TopicId });
                    continue;
                }
            }
            else if (name is not null && !context.Authorize(AclOperation.Describe, AclResourceType.Topic, name))
            {
                // Checked before existence, so the answer does not tell whether the topic exists.
                response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.TopicAuthorizationFailed, Name = name });
                continue;
            }
            else if (name is not null && !cluster.Logs.TryGetTopic(name, out topic!))
            {
                topic = null;
                if (LogManager.ValidateTopicName(name) is not null)
                {
                    response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.InvalidTopicException, Name = name });
                    continue;
                }
                if (allowCreate && !authorizer.Check(context.Client, AclOperation.Create, AclResourceType.Cluster, AclNames.ClusterName)
                    && !context.Authorize(AclOperation.Create, AclResourceType.Topic, name))
                {
                    response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.TopicAuthorizationFailed, Name = name });
                    continue;
                }
                if (allowCreate)
                {
                    AdminResult created;
                    // Only this topic's answer depends on the store; the rest of the response does not.
                    try { created = await cluster.Logs.CreateTopicAsync(name, -1, new Dictionary<string, string?>(), false, CancellationToken.None).ConfigureAwait(false); }
                    catch (MetadataStoreUnavailableException)
                    {
                        response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.WhenMetadataStoreUnavailable(ApiKey), Name = name });
                        continue;
                    }
                    // Kafka answers the request that creates a topic with LEADER_NOT_AVAILABLE and no
                    // partitions (also when another request created it first); clients retry and the
                    // next Metadata describes it.
                    if (created.ErrorCode is 0 or ErrorCodes.TopicAlreadyExists)
                    {
                        response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.LeaderNotAvailable, Name = name });
                        continue;
                    }
                }
                if (topic is null)
                {
                    response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.UnknownTopicOrPartition, Name = name });
                    continue;
                }
            }
            if (topic is null)
            {
                response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.InvalidRequest, Name = name });
                continue;
            }
            response.Topics.Add(Describe(topic));
        }
        AddTopicOperations(context, request, version, response);
        return response;
    }

    /// <summary>KIP-430: the operations the principal may perform on each topic described, when the request asks (v8+).</summary>
    private static void AddTopicOperations(RequestContext context, MetadataRequest request, short version, MetadataResponse response)
    {
        if (version < 8 || !request.IncludeTopicAuthorizedOperations) return;
        foreach (var t in response.Topics)
            if (t.ErrorCode == 0 && t.Name is not null) t.TopicAuthorizedOperations = context.Authorizer.AuthorizedOperations(context.Client, AclResourceType.Topic, t.Name);
    }

    private void AddBrokers(MetadataResponse response, string listener)
    {
        // Each broker's endpoint of the listener this request came in on (docs/security.md, "Listeners").
        foreach (var (b, e) in cluster.LiveEndpoints(listener))
            response.Brokers.Add(new MetadataResponse.MetadataResponseBroker { NodeId = b.Id, Host = e.Host, Port = e.Port, Rack = b.Rack });
    }

    /// <summary>
    /// Each partition's current leader and epoch from the leader keys; LEADER_NOT_AVAILABLE
    /// while none is registered (a leader died and its lease has not expired yet, or a new
    /// leader is still claiming) or its leader stopped answering connections, which clients retry.
    /// </summary>
    private MetadataResponse.MetadataResponseTopic Describe(TopicState topic)
    {
        var t = new MetadataResponse.MetadataResponseTopic { ErrorCode = 0, Name = topic.Name, TopicId = topic.Id, IsInternal = false, TopicAuthorizedOperations = int.MinValue };
        int count = topic.PartitionCount;
        for (int i = 0; i < count; i++)
        {
            var leader = cluster.LeaderOf(topic.Name, i);
            // A leader that is gone, or that stopped answering connections (its lease not yet
            // run out), is reported as none, as Kafka does: clients then ask again at once.
            if (leader is not null && (cluster.Broker(leader.BrokerId) is null
                || (leader.BrokerId != cluster.BrokerId && cluster.Node.Peers.SuspectedDown(leader.BrokerId)))) leader = null;
            if (leader is null)
            {
                t.Partitions.Add(new MetadataResponse.MetadataResponsePartition
                {
                    ErrorCode = ErrorCodes.LeaderNotAvailable,
                    PartitionIndex = i,
                    LeaderId = -1,
                    LeaderEpoch = -1,
                    ReplicaNodes = [],
                    IsrNodes = [],
                    OfflineReplicas = [],
                });
                continue;
            }
            int id = leader.BrokerId;
            t.Partitions.Add(new MetadataResponse.MetadataResponsePartition
            {
                ErrorCode = 0,
                PartitionIndex = i,
                LeaderId = id,
                LeaderEpoch = leader.Epoch,
                ReplicaNodes = [id],
                IsrNodes = [id],
                OfflineReplicas = [],
            });
        }
        return t;
    }

    protected override MetadataResponse ErrorResponse(MetadataRequest request, short errorCode)
    {
        // No brokers: the listener the request came in on is not known here, and the topics' error is the answer.
        var response = new MetadataResponse { ClusterId = cluster.ClusterId, ControllerId = cluster.ControllerId };
        foreach (var t in request.Topics ?? []) response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = errorCode, Name = t.Name, TopicId = t.TopicId });
        return response;
    }
}
