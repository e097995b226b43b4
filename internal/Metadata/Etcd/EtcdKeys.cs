using System.Text;
using Pb = KafScale.Metadata.Etcd.Protocol;

namespace KafScale.Metadata.Etcd;

/// <summary>Conversions between our string keys and etcd's byte keys and ranges.</summary>
internal static class EtcdKeys
{
    /// <summary>"\0" as a range end: every key from the start key on. Shared, never written to.</summary>
    private static readonly ReadOnlyMemory<byte> AllKeys = new byte[] { 0 };

    public static byte[] Key(string key) => KeyEncoding.Utf8.GetBytes(key);

    /// <summary>[key, range_end) covering every key that starts with prefix (etcd's "prefix + 1").</summary>
    public static (byte[] Key, ReadOnlyMemory<byte> RangeEnd) Prefix(string prefix)
    {
        if (prefix.Length == 0) return ([0], AllKeys);
        byte[] start = KeyEncoding.Utf8.GetBytes(prefix);
        byte[] end = (byte[])start.Clone();
        for (int i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xFF)
            {
                end[i]++;
                return (start, end.AsMemory(0, i + 1));
            }
        }
        return (start, AllKeys); // all 0xFF: no upper bound
    }

    public static KeyValue ToKeyValue(Pb.KeyValue kv) =>
        // Keys written by other tools need not be UTF-8; they decode with replacement characters.
        new(Encoding.UTF8.GetString(kv.Key.Span), kv.Value.ToArray(), kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease);

    public static List<KeyValue> ToKeyValues(IReadOnlyList<Pb.KeyValue> kvs)
    {
        var result = new List<KeyValue>(kvs.Count);
        foreach (Pb.KeyValue kv in kvs) result.Add(ToKeyValue(kv));
        return result;
    }
}
