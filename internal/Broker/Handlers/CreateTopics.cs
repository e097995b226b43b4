using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// CreateTopics (19). -1 partitions means --default-partitions; any replication factor is
/// accepted (-1 or more): durability comes from the object store, not from replicas. Manual
/// assignments name only this broker's partitions and set the partition count. Needs CREATE on
/// the cluster or on each topic (TOPIC_AUTHORIZATION_FAILED for a topic without it, as in Kafka);
/// the configs are reported only with DESCRIBE_CONFIGS on the topic.
/// </summary>
internal sealed class CreateTopicsHandler(Cluster cluster) : ApiHandler<CreateTopicsRequest, CreateTopicsResponse>
{
    public override short ApiKey => CreateTopicsRequest.ApiKey;
    public override string Name => "CreateTopics";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => CreateTopicsRequest.HighestSupportedVersion;

    protected override async ValueTask<CreateTopicsResponse?> HandleAsync(RequestContext context, CreateTopicsRequest request, short version)
    {
        var response = new CreateTopicsResponse();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var authorizer = context.Authorizer;
        bool clusterCreate = authorizer.Check(context.Client, AclOperation.Create, AclResourceType.Cluster, AclNames.ClusterName);
        foreach (var t in request.Topics)
        {
            var result = new CreateTopicsResponse.CreatableTopicResult { Name = t.Name, NumPartitions = -1, ReplicationFactor = -1, Configs = null };
            response.Topics.Add(result);
            if (!seen.Add(t.Name)) { result.ErrorCode = ErrorCodes.InvalidRequest; result.ErrorMessage = $"topic '{t.Name}' appears more than once in the request"; continue; }
            if (!clusterCreate && !context.Authorize(AclOperation.Create, AclResourceType.Topic, t.Name))
            {
                result.ErrorCode = ErrorCodes.TopicAuthorizationFailed;
                result.ErrorMessage = "Authorization failed: creating a topic needs CREATE on the cluster or on the topic";
                continue;
            }
            int partitions = t.NumPartitions;
            if (t.Assignments.Count > 0)
            {
                if (partitions != -1) { result.ErrorCode = ErrorCodes.InvalidRequest; result.ErrorMessage = "give either num_partitions or assignments, not both"; continue; }
                partitions = t.Assignments.Count;
            }
            if (t.ReplicationFactor < -1 || t.ReplicationFactor == 0) { result.ErrorCode = ErrorCodes.InvalidReplicationFactor; result.ErrorMessage = "replication factor must be -1 or at least 1"; continue; }
            var configs = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var c in t.Configs) configs[c.Name] = c.Value;
            var outcome = await cluster.Logs.CreateTopicAsync(t.Name, partitions, configs, request.ValidateOnly, CancellationToken.None).ConfigureAwait(false);
            result.ErrorCode = outcome.ErrorCode;
            result.ErrorMessage = outcome.Message;
            if (outcome.ErrorCode != 0) continue;
            result.NumPartitions = partitions == -1 ? cluster.Config.DefaultPartitions : partitions;
            result.ReplicationFactor = 1;
            if (cluster.Logs.TryGetTopic(t.Name, out var created)) result.TopicId = created.Id;
            if (!authorizer.Check(context.Client, AclOperation.DescribeConfigs, AclResourceType.Topic, t.Name))
            {
                // Kafka's way: the topic is created, its configs are withheld with this error.
                result.TopicConfigErrorCode = ErrorCodes.TopicAuthorizationFailed;
                continue;
            }
            result.Configs = [];
            var effective = TopicConfig.From(configs.Where(kv => kv.Value is not null && TopicConfig.Defaults.ContainsKey(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value!));
            foreach (var (name, fallback) in TopicConfig.Defaults)
            {
                bool set = effective.Overrides.TryGetValue(name, out var value);
                result.Configs.Add(new CreateTopicsResponse.CreatableTopicConfigs { Name = name, Value = set ? value : fallback, ReadOnly = false, ConfigSource = (sbyte)(set ? 1 : 5), IsSensitive = false });
            }
        }
        return response;
    }

    protected override CreateTopicsResponse ErrorResponse(CreateTopicsRequest request, short errorCode)
    {
        var response = new CreateTopicsResponse();
        foreach (var t in request.Topics) response.Topics.Add(new CreateTopicsResponse.CreatableTopicResult { Name = t.Name, ErrorCode = errorCode, NumPartitions = -1, ReplicationFactor = -1, Configs = null });
        return response;
    }
}
