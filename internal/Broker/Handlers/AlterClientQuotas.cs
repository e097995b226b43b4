using System.Globalization;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Broker.Quotas;
using KafScale.Metadata;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// AlterClientQuotas (49): sets and removes quota values of user and client-id entities. Each
/// entry is checked and applied on its own (one bad entry does not stop the others, as in
/// Kafka); validate_only checks without writing. Values are written to the metadata store,
/// from where every broker's watch applies them (docs/metadata.md, "Client quotas"). Needs
/// ALTER_CONFIGS on the cluster.
/// </summary>
internal sealed class AlterClientQuotasHandler(IMetadataStore store) : ApiHandler<AlterClientQuotasRequest, AlterClientQuotasResponse>
{
    /// <summary>Concurrent alters of one entity retry their read-modify-write this often before giving up.</summary>
    private const int MaxAttempts = 10;

    public override short ApiKey => AlterClientQuotasRequest.ApiKey;
    public override string Name => "AlterClientQuotas";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => AlterClientQuotasRequest.HighestSupportedVersion;

    protected override async ValueTask<AlterClientQuotasResponse?> HandleAsync(RequestContext context, AlterClientQuotasRequest request, short version)
    {
        if (!context.AuthorizeCluster(AclOperation.AlterConfigs)) return ErrorResponse(request, ErrorCodes.ClusterAuthorizationFailed);
        var response = new AlterClientQuotasResponse();
        foreach (var entry in request.Entries)
        {
            var result = Echo(entry);
            response.Entries.Add(result);
            string? problem = ParseEntity(entry.Entity, out var entity) ?? ValidateOps(entry.Ops);
            if (problem is not null)
            {
                result.ErrorCode = ErrorCodes.InvalidRequest;
                result.ErrorMessage = problem;
                continue;
            }
            if (request.ValidateOnly) continue;
            if (!await ApplyAsync(entity, entry.Ops).ConfigureAwait(false))
            {
                result.ErrorCode = ErrorCodes.RequestTimedOut;
                result.ErrorMessage = $"concurrent changes of {entity} kept conflicting; retry";
            }
        }
        return response;
    }

    private static AlterClientQuotasResponse.EntryData Echo(AlterClientQuotasRequest.EntryData entry)
    {
        var result = new AlterClientQuotasResponse.EntryData();
        foreach (var e in entry.Entity)
            result.Entity.Add(new AlterClientQuotasResponse.EntityData { EntityType = e.EntityType, EntityName = e.EntityName });
        return result;
    }

    /// <summary>An entity of user and/or client-id, each at most once, names non-empty (null = the default).</summary>
    private static string? ParseEntity(List<AlterClientQuotasRequest.EntityData> parts, out QuotaEntity entity)
    {
        entity = null!;
        if (parts.Count == 0) return "Invalid empty client quota entity";
        bool hasUser = false, hasClient = false;
        string? user = null, client = null;
        foreach (var p in parts)
        {
            switch (p.EntityType)
            {
                case QuotaNames.User when !hasUser:
                    hasUser = true;
                    user = p.EntityName;
                    break;
                case QuotaNames.ClientId when !hasClient:
                    hasClient = true;
                    client = p.EntityName;
                    break;
                case QuotaNames.User or QuotaNames.ClientId:
                    return $"Duplicate entity type '{p.EntityType}' in the quota entity";
                case QuotaNames.Ip:
                    return "ip quotas (connection_creation_rate) are not supported by this broker; use user or client-id entities";
                default:
                    return $"Unknown entity type '{p.EntityType}': expected user or client-id";
            }
            if (p.EntityName is { Length: 0 })
                return $"Empty {p.EntityType} name: name an entity, or send a null name for the default entity";
        }
        entity = new QuotaEntity(hasUser, user, hasClient, client);
        return null;
    }

    private static string? ValidateOps(List<AlterClientQuotasRequest.OpData> ops)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var op in ops)
        {
            if (!QuotaNames.TryParseKey(op.Key, out var key))
                return $"Invalid configuration key {op.Key}: expected one of {string.Join(", ", QuotaNames.Keys)}";
            if (!seen.Add(op.Key)) return $"Duplicate quota key {op.Key} in one entry";
            if (op.Remove) continue;
            if (!double.IsFinite(op.Value) || op.Value <= 0)
                return $"Invalid value {op.Value.ToString(CultureInfo.InvariantCulture)} for {op.Key}: a quota must be a positive number";
            if (QuotaNames.IsWhole(key) && (op.Value != Math.Floor(op.Value) || op.Value > long.MaxValue))
                return $"Invalid value {op.Value.ToString(CultureInfo.InvariantCulture)} for {op.Key}: a byte rate must be a whole number of bytes per second";
        }
        return null;
    }

    /// <summary>Read, change, write back only if nobody wrote in between; an entity left with no values is deleted.</summary>
    private async Task<bool> ApplyAsync(QuotaEntity entity, List<AlterClientQuotasRequest.OpData> ops)
    {
        string key = entity.StoreKey();
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var current = await store.GetAsync(key, CancellationToken.None).ConfigureAwait(false);
            var values = current is not null && QuotaValues.TryParse(current.Value, out var parsed) ? parsed : new QuotaValues();
            foreach (var op in ops)
            {
                QuotaNames.TryParseKey(op.Key, out var k);
                values.Values[(int)k] = op.Remove ? double.NaN : op.Value;
            }
            var guard = current is null ? Compare.KeyMissing(key) : Compare.ModRevisionEquals(key, current.ModRevision);
            TxnOp write = values.IsEmpty ? TxnOp.Delete(key) : TxnOp.Put(key, values.ToJson());
            if (current is null && values.IsEmpty) return true;
            var txn = await store.TxnAsync(new TxnRequest([guard], [write], []), CancellationToken.None).ConfigureAwait(false);
            if (txn.Succeeded) return true;
        }
        return false;
    }

    protected override AlterClientQuotasResponse ErrorResponse(AlterClientQuotasRequest request, short errorCode)
    {
        var response = new AlterClientQuotasResponse();
        foreach (var entry in request.Entries)
        {
            var result = Echo(entry);
            result.ErrorCode = errorCode;
            response.Entries.Add(result);
        }
        return response;
    }
}
