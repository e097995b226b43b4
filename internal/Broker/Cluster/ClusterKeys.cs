using System.Globalization;

namespace KafScale.Broker.Clustering;

/// <summary>
/// The metadata-store keys of cluster membership and leadership (documented in
/// docs/metadata.md). Broker, leader and coordinator keys are bound to their broker's lease, so
/// they vanish when the broker stops keeping it alive.
/// </summary>
internal static class ClusterKeys
{
    public const string BrokersPrefix = "/kafscale/brokers/";
    public const string LeadersPrefix = "/kafscale/leaders/";
    public const string CoordinatorsPrefix = "/kafscale/coordinators/";

    /// <summary>Upstream KafScale's cluster view (JSON), read by its processors in etcd discovery mode.</summary>
    public const string Snapshot = "/kafscale/metadata/snapshot";

    public static string Broker(int id) => BrokersPrefix + id.ToString(CultureInfo.InvariantCulture);

    public static string Leader(string topic, int partition) =>
        LeadersPrefix + topic + "/" + partition.ToString(CultureInfo.InvariantCulture);

    public static string LeadersOf(string topic) => LeadersPrefix + topic + "/";

    public static string Coordinator(int shard) => CoordinatorsPrefix + shard.ToString(CultureInfo.InvariantCulture);

    public static bool TryParseBroker(string key, out int id)
    {
        id = -1;
        return key.StartsWith(BrokersPrefix, StringComparison.Ordinal)
            && int.TryParse(key.AsSpan(BrokersPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out id);
    }

    /// <summary>Topic names cannot contain '/', so the last '/' separates topic and partition.</summary>
    public static bool TryParseLeader(string key, out string topic, out int partition)
    {
        topic = "";
        partition = -1;
        if (!key.StartsWith(LeadersPrefix, StringComparison.Ordinal)) return false;
        int slash = key.LastIndexOf('/');
        if (slash <= LeadersPrefix.Length) return false;
        if (!int.TryParse(key.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out partition)) return false;
        topic = key.Substring(LeadersPrefix.Length, slash - LeadersPrefix.Length);
        return !topic.Contains('/');
    }

    public static bool TryParseCoordinator(string key, out int shard)
    {
        shard = -1;
        return key.StartsWith(CoordinatorsPrefix, StringComparison.Ordinal)
            && int.TryParse(key.AsSpan(CoordinatorsPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out shard);
    }
}
