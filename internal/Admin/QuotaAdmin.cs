using System.Globalization;
using KafScale.Client;

namespace KafScale.Admin;

/// <summary>
/// The entity a quota command names, as kafka-configs.sh takes it: --user NAME or --user-defaults,
/// --client-id NAME or --client-defaults, either or both. Null name = the default entity.
/// </summary>
public sealed record QuotaEntitySelection(bool HasUser, string? User, bool HasClientId, string? ClientId)
{
    public bool IsEmpty => !HasUser && !HasClientId;

    /// <summary>Checks the flags against each other; names must not be empty.</summary>
    public static QuotaEntitySelection From(string? user, bool userDefaults, string? clientId, bool clientDefaults)
    {
        if (user is not null && userDefaults)
        {
            throw new AdminUsageException("--user and --user-defaults exclude each other: name a user, or choose the default user");
        }

        if (clientId is not null && clientDefaults)
        {
            throw new AdminUsageException("--client-id and --client-defaults exclude each other: name a client id, or choose the default client id");
        }

        if (user is { Length: 0 } || clientId is { Length: 0 })
        {
            throw new AdminUsageException("an empty name is not an entity: give a name, or use --user-defaults / --client-defaults for the default entity");
        }

        return new QuotaEntitySelection(user is not null || userDefaults, user, clientId is not null || clientDefaults, clientId);
    }

    public IReadOnlyList<QuotaEntityPart> Parts()
    {
        var parts = new List<QuotaEntityPart>(2);
        if (HasUser)
        {
            parts.Add(new QuotaEntityPart("user", User));
        }

        if (HasClientId)
        {
            parts.Add(new QuotaEntityPart("client-id", ClientId));
        }

        return parts;
    }

    public override string ToString() => QuotaAdmin.Describe(Parts());
}

/// <summary><c>kafscale admin quotas</c>: describe and alter client quotas (DescribeClientQuotas, AlterClientQuotas).</summary>
public static class QuotaAdmin
{
    /// <summary>The quota keys Kafka defines for users and client ids.</summary>
    public static readonly string[] Keys = ["producer_byte_rate", "consumer_byte_rate", "request_percentage"];

    /// <summary>Every configured entity, or with an entity given, exactly that one (strict, as kafka-configs.sh --describe).</summary>
    public static async Task<int> DescribeAsync(KafkaClient client, AdminOutput output, QuotaEntitySelection selection, CancellationToken ct)
    {
        var filters = selection.Parts()
            .Select(p => p.Name is null ? new QuotaFilter(p.Type, QuotaMatch.Default) : new QuotaFilter(p.Type, QuotaMatch.Exact, p.Name))
            .ToList();
        var entries = await client.DescribeClientQuotasAsync(filters, strict: !selection.IsEmpty, ct).ConfigureAwait(false);
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartArray();
                foreach (var e in entries)
                {
                    w.WriteStartObject();
                    w.WriteStartObject("entity");
                    foreach (var p in e.Entity)
                    {
                        if (p.Name is null)
                        {
                            w.WriteNull(p.Type);
                        }
                        else
                        {
                            w.WriteString(p.Type, p.Name);
                        }
                    }

                    w.WriteEndObject();
                    w.WriteStartObject("quotas");
                    foreach (var (k, v) in e.Values.OrderBy(v => v.Key, StringComparer.Ordinal))
                    {
                        w.WriteNumber(k, v);
                    }

                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
            return AdminExitCodes.Ok;
        }

        if (entries.Count == 0)
        {
            output.Line(selection.IsEmpty ? "no client quotas are configured" : $"no quotas are configured for {selection}");
            return AdminExitCodes.Ok;
        }

        output.WriteTable(["ENTITY", "QUOTAS"], entries.Select(e => (IReadOnlyList<string>)
        [
            Describe(e.Entity),
            string.Join(",", e.Values.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => $"{v.Key}={Number(v.Value)}")),
        ]));
        return AdminExitCodes.Ok;
    }

    /// <summary>Sets (--add-config) and removes (--delete-config) keys of one entity; the other keys keep their values.</summary>
    public static async Task<int> AlterAsync(KafkaClient client, AdminOutput output, QuotaEntitySelection selection,
        IReadOnlyList<KeyValuePair<string, double>> add, IReadOnlyList<string> delete, bool validateOnly, CancellationToken ct)
    {
        if (selection.IsEmpty)
        {
            throw new AdminUsageException("alter needs an entity: --user NAME or --user-defaults, and/or --client-id NAME or --client-defaults");
        }

        if (add.Count == 0 && delete.Count == 0)
        {
            throw new AdminUsageException("nothing to change: give --add-config KEY=VALUE[,KEY=VALUE...] and/or --delete-config KEY[,KEY...]");
        }

        foreach (string key in add.Select(a => a.Key).Concat(delete))
        {
            if (!Keys.Contains(key, StringComparer.Ordinal))
            {
                throw new AdminUsageException($"unknown quota key '{key}': expected one of {string.Join(", ", Keys)}");
            }
        }

        var changes = add.Select(a => new QuotaChange(a.Key, a.Value)).Concat(delete.Select(d => new QuotaChange(d, null))).ToList();
        await client.AlterClientQuotasAsync(selection.Parts(), changes, validateOnly, ct).ConfigureAwait(false);
        string verb = validateOnly ? "validated (not applied)" : "altered";
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("action", validateOnly ? "quotas_validated" : "quotas_altered");
                w.WriteString("entity", selection.ToString());
                w.WriteStartObject("set");
                foreach (var (k, v) in add)
                {
                    w.WriteNumber(k, v);
                }

                w.WriteEndObject();
                w.WriteStartArray("deleted");
                foreach (string key in delete)
                {
                    w.WriteStringValue(key);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }
        else
        {
            output.Line($"{verb} quotas of {selection}: {string.Join(", ", add.Select(a => $"{a.Key}={Number(a.Value)}").Concat(delete.Select(d => $"{d} (deleted)")))}");
        }

        return AdminExitCodes.Ok;
    }

    /// <summary>Parses --add-config values: KEY=VALUE pairs separated by commas, values numbers.</summary>
    public static List<KeyValuePair<string, double>> ParseAddConfig(IEnumerable<string> values, string option)
    {
        var result = new List<KeyValuePair<string, double>>();
        foreach (string part in values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            var (key, raw) = AdminParsing.ParseKeyValue(part, option);
            if (!double.TryParse(raw, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
            {
                throw new AdminUsageException($"invalid value '{raw}' for {key} in {option}: expected a number, e.g. producer_byte_rate=1048576");
            }

            result.Add(new(key, value));
        }

        return result;
    }

    /// <summary>Parses --delete-config values: keys separated by commas.</summary>
    public static List<string> ParseDeleteConfig(IEnumerable<string> values) =>
        [.. values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))];

    /// <summary>As kafka-configs.sh prints entities: user=alice,client-id=&lt;default&gt;.</summary>
    public static string Describe(IEnumerable<QuotaEntityPart> entity) =>
        string.Join(",", entity.Select(p => $"{p.Type}={p.Name ?? "<default>"}"));

    private static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);
}
