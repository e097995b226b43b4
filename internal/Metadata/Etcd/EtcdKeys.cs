using Google.Protobuf;
using Mvcc = Mvccpb;

namespace KafScale.Metadata.Etcd;

/// <summary>Conversions between our string keys and etcd's byte keys and ranges.</summary>
internal static class EtcdKeys
{
    /// <summary>"\0" as a range end: every key from the start key on.</summary>
    private static readonly ByteString AllKeys = ByteString.CopyFrom(new byte[] { 0 });

    public static ByteString Key(string key) => UnsafeByteOperations.UnsafeWrap(KeyEncoding.Utf8.GetBytes(key));

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
                return (UnsafeByteOperations.UnsafeWrap(start), UnsafeByteOperations.UnsafeWrap(end.AsMemory(0, i + 1)));
            }
        }
        return (UnsafeByteOperations.UnsafeWrap(start), AllKeys); // all 0xFF: no upper bound
    }

    public static KeyValue ToKeyValue(Mvcc.KeyValue kv) =>
        // Keys written by other tools need not be UTF-8; they decode with replacement characters.
        new(kv.Key.ToStringUtf8(), kv.Value.ToByteArray(), kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease);

    public static List<KeyValue> ToKeyValues(IReadOnlyList<Mvcc.KeyValue> kvs)
    {
        var result = new List<KeyValue>(kvs.Count);
        foreach (Mvcc.KeyValue kv in kvs) result.Add(ToKeyValue(kv));
        return result;
    }
}
