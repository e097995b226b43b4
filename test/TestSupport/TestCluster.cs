using System.Globalization;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using Xunit;

namespace KafScale.TestSupport;

public enum StorageKind
{
    /// <summary>One directory object store shared by every broker (create-if-absent via link(2)).</summary>
    SharedDirectory,
    /// <summary>s3rver: real S3 over HTTP, but no conditional create.</summary>
    S3rver,
    /// <summary>The in-process S3 double, which honours If-None-Match like AWS S3.</summary>
    ConditionalS3,
}

public sealed record ClusterOptions
{
    public StorageKind Storage { get; init; } = StorageKind.SharedDirectory;
    public int LeaseTtlMs { get; init; } = 5000;
    public int? FlushIntervalMs { get; init; }

    /// <summary>
    /// --leader-rebalance-delay-ms of every broker: 0 by default, so partitions move to a broker
    /// as soon as it (re)joins, as the scenarios expect; null keeps the broker's default (10 s).
    /// </summary>
    public int? LeaderRebalanceDelayMs { get; init; } = 0;
    public bool ExplicitBrokerIds { get; init; } = true;
    public string LogLevel { get; init; } = "info";
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Maps s3rver's endpoint to the one the brokers are given: a proxy in front of it that injects
    /// faults. Called once, after s3rver started and before the first broker starts.
    /// </summary>
    public Func<string, string>? S3rverEndpointForBrokers { get; init; }
}

/// <summary>One kafscale broker process of a test cluster.</summary>
public sealed class BrokerNode(int index, int kafkaPort, int httpPort, ServerProcess process)
{
    public int Index { get; } = index;
    public int KafkaPort { get; } = kafkaPort;
    public int HttpPort { get; } = httpPort;
    public ServerProcess Process { get; } = process;
    public string Address => $"127.0.0.1:{KafkaPort}";
    public Uri Http => new($"http://127.0.0.1:{HttpPort}/");
    /// <summary>Starts the broker and waits for its Kafka port (by default 30 s; a broker listens only once its partitions are open, which a faulty store can stretch to its 60 s settle bound).</summary>
    public Task StartAsync(TimeSpan? timeout = null) => Process.StartAsync(KafkaPort, timeout);
    public override string ToString() => $"broker#{Index} ({Address})";
}

/// <summary>
/// etcd, an object store and several processes of the built kafscale binary sharing them, each
/// on its own ports and data directory. Everything is removed on dispose; the logs are printed
/// when a test fails (<see cref="DumpLogs"/>).
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    public const string Bucket = "kafscale-cluster";
    private readonly List<BrokerNode> _brokers = [];

    private TestCluster(string root, ClusterOptions options, EtcdServer etcd)
    {
        Root = root;
        Options = options;
        Etcd = etcd;
    }

    public string Root { get; }
    public ClusterOptions Options { get; }
    public EtcdServer Etcd { get; }
    public S3rverServer? S3rver { get; private set; }

    /// <summary>The S3 endpoint the brokers use (s3rver's own, or the proxy's of <see cref="ClusterOptions.S3rverEndpointForBrokers"/>).</summary>
    public string? BrokerS3Endpoint { get; private set; }
    public ConditionalS3TestDouble? S3Double { get; private set; }
    public IReadOnlyList<BrokerNode> Brokers => _brokers;
    public string ObjectsDir => Path.Combine(Root, "objects");

    /// <summary>Every running broker, comma-separated (a client's bootstrap list).</summary>
    public string Bootstrap => string.Join(',', _brokers.Where(b => b.Process.IsServing).Select(b => b.Address));

    public static async Task<TestCluster> StartAsync(int brokers, ClusterOptions? options = null)
    {
        string binary = RepoPaths.Binary;
        if (!File.Exists(binary))
            throw new InvalidOperationException($"the kafscale binary is missing at {binary}: build it with scripts/build.sh or point KAFSCALE_BINARY at it.");
        options ??= new ClusterOptions();
        string root = Path.Combine(Path.GetTempPath(), "kafscale-cluster-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        EtcdServer etcd = await EtcdServer.StartAsync(root);
        var cluster = new TestCluster(root, options, etcd);
        try
        {
            if (options.Storage == StorageKind.S3rver)
            {
                cluster.S3rver = await S3rverServer.StartAsync(root, Bucket);
                cluster.BrokerS3Endpoint = options.S3rverEndpointForBrokers?.Invoke(cluster.S3rver.Endpoint) ?? cluster.S3rver.Endpoint;
            }
            if (options.Storage == StorageKind.ConditionalS3) cluster.S3Double = ConditionalS3TestDouble.Start(Bucket);
            for (int i = 0; i < brokers; i++) await cluster.AddBrokerAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more broker.</summary>
    public async Task<BrokerNode> AddBrokerAsync()
    {
        int index = _brokers.Count;
        var env = new Dictionary<string, string>(Options.Environment);
        if (Options.Storage != StorageKind.SharedDirectory)
        {
            env["KAFSCALE_S3_ACCESS_KEY"] = S3rverServer.AccessKey;
            env["KAFSCALE_S3_SECRET_KEY"] = S3rverServer.SecretKey;
        }
        for (int attempt = 1; ; attempt++)
        {
            // A free port is free when picked, not when the broker binds it: another process's
            // outgoing connection may take it in between. The broker then stops at once saying so,
            // and it starts again on other ports.
            int kafka = ServerProcess.FreePort(), http = ServerProcess.FreePort();
            var process = new ServerProcess($"broker#{index}", RepoPaths.Binary, () => BrokerArguments(index, kafka, http), Path.Combine(Root, $"broker{index}.log"), env);
            var node = new BrokerNode(index, kafka, http, process);
            _brokers.Add(node);
            try
            {
                await node.StartAsync();
                return node;
            }
            catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
                _brokers.Remove(node);
                await process.DisposeAsync();
            }
        }
    }

    private List<string> BrokerArguments(int index, int kafka, int http)
    {
        var args = new List<string>
        {
            "broker",
            "--listen", $"127.0.0.1:{kafka}",
            "--http", $"127.0.0.1:{http}",
            "--advertised-host", "127.0.0.1",
            "--data-dir", Path.Combine(Root, $"broker{index}"),
            "--etcd-endpoints", Etcd.Endpoint,
            "--lease-ttl-ms", Options.LeaseTtlMs.ToString(CultureInfo.InvariantCulture),
            "--log-level", Options.LogLevel,
        };
        if (Options.ExplicitBrokerIds) args.AddRange(["--broker-id", index.ToString(CultureInfo.InvariantCulture)]);
        if (Options.FlushIntervalMs is int flush) args.AddRange(["--flush-interval-ms", flush.ToString(CultureInfo.InvariantCulture)]);
        if (Options.LeaderRebalanceDelayMs is int delay) args.AddRange(["--leader-rebalance-delay-ms", delay.ToString(CultureInfo.InvariantCulture)]);
        switch (Options.Storage)
        {
            case StorageKind.SharedDirectory:
                args.AddRange(["--objects-dir", ObjectsDir]);
                break;
            case StorageKind.S3rver:
                args.AddRange(["--s3-bucket", Bucket, "--s3-endpoint", BrokerS3Endpoint!, "--s3-path-style", "true"]);
                break;
            case StorageKind.ConditionalS3:
                args.AddRange(["--s3-bucket", Bucket, "--s3-endpoint", S3Double!.Endpoint, "--s3-path-style", "true"]);
                break;
        }
        return args;
    }

    public BrokerNode Running(int skip = -1) => _brokers.First(b => b.Process.IsServing && b.Index != skip);

    // ---- the cluster as Kafka clients see it ----

    public static async Task<MetadataResponse> MetadataAsync(BrokerNode via, params string[] topics)
    {
        await using var connection = await RawKafkaConnection.ConnectAsync(via.KafkaPort);
        var request = new MetadataRequest
        {
            Topics = topics.Length == 0 ? null : [.. topics.Select(t => new MetadataRequest.MetadataRequestTopic { Name = t })],
            AllowAutoTopicCreation = false,
        };
        return await connection.SendAsync<MetadataResponse>(ApiKeys.Metadata, 9, request);
    }

    /// <summary>Leader and epoch of every partition of a topic, as one broker reports them (-1 while none).</summary>
    public static async Task<Dictionary<int, (int Leader, int Epoch)>> LeadersAsync(BrokerNode via, string topic)
    {
        var response = await MetadataAsync(via, topic);
        var t = Assert.Single(response.Topics, x => x.Name == topic);
        return t.Partitions.ToDictionary(p => p.PartitionIndex, p => (p.LeaderId, p.LeaderEpoch));
    }

    /// <summary>The broker node whose advertised port a broker id maps to in metadata.</summary>
    public async Task<BrokerNode?> NodeOfAsync(int brokerId, BrokerNode via)
    {
        var response = await MetadataAsync(via);
        var b = response.Brokers.FirstOrDefault(x => x.NodeId == brokerId);
        return b is null ? null : _brokers.FirstOrDefault(n => n.KafkaPort == b.Port);
    }

    public async Task CreateTopicAsync(string topic, int partitions, BrokerNode? via = null)
    {
        await using var connection = await RawKafkaConnection.ConnectAsync((via ?? Running()).KafkaPort);
        var request = new CreateTopicsRequest
        {
            TimeoutMs = 15_000,
            Topics = [new CreateTopicsRequest.CreatableTopic { Name = topic, NumPartitions = partitions, ReplicationFactor = 1 }],
        };
        var response = await connection.SendAsync<CreateTopicsResponse>(ApiKeys.CreateTopics, 5, request);
        var result = Assert.Single(response.Topics);
        Assert.True(result.ErrorCode == 0, $"CreateTopics {topic}: error {result.ErrorCode} {result.ErrorMessage}");
    }

    /// <summary>
    /// Waits until every running broker reports a live leader for every partition, all agreeing,
    /// and returns that view.
    /// </summary>
    public async Task<Dictionary<int, (int Leader, int Epoch)>> WaitForStableLeadersAsync(string topic, TimeSpan timeout, Func<Dictionary<int, (int Leader, int Epoch)>, bool>? also = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        while (true)
        {
            try
            {
                var views = new List<Dictionary<int, (int Leader, int Epoch)>>();
                foreach (var b in _brokers.Where(b => b.Process.IsServing)) views.Add(await LeadersAsync(b, topic));
                var liveIds = new HashSet<int>((await MetadataAsync(Running())).Brokers.Select(b => b.NodeId));
                var first = views[0];
                bool ok = first.Values.All(v => v.Leader >= 0 && liveIds.Contains(v.Leader))
                    && views.All(v => v.Count == first.Count && v.All(kv => first[kv.Key] == kv.Value))
                    && (also is null || also(first));
                last = string.Join(", ", first.OrderBy(kv => kv.Key).Select(kv => $"p{kv.Key}:{kv.Value.Leader}@{kv.Value.Epoch}"));
                if (ok) return first;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or InvalidDataException) { last = e.Message; }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"leaders of {topic} did not settle within {timeout}: {last}");
            await Task.Delay(100);
        }
    }

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try { if (await condition()) return; }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or InvalidDataException or HttpRequestException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out after {timeout} waiting for {what}");
            await Task.Delay(100);
        }
    }

    /// <summary>Writes every broker's log and the tail of etcd's, line by line (a test's output on failure).</summary>
    public void DumpLogs(Action<string> writeLine)
    {
        foreach (var b in _brokers)
        {
            writeLine($"--- {b} log ---");
            writeLine(b.Process.Log(20_000));
        }
        writeLine("--- etcd log (tail) ---");
        writeLine(Etcd.Process.Log(3_000));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var b in _brokers) await b.Process.DisposeAsync();
        await Etcd.DisposeAsync();
        if (S3rver is not null) await S3rver.DisposeAsync();
        if (S3Double is not null) await S3Double.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

