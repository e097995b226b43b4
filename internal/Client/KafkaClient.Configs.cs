using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>One configuration entry as DescribeConfigs reports it.</summary>
public sealed record ConfigEntry(string Name, string? Value, bool IsDefault, bool ReadOnly, bool IsSensitive, string Source);

/// <summary>A change of IncrementalAlterConfigs: set (Value given) or delete (Value null) a key.</summary>
public readonly record struct ConfigChange(string Name, string? Value);

public sealed partial class KafkaClient
{
    /// <summary>Kafka's resource type of a topic in DescribeConfigs and AlterConfigs.</summary>
    public const sbyte TopicResourceType = 2;

    /// <summary>The configuration of a topic (every key the broker reports, defaults included).</summary>
    public async Task<IReadOnlyList<ConfigEntry>> DescribeTopicConfigsAsync(string topic, CancellationToken cancellationToken = default)
    {
        var request = new DescribeConfigsRequest
        {
            Resources = [new DescribeConfigsRequest.DescribeConfigsResource { ResourceType = TopicResourceType, ResourceName = topic, ConfigurationKeys = null }],
        };
        DescribeConfigsResponse response = await SendToControllerAsync<DescribeConfigsResponse>(request, cancellationToken).ConfigureAwait(false);
        var result = response.Results.Find(r => r.ResourceName == topic)
            ?? throw new KafkaException(ErrorCode.UnknownServerError, $"DescribeConfigs '{topic}': the response left the topic out");
        KafkaException.ThrowIfError(result.ErrorCode, $"DescribeConfigs '{topic}'", result.ErrorMessage);
        return [.. result.Configs
            .Select(c => new ConfigEntry(c.Name, c.Value, c.IsDefault || c.ConfigSource == 5, c.ReadOnly, c.IsSensitive, SourceName(c.ConfigSource)))
            .OrderBy(c => c.Name, StringComparer.Ordinal)];
    }

    /// <summary>Sets and deletes topic configuration keys with IncrementalAlterConfigs (only the keys named change).</summary>
    public async Task AlterTopicConfigsAsync(string topic, IReadOnlyList<ConfigChange> changes, CancellationToken cancellationToken = default)
    {
        var resource = new IncrementalAlterConfigsRequest.AlterConfigsResource { ResourceType = TopicResourceType, ResourceName = topic };
        foreach (ConfigChange change in changes)
        {
            resource.Configs.Add(new IncrementalAlterConfigsRequest.AlterableConfig
            {
                Name = change.Name,
                ConfigOperation = change.Value is null ? (sbyte)1 : (sbyte)0, // 0 SET, 1 DELETE
                Value = change.Value,
            });
        }

        var request = new IncrementalAlterConfigsRequest { Resources = [resource] };
        IncrementalAlterConfigsResponse response = await SendToControllerAsync<IncrementalAlterConfigsResponse>(request, cancellationToken).ConfigureAwait(false);
        foreach (var r in response.Responses)
        {
            KafkaException.ThrowIfError(r.ErrorCode, $"IncrementalAlterConfigs '{r.ResourceName}'", r.ErrorMessage);
        }
    }

    /// <summary>Sends any request to any broker (a request every broker can answer) at the negotiated version.</summary>
    public async Task<TResponse> SendToAnyBrokerAsync<TResponse>(IKafkaMessage request, CancellationToken cancellationToken = default)
        where TResponse : IKafkaMessage, new()
    {
        KafkaConnection connection = await GetAnyConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await connection.SendAsync<TResponse>(request, cancellationToken).ConfigureAwait(false);
    }

    private static string SourceName(sbyte source) => source switch
    {
        1 => "dynamic-topic",
        2 => "dynamic-broker",
        3 => "dynamic-default-broker",
        4 => "static-broker",
        5 => "default",
        6 => "dynamic-broker-logger",
        7 => "client-metrics",
        8 => "group",
        _ => "unknown",
    };
}
