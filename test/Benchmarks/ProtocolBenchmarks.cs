using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using KafScale.Protocol;
using KafScale.Protocol.HotPath;
using KafScale.Protocol.Messages;

namespace KafScale.Benchmarks;

/// <summary>
/// Produce path: 1 topic x 16 partitions x 16 KiB of records. Everything except the generated-codec
/// baseline must report 0 B allocated: the hot paths read spans in place and reuse one KafkaWriter.
/// </summary>
[MemoryDiagnoser]
public class ProduceBenchmarks
{
    private const int Partitions = 16;
    private const int ProduceRecordBytes = 16 * 1024;

    private static readonly byte[] TopicName = Encoding.UTF8.GetBytes("benchmark-topic");

    private byte[] _produceBody = [];
    private byte[] _produceFrame = [];
    private KafkaWriter _writer = null!;
    private ProduceResponseWriter _produceResponse = null!;

    /// <summary>Produce v9 (flexible) is what current librdkafka and Java clients send; v7 is the non-flexible form.</summary>
    [Params((short)7, (short)9)]
    public short ProduceVersion { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 30_000,
            TopicData =
            [
                new()
                {
                    Name = Encoding.UTF8.GetString(TopicName),
                    PartitionData = Enumerable.Range(0, Partitions)
                        .Select(p => new ProduceRequest.PartitionProduceData { Index = p, Records = new byte[ProduceRecordBytes] })
                        .ToList(),
                },
            ],
        };

        using (var body = new KafkaWriter(Partitions * ProduceRecordBytes + 1024))
        {
            request.Write(body, ProduceVersion);
            _produceBody = body.ToArray();
        }

        using (var frame = new KafkaWriter(_produceBody.Length + 64))
        {
            int mark = frame.BeginSizePrefix();
            new RequestHeader { RequestApiKey = ApiKeys.Produce, RequestApiVersion = ProduceVersion, CorrelationId = 1, ClientId = "rdkafka" }
                .Write(frame, ApiKeys.RequestHeaderVersion(ApiKeys.Produce, ProduceVersion));
            frame.WriteRaw(_produceBody);
            frame.EndSizePrefix(mark);
            _produceFrame = frame.ToArray();
        }

        _writer = new KafkaWriter();
        _produceResponse = new ProduceResponseWriter(_writer);
    }

    [GlobalCleanup]
    public void Cleanup() => _writer.Dispose();

    [Benchmark(Description = "Produce request decode (ProduceRequestReader)")]
    public long ProduceRequestDecode()
    {
        long total = 0;
        var reader = new ProduceRequestReader(_produceBody, ProduceVersion);
        while (reader.NextTopic(out ReadOnlySpan<byte> topic))
        {
            total += topic.Length;
            while (reader.NextPartition(out int partition, out int offset, out int length))
            {
                total += partition + offset + length;
            }
        }

        return total;
    }

    [Benchmark(Description = "Frame + request header + Produce decode")]
    public long FrameHeaderAndProduceDecode()
    {
        var buffer = new ReadOnlySequence<byte>(_produceFrame);
        if (KafkaFraming.TryReadFrame(ref buffer, int.MaxValue, out ReadOnlySequence<byte> frame) != FrameResult.Ok)
        {
            throw new InvalidOperationException();
        }

        ReadOnlySpan<byte> span = frame.FirstSpan;
        KafkaRequestHeader header = KafkaRequestHeader.Parse(span);
        var reader = new ProduceRequestReader(span[header.BodyOffset..], header.ApiVersion);
        long total = header.CorrelationId;
        while (reader.NextTopic(out _))
        {
            while (reader.NextPartition(out _, out _, out int length))
            {
                total += length;
            }
        }

        return total;
    }

    [Benchmark(Description = "Produce request decode (generated codec, baseline)")]
    public int ProduceRequestDecodeGenerated()
    {
        var request = new ProduceRequest();
        var reader = new KafkaReader(_produceBody);
        request.Read(ref reader, ProduceVersion);
        return request.TopicData[0].PartitionData.Count;
    }

    [Benchmark(Description = "Produce response encode (ProduceResponseWriter)")]
    public int ProduceResponseEncode()
    {
        _writer.Reset();
        _produceResponse.Begin(ProduceVersion, correlationId: 1, topicCount: 1);
        _produceResponse.BeginTopic(TopicName, Partitions);
        for (int p = 0; p < Partitions; p++)
        {
            _produceResponse.Partition(p, errorCode: 0, baseOffset: 1_000_000 + p, logAppendTimeMs: -1, logStartOffset: 0);
        }

        _produceResponse.EndTopic();
        _produceResponse.End(throttleTimeMs: 0);
        return _writer.WrittenCount;
    }
}

/// <summary>
/// Fetch path: the request of a consumer reading 1 topic x 16 partitions, decoded by
/// FetchRequestReader (must report 0 B) and by the generated codec (the baseline, which builds
/// lists and objects); and the response with 64 KiB of records per partition into one reused
/// KafkaWriter (must report 0 B).
/// </summary>
[MemoryDiagnoser]
public class FetchBenchmarks
{
    private const int Partitions = 16;
    private const int RecordBytes = 64 * 1024;

    private static readonly byte[] TopicName = Encoding.UTF8.GetBytes("benchmark-topic");
    private static readonly Guid TopicId = Guid.Parse("5f1c2c4e-8e0b-4c55-9d55-0a6f1d2b7c11");

    private byte[] _records = [];
    private byte[] _requestBody = [];
    private KafkaWriter _writer = null!;
    private FetchResponseWriter _fetchResponse = null!;

    /// <summary>v11: last non-flexible version; v12: flexible, topic names; v16: topic ids.</summary>
    [Params((short)11, (short)12, (short)16)]
    public short FetchVersion { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _records = new byte[RecordBytes];
        Random.Shared.NextBytes(_records);
        _writer = new KafkaWriter(Partitions * RecordBytes + 4096);
        _fetchResponse = new FetchResponseWriter(_writer);
        var request = new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = 500,
            MinBytes = 1,
            MaxBytes = 50 * 1024 * 1024,
            SessionId = 0,
            SessionEpoch = -1,
            Topics =
            [
                new()
                {
                    Topic = Encoding.UTF8.GetString(TopicName),
                    TopicId = TopicId,
                    Partitions = Enumerable.Range(0, Partitions)
                        .Select(p => new FetchRequest.FetchPartition { Partition = p, CurrentLeaderEpoch = 3, FetchOffset = 1_000_000 + p, LastFetchedEpoch = 3, PartitionMaxBytes = 1024 * 1024 })
                        .ToList(),
                },
            ],
            RackId = "eu-west-1a",
        };
        using var body = new KafkaWriter();
        request.Write(body, FetchVersion);
        _requestBody = body.ToArray();
    }

    [Benchmark(Description = "Fetch request decode (FetchRequestReader)")]
    public long FetchRequestDecode()
    {
        long total = 0;
        var reader = new FetchRequestReader(_requestBody, FetchVersion);
        while (reader.NextTopic(out ReadOnlySpan<byte> name, out Guid id))
        {
            total += name.Length + id.GetHashCode();
            while (reader.NextPartition(out FetchPartition p))
            {
                total += p.Partition + p.FetchOffset + p.PartitionMaxBytes;
            }
        }

        reader.Finish();
        return total + reader.ReplicaId + reader.RackIdUtf8.Length;
    }

    [Benchmark(Description = "Fetch request decode (generated codec, baseline)")]
    public int FetchRequestDecodeGenerated()
    {
        var request = new FetchRequest();
        var reader = new KafkaReader(_requestBody);
        request.Read(ref reader, FetchVersion);
        return request.Topics[0].Partitions.Count + request.RackId.Length;
    }

    [GlobalCleanup]
    public void Cleanup() => _writer.Dispose();

    [Benchmark(Description = "Fetch response encode (FetchResponseWriter)")]
    public int FetchResponseEncode()
    {
        _writer.Reset();
        _fetchResponse.Begin(FetchVersion, correlationId: 1, throttleTimeMs: 0, errorCode: 0, sessionId: 0, topicCount: 1);
        _fetchResponse.BeginTopic(TopicName, TopicId, Partitions);
        for (int p = 0; p < Partitions; p++)
        {
            _fetchResponse.Partition(p, errorCode: 0, highWatermark: 5000, lastStableOffset: 5000, logStartOffset: 0, preferredReadReplica: -1, recordsLength: _records.Length);
            _fetchResponse.WriteRecords(_records);
        }

        _fetchResponse.EndTopic();
        _fetchResponse.End();
        return _writer.WrittenCount;
    }
}
