using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// IncrementalAlterConfigs (44, KIP-339): SET (0) and DELETE (1) change single keys; APPEND (2)
/// and SUBTRACT (3) apply to list-valued configs, of which only cleanup.policy exists here.
/// </summary>
internal sealed class IncrementalAlterConfigsHandler(Cluster cluster) : ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>
{
    public override short ApiKey => IncrementalAlterConfigsRequest.ApiKey;
    public override string Name => "IncrementalAlterConfigs";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => IncrementalAlterConfigsRequest.HighestSupportedVersion;

    protected override async ValueTask<IncrementalAlterConfigsResponse?> HandleAsync(RequestContext context, IncrementalAlterConfigsRequest request, short version)
    {
        var response = new IncrementalAlterConfigsResponse();
        foreach (var r in request.Resources)
        {
            var result = new IncrementalAlterConfigsResponse.AlterConfigsResourceResponse { ResourceType = r.ResourceType, ResourceName = r.ResourceName };
            response.Responses.Add(result);
            // Kafka's rule: ALTER_CONFIGS on the topic, or on the cluster for broker configs.
            if (r.ResourceType == DescribeConfigsHandler.TopicResource && !context.Authorize(AclOperation.AlterConfigs, AclResourceType.Topic, r.ResourceName))
            {
                result.ErrorCode = ErrorCodes.TopicAuthorizationFailed;
                result.ErrorMessage = "Authorization failed: altering a topic's configs needs ALTER_CONFIGS on the topic";
                continue;
            }
            if (r.ResourceType == DescribeConfigsHandler.BrokerResource && !context.AuthorizeCluster(AclOperation.AlterConfigs))
            {
                result.ErrorCode = ErrorCodes.ClusterAuthorizationFailed;
                result.ErrorMessage = "Authorization failed: altering broker configs needs ALTER_CONFIGS on the cluster";
                continue;
            }
            if (r.ResourceType != DescribeConfigsHandler.TopicResource)
            {
                result.ErrorCode = ErrorCodes.InvalidRequest;
                result.ErrorMessage = "only topic configs can be altered; broker settings are flags and environment variables";
                continue;
            }
            if (!cluster.Logs.TryGetTopic(r.ResourceName, out var topic))
            {
                result.ErrorCode = ErrorCodes.UnknownTopicOrPartition;
                result.ErrorMessage = $"topic '{r.ResourceName}' does not exist";
                continue;
            }
            var overrides = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var (k, v) in topic.Config.Overrides) overrides[k] = v;
            string? problem = null;
            foreach (var c in r.Configs)
            {
                switch (c.ConfigOperation)
                {
                    case 0: overrides[c.Name] = c.Value; break;
                    case 1: overrides.Remove(c.Name); break;
                    case 2 or 3:
                        if (c.Name != TopicConfig.CleanupPolicy) { problem = $"{c.Name} is not a list config"; break; }
                        overrides[c.Name] = c.ConfigOperation == 2 ? c.Value : "delete";
                        break;
                    default: problem = $"unknown config operation {c.ConfigOperation}"; break;
                }
            }
            if (problem is not null) { result.ErrorCode = ErrorCodes.InvalidConfig; result.ErrorMessage = problem; continue; }
            var outcome = await cluster.Logs.SetConfigsAsync(r.ResourceName, overrides, request.ValidateOnly, CancellationToken.None).ConfigureAwait(false);
            result.ErrorCode = outcome.ErrorCode;
            result.ErrorMessage = outcome.Message;
        }
        return response;
    }

    protected override IncrementalAlterConfigsResponse ErrorResponse(IncrementalAlterConfigsRequest request, short errorCode)
    {
        var response = new IncrementalAlterConfigsResponse();
        foreach (var r in request.Resources) response.Responses.Add(new IncrementalAlterConfigsResponse.AlterConfigsResourceResponse { ResourceType = r.ResourceType, ResourceName = r.ResourceName, ErrorCode = errorCode });
        return response;
    }
}
