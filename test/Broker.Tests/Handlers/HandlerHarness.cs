using System.Net;
using KafScale.Metadata.Embedded;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>
/// A whole broker in this process, as the broker host wires it (the real request dispatcher and
/// every real handler, the embedded metadata store behind a <see cref="FaultInjectingMetadataStore"/>,
/// a directory object store), in a temporary directory. Tests talk to it the way a client does:
/// raw request frames (size prefix, request header v1/v2, body written by the generated codec)
/// over a loopback connection, and response frames decoded by the same codec.
/// One broker per test class (xunit class fixture); tests use their own topic and group names.
/// </summary>
public sealed class HandlerHarness : IAsyncLifetime
{
    private string _root = "";
    private BrokerHost? _broker;

    internal FaultInjectingMetadataStore Metadata { get; private set; } = null!;
    public int Port => _broker!.KafkaEndPoint.Port;
    public int BrokerId => _broker!.BrokerId;
    internal KafScale.Broker.Log.LogManager Logs => _broker!.Logs;

    /// <summary>The broker's request dispatcher, for tests that hand it request frames in this process (no socket).</summary>
    internal Network.RequestDispatcher Dispatcher => _broker!.Dispatcher;

    internal KafScale.Broker.Handlers.FetchSessionCache FetchSessions => _broker!.FetchSessions;

    public async Task InitializeAsync()
    {
        _root = Path.Combine(Path.GetTempPath(), "kafscale-handler-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
        var config = new BrokerConfig
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            Http = new IPEndPoint(IPAddress.Loopback, 0),
            DataDir = Path.Combine(_root, "data"),
            ObjectsDir = Path.Combine(_root, "objects"),
            DefaultPartitions = 1,
            AutoCreateTopics = true,
            // Joins complete as soon as the member is in: the tests are about error mapping, not
            // the wait for more members (which the group coordinator's own tests cover).
            GroupInitialRebalanceDelayMs = 0,
        };
        _broker = await BrokerHost.StartAsync(config, NullLoggerFactory.Instance, CancellationToken.None,
            openMetadata: async ct => Metadata = new FaultInjectingMetadataStore(
                await EmbeddedMetadataStore.OpenAsync(Path.Combine(_root, "metadata"), ct).ConfigureAwait(false))).ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        if (Metadata is not null) Metadata.Unavailable = false;
        if (_broker is not null) await _broker.DisposeAsync().ConfigureAwait(false);
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Makes the metadata store unavailable until the returned scope is disposed.</summary>
    public IDisposable MetadataStoreOutage()
    {
        Metadata.Unavailable = true;
        return new Restore(Metadata);
    }

    private sealed class Restore(FaultInjectingMetadataStore store) : IDisposable
    {
        public void Dispose() => store.Unavailable = false;
    }

    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    public Task<RawKafkaConnection> ConnectAsync() => RawKafkaConnection.ConnectAsync(Port);

    /// <summary>Sends one request at a version the codec can write and decodes the answer of the same version.</summary>
    public async Task<TResponse> SendAsync<TResponse>(IKafkaMessage request, short version)
        where TResponse : IKafkaMessage, new()
    {
        await using var connection = await ConnectAsync().ConfigureAwait(false);
        return await connection.SendAsync<TResponse>(request.ApiKey, version, request).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a request whose header names <paramref name="headerVersion"/> (which may be one the
    /// broker does not serve or the codec cannot write) with a body written at
    /// <paramref name="bodyVersion"/>, and decodes the answer at <paramref name="responseVersion"/>.
    /// </summary>
    public async Task<TResponse> SendWithHeaderVersionAsync<TResponse>(IKafkaMessage request, short headerVersion, short bodyVersion, short responseVersion)
        where TResponse : IKafkaMessage, new()
    {
        await using var connection = await ConnectAsync().ConfigureAwait(false);
        int correlationId = connection.NextCorrelationId();
        using var writer = new KafkaWriter();
        var header = new RequestHeader { RequestApiKey = request.ApiKey, RequestApiVersion = headerVersion, CorrelationId = correlationId, ClientId = "handler-tests" };
        header.Write(writer, ApiKeys.RequestHeaderVersion(request.ApiKey, headerVersion));
        request.Write(writer, bodyVersion);
        await connection.SendFrameAsync(writer.ToArray()).ConfigureAwait(false);
        byte[] frame = await connection.ReadFrameAsync().ConfigureAwait(false)
            ?? throw new InvalidDataException($"the broker closed the connection instead of answering api key {request.ApiKey} v{headerVersion}");
        return RawKafkaConnection.DecodeResponse<TResponse>(frame, request.ApiKey, responseVersion, correlationId);
    }

    /// <summary>Creates a topic through CreateTopics and waits until this broker leads its partitions.</summary>
    public async Task<string> CreateTopicAsync(string prefix, int partitions = 1)
    {
        string name = Unique(prefix);
        var request = new CreateTopicsRequest { TimeoutMs = 10_000 };
        request.Topics.Add(new CreateTopicsRequest.CreatableTopic { Name = name, NumPartitions = partitions, ReplicationFactor = -1 });
        var response = await SendAsync<CreateTopicsResponse>(request, CreateTopicsRequest.HighestSupportedVersion).ConfigureAwait(false);
        Assert.Equal(ErrorCodes.None, response.Topics.Single().ErrorCode);
        await WaitForLeadersAsync(name, partitions).ConfigureAwait(false);
        return name;
    }

    /// <summary>Polls Metadata until every partition of the topic has a leader.</summary>
    public async Task WaitForLeadersAsync(string topic, int partitions)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var request = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = topic }], AllowAutoTopicCreation = false };
            var response = await SendAsync<MetadataResponse>(request, 12).ConfigureAwait(false);
            var t = response.Topics.Single();
            if (t.ErrorCode == 0 && t.Partitions.Count == partitions && t.Partitions.All(p => p.ErrorCode == 0 && p.LeaderId == BrokerId)) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"topic {topic} has no leader for every partition after 15 s");
            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    /// <summary>Produces one batch of <paramref name="records"/> records with acks=-1 and returns the partition's answer.</summary>
    public async Task<ProduceResponse.PartitionProduceResponse> ProduceAsync(string topic, int partition, int records = 3)
    {
        var request = new ProduceRequest { Acks = -1, TimeoutMs = 10_000 };
        request.TopicData.Add(new ProduceRequest.TopicProduceData
        {
            Name = topic,
            PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = Batches.Make(records) }],
        });
        var response = await SendAsync<ProduceResponse>(request, ProduceRequest.HighestSupportedVersion).ConfigureAwait(false);
        return response.Responses.Single().PartitionResponses.Single();
    }
}
