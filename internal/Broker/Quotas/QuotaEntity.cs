using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace KafScale.Broker.Quotas;

/// <summary>The quota keys Kafka defines for users and client ids (docs/operations.md, "Client quotas").</summary>
internal enum QuotaKey
{
    ProducerByteRate = 0,
    ConsumerByteRate = 1,
    RequestPercentage = 2,
}

/// <summary>Names of quota keys and entity types in Kafka's own words.</summary>
internal static class QuotaNames
{
    public const string User = "user";
    public const string ClientId = "client-id";
    public const string Ip = "ip";

    /// <summary>With no authentication every connection is Kafka's anonymous principal.</summary>
    public const string AnonymousUser = "ANONYMOUS";

    /// <summary>The user name a quota entity names for a principal: <c>User:alice</c> is <c>alice</c>.</summary>
    public static string UserOf(string principal) =>
        principal.StartsWith("User:", StringComparison.Ordinal) ? principal[5..] : principal;

    public const int KeyCount = 3;

    public static readonly string[] Keys = ["producer_byte_rate", "consumer_byte_rate", "request_percentage"];

    public static bool TryParseKey(string name, out QuotaKey key)
    {
        int i = Array.IndexOf(Keys, name);
        key = (QuotaKey)Math.Max(i, 0);
        return i >= 0;
    }

    public static string Name(QuotaKey key) => Keys[(int)key];

    /// <summary>The byte rates are whole bytes per second (Kafka types them LONG); the percentage may be fractional.</summary>
    public static bool IsWhole(QuotaKey key) => key != QuotaKey.RequestPercentage;
}

/// <summary>
/// A quota entity: a user, a client id, or both; for each, absent, named, or the default
/// (a null name, "&lt;default&gt;" in Kafka's tools). Value equality, so it keys dictionaries.
/// </summary>
internal sealed record QuotaEntity(bool HasUser, string? User, bool HasClientId, string? ClientId)
{
    public const string KeyPrefix = "/kafscale/quotas/";
    private const string DefaultSegment = "<default>";

    /// <summary>
    /// The metadata-store key: /kafscale/quotas/users/&lt;u&gt;[/clients/&lt;c&gt;] or
    /// /kafscale/quotas/clients/&lt;c&gt;; names percent-encoded (so '/' and '&lt;' cannot
    /// collide with the layout or with &lt;default&gt;), the default written as &lt;default&gt;.
    /// </summary>
    public string StoreKey()
    {
        string key = KeyPrefix;
        if (HasUser) key += "users/" + Segment(User);
        if (HasUser && HasClientId) key += "/";
        if (HasClientId) key += "clients/" + Segment(ClientId);
        return key;
    }

    private static string Segment(string? name) => name is null ? DefaultSegment : Uri.EscapeDataString(name);

    public static bool TryParseStoreKey(string key, out QuotaEntity entity)
    {
        entity = null!;
        if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal)) return false;
        string[] parts = key[KeyPrefix.Length..].Split('/');
        bool hasUser = false, hasClient = false;
        string? user = null, client = null;
        int i = 0;
        if (parts.Length >= 2 && parts[0] == "users")
        {
            if (!TryName(parts[1], out user)) return false;
            hasUser = true;
            i = 2;
        }
        if (parts.Length == i + 2 && parts[i] == "clients")
        {
            if (!TryName(parts[i + 1], out client)) return false;
            hasClient = true;
            i += 2;
        }
        if (i != parts.Length || i == 0) return false;
        entity = new QuotaEntity(hasUser, user, hasClient, client);
        return true;
    }

    private static bool TryName(string segment, out string? name)
    {
        name = null;
        if (segment == DefaultSegment) return true;
        if (segment.Length == 0) return false;
        try { name = Uri.UnescapeDataString(segment); }
        catch (UriFormatException) { return false; }
        return true;
    }

    /// <summary>As kafka-configs.sh prints entities: user-principal 'x', client-id &lt;default&gt;.</summary>
    public override string ToString()
    {
        var parts = new List<string>(2);
        if (HasUser) parts.Add(QuotaNames.User + "=" + (User ?? DefaultSegment));
        if (HasClientId) parts.Add(QuotaNames.ClientId + "=" + (ClientId ?? DefaultSegment));
        return string.Join(",", parts);
    }
}

/// <summary>The values set on one entity, indexed by <see cref="QuotaKey"/>; NaN where unset.</summary>
internal sealed class QuotaValues
{
    public readonly double[] Values = [double.NaN, double.NaN, double.NaN];

    public bool IsEmpty => Values.All(double.IsNaN);

    public bool TryGet(QuotaKey key, out double value)
    {
        value = Values[(int)key];
        return !double.IsNaN(value);
    }

    public QuotaValues Clone()
    {
        var copy = new QuotaValues();
        Values.CopyTo(copy.Values, 0);
        return copy;
    }

    /// <summary>JSON object of the set keys, e.g. {"producer_byte_rate":1048576}.</summary>
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            for (int i = 0; i < Values.Length; i++)
                if (!double.IsNaN(Values[i])) w.WriteNumber(QuotaNames.Keys[i], Values[i]);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads a stored value; keys this broker does not know are skipped (a newer broker may write them).</summary>
    public static bool TryParse(ReadOnlySpan<byte> json, out QuotaValues values)
    {
        values = new QuotaValues();
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                if (!reader.Read()) return false;
                if (reader.TokenType == JsonTokenType.Number && QuotaNames.TryParseKey(name, out var key))
                    values.Values[(int)key] = reader.GetDouble();
                else reader.Skip();
            }
            return reader.TokenType == JsonTokenType.EndObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public override string ToString() => string.Join(",",
        Enumerable.Range(0, Values.Length).Where(i => !double.IsNaN(Values[i]))
            .Select(i => QuotaNames.Keys[i] + "=" + Values[i].ToString(CultureInfo.InvariantCulture)));
}
