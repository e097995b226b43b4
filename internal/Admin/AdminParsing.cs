using System.Globalization;

namespace KafScale.Admin;

/// <summary>Parsing of the values admin flags take; every failure names the flag.</summary>
public static class AdminParsing
{
    /// <summary>
    /// A point in time as milliseconds since the epoch: ISO 8601 (a date, or a date and time with
    /// an optional offset; no offset means UTC) or a plain integer of milliseconds.
    /// </summary>
    public static long ParseTime(string value, string flag)
    {
        if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long ms) && ms >= 0)
        {
            return ms;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset time))
        {
            return time.ToUnixTimeMilliseconds();
        }

        throw new AdminUsageException($"invalid value '{value}' for {flag}: expected an ISO 8601 time (2024-05-01T12:00:00Z) or milliseconds since the epoch");
    }

    /// <summary>KEY=VALUE (the value may be empty; the key may not).</summary>
    public static (string Key, string Value) ParseKeyValue(string value, string flag)
    {
        int eq = value.IndexOf('=');
        if (eq <= 0)
        {
            throw new AdminUsageException($"invalid value '{value}' for {flag}: expected KEY=VALUE");
        }

        return (value[..eq], value[(eq + 1)..]);
    }

    public static int ParseInt(string value, string flag, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
        {
            throw new AdminUsageException($"invalid value '{value}' for {flag}: expected an integer from {min} to {max}");
        }

        return v;
    }

    public static long ParseLong(string value, string flag, long min, long max)
    {
        if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) || v < min || v > max)
        {
            throw new AdminUsageException($"invalid value '{value}' for {flag}: expected an integer from {min} to {max}");
        }

        return v;
    }

    public static Records.CompressionType ParseCompression(string value, string flag) => value.ToLowerInvariant() switch
    {
        "none" => Records.CompressionType.None,
        "gzip" => Records.CompressionType.Gzip,
        "snappy" => Records.CompressionType.Snappy,
        "lz4" => Records.CompressionType.Lz4,
        "zstd" => Records.CompressionType.Zstd,
        _ => throw new AdminUsageException($"invalid value '{value}' for {flag}: expected none, gzip, snappy, lz4 or zstd"),
    };

    public static Client.Acks ParseAcks(string value, string flag) => value.ToLowerInvariant() switch
    {
        "all" or "-1" => Client.Acks.All,
        "1" or "leader" => Client.Acks.Leader,
        "0" or "none" => Client.Acks.None,
        _ => throw new AdminUsageException($"invalid value '{value}' for {flag}: expected all, -1, 1 or 0"),
    };

    /// <summary>TOPIC or TOPIC:P[,P...] (reset-offsets --topic).</summary>
    public static (string Topic, IReadOnlyList<int>? Partitions) ParseTopicPartitions(string value, string flag)
    {
        int colon = value.IndexOf(':');
        if (colon < 0)
        {
            return (value, null);
        }

        string topic = value[..colon];
        var partitions = new List<int>();
        foreach (string p in value[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            partitions.Add(ParseInt(p, flag, 0, int.MaxValue));
        }

        if (topic.Length == 0 || partitions.Count == 0)
        {
            throw new AdminUsageException($"invalid value '{value}' for {flag}: expected TOPIC or TOPIC:PARTITION[,PARTITION...]");
        }

        return (topic, partitions);
    }
}
