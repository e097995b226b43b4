using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DescribeConfigs (32): a topic's configs that mean something here, each marked as an
/// override (source 1, DYNAMIC_TOPIC_CONFIG) or a default (source 5, DEFAULT_CONFIG). Broker
/// resources answer with no configs: the broker is configured by flags, not dynamically.
/// </summary>
internal sealed class DescribeConfigsHandler(Cluster cluster) : ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse>
{
    public const sbyte TopicResource = 2;
    public const sbyte BrokerResource = 4;

    public override short ApiKey => DescribeConfigsRequest.ApiKey;
    public override string Name => "DescribeConfigs";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DescribeConfigsRequest.HighestSupportedVersion;

    protected override ValueTask<DescribeConfigsResponse?> HandleAsync(RequestContext context, DescribeConfigsRequest request, short version)
    {
        var response = new DescribeConfigsResponse();
        foreach (var r in request.Resources)
        {
            var result = new DescribeConfigsResponse.DescribeConfigsResult { ResourceType = r.ResourceType, ResourceName = r.ResourceName };
            response.Results.Add(result);
            if (r.ResourceType == BrokerResource) continue;
            if (r.ResourceType != TopicResource) { result.ErrorCode = ErrorCodes.InvalidRequest; result.ErrorMessage = $"resource type {r.ResourceType} is not supported"; continue; }
            if (!cluster.Logs.TryGetTopic(r.ResourceName, out var topic)) { result.ErrorCode = ErrorCodes.UnknownTopicOrPartition; result.ErrorMessage = $"topic '{r.ResourceName}' does not exist"; continue; }
            foreach (var (name, fallback) in TopicConfig.Defaults)
            {
                if (r.ConfigurationKeys is { } keys && !keys.Contains(name)) continue;
                bool set = topic.Config.Overrides.TryGetValue(name, out var value);
                var entry = new DescribeConfigsResponse.DescribeConfigsResourceResult
                {
                    Name = name,
                    Value = set ? value : fallback,
                    ReadOnly = false,
                    IsDefault = !set,
                    ConfigSource = (sbyte)(set ? 1 : 5),
                    IsSensitive = false,
                    ConfigType = ConfigType(name),
                };
                if (request.IncludeSynonyms)
                {
                    if (set) entry.Synonyms.Add(new DescribeConfigsResponse.DescribeConfigsSynonym { Name = name, Value = value, Source = 1 });
                    entry.Synonyms.Add(new DescribeConfigsResponse.DescribeConfigsSynonym { Name = name, Value = fallback, Source = 5 });
                }
                result.Configs.Add(entry);
            }
        }
        return ValueTask.FromResult<DescribeConfigsResponse?>(response);
    }

    /// <summary>KIP-569 config types: 2 STRING, 5 LONG, 3 INT, 7 LIST.</summary>
    private static sbyte ConfigType(string name) => name switch
    {
        TopicConfig.RetentionMs or TopicConfig.RetentionBytes => 5,
        TopicConfig.SegmentBytes or TopicConfig.MaxMessageBytes => 3,
        TopicConfig.CleanupPolicy => 7,
        _ => 2,
    };

    protected override DescribeConfigsResponse ErrorResponse(DescribeConfigsRequest request, short errorCode)
    {
        var response = new DescribeConfigsResponse();
        foreach (var r in request.Resources) response.Results.Add(new DescribeConfigsResponse.DescribeConfigsResult { ResourceType = r.ResourceType, ResourceName = r.ResourceName, ErrorCode = errorCode });
        return response;
    }
}
