using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>AlterConfigs (33): replaces a topic's whole set of overrides, as Kafka's legacy API does.</summary>
internal sealed class AlterConfigsHandler(Cluster cluster) : ApiHandler<AlterConfigsRequest, AlterConfigsResponse>
{
    public override short ApiKey => AlterConfigsRequest.ApiKey;
    public override string Name => "AlterConfigs";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => AlterConfigsRequest.HighestSupportedVersion;

    protected override async ValueTask<AlterConfigsResponse?> HandleAsync(RequestContext context, AlterConfigsRequest request, short version)
    {
        var response = new AlterConfigsResponse();
        foreach (var r in request.Resources)
        {
            var result = new AlterConfigsResponse.AlterConfigsResourceResponse { ResourceType = r.ResourceType, ResourceName = r.ResourceName };
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
            var overrides = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var c in r.Configs) overrides[c.Name] = c.Value;
            var outcome = await cluster.Logs.SetConfigsAsync(r.ResourceName, overrides, request.ValidateOnly, CancellationToken.None).ConfigureAwait(false);
            result.ErrorCode = outcome.ErrorCode;
            result.ErrorMessage = outcome.Message;
        }
        return response;
    }

    protected override AlterConfigsResponse ErrorResponse(AlterConfigsRequest request, short errorCode)
    {
        var response = new AlterConfigsResponse();
        foreach (var r in request.Resources) response.Responses.Add(new AlterConfigsResponse.AlterConfigsResourceResponse { ResourceType = r.ResourceType, ResourceName = r.ResourceName, ErrorCode = errorCode });
        return response;
    }
}
