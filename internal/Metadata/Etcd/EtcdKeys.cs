using Google.Protobuf;
using Pb = KafScale.Metadata.Etcd.Protocol;

namespace KafScale.Metadata.Etcd;

/// <summary>Conversions between our string keys and etcd's byte keys and ranges.</summary>
internal static class EtcdKeys
{
    private static readonly ByteString AllKeys = ByteString.CopyFrom(0);

    public static ByteString Key(string key) => ByteString.CopyFrom(KeyEncoding.Utf8.GetBytes(key));

    /// <summary>[key, range_end) covering every key that starts with prefix (etcd's "prefix + 1").</summary>
    public static (ByteString Key, ByteString RangeEnd) Prefix(string prefix)
    {
        if (prefix.Length == 0) return (AllKeys, AllKeys);
        byte[] start = KeyEncoding.Utf8.GetBytes(prefix);
        byte[] end = (byte[])start.Clone();
        for (int i = end.Length - 1; i >= 0; i--)
        {
            if (end[i] < 0xFF)
            {
                end[i]++;
                return (ByteString.CopyFrom(start), ByteString.CopyFrom(end, 0, i + 1));
            }
        }
        return (ByteString.CopyFrom(start), AllKeys); // all 0xFF: no upper bound
    }

    public static KeyValue ToKeyValue(Pb.KeyValue kv) =>
        // Keys written by other tools need not be UTF-8; they decode with replacement characters.
        new(kv.Key.ToStringUtf8(), kv.Value.ToByteArray(), kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease);

    public static List<KeyValue> ToKeyValues(IReadOnlyList<Pb.KeyValue> kvs)
    {
        var result = new List<KeyValue>(kvs.Count);
        foreach (Pb.KeyValue kv in kvs) result.Add(ToKeyValue(kv));
        return result;
    }
}
