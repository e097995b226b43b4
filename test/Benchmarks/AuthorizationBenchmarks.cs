using System.Text;
using BenchmarkDotNet.Attributes;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.HotPath;
using KafScale.Protocol.Messages;
using KafScale.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Benchmarks;

/// <summary>
/// What authorization adds to the produce path. "Produce walk" is the CPU part of a produce
/// request before the append: walk the request, validate each partition's batches (CRC-32C) — the
/// same calls ProduceHandler makes. "+ authorize" adds the WRITE check ProduceHandler makes for each
/// topic, against 10,000 ACLs (a third of them PREFIXED, every prefix length from 6 to 10 present)
/// or with the authorizer off. Every row must report 0 B allocated.
/// </summary>
[MemoryDiagnoser]
public class AuthorizationBenchmarks
{
    private byte[] _body = [];
    private Authorizer _authorizer = null!;
    private ClientContext _client = null!;
    private byte[] _topic = [];

    /// <summary>0 = --authorizer none; 10000 = --authorizer acl with 10,000 ACLs, the principal allowed by one of them.</summary>
    [Params(0, 10_000)]
    public int Acls { get; set; }

    /// <summary>Record bytes per partition: a small request (1 KiB, the worst case for the ratio) and a batched one (16 KiB).</summary>
    [Params(1024, 16 * 1024)]
    public int BatchBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        const string topic = "orders-eu-west";
        _topic = Encoding.UTF8.GetBytes(topic);
        using var builder = new RecordBatchBuilder();
        int records = Math.Max(1, BatchBytes / 128);
        for (int i = 0; i < records; i++) builder.Add(null, new byte[100], 1_700_000_000_000 + i);
        byte[] batch = builder.Build();
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 30_000,
            TopicData = [new() { Name = topic, PartitionData = [new() { Index = 0, Records = batch }] }],
        };
        using (var w = new KafkaWriter())
        {
            request.Write(w, 9);
            _body = w.ToArray();
        }

        _client = new ClientContext("10.1.2.3:50000") { Principal = "User:producer" };
        if (Acls == 0)
        {
            _authorizer = Authorizer.None;
            return;
        }

        _authorizer = new Authorizer(true, [], NullLogger.Instance, null);
        var bindings = new Dictionary<string, AclBinding>(StringComparer.Ordinal);
        for (int i = 0; i < Acls - 1; i++)
        {
            var acl = i % 3 == 0
                ? new AclBinding(AclResourceType.Topic, $"t{i}-", AclPatternType.Prefixed, $"User:u{i % 500}", "*", AclOperation.Write, AclPermission.Allow)
                : new AclBinding(AclResourceType.Topic, $"topic-{i}", AclPatternType.Literal, $"User:u{i % 500}", "*", AclOperation.Read, AclPermission.Allow);
            bindings[acl.StoreKey()] = acl;
        }

        var mine = new AclBinding(AclResourceType.Topic, topic, AclPatternType.Literal, "User:producer", "*", AclOperation.Write, AclPermission.Allow);
        bindings[mine.StoreKey()] = mine;
        _authorizer.Publish(bindings, 1);
        if (!_authorizer.AuthorizeUtf8(_client, AclOperation.Write, AclResourceType.Topic, _topic)) throw new InvalidOperationException("the producer should be allowed");
    }

    [Benchmark(Baseline = true, Description = "Produce walk + batch validation")]
    public long ProduceWalk() => Walk(authorize: false);

    [Benchmark(Description = "Produce walk + batch validation + authorize WRITE")]
    public long ProduceWalkAuthorized() => Walk(authorize: true);

    [Benchmark(Description = "Authorize WRITE alone")]
    public bool AuthorizeOnly() => _authorizer.AuthorizeUtf8(_client, AclOperation.Write, AclResourceType.Topic, _topic);

    private long Walk(bool authorize)
    {
        long total = 0;
        var body = _body.AsSpan();
        var reader = new ProduceRequestReader(body, 9);
        while (reader.NextTopic(out ReadOnlySpan<byte> name))
        {
            if (authorize && !_authorizer.AuthorizeUtf8(_client, AclOperation.Write, AclResourceType.Topic, name)) return -1;
            while (reader.NextPartition(out _, out int offset, out int length))
            {
                if (RecordBatchValidator.Validate(body.Slice(offset, length), out var summary) != BatchValidationResult.Ok) return -1;
                total += summary.RecordCount;
            }
        }

        return total;
    }
}
