namespace KafScale.Faults;

public enum FaultKind
{
    /// <summary>kill -9 of a broker, restarted after a while.</summary>
    BrokerKill,
    /// <summary>SIGSTOP of a broker for longer than its lease, then SIGCONT.</summary>
    BrokerPause,
    /// <summary>SIGTERM of a broker (an orderly stop), restarted after a while.</summary>
    BrokerTerminate,
    /// <summary>kill -9 of etcd, restarted after a while.</summary>
    EtcdKill,
    /// <summary>s3rver killed, started again after a while.</summary>
    StoreStop,
    /// <summary>s3rver SIGSTOPped (connections hang), then SIGCONT.</summary>
    StorePause,
    /// <summary>The store proxy answers some requests 500/503.</summary>
    StoreServerError,
    /// <summary>The store proxy holds some requests 0.2-2 s.</summary>
    StoreLatency,
    /// <summary>The store proxy resets some connections, before or after s3rver applied the request.</summary>
    StoreReset,
}

/// <summary>
/// One fault: when it began, when the nemesis healed it, when every partition had a live leader
/// again as every broker saw it (-1: not within the wait), and which partitions the target led.
/// </summary>
public sealed record FaultEvent(FaultKind Kind, string Target, long StartMs, long HealMs, long RecoveredMs, IReadOnlyList<(string Topic, int Partition)> Led)
{
    public override string ToString() =>
        $"{Kind} {Target}: {(HealMs - StartMs) / 1000.0:0.0} s, leaders settled " +
        (RecoveredMs < 0 ? "never (within the wait)" : $"{(RecoveredMs - HealMs) / 1000.0:0.0} s after healing") +
        (Led.Count > 0 ? $"; it led {string.Join(',', Led.Select(l => $"{l.Topic}/{l.Partition}"))}" : "");
}

/// <summary>Injects faults into a running cluster one at a time, heals each, waits for leaders to settle and records it.</summary>
public sealed class Nemesis(TestCluster cluster, StoreProxy? proxy, IReadOnlyList<string> topics, Action<string> log)
{
    private readonly List<FaultEvent> _events = [];

    public IReadOnlyList<FaultEvent> Events => _events;

    public static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>How long the brokers' lease lasts; a pause "past the lease" is longer.</summary>
    public int LeaseTtlMs => cluster.Options.LeaseTtlMs;

    public static IReadOnlyList<FaultKind> KindsFor(StorageKind store) => store == StorageKind.S3rver
        ? Enum.GetValues<FaultKind>()
        : [FaultKind.BrokerKill, FaultKind.BrokerPause, FaultKind.BrokerTerminate, FaultKind.EtcdKill];

    /// <summary>The broker that leads the first topic's partition, or a random one.</summary>
    public async Task<BrokerNode> LeaderOfAsync(int partition)
    {
        var leaders = await TestCluster.LeadersAsync(cluster.Running(), topics[0]);
        return cluster.Brokers.FirstOrDefault(b => b.Index == leaders[partition].Leader && b.Process.IsServing) ?? cluster.Running();
    }

    /// <summary>The partitions a broker leads now (broker ids are the nodes' indexes).</summary>
    private async Task<List<(string, int)>> LedByAsync(BrokerNode broker)
    {
        var led = new List<(string, int)>();
        try
        {
            foreach (string topic in topics)
                foreach (var (p, l) in await TestCluster.LeadersAsync(cluster.Running(skip: broker.Index), topic))
                    if (l.Leader == broker.Index) led.Add((topic, p));
        }
        catch (Exception) { } // no view now (a broker or etcd down): the report just names no partitions
        return led;
    }

    /// <summary>
    /// How long a restarted broker may take to listen: it waits for its earlier registration to
    /// expire (the lease TTL), then opens its partitions before it listens, for up to 60 s while
    /// the store answers errors (other faults may be on).
    /// </summary>
    private static readonly TimeSpan RestartTimeout = TimeSpan.FromSeconds(120);

    public async Task BrokerKillAsync(BrokerNode broker, TimeSpan down)
    {
        var led = await LedByAsync(broker);
        long start = Now;
        await broker.Process.KillAsync();
        await Task.Delay(down);
        await broker.StartAsync(RestartTimeout);
        await RecordAsync(FaultKind.BrokerKill, broker.ToString(), start, led);
    }

    public async Task BrokerPauseAsync(BrokerNode broker, TimeSpan paused)
    {
        var led = await LedByAsync(broker);
        long start = Now;
        broker.Process.Pause();
        await Task.Delay(paused);
        broker.Process.Resume();
        await RecordAsync(FaultKind.BrokerPause, broker.ToString(), start, led);
    }

    public async Task BrokerTerminateAsync(BrokerNode broker, TimeSpan down)
    {
        var led = await LedByAsync(broker);
        long start = Now;
        int code = await broker.Process.TerminateAsync();
        if (code != 0) log($"{broker} exited with code {code} after SIGTERM");
        await Task.Delay(down);
        await broker.StartAsync(RestartTimeout);
        await RecordAsync(FaultKind.BrokerTerminate, broker.ToString(), start, led);
    }

    public async Task EtcdKillAsync(TimeSpan down)
    {
        long start = Now;
        await cluster.Etcd.StopAsync();
        await Task.Delay(down);
        await cluster.Etcd.StartAgainAsync();
        await RecordAsync(FaultKind.EtcdKill, "etcd", start, []);
    }

    public async Task StoreStopAsync(TimeSpan down)
    {
        var s3 = cluster.S3rver ?? throw new InvalidOperationException("store faults need s3rver");
        long start = Now;
        await s3.StopAsync();
        await Task.Delay(down);
        await s3.StartAgainAsync();
        await RecordAsync(FaultKind.StoreStop, "s3rver", start, []);
    }

    public async Task StorePauseAsync(TimeSpan paused)
    {
        var s3 = cluster.S3rver ?? throw new InvalidOperationException("store faults need s3rver");
        long start = Now;
        s3.Process.Pause();
        await Task.Delay(paused);
        s3.Process.Resume();
        await RecordAsync(FaultKind.StorePause, "s3rver", start, []);
    }

    public async Task StoreProxyAsync(FaultKind kind, TimeSpan duration)
    {
        var p = proxy ?? throw new InvalidOperationException("store proxy faults need s3rver behind the proxy");
        long injectedBefore = p.Injected;
        long start = Now;
        p.Fault = kind switch
        {
            FaultKind.StoreServerError => StoreFault.ServerError,
            FaultKind.StoreLatency => StoreFault.Latency,
            FaultKind.StoreReset => StoreFault.Reset,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        await Task.Delay(duration);
        p.Fault = StoreFault.None;
        await RecordAsync(kind, $"store proxy ({p.Injected - injectedBefore} requests hit)", start, []);
    }

    /// <summary>One fault of a random kind, target and length (seeded by the caller's Random).</summary>
    public Task RandomAsync(Random random, IReadOnlyList<FaultKind> kinds)
    {
        var kind = kinds[random.Next(kinds.Count)];
        var serving = cluster.Brokers.Where(b => b.Process.IsServing).ToList();
        var broker = serving[random.Next(serving.Count)];
        TimeSpan Seconds(double min, double max) => TimeSpan.FromSeconds(min + (random.NextDouble() * (max - min)));
        double lease = LeaseTtlMs / 1000.0;
        return kind switch
        {
            FaultKind.BrokerKill => BrokerKillAsync(broker, Seconds(0.5, 8)),
            FaultKind.BrokerPause => BrokerPauseAsync(broker, Seconds(lease + 1, lease + 5)),
            FaultKind.BrokerTerminate => BrokerTerminateAsync(broker, Seconds(0.5, 5)),
            FaultKind.EtcdKill => EtcdKillAsync(Seconds(1, 8)),
            FaultKind.StoreStop => StoreStopAsync(Seconds(2, 10)),
            FaultKind.StorePause => StorePauseAsync(Seconds(2, 8)),
            _ => StoreProxyAsync(kind, Seconds(5, 15)),
        };
    }

    private async Task RecordAsync(FaultKind kind, string target, long start, List<(string, int)> led)
    {
        long heal = Now;
        long recovered = await WaitForLeadersAsync(TimeSpan.FromSeconds(60));
        var e = new FaultEvent(kind, target, start, heal, recovered, led);
        _events.Add(e);
        log($"{DateTime.UtcNow:HH:mm:ss} {e}");
    }

    /// <summary>When every topic had a live leader on every partition, all brokers agreeing; -1 if not within the timeout.</summary>
    public async Task<long> WaitForLeadersAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        try
        {
            foreach (string topic in topics)
                await cluster.WaitForStableLeadersAsync(topic, deadline - DateTime.UtcNow);
            return Now;
        }
        catch (Exception e)
        {
            log($"leaders did not settle: {e.Message}");
            return -1;
        }
    }
}
