using KafScale.Protocol.Messages;

namespace KafScale.Client;

/// <summary>One part of a quota entity: a type (user, client-id) and a name, null for the default entity.</summary>
public readonly record struct QuotaEntityPart(string Type, string? Name);

/// <summary>A filter component of DescribeClientQuotas: exact name, the default entity, or any entity of the type.</summary>
public readonly record struct QuotaFilter(string Type, QuotaMatch Match, string? Name = null);

/// <summary>Kafka's match types of a quota filter component.</summary>
public enum QuotaMatch : sbyte
{
    Exact = 0,
    Default = 1,
    Any = 2,
}

/// <summary>A configured quota entity and its values by key (producer_byte_rate, consumer_byte_rate, request_percentage).</summary>
public sealed record QuotaEntry(IReadOnlyList<QuotaEntityPart> Entity, IReadOnlyDictionary<string, double> Values);

/// <summary>A change of AlterClientQuotas: set a key (Value given) or remove it (Value null).</summary>
public readonly record struct QuotaChange(string Key, double? Value);

public sealed partial class KafkaClient
{
    /// <summary>The quota entities matching every filter component (strict: and having no other entity types).</summary>
    public async Task<IReadOnlyList<QuotaEntry>> DescribeClientQuotasAsync(IReadOnlyList<QuotaFilter> filters, bool strict, CancellationToken cancellationToken = default)
    {
        var request = new DescribeClientQuotasRequest { Strict = strict };
        foreach (var f in filters)
            request.Components.Add(new DescribeClientQuotasRequest.ComponentData { EntityType = f.Type, MatchType = (sbyte)f.Match, Match = f.Name });
        var response = await SendToAnyBrokerAsync<DescribeClientQuotasResponse>(request, cancellationToken).ConfigureAwait(false);
        KafkaException.ThrowIfError(response.ErrorCode, "DescribeClientQuotas", response.ErrorMessage);
        return [.. (response.Entries ?? []).Select(e => new QuotaEntry(
            [.. e.Entity.Select(p => new QuotaEntityPart(p.EntityType, p.EntityName))],
            e.Values.ToDictionary(v => v.Key, v => v.Value, StringComparer.Ordinal)))];
    }

    /// <summary>Sets and removes quota keys of one entity (the other keys keep their values); validateOnly checks without changing.</summary>
    public async Task AlterClientQuotasAsync(IReadOnlyList<QuotaEntityPart> entity, IReadOnlyList<QuotaChange> changes, bool validateOnly = false, CancellationToken cancellationToken = default)
    {
        var entry = new AlterClientQuotasRequest.EntryData();
        foreach (var p in entity)
            entry.Entity.Add(new AlterClientQuotasRequest.EntityData { EntityType = p.Type, EntityName = p.Name });
        foreach (var c in changes)
            entry.Ops.Add(new AlterClientQuotasRequest.OpData { Key = c.Key, Value = c.Value ?? 0, Remove = c.Value is null });
        var request = new AlterClientQuotasRequest { Entries = [entry], ValidateOnly = validateOnly };
        var response = await SendToAnyBrokerAsync<AlterClientQuotasResponse>(request, cancellationToken).ConfigureAwait(false);
        foreach (var r in response.Entries)
            KafkaException.ThrowIfError(r.ErrorCode, "AlterClientQuotas", r.ErrorMessage);
    }
}
