using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Broker.Quotas;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DescribeClientQuotas (48): the configured quota entities matching a filter, from this
/// broker's mirror of the metadata store. Each filter component names an entity type and
/// matches it exactly (0), as the default (1) or with any name, the default included (2);
/// strict filters leave out entities that have types the filter does not name. Needs
/// DESCRIBE_CONFIGS on the cluster.
/// </summary>
internal sealed class DescribeClientQuotasHandler(QuotaManager quotas) : ApiHandler<DescribeClientQuotasRequest, DescribeClientQuotasResponse>
{
    public const sbyte MatchExact = 0;
    public const sbyte MatchDefault = 1;
    public const sbyte MatchAny = 2;

    public override short ApiKey => DescribeClientQuotasRequest.ApiKey;
    public override string Name => "DescribeClientQuotas";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DescribeClientQuotasRequest.HighestSupportedVersion;

    protected override ValueTask<DescribeClientQuotasResponse?> HandleAsync(RequestContext context, DescribeClientQuotasRequest request, short version)
    {
        if (!context.AuthorizeCluster(AclOperation.DescribeConfigs))
            return ValueTask.FromResult<DescribeClientQuotasResponse?>(new DescribeClientQuotasResponse { ErrorCode = ErrorCodes.ClusterAuthorizationFailed, ErrorMessage = "DescribeClientQuotas needs DESCRIBE_CONFIGS on the cluster", Entries = null });
        if (Validate(request) is { } problem)
            return ValueTask.FromResult<DescribeClientQuotasResponse?>(new DescribeClientQuotasResponse { ErrorCode = ErrorCodes.InvalidRequest, ErrorMessage = problem, Entries = null });

        var entries = new List<DescribeClientQuotasResponse.EntryData>();
        foreach (var (entity, values) in quotas.Configs.OrderBy(e => e.Key.ToString(), StringComparer.Ordinal))
        {
            if (values.IsEmpty || !Matches(entity, request)) continue;
            var entry = new DescribeClientQuotasResponse.EntryData();
            if (entity.HasUser) entry.Entity.Add(new DescribeClientQuotasResponse.EntityData { EntityType = QuotaNames.User, EntityName = entity.User });
            if (entity.HasClientId) entry.Entity.Add(new DescribeClientQuotasResponse.EntityData { EntityType = QuotaNames.ClientId, EntityName = entity.ClientId });
            for (int k = 0; k < QuotaNames.KeyCount; k++)
                if (values.TryGet((QuotaKey)k, out double value))
                    entry.Values.Add(new DescribeClientQuotasResponse.ValueData { Key = QuotaNames.Keys[k], Value = value });
            entries.Add(entry);
        }
        return ValueTask.FromResult<DescribeClientQuotasResponse?>(new DescribeClientQuotasResponse { Entries = entries });
    }

    /// <summary>Kafka's checks of a filter; the message says what is wrong.</summary>
    private static string? Validate(DescribeClientQuotasRequest request)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in request.Components)
        {
            if (c.EntityType is not (QuotaNames.User or QuotaNames.ClientId or QuotaNames.Ip))
                return $"Unknown entity type '{c.EntityType}': expected user, client-id or ip";
            if (!seen.Add(c.EntityType)) return $"Duplicate filter component entity type '{c.EntityType}'";
            switch (c.MatchType)
            {
                case MatchExact when c.Match is null: return $"Exact match of entity type '{c.EntityType}' needs a name to match";
                case MatchDefault or MatchAny when c.Match is not null: return $"Match type {c.MatchType} of entity type '{c.EntityType}' takes no name, got '{c.Match}'";
                case MatchExact or MatchDefault or MatchAny: break;
                default: return $"Unknown match type {c.MatchType}: expected 0 (exact), 1 (default) or 2 (any)";
            }
        }
        return null;
    }

    private static bool Matches(QuotaEntity entity, DescribeClientQuotasRequest request)
    {
        bool userNamed = false, clientNamed = false;
        foreach (var c in request.Components)
        {
            bool has;
            string? name;
            if (c.EntityType == QuotaNames.User) { has = entity.HasUser; name = entity.User; userNamed = true; }
            else if (c.EntityType == QuotaNames.ClientId) { has = entity.HasClientId; name = entity.ClientId; clientNamed = true; }
            else return false; // ip entities are not stored here
            if (!has) return false;
            bool ok = c.MatchType switch
            {
                MatchExact => name == c.Match,
                MatchDefault => name is null,
                _ => true,
            };
            if (!ok) return false;
        }
        if (!request.Strict) return true;
        return (!entity.HasUser || userNamed) && (!entity.HasClientId || clientNamed);
    }

    protected override DescribeClientQuotasResponse ErrorResponse(DescribeClientQuotasRequest request, short errorCode) =>
        new() { ErrorCode = errorCode, Entries = null };
}
