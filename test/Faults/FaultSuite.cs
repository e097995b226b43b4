namespace KafScale.Faults;

public sealed record SuiteOptions
{
    public StorageKind Store { get; init; } = StorageKind.SharedDirectory;
    public int LeaseTtlMs { get; init; } = 5000;
    public int Partitions { get; init; } = 6;
    /// <summary>Records per second of each producer.</summary>
    public double Rate { get; init; } = 100;
    public int Seed { get; init; } = 1;
    public Action<string> Log { get; init; } = _ => { };
    /// <summary>Where to copy the brokers', etcd's and s3rver's logs when the checker fails (null: not kept).</summary>
    public string? KeepLogsIn { get; init; }
}

/// <summary>
/// etcd, a store and 3 brokers; two idempotent producers on one topic and a plain producer on
/// another, a group member reading both; the nemesis's schedule runs while they work; then the
/// producers flush, both topics are read whole through two different brokers and the checker
/// compares everything.
/// </summary>
public static class FaultSuite
{
    public const string IdempotentTopic = "faults-idempotent";
    public const string PlainTopic = "faults-plain";

    public static async Task<CheckReport> RunAsync(SuiteOptions options, Func<Nemesis, TestCluster, Task> schedule)
    {
        var log = options.Log;
        await using var proxy = options.Store == StorageKind.S3rver ? new StoreProxy(options.Seed) : null;
        var clusterOptions = new ClusterOptions
        {
            Storage = options.Store,
            LeaseTtlMs = options.LeaseTtlMs,
            // The broker's default rebalance delay: the kill -9 bound is judged as users run it.
            LeaderRebalanceDelayMs = null,
            S3rverEndpointForBrokers = proxy is null ? null : new Func<string, string>(proxy.Start),
        };
        var cluster = await TestCluster.StartAsync(3, clusterOptions);
        bool keep = false;
        try
        {
            string[] topics = [IdempotentTopic, PlainTopic];
            foreach (string t in topics) await cluster.CreateTopicAsync(t, options.Partitions);
            foreach (string t in topics) await cluster.WaitForStableLeadersAsync(t, TimeSpan.FromSeconds(30));
            log($"cluster up: etcd {cluster.Etcd.Endpoint}, store {options.Store}, brokers {cluster.Bootstrap}, lease TTL {options.LeaseTtlMs} ms");

            string bootstrap = cluster.Bootstrap;
            await using var idemA = ProducerWorkload.Start(bootstrap, "idemA", IdempotentTopic, options.Partitions, options.Rate, idempotent: true);
            await using var idemB = ProducerWorkload.Start(bootstrap, "idemB", IdempotentTopic, options.Partitions, options.Rate, idempotent: true);
            await using var plain = ProducerWorkload.Start(bootstrap, "plain", PlainTopic, options.Partitions, options.Rate, idempotent: false);
            ProducerWorkload[] producers = [idemA, idemB, plain];
            await using var group = GroupWorkload.Start(bootstrap, "faults-group", topics);
            await WaitForAcksAsync(producers, 100, TimeSpan.FromSeconds(60));
            log($"{DateTime.UtcNow:HH:mm:ss} workloads running; faults start");

            var nemesis = new Nemesis(cluster, proxy, topics, log);
            await schedule(nemesis, cluster);

            // Every partition writable again before the producers stop: what they still hold gets written.
            long healed = Nemesis.Now;
            await nemesis.WaitForLeadersAsync(TimeSpan.FromSeconds(60));
            bool allWritable = await WaitForAcksAfterAsync(producers, healed, options.Partitions, TimeSpan.FromSeconds(60), log);
            // All at once: each may take up to its flush timeout when a partition stays unwritable.
            // One that cannot flush is reported, and the checker still runs on what was acknowledged.
            var stalled = new System.Collections.Concurrent.ConcurrentBag<string>();
            await Task.WhenAll(producers.Select(async p =>
            {
                try { await p.StopAsync(); }
                catch (TimeoutException e)
                {
                    stalled.Add($"{p.Name}: did not finish flushing (records still unacknowledged): {e.Message.Split('\n')[0]}");
                    log($"producer {p.Name} did not finish flushing (records still unacknowledged)");
                }
            }));
            log($"{DateTime.UtcNow:HH:mm:ss} producers flushed: {string.Join(", ", producers.Select(p => $"{p.Name} {p.Produced} produced, {p.AckCount} acked"))}");
            try { await group.StopAsync(); }
            catch (TimeoutException e) { log($"the group member did not stop: {e.Message.Split('\n')[0]}"); }

            var reads = new List<TopicRead>();
            foreach (string t in topics)
            {
                reads.Add(await TopicRead.ReadAsync($"read via {cluster.Brokers[0]}", cluster.Brokers[0].Address, t, options.Partitions));
                reads.Add(await TopicRead.ReadAsync($"read via {cluster.Brokers[2]}", cluster.Brokers[2].Address, t, options.Partitions));
            }
            var histories = producers.Select(p => new ProducerHistory(p.Name, p.Topic, p.Idempotent, p.Produced, p.Acks, p.Errors, p.FatalErrors)).ToList();
            var report = Checker.Check(histories, reads, group.Reads, nemesis.Events, options.LeaseTtlMs);
            report.Stalled.AddRange(stalled.Order(StringComparer.Ordinal));
            // A missed kill -9 bound, or a partition still taking no writes a minute after the
            // last fault, keeps the logs too: they hold the timeline to explain it.
            keep = !report.Passed || !allWritable || (report.KillRecoveries.Count > 0 && report.LongestKillRecoveryMs > report.KillBoundMs);
            return report;
        }
        catch
        {
            keep = true;
            throw;
        }
        finally
        {
            // The short form prints the logs with its failure; the long form keeps them in a directory.
            if (keep && options.KeepLogsIn is { } dir) CopyLogs(cluster, dir, log);
            else if (keep) cluster.DumpLogs(log);
            await cluster.DisposeAsync();
        }
    }

    private static async Task WaitForAcksAsync(ProducerWorkload[] producers, int each, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (producers.Any(p => p.AckCount < each))
        {
            if (producers.FirstOrDefault(p => p.HasExited) is { } gone) throw new InvalidOperationException($"producer {gone.Name} exited\n{gone.Stderr}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"acks within {timeout}: {string.Join(", ", producers.Select(p => $"{p.Name} {p.AckCount}"))}\n{string.Join('\n', producers.Select(p => p.Stderr))}");
            await Task.Delay(100);
        }
    }

    /// <summary>Waits until every partition of every producer took a record produced after a time.</summary>
    /// <summary>False, with a log line naming them, when some partition took no write within the timeout.</summary>
    private static async Task<bool> WaitForAcksAfterAsync(ProducerWorkload[] producers, long sinceMs, int partitions, TimeSpan timeout, Action<string> log)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var missing = producers
                .Select(p => (p.Name, p.Topic, Missing: Enumerable.Range(0, partitions).Except(p.Acks.Where(a => a.SentMs >= sinceMs).Select(a => a.Partition)).ToList()))
                .Where(x => x.Missing.Count > 0).ToList();
            if (missing.Count == 0) return true;
            if (DateTime.UtcNow > deadline)
            {
                log($"not every partition took a write within {timeout} of the last fault: {string.Join("; ", missing.Select(x => $"{x.Name} ({string.Join(",", x.Missing.Select(m => $"{x.Topic}/{m}"))})"))}");
                return false;
            }
            await Task.Delay(200);
        }
    }

    private static void CopyLogs(TestCluster cluster, string dir, Action<string> log)
    {
        Directory.CreateDirectory(dir);
        foreach (string file in Directory.EnumerateFiles(cluster.Root, "*.log"))
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)), overwrite: true);
        // The shared directory store too: its segments are what a failed check is about.
        if (Directory.Exists(cluster.ObjectsDir))
            Directories.CopyTree(cluster.ObjectsDir, Path.Combine(dir, "objects"));
        log($"logs kept in {dir}");
    }
}
