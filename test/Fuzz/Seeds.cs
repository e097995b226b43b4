using System.Collections;
using System.Reflection;
using System.Text;
using KafScale.Metadata;
using KafScale.Metadata.Embedded;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;
using KafScale.Snapshot;
using KafScale.Storage;
using KafScale.Storage.Wal;

namespace KafScale.Fuzz;

/// <summary>
/// Writes the seed corpus (test/Fuzz/corpus/TARGET/) with the production writers: request
/// frames from the generated encoders, batches from RecordBatchBuilder, segments from
/// SegmentWriter, a log written by a real embedded store, snapshots from SnapshotFormat.
/// Small, valid inputs: afl-fuzz mutates from them. Run: dotnet KafScale.Fuzz.dll seeds DIR.
/// </summary>
public static class Seeds
{
    public static async Task WriteAllAsync(string root)
    {
        Write(root, "request", RequestFrames());
        Write(root, "records", RecordBlobs());
        Write(root, "segment", Segments());
        Write(root, "metadata-log", [("store-wal", await MetadataLogAsync().ConfigureAwait(false))]);
        Write(root, "snapshot", Snapshots());
        Write(root, "wal", WalObjects());
    }

    private static void Write(string root, string target, IEnumerable<(string Name, byte[] Bytes)> seeds)
    {
        string directory = Path.Combine(root, target);
        if (Directory.Exists(directory))
            Directory.Delete(directory, recursive: true);
        Directory.CreateDirectory(directory);
        int count = 0;
        foreach ((string name, byte[] bytes) in seeds)
        {
            File.WriteAllBytes(Path.Combine(directory, name), bytes);
            count++;
        }
        Console.WriteLine($"{target}: {count} seeds in {directory}");
    }

    // ---- request --------------------------------------------------------------------------

    /// <summary>
    /// Every request API the broker decodes, at its lowest, first flexible and highest version,
    /// each field filled (one element per array) so every decoder branch has bytes to start from.
    /// </summary>
    public static IEnumerable<(string Name, byte[] Bytes)> RequestFrames()
    {
        foreach (ApiKeyInfo api in ApiKeys.All)
        {
            if (KafkaMessages.CreateRequest(api.ApiKey) is not { } probe)
                continue;
            var versions = new SortedSet<short> { probe.LowestSupportedVersion, probe.HighestSupportedVersion };
            if (probe.FlexibleVersionsFrom <= probe.HighestSupportedVersion)
                versions.Add(Math.Max(probe.FlexibleVersionsFrom, probe.LowestSupportedVersion));
            foreach (short version in versions)
            {
                IKafkaMessage message = KafkaMessages.CreateRequest(api.ApiKey)!;
                Fill(message, depth: 0);
                byte[]? frame = Frame(api.ApiKey, version, message);
                if (frame is not null)
                    yield return ($"{api.ApiKey:D2}-{api.Name}-v{version}", frame);
            }
        }
    }

    /// <summary>A frame without its size prefix: request header, then the body; null when the version cannot carry the filled message.</summary>
    public static byte[]? Frame(short apiKey, short version, IKafkaMessage body)
    {
        using var writer = new KafkaWriter(256);
        writer.WriteInt16(apiKey);
        writer.WriteInt16(version);
        writer.WriteInt32(7);
        short headerVersion = ApiKeys.RequestHeaderVersion(apiKey, version);
        if (headerVersion >= 1)
            writer.WriteString("fuzz-client", compact: false);
        if (headerVersion >= 2)
            writer.WriteEmptyTaggedFields();
        try
        {
            body.Write(writer, version);
        }
        catch (KafkaProtocolException)
        {
            return null;
        }
        return writer.ToArray();
    }

    private static void Fill(object message, int depth)
    {
        foreach (PropertyInfo property in message.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!property.CanRead || !property.CanWrite)
                continue;
            Type type = property.PropertyType;
            object? value = Sample(Nullable.GetUnderlyingType(type) ?? type, property.Name, depth);
            if (value is not null)
                property.SetValue(message, value);
        }
    }

    private static object? Sample(Type type, string name, int depth)
    {
        if (type == typeof(string))
            return "kafscale-" + name.ToLowerInvariant();
        if (type == typeof(byte[]))
            return new byte[] { 1, 2, 3 };
        if (type == typeof(ReadOnlyMemory<byte>))
            return new ReadOnlyMemory<byte>(Batch(CompressionType.None, 0, 2));
        if (type == typeof(Guid))
            return new Guid("6c1e6a4e-3f5d-4a51-9d0c-2b7f8e9a0b1c");
        if (type == typeof(int))
            return 1;
        if (type == typeof(long))
            return 1L;
        if (type == typeof(bool))
            return true;
        if (depth >= 4)
            return null;
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            var list = (IList)Activator.CreateInstance(type)!;
            Type element = type.GetGenericArguments()[0];
            object? item = Sample(element, name, depth + 1);
            if (item is not null)
                list.Add(item);
            return list;
        }
        if (type.IsClass && type.GetConstructor(Type.EmptyTypes) is not null && type.Namespace == typeof(ProduceRequest).Namespace)
        {
            object nested = Activator.CreateInstance(type)!;
            Fill(nested, depth + 1);
            return nested;
        }
        return null;
    }

    // ---- records --------------------------------------------------------------------------

    public static byte[] Batch(CompressionType compression, long baseOffset, int records, bool headers = false)
    {
        using var builder = new RecordBatchBuilder(compression) { BaseOffset = baseOffset };
        for (int i = 0; i < records; i++)
        {
            RecordHeader[]? h = headers ? [new RecordHeader("trace", Encoding.UTF8.GetBytes("id-" + i)), new RecordHeader("empty", null)] : null;
            byte[]? key = i % 2 == 0 ? Encoding.UTF8.GetBytes("key-" + i) : null;
            builder.Add(key, Encoding.UTF8.GetBytes("value " + i + " value value value"), 1_700_000_000_000 + i, h);
        }
        return builder.Build();
    }

    public static IEnumerable<(string Name, byte[] Bytes)> RecordBlobs()
    {
        yield return ("none", Batch(CompressionType.None, 0, 3, headers: true));
        yield return ("gzip", Batch(CompressionType.Gzip, 0, 3));
        yield return ("snappy", Batch(CompressionType.Snappy, 0, 3));
        yield return ("lz4", Batch(CompressionType.Lz4, 0, 3));
        yield return ("zstd", Batch(CompressionType.Zstd, 0, 3));
        byte[] two = [.. Batch(CompressionType.None, 0, 1), .. Batch(CompressionType.Lz4, 1, 2, headers: true)];
        yield return ("two-batches", two);
        using (var builder = new RecordBatchBuilder { ProducerId = 42, ProducerEpoch = 1, BaseSequence = 0, IsTransactional = true })
        {
            builder.Add(null, [1], 1_700_000_000_000);
            yield return ("transactional", builder.Build());
        }
    }

    // ---- segment ----------------------------------------------------------------------------

    public static IEnumerable<(string Name, byte[] Bytes)> Segments()
    {
        List<ReadOnlyMemory<byte>> batches =
        [
            Batch(CompressionType.None, 100, 2, headers: true),
            Batch(CompressionType.Snappy, 102, 3),
            Batch(CompressionType.None, 105, 1),
        ];
        SegmentObjects every = SegmentWriter.Build(batches, 1_700_000_000_000, indexInterval: 1);
        yield return ("three-batches", SegmentTarget.Pack(every.Segment.Span, every.Index.Span));
        SegmentObjects sparse = SegmentWriter.Build(batches, 1_700_000_000_000, indexInterval: 3);
        yield return ("sparse-index", SegmentTarget.Pack(sparse.Segment.Span, sparse.Index.Span));
        SegmentObjects single = SegmentWriter.Build([(ReadOnlyMemory<byte>)Batch(CompressionType.Zstd, 0, 2)], 1_700_000_000_000);
        yield return ("one-batch", SegmentTarget.Pack(single.Segment.Span, single.Index.Span));
    }

    // ---- metadata log -----------------------------------------------------------------------

    /// <summary>The log a real store writes for a few puts (one under a lease), an overwrite and a delete.</summary>
    public static async Task<byte[]> MetadataLogAsync()
    {
        string directory = Path.Combine(Path.GetTempPath(), "kafscale-fuzz-seed-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using (EmbeddedMetadataStore store = await EmbeddedMetadataStore.OpenAsync(directory, CancellationToken.None).ConfigureAwait(false))
            {
                await store.PutAsync("/kafscale/cluster/id", "fuzz"u8.ToArray(), 0, CancellationToken.None).ConfigureAwait(false);
                await store.PutAsync("/kafscale/topics/orders/config", "{\"partitions\":3}"u8.ToArray(), 0, CancellationToken.None).ConfigureAwait(false);
                long lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(30), CancellationToken.None).ConfigureAwait(false);
                await store.PutAsync("/kafscale/brokers/1", "127.0.0.1:9092"u8.ToArray(), lease, CancellationToken.None).ConfigureAwait(false);
                await store.PutAsync("/kafscale/topics/orders/config", "{\"partitions\":4}"u8.ToArray(), 0, CancellationToken.None).ConfigureAwait(false);
                await store.DeleteAsync("/kafscale/cluster/id", CancellationToken.None).ConfigureAwait(false);
            }
            return await File.ReadAllBytesAsync(Path.Combine(directory, "wal")).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    // ---- snapshot ---------------------------------------------------------------------------

    public static IEnumerable<(string Name, byte[] Bytes)> Snapshots()
    {
        var created = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        KeyValue[] kvs =
        [
            new("/kafscale/cluster/id", "fuzz"u8.ToArray(), 2, 2, 1, 0),
            new("/kafscale/topics/orders/config", "{\"partitions\":3}"u8.ToArray(), 3, 3, 1, 0),
        ];
        yield return ("two-keys", SnapshotFormat.Write(new SnapshotHeader("snap-1", created, "embedded", "fuzz", 3, SnapshotFormat.Prefix, kvs.Length, 1, 0, false), kvs));
        yield return ("empty", SnapshotFormat.Write(new SnapshotHeader("snap-0", created, "etcd", "127.0.0.1:2379", 1, SnapshotFormat.Prefix, 0, 0, 0, true), []));
    }

    // ---- wal --------------------------------------------------------------------------------

    /// <summary>WAL objects from WalObjectBuilder: one chunk; three partitions of two topics with several codecs; none.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> WalObjects()
    {
        var orders = new Guid("00112233-4455-6677-8899-aabbccddeeff");
        var payments = new Guid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
        var one = new WalObjectBuilder(1, 1_700_000_000_000, 0);
        one.AddChunk(orders, "orders", 0, 3, [Batch(CompressionType.None, 0, 2, headers: true)]);
        yield return ("one-chunk", one.Build().Bytes);

        var three = new WalObjectBuilder(2, 1_700_000_000_500, 7);
        three.AddChunk(orders, "orders", 0, 3, [Batch(CompressionType.None, 2, 1), Batch(CompressionType.Snappy, 3, 3)]);
        three.AddChunk(orders, "orders", 1, 3, [Batch(CompressionType.Zstd, 0, 2)]);
        three.AddChunk(payments, "payments", 0, 5, [Batch(CompressionType.Lz4, 10, 1), Batch(CompressionType.Gzip, 11, 2)]);
        yield return ("three-chunks", three.Build().Bytes);

        yield return ("empty", new WalObjectBuilder(0, 0, 0).Build().Bytes);
    }
}
