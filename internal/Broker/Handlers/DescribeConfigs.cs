using System.Globalization;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DescribeConfigs (32). A topic answers every Kafka topic config (or the ones asked for), each
/// an override (DYNAMIC_TOPIC_CONFIG) or a default (DEFAULT_CONFIG). A broker answers the broker
/// configs that correspond to its flags, read-only: its own id or an empty name (Kafka's
/// "default broker") describe this broker; another id is INVALID_REQUEST, as in Kafka, where
/// each broker describes only itself. Keys Kafka does not have are left out, as Kafka does.
/// Needs DESCRIBE_CONFIGS on the topic (TOPIC_AUTHORIZATION_FAILED) or, for a broker, on the
/// cluster (CLUSTER_AUTHORIZATION_FAILED).
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
            var result = new DescribeConfigsResponse.DescribeConfigsResult { ResourceType = r.ResourceType, ResourceName = r.ResourceName, ErrorMessage = null };
            response.Results.Add(result);
            // Kafka answers each key once, whatever the request repeats.
            HashSet<string>? keys = r.ConfigurationKeys is { } asked ? new HashSet<string>(asked, StringComparer.Ordinal) : null;
            switch (r.ResourceType)
            {
                case TopicResource when !context.Authorize(AclOperation.DescribeConfigs, AclResourceType.Topic, r.ResourceName):
                    Fail(result, ErrorCodes.TopicAuthorizationFailed, "Authorization failed: describing a topic's configs needs DESCRIBE_CONFIGS on the topic");
                    break;
                case BrokerResource when !context.AuthorizeCluster(AclOperation.DescribeConfigs):
                    Fail(result, ErrorCodes.ClusterAuthorizationFailed, "Authorization failed: describing broker configs needs DESCRIBE_CONFIGS on the cluster");
                    break;
                case TopicResource:
                    DescribeTopic(request, r.ResourceName, keys, result);
                    break;
                case BrokerResource:
                    DescribeBroker(request, r.ResourceName, keys, result);
                    break;
                default:
                    Fail(result, ErrorCodes.InvalidRequest, $"resource type {r.ResourceType} is not supported: describe a topic (2) or a broker (4)");
                    break;
            }
        }
        return ValueTask.FromResult<DescribeConfigsResponse?>(response);
    }

    private void DescribeTopic(DescribeConfigsRequest request, string name, HashSet<string>? keys, DescribeConfigsResponse.DescribeConfigsResult result)
    {
        if (!cluster.Logs.TryGetTopic(name, out var topic)) { Fail(result, ErrorCodes.UnknownTopicOrPartition, $"topic '{name}' does not exist"); return; }
        var overrides = topic.Config.Overrides;
        foreach (var c in ConfigCatalog.TopicConfigs)
        {
            if (keys is not null && !keys.Contains(c.Name)) continue;
            bool set = overrides.TryGetValue(c.Name, out var value);
            var entry = NewEntry(request, c.Name, set ? value : c.Default, !ConfigCatalog.IsAlterable(c.Name),
                set ? ConfigSource.DynamicTopicConfig : ConfigSource.DefaultConfig, c.Type, c.Documentation);
            if (request.IncludeSynonyms)
            {
                // Most specific first, as Kafka lists them: the topic's override, then the broker default it falls back to.
                if (set) entry.Synonyms.Add(Synonym(c.Name, value, ConfigSource.DynamicTopicConfig));
                entry.Synonyms.Add(Synonym(c.BrokerSynonym ?? c.Name, c.Default, ConfigSource.DefaultConfig));
            }
            result.Configs.Add(entry);
        }
        // Overrides of keys Kafka 4.0 no longer has (accepted for older tools) are still the topic's: report them.
        foreach (var (key, value) in overrides.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (ConfigCatalog.FindTopicConfig(key) is not null || (keys is not null && !keys.Contains(key))) continue;
            var entry = NewEntry(request, key, value, false, ConfigSource.DynamicTopicConfig, ConfigType.String, "No effect: accepted so that older tools work.");
            if (request.IncludeSynonyms) entry.Synonyms.Add(Synonym(key, value, ConfigSource.DynamicTopicConfig));
            result.Configs.Add(entry);
        }
    }

    private void DescribeBroker(DescribeConfigsRequest request, string name, HashSet<string>? keys, DescribeConfigsResponse.DescribeConfigsResult result)
    {
        if (name.Length > 0)
        {
            if (!int.TryParse(name, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int id))
            {
                Fail(result, ErrorCodes.InvalidRequest, $"broker resource name '{name}' is not a broker id");
                return;
            }
            if (id != cluster.BrokerId)
            {
                Fail(result, ErrorCodes.InvalidRequest, cluster.Broker(id) is null
                    ? $"broker {id} is not a live broker of this cluster"
                    : $"this is broker {cluster.BrokerId}: send the request for broker {id} to broker {id}, as Kafka admin clients do");
                return;
            }
        }
        foreach (var c in ConfigCatalog.BrokerConfigs(cluster.Config, cluster.BrokerId))
        {
            if (keys is not null && !keys.Contains(c.Name)) continue;
            var entry = NewEntry(request, c.Name, c.Value, true, c.Source, c.Type, c.Documentation);
            if (request.IncludeSynonyms)
            {
                entry.Synonyms.Add(Synonym(c.Name, c.Value, c.Source));
                if (c.Source == ConfigSource.StaticBrokerConfig && c.KafkaDefault is not null) entry.Synonyms.Add(Synonym(c.Name, c.KafkaDefault, ConfigSource.DefaultConfig));
            }
            result.Configs.Add(entry);
        }
    }

    private static DescribeConfigsResponse.DescribeConfigsResourceResult NewEntry(DescribeConfigsRequest request, string name, string? value, bool readOnly, ConfigSource source, ConfigType type, string documentation) => new()
    {
        Name = name,
        Value = value,
        ReadOnly = readOnly,
        IsDefault = source == ConfigSource.DefaultConfig,
        ConfigSource = (sbyte)source,
        IsSensitive = false,
        ConfigType = (sbyte)type,
        // Kafka sends documentation only when asked (v3+); null otherwise.
        Documentation = request.IncludeDocumentation ? documentation : null,
    };

    private static DescribeConfigsResponse.DescribeConfigsSynonym Synonym(string name, string? value, ConfigSource source) => new() { Name = name, Value = value, Source = (sbyte)source };

    private static void Fail(DescribeConfigsResponse.DescribeConfigsResult result, short errorCode, string message)
    {
        result.ErrorCode = errorCode;
        result.ErrorMessage = message;
    }

    protected override DescribeConfigsResponse ErrorResponse(DescribeConfigsRequest request, short errorCode)
    {
        var response = new DescribeConfigsResponse();
        foreach (var r in request.Resources) response.Results.Add(new DescribeConfigsResponse.DescribeConfigsResult { ResourceType = r.ResourceType, ResourceName = r.ResourceName, ErrorCode = errorCode, ErrorMessage = null });
        return response;
    }
}
