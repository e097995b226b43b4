using KafScale.Broker.Clustering;
using KafScale.Broker.Log;
using KafScale.Groups;
using KafScale.Metadata.Embedded;
using KafScale.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests;

/// <summary>
/// Several brokers in one process sharing one metadata store and one directory object store,
/// each a full <see cref="ClusterNode"/> with its own lease (docs/architecture.md, "Leadership and fencing").
/// </summary>
internal sealed class InProcessCluster : IAsyncDisposable
{
    private readonly List<(ClusterNode Node, GroupCoordinatorService Groups, LocalDirectoryObjectStore Store)> _nodes = [];

    private InProcessCluster(string root, EmbeddedMetadataStore meta)
    {
        Root = root;
        Metadata = meta;
    }

    public string Root { get; }
    public EmbeddedMetadataStore Metadata { get; }
    public IReadOnlyList<ClusterNode> Nodes => [.. _nodes.Select(n => n.Node)];

    public static async Task<InProcessCluster> StartAsync(int brokers)
    {
        string root = Path.Combine(Path.GetTempPath(), "kafscale-broker-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        var meta = await EmbeddedMetadataStore.OpenAsync(Path.Combine(root, "metadata"), CancellationToken.None);
        var cluster = new InProcessCluster(root, meta);
        for (int i = 0; i < brokers; i++) await cluster.AddAsync();
        return cluster;
    }

    public async Task<ClusterNode> AddAsync()
    {
        int id = _nodes.Count;
        var config = new BrokerConfig { BrokerId = id, AdvertisedPort = 9000 + id, FlushIntervalMs = 0, SegmentBytes = 1 << 20, LeaseTtlMs = 30_000, LeaderRebalanceDelayMs = 0, DataDir = Path.Combine(Root, $"broker{id}") };
        var runtime = new LogRuntime(config, LogHost.NewMetrics(), NullLogger.Instance);
        var store = new LocalDirectoryObjectStore(Path.Combine(Root, "objects"));
        var storage = new PartitionStorage(store, config.Namespace, runtime, NullLogger.Instance);
        var groups = new GroupCoordinatorService(Metadata);
        var node = await ClusterNode.StartAsync(Metadata, storage, runtime, config, groups, "in-process", NullLoggerFactory.Instance, CancellationToken.None);
        _nodes.Add((node, groups, store));
        return node;
    }

    /// <summary>Graceful leave of one node (handoff), then its disposal.</summary>
    public async Task StopAsync(ClusterNode node)
    {
        var entry = _nodes.Single(n => n.Node == node);
        await node.StopAsync(TimeSpan.FromSeconds(10));
        await node.DisposeAsync();
        await entry.Groups.DisposeAsync();
    }

    /// <summary>Waits until every partition of the topic is open on exactly the broker its leader key names.</summary>
    public async Task<Dictionary<int, LeaderInfo>> SettledAsync(string topic, IEnumerable<ClusterNode>? among = null)
    {
        var nodes = (among ?? Nodes).ToList();
        var deadline = DateTime.UtcNow + TestExtensions.Patience;
        while (true)
        {
            var leaders = new Dictionary<int, LeaderInfo>();
            bool ok = nodes[0].Logs.TryGetTopic(topic, out var t0);
            for (int p = 0; ok && p < t0!.PartitionCount; p++)
            {
                var leader = nodes[0].Leadership.LeaderOf(topic, p);
                ok = leader is not null && nodes.Any(n => n.BrokerId == leader.BrokerId);
                foreach (var n in nodes)
                {
                    if (!ok) break;
                    ok = n.Logs.TryGetTopic(topic, out var t) && (t.Logs[p] is not null) == (n.BrokerId == leader!.BrokerId)
                        && n.Leadership.LeaderOf(topic, p) == leader;
                }
                if (ok) leaders[p] = leader!;
            }
            if (ok) return leaders;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"leadership of {topic} did not settle");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (node, groups, store) in _nodes)
        {
            await node.DisposeAsync();
            await groups.DisposeAsync();
            await store.DisposeAsync();
        }
        await Metadata.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

public class LeadershipTests
{
    [Fact]
    public void Rendezvous_moves_only_the_partitions_the_new_broker_wins()
    {
        int[] two = [0, 1], three = [0, 1, 2];
        int moved = 0;
        for (int p = 0; p < 300; p++)
        {
            int before = Rendezvous.Pick("orders", p, two), after = Rendezvous.Pick("orders", p, three);
            if (before == after) continue;
            Assert.Equal(2, after);
            moved++;
        }
        Assert.InRange(moved, 70, 130);
        Assert.Equal(Rendezvous.Pick("orders", 7, three), Rendezvous.Pick("orders", 7, [2, 0, 1]));
        Assert.Equal(-1, Rendezvous.Pick("orders", 0, []));
    }

    [Fact]
    public async Task Brokers_split_the_partitions_and_each_opens_only_those_it_leads()
    {
        await using var cluster = await InProcessCluster.StartAsync(3);
        var a = cluster.Nodes[0];

        Assert.Equal(0, (await a.Logs.CreateTopicAsync("orders", 12, new Dictionary<string, string?>(), false, CancellationToken.None)).ErrorCode);
        var leaders = await cluster.SettledAsync("orders");

        Assert.Equal(3, leaders.Values.Select(l => l.BrokerId).Distinct().Count());
        int[] live = [0, 1, 2];
        Assert.All(leaders, kv => Assert.Equal(Rendezvous.Pick("orders", kv.Key, live), kv.Value.BrokerId));
        Assert.All(leaders.Values, l => Assert.Equal(1, l.Epoch));
        foreach (var (p, l) in leaders)
        {
            var key = await cluster.Metadata.GetAsync(ClusterKeys.Leader("orders", p), CancellationToken.None);
            Assert.NotNull(key);
            Assert.Equal(cluster.Nodes.Single(n => n.BrokerId == l.BrokerId).Registry.LeaseId, key.Lease);
        }
    }

    [Fact]
    public async Task A_broker_leaving_gracefully_hands_its_partitions_over_with_their_data_and_a_new_epoch()
    {
        await using var cluster = await InProcessCluster.StartAsync(2);
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);
        await a.Logs.CreateTopicAsync("orders", 6, new Dictionary<string, string?>(), false, CancellationToken.None);
        var before = await cluster.SettledAsync("orders");
        int p = before.First(kv => kv.Value.BrokerId == b.BrokerId).Key;
        b.Logs.TryGetTopic("orders", out var onB);
        var log = onB.Logs[p]!;
        Assert.Equal(0, await log.AppendBlob(Batches.Make(3, "kept")).DurableAsync());
        // Pending when the handoff starts: flushed and acknowledged, not dropped.
        var pending = log.AppendBlob(Batches.Make(2, "in-flight"));

        await cluster.StopAsync(b);

        Assert.Equal(0, await pending.DurableAsync());
        var after = await cluster.SettledAsync("orders", [a]);
        Assert.All(after.Values, l => Assert.Equal(a.BrokerId, l.BrokerId));
        Assert.Equal(before[p].Epoch + 1, after[p].Epoch);
        a.Logs.TryGetTopic("orders", out var onA);
        Assert.Equal(5, onA.Logs[p]!.HighWatermark);
        Assert.Equal(after[p].Epoch, onA.Logs[p]!.LeaderEpoch);
        var next = onA.Logs[p]!.AppendBlob(Batches.Make(1, "after"));
        Assert.Equal(5, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
    }

    [Fact]
    public async Task A_joining_broker_takes_over_only_what_it_wins_and_each_of_those_moves_once()
    {
        await using var cluster = await InProcessCluster.StartAsync(2);
        await cluster.Nodes[0].Logs.CreateTopicAsync("orders", 24, new Dictionary<string, string?>(), false, CancellationToken.None);
        var before = await cluster.SettledAsync("orders");

        var c = await cluster.AddAsync();
        var after = await cluster.SettledAsync("orders");

        foreach (var (p, l) in after)
        {
            if (l.BrokerId == before[p].BrokerId) Assert.Equal(before[p].Epoch, l.Epoch);
            else
            {
                Assert.Equal(c.BrokerId, l.BrokerId);
                Assert.Equal(before[p].Epoch + 1, l.Epoch);
            }
        }
        Assert.Contains(after.Values, l => l.BrokerId == c.BrokerId);
    }

    [Fact]
    public async Task Coordinator_shards_are_split_between_brokers_and_every_broker_names_the_same_leader()
    {
        await using var cluster = await InProcessCluster.StartAsync(2);
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);
        var deadline = DateTime.UtcNow + TestExtensions.Patience;
        while (Enumerable.Range(0, a.Groups.ShardCount).Any(s => a.Groups.Leads(s) == b.Groups.Leads(s) || a.Leadership.CoordinatorOf(s) != b.Leadership.CoordinatorOf(s)))
        {
            Assert.True(DateTime.UtcNow < deadline, "coordinator shards did not settle");
            await Task.Delay(20);
        }
        for (int s = 0; s < a.Groups.ShardCount; s++)
            Assert.Equal(a.Groups.Leads(s) ? a.BrokerId : b.BrokerId, a.Leadership.CoordinatorOf(s));
        Assert.InRange(Enumerable.Range(0, a.Groups.ShardCount).Count(a.Groups.Leads), 16, 48);
    }

    [Fact]
    public async Task A_topic_created_on_one_broker_and_deleted_on_another_is_followed_by_all()
    {
        await using var cluster = await InProcessCluster.StartAsync(2);
        var (a, b) = (cluster.Nodes[0], cluster.Nodes[1]);
        await a.Logs.CreateTopicAsync("orders", 4, new Dictionary<string, string?>(), false, CancellationToken.None);
        await cluster.SettledAsync("orders");
        Assert.True(b.Logs.TryGetTopic("orders", out _));

        Assert.Equal(0, (await b.Logs.SetConfigsAsync("orders", new Dictionary<string, string?> { [TopicConfig.RetentionMs] = "1234" }, false, CancellationToken.None)).ErrorCode);
        Assert.Equal(0, (await b.Logs.CreatePartitionsAsync("orders", 6, false, CancellationToken.None)).ErrorCode);
        await cluster.SettledAsync("orders");
        a.Logs.TryGetTopic("orders", out var onA);
        Assert.Equal(6, onA.PartitionCount);
        Assert.Equal(1234, onA.Config.RetentionMsValue);

        Assert.Equal(0, (await b.Logs.DeleteTopicAsync("orders", CancellationToken.None)).ErrorCode);
        var deadline = DateTime.UtcNow + TestExtensions.Patience;
        while (a.Logs.TryGetTopic("orders", out _)) { Assert.True(DateTime.UtcNow < deadline); await Task.Delay(20); }
        Assert.Empty((await cluster.Metadata.GetPrefixAsync(ClusterKeys.LeadersOf("orders"), CancellationToken.None)).Kvs);
    }
}
