using System.Net;
using BenchmarkDotNet.Attributes;
using KafScale.Broker;
using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Benchmarks;

/// <summary>
/// One Fetch served end to end in this process: a whole broker (embedded metadata store,
/// directory object store) gets a request frame at its real request dispatcher, as a connection
/// hands it over, and the Fetch handler answers it from data already produced: 1 topic x 4
/// partitions x 64 KiB (four batches of about 16 KiB each), read from offset 0 with min_bytes 1, so the
/// fetch never waits. v12 names the topic, v16 gives its id. "Allocated" is what one request costs
/// the GC once everything is warm: the target is 0 B (docs/architecture.md, "The read path").
/// </summary>
[MemoryDiagnoser]
public class FetchHandlerBenchmarks
{
    private const int Partitions = 4;
    private const int BatchesPerPartition = 4;
    private const int BatchBytes = 16 * 1024;

    private string _root = "";
    private BrokerHost _broker = null!;
    private RequestDispatcher _dispatcher = null!;
    private ClientContext _client = null!;
    private byte[] _frame = [];
    private int _correlation;

    [Params((short)12, (short)16)]
    public short FetchVersion { get; set; }

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    private async Task SetupAsync()
    {
        _root = Path.Combine(Path.GetTempPath(), "kafscale-fetch-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
        var config = new BrokerConfig
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            Http = new IPEndPoint(IPAddress.Loopback, 0),
            DataDir = Path.Combine(_root, "data"),
            ObjectsDir = Path.Combine(_root, "objects"),
            AutoCreateTopics = false,
        };
        _broker = await BrokerHost.StartAsync(config, NullLoggerFactory.Instance, CancellationToken.None);
        _dispatcher = _broker.Dispatcher;
        _client = new ClientContext("127.0.0.1:50000");

        const string topic = "fetch-bench";
        var create = new CreateTopicsRequest
        {
            TimeoutMs = 10_000,
            Topics = [new CreateTopicsRequest.CreatableTopic { Name = topic, NumPartitions = Partitions, ReplicationFactor = -1 }],
        };
        var created = await SendAsync<CreateTopicsResponse>(create, 7);
        if (created.Topics[0].ErrorCode != 0) throw new InvalidOperationException($"CreateTopics: error {created.Topics[0].ErrorCode}");
        KafScale.Broker.Log.TopicState? state = null;
        for (var waited = System.Diagnostics.Stopwatch.StartNew(); !(_broker.Logs.TryGetTopic(topic, out state!) && state.Logs.All(l => l is not null));)
        {
            if (waited.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException("the topic's partitions got no leader");
            await Task.Delay(20);
        }

        byte[] batch = Batch();
        for (int b = 0; b < BatchesPerPartition; b++)
        {
            var produce = new ProduceRequest
            {
                Acks = -1,
                TimeoutMs = 10_000,
                TopicData = [new() { Name = topic, PartitionData = [.. Enumerable.Range(0, Partitions).Select(p => new ProduceRequest.PartitionProduceData { Index = p, Records = batch })] }],
            };
            var produced = await SendAsync<ProduceResponse>(produce, 9);
            foreach (var p in produced.Responses[0].PartitionResponses)
                if (p.ErrorCode != 0) throw new InvalidOperationException($"Produce: error {p.ErrorCode}");
        }

        var fetch = new FetchRequest
        {
            ReplicaId = -1,
            MaxWaitMs = 500,
            MinBytes = 1,
            MaxBytes = 50 * 1024 * 1024,
            SessionEpoch = -1,
            Topics =
            [
                new()
                {
                    Topic = topic,
                    TopicId = state!.Id,
                    Partitions = [.. Enumerable.Range(0, Partitions).Select(p => new FetchRequest.FetchPartition { Partition = p, FetchOffset = 0, PartitionMaxBytes = 1024 * 1024 })],
                },
            ],
            RackId = "",
        };
        _frame = Frame(fetch, FetchVersion, 1);
        int bytes = ServeFetch();
        if (bytes < Partitions * BatchesPerPartition * batch.Length) throw new InvalidOperationException($"the fetch returned only {bytes} bytes");
    }

    private static byte[] Batch()
    {
        using var builder = new RecordBatchBuilder();
        for (int i = 0; i < BatchBytes / 1024; i++) builder.Add(null, new byte[1000], 1_700_000_000_000 + i);
        return builder.Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _broker.DisposeAsync().AsTask().GetAwaiter().GetResult();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    [Benchmark(Description = "Fetch handler, whole request (dispatcher to response frame)")]
    public int ServeFetch()
    {
        var pending = _dispatcher.DispatchAsync(_client, _frame);
        using var response = (pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult())
            ?? throw new InvalidOperationException("no response");
        return response.Length;
    }

    private static byte[] Frame(IKafkaMessage body, short version, int correlationId)
    {
        using var writer = new KafkaWriter();
        new RequestHeader { RequestApiKey = body.ApiKey, RequestApiVersion = version, CorrelationId = correlationId, ClientId = "bench" }
            .Write(writer, ApiKeys.RequestHeaderVersion(body.ApiKey, version));
        body.Write(writer, version);
        return writer.ToArray();
    }

    private async Task<T> SendAsync<T>(IKafkaMessage request, short version)
        where T : IKafkaMessage, new()
    {
        int correlation = ++_correlation + 1000;
        using var response = await _dispatcher.DispatchAsync(_client, Frame(request, version, correlation))
            ?? throw new InvalidOperationException("no response");
        var reader = new KafkaReader(response.Bytes[4..].ToArray());
        if (reader.ReadInt32() != correlation) throw new InvalidOperationException("correlation id mismatch");
        if (ApiKeys.ResponseHeaderVersion(request.ApiKey, version) >= 1) reader.SkipTaggedFields();
        var message = new T();
        message.Read(ref reader, version);
        return message;
    }
}
