using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// Metadata (3): brokers, leaders and leader epochs. Unknown topics are created when both the
/// broker (--auto-create-topics) and the request (AllowAutoTopicCreation, v4+; always for
/// older versions) allow it, with --default-partitions partitions.
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
            ControllerId = cluster.BrokerId,
        };
        response.Brokers.Add(new MetadataResponse.MetadataResponseBroker { NodeId = cluster.BrokerId, Host = cluster.AdvertisedHost, Port = cluster.AdvertisedPort, Rack = null });

        bool allowCreate = cluster.Config.AutoCreateTopics && (version < 4 || request.AllowAutoTopicCreation);
        if (request.Topics is null || (version == 0 && request.Topics.Count == 0))
        {
            foreach (var t in cluster.Logs.Topics.OrderBy(t => t.Name, StringComparer.Ordinal)) response.Topics.Add(Describe(t));
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
            }
            else if (name is not null && !cluster.Logs.TryGetTopic(name, out topic!))
            {
                topic = null;
                if (LogManager.ValidateTopicName(name) is not null)
                {
                    response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = ErrorCodes.InvalidTopicException, Name = name });
                    continue;
                }
                if (allowCreate)
                {
                    var created = await cluster.Logs.CreateTopicAsync(name, -1, new Dictionary<string, string?>(), false, CancellationToken.None).ConfigureAwait(false);
                    if (created.ErrorCode is 0 or ErrorCodes.TopicAlreadyExists) cluster.Logs.TryGetTopic(name, out topic!);
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
        return response;
    }

    private MetadataResponse.MetadataResponseTopic Describe(TopicState topic)
    {
        var t = new MetadataResponse.MetadataResponseTopic { ErrorCode = 0, Name = topic.Name, TopicId = topic.Id, IsInternal = false, TopicAuthorizedOperations = int.MinValue };
        var partitions = topic.Partitions;
        for (int i = 0; i < partitions.Length; i++)
        {
            int leader = cluster.LeaderOf(partitions[i]);
            t.Partitions.Add(new MetadataResponse.MetadataResponsePartition
            {
                ErrorCode = 0,
                PartitionIndex = i,
                LeaderId = leader,
                LeaderEpoch = partitions[i].LeaderEpoch,
                ReplicaNodes = [leader],
                IsrNodes = [leader],
                OfflineReplicas = [],
            });
        }
        return t;
    }

    protected override MetadataResponse ErrorResponse(MetadataRequest request, short errorCode)
    {
        var response = new MetadataResponse { ClusterId = cluster.ClusterId, ControllerId = cluster.BrokerId };
        response.Brokers.Add(new MetadataResponse.MetadataResponseBroker { NodeId = cluster.BrokerId, Host = cluster.AdvertisedHost, Port = cluster.AdvertisedPort });
        foreach (var t in request.Topics ?? []) response.Topics.Add(new MetadataResponse.MetadataResponseTopic { ErrorCode = errorCode, Name = t.Name, TopicId = t.TopicId });
        return response;
    }
}
