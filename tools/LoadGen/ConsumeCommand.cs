using System.Diagnostics;
using KafScale.Client;
using KafScale.Protocol.Messages;
using KafScale.Records;

namespace KafScale.LoadGen;

/// <summary>
/// <c>loadgen consume</c>: reads a topic and reports throughput, end-to-end latency and, when
/// asked, another process's CPU. By default one consumer reads from the start offsets to the end
/// offsets the topic had when the command started (or until the duration ends). With
/// <c>--from latest</c> it tails the topic for the duration instead. <c>--groups G --consumers C</c>
/// run G independent sets of C consumers in this one process; each set reads every partition,
/// dealt round-robin to its consumers (a fixed assignment, no JoinGroup), each consumer with its own
/// client and connections, and with <c>--group</c> each consumer commits its positions to its set's
/// group every <c>--commit-interval</c>. Records are counted from batch headers and each batch's CRC
/// is checked, as Kafka's Java consumer does; values are not decoded. End-to-end latency is the
/// delivery time less the batch's max timestamp, which <c>loadgen produce</c> sets to the send time
/// (milliseconds, the same clock when both run on one machine).
/// </summary>
internal static class ConsumeCommand
{
    public const string Usage = """
        loadgen consume --bootstrap HOST:PORT --topic T [options]
          --duration D              stop after this long even if not at the end    [60s]
          --warmup D                unmeasured time first: counts, latency, CPU    [0s]
          --from earliest|latest    start offsets; latest tails the topic          [earliest]
          --follow true|false       keep reading past the end offsets seen at the
                                    start until the duration ends                  [true with --from latest]
          --groups G                independent sets of consumers, each reading
                                    every partition                                [1]
          --consumers C             consumers per set, partitions dealt round-robin,
                                    each with its own client and connections       [1]
          --group NAME              commit positions to this group (NAME-1 ...
                                    NAME-G with --groups G > 1); no JoinGroup      []
          --commit-interval D       how often each consumer commits                [1s]
          --fetch-sessions on|off   KIP-227 incremental fetch sessions             [off]
          --fetch-rate N            Fetch requests per second per connection
                                    (0 = each as soon as the last is answered)     [0]
          --cpu-pid PID             report this process's CPU (user+sys) over the
                                    measured time, in cores                        []
          --connections C           connections per leader broker per consumer     [1]
          --max-bytes B             Fetch max_bytes                                [64m]
          --partition-max-bytes B   Fetch partition_max_bytes                      [8m]
          --max-wait D              Fetch max_wait_ms                              [100ms]
          --verify-crc true|false   check each batch's CRC-32C                     [true]
        """ + "\n" + SecurityArguments.Usage;

    private sealed class Settings
    {
        public required string Bootstrap { get; init; }
        public required string Topic { get; init; }
        public TimeSpan Duration { get; init; }
        public TimeSpan Warmup { get; init; }
        public bool FromLatest { get; init; }
        public bool Follow { get; init; }
        public int Groups { get; init; }
        public int Consumers { get; init; }
        public string? Group { get; init; }
        public TimeSpan CommitInterval { get; init; }
        public bool FetchSessions { get; init; }
        public double FetchRate { get; init; }
        public int? CpuPid { get; init; }
        public int Connections { get; init; }
        public int MaxBytes { get; init; }
        public int PartitionMaxBytes { get; init; }
        public int MaxWaitMs { get; init; }
        public bool VerifyCrc { get; init; }
        public required KafkaSecurityOptions Security { get; init; }

        public string? GroupName(int set) => Group is null ? null : Groups == 1 ? Group : $"{Group}-{set + 1}";
    }

    /// <summary>Counters of one set of consumers (one group).</summary>
    private sealed class GroupTotals
    {
        public long Bytes;
        public long Records;
        public long AllRecords;
        public long Commits;
    }

    /// <summary>Counters of the whole run and its clock.</summary>
    private sealed class RunState
    {
        public long Fetches;
        public long CrcErrors;
        public long FullFetches;
        public long IncrementalFetches;
        public long SessionResets;
        public string? Error;

        /// <summary>When counting starts: after the warmup that follows <see cref="Begin"/>.</summary>
        public long WindowStart { get; private set; } = long.MaxValue;
        public bool Measuring => Stopwatch.GetTimestamp() >= WindowStart;

        public void Begin(TimeSpan warmup) => WindowStart = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);

        public void Fail(string message) => Interlocked.CompareExchange(ref Error, message, null);
    }

    public static async Task<int> RunAsync(Arguments args, CancellationToken cancellationToken)
    {
        string from = args.String("from") ?? "earliest";
        if (from is not ("earliest" or "latest"))
        {
            throw new UsageException($"--from '{from}' is not earliest or latest");
        }

        string sessions = args.String("fetch-sessions") ?? "off";
        if (sessions is not ("on" or "off"))
        {
            throw new UsageException($"--fetch-sessions '{sessions}' is not on or off");
        }

        string? cpuPid = args.String("cpu-pid");
        var settings = new Settings
        {
            Bootstrap = args.Required("bootstrap"),
            Topic = args.Required("topic"),
            Duration = args.Duration("duration", TimeSpan.FromSeconds(60)),
            Warmup = args.Duration("warmup", TimeSpan.Zero),
            FromLatest = from == "latest",
            Follow = args.Bool("follow", from == "latest"),
            Groups = args.Int("groups", 1),
            Consumers = args.Int("consumers", 1),
            Group = args.String("group"),
            CommitInterval = args.Duration("commit-interval", TimeSpan.FromSeconds(1)),
            FetchSessions = sessions == "on",
            FetchRate = args.Double("fetch-rate", 0),
            CpuPid = cpuPid is null ? null : int.TryParse(cpuPid, out int pid) && pid > 0 ? pid : throw new UsageException($"--cpu-pid '{cpuPid}' is not a process id"),
            Connections = args.Int("connections", 1),
            MaxBytes = args.Bytes("max-bytes", 64 * 1024 * 1024),
            PartitionMaxBytes = args.Bytes("partition-max-bytes", 8 * 1024 * 1024),
            MaxWaitMs = (int)args.Duration("max-wait", TimeSpan.FromMilliseconds(100)).TotalMilliseconds,
            VerifyCrc = args.Bool("verify-crc", true),
            Security = SecurityArguments.Read(args),
        };
        args.ThrowIfUnread();
        if (settings.Connections < 1 || settings.Groups < 1 || settings.Consumers < 1)
        {
            throw new UsageException("--connections, --groups and --consumers must be at least 1");
        }

        if (settings.FetchRate < 0 || settings.CommitInterval <= TimeSpan.Zero)
        {
            throw new UsageException("--fetch-rate must not be negative and --commit-interval must be positive");
        }

        if (settings.FromLatest && !settings.Follow)
        {
            throw new UsageException("--from latest reads nothing without --follow true");
        }

        if (settings.Warmup >= settings.Duration)
        {
            throw new UsageException("--warmup must be shorter than --duration");
        }

        var options = ClientOptions(settings);
        await using KafkaClient client = await KafkaClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        TopicMetadata topic = await client.GetTopicAsync(settings.Topic, refresh: true, cancellationToken).ConfigureAwait(false);
        int[] partitions = [.. topic.Partitions.Select(p => p.Partition)];

        var clients = new List<KafkaClient>();
        var connections = new List<KafkaConnection>();
        var fetchLoops = new List<Func<Task>>();
        var commitLoops = new List<Func<Task>>();
        var latencies = new List<LatencyRecorder>();
        var cursors = new List<PartitionCursor>();
        var groups = new GroupTotals[settings.Groups];
        var run = new RunState();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stopCommits = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
        try
        {
            for (int g = 0; g < settings.Groups; g++)
            {
                GroupTotals totals = groups[g] = new GroupTotals();
                string? groupName = settings.GroupName(g);
                for (int c = 0; c < Math.Min(settings.Consumers, partitions.Length); c++)
                {
                    // A consumer of its own: its own client (metadata, the coordinator's connection) besides the fetch connections.
                    KafkaClient consumerClient = settings.Consumers == 1 && settings.Groups == 1
                        ? client
                        : await KafkaClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
                    if (consumerClient != client)
                    {
                        clients.Add(consumerClient);
                    }

                    int consumer = c;
                    // Positions are set once every consumer is connected (below).
                    PartitionCursor[] assigned = [.. partitions.Where((_, i) => i % settings.Consumers == consumer).Select(p => new PartitionCursor(p, 0, 0))];
                    cursors.AddRange(assigned);
                    foreach (var leaderGroup in assigned.GroupBy(p => topic.Partitions[p.Partition].LeaderId))
                    {
                        PartitionCursor[] leaderPartitions = [.. leaderGroup];
                        int count = Math.Min(settings.Connections, leaderPartitions.Length);
                        for (int k = 0; k < count; k++)
                        {
                            int slot = k;
                            PartitionCursor[] mine = [.. leaderPartitions.Where((_, i) => i % count == slot)];
                            KafkaConnection connection = await consumerClient.OpenConnectionAsync(leaderGroup.Key, cancellationToken).ConfigureAwait(false);
                            connections.Add(connection);
                            var latency = new LatencyRecorder();
                            latencies.Add(latency);
                            fetchLoops.Add(() => FetchLoopAsync(connection, topic, mine, settings, totals, latency, run, deadline.Token));
                        }
                    }

                    if (groupName is not null)
                    {
                        commitLoops.Add(() => CommitLoopAsync(consumerClient, settings.Topic, groupName, assigned, settings.CommitInterval, totals, run, stopCommits.Token));
                    }
                }
            }

            // Listed after the connections are up, so that a tail starts at the data of the measured run, not behind it.
            IReadOnlyDictionary<int, ListedOffset> starts = await client.ListOffsetsAsync(settings.Topic, partitions,
                settings.FromLatest ? OffsetSpec.Latest : OffsetSpec.Earliest, cancellationToken).ConfigureAwait(false);
            IReadOnlyDictionary<int, ListedOffset> ends = settings.FromLatest
                ? starts
                : await client.ListOffsetsAsync(settings.Topic, partitions, OffsetSpec.Latest, cancellationToken).ConfigureAwait(false);
            foreach (PartitionCursor cursor in cursors)
            {
                cursor.Position = starts[cursor.Partition].Offset;
                cursor.End = settings.Follow ? long.MaxValue : ends[cursor.Partition].Offset;
            }

            long expected = partitions.Sum(p => Math.Max(0, ends[p].Offset - starts[p].Offset)) * settings.Groups;
            run.Begin(settings.Warmup);
            deadline.CancelAfter(settings.Duration);
            Task<TimeSpan?> cpuStart = settings.CpuPid is int cpuPidValue
                ? SampleCpuAtAsync(cpuPidValue, run.WindowStart, deadline.Token)
                : Task.FromResult<TimeSpan?>(null);
            Task[] committing = [.. commitLoops.Select(loop => Task.Run(loop, CancellationToken.None))];
            await Task.WhenAll(fetchLoops.Select(loop => Task.Run(loop, CancellationToken.None))).ConfigureAwait(false);
            long ended = Stopwatch.GetTimestamp();
            TimeSpan? cpuEnd = settings.CpuPid is int endPid ? ProcessCpu(endPid) : null;
            await stopCommits.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(committing).ConfigureAwait(false);
            TimeSpan? cpuBegin = await cpuStart.ConfigureAwait(false);
            double seconds = Math.Max((ended - run.WindowStart) / (double)Stopwatch.Frequency, 1e-6);
            return Report(settings, topic, partitions.Length, connections.Count, expected, groups, latencies, run, seconds,
                cpuBegin is { } b && cpuEnd is { } e ? (e - b).TotalSeconds : null);
        }
        finally
        {
            foreach (KafkaConnection connection in connections)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            foreach (KafkaClient consumerClient in clients)
            {
                await consumerClient.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static KafkaClientOptions ClientOptions(Settings settings) => new()
    {
        BootstrapServers = settings.Bootstrap,
        Connection = new KafkaConnectionOptions { MaxResponseBytes = Math.Max(settings.MaxBytes, settings.PartitionMaxBytes) + (1 << 20), Security = settings.Security },
    };

    private static int Report(Settings settings, TopicMetadata topic, int partitions, int connections, long expected, GroupTotals[] groups,
        List<LatencyRecorder> latencies, RunState run, double seconds, double? cpuSeconds)
    {
        long records = groups.Sum(g => Interlocked.Read(ref g.Records));
        long bytes = groups.Sum(g => Interlocked.Read(ref g.Bytes));
        long allRecords = groups.Sum(g => Interlocked.Read(ref g.AllRecords));
        bool complete = run.Error is null && (settings.Follow || allRecords >= expected);
        double mib = bytes / (1024.0 * 1024);
        LatencySummary latency = LatencyRecorder.Summarize(latencies);
        var report = new Report("consume")
        {
            ["topic"] = topic.Name,
            ["partitions"] = partitions,
            ["groups"] = settings.Groups,
            ["consumers_per_group"] = settings.Consumers,
            ["connections"] = connections,
            ["from"] = settings.FromLatest ? "latest" : "earliest",
            ["follow"] = settings.Follow,
            ["fetch_sessions"] = settings.FetchSessions ? "on" : "off",
            ["expected_records"] = settings.Follow ? 0L : expected,
            ["records"] = records,
            ["bytes"] = bytes,
            ["fetches"] = Interlocked.Read(ref run.Fetches),
            ["fetches_per_s"] = Math.Round(Interlocked.Read(ref run.Fetches) / seconds, 1),
            ["full_fetches"] = Interlocked.Read(ref run.FullFetches),
            ["incremental_fetches"] = Interlocked.Read(ref run.IncrementalFetches),
            ["session_resets"] = Interlocked.Read(ref run.SessionResets),
            ["crc_errors"] = Interlocked.Read(ref run.CrcErrors),
            ["complete"] = complete,
            ["elapsed_s"] = Math.Round(seconds, 3),
            ["mib_per_s"] = Math.Round(mib / seconds, 2),
            ["records_per_s"] = Math.Round(records / seconds, 0),
            ["group_records_per_s"] = groups.Select(g => Math.Round(Interlocked.Read(ref g.Records) / seconds, 0)).ToArray(),
            ["commits"] = groups.Sum(g => Interlocked.Read(ref g.Commits)),
            ["commits_per_s"] = Math.Round(groups.Sum(g => Interlocked.Read(ref g.Commits)) / seconds, 1),
            ["latency_samples"] = latency.Count,
            ["latency_p50_ms"] = Math.Round(latency.P50Ms, 3),
            ["latency_p99_ms"] = Math.Round(latency.P99Ms, 3),
            ["latency_max_ms"] = Math.Round(latency.MaxMs, 3),
        };
        if (settings.Group is not null)
        {
            report["group"] = settings.Group;
        }

        if (cpuSeconds is double cpu)
        {
            report["cpu_pid"] = settings.CpuPid!.Value;
            report["cpu_cores"] = Math.Round(cpu / seconds, 3);
        }

        if (run.Error is { } error)
        {
            report["error"] = error;
        }

        string shape = settings.Groups > 1 || settings.Consumers > 1 ? $", {settings.Groups} x {settings.Consumers} consumers" : "";
        string tail = latency.Count > 0 ? $", end-to-end p50 {latency.P50Ms:0.0} ms, p99 {latency.P99Ms:0.0} ms" : "";
        string cpuText = cpuSeconds is double c ? $", pid {settings.CpuPid} {c / seconds:0.00} cores" : "";
        string of = settings.Follow ? "" : $" of {expected:#,0}";
        report.Write(
            $"consume {topic.Name} ({partitions} partitions{shape}): {records:#,0}{of} records, {mib:0.0} MiB of batches in {seconds:0.00} s: " +
            $"{mib / seconds:0.0} MiB/s, {records / seconds:#,0} records/s ({run.Fetches:#,0} fetches, {run.CrcErrors} CRC errors){tail}{cpuText}" +
            $"{(complete ? "" : ", INCOMPLETE")}");
        return complete && run.CrcErrors == 0 ? 0 : 1;
    }

    private static async Task FetchLoopAsync(KafkaConnection connection, TopicMetadata topic, PartitionCursor[] partitions, Settings settings,
        GroupTotals totals, LatencyRecorder latency, RunState run, CancellationToken cancellationToken)
    {
        short version = connection.GetVersion(FetchRequest.ApiKey);
        var fetchTopic = new FetchRequest.FetchTopic { Topic = topic.Name, TopicId = topic.TopicId };
        var request = new FetchRequest { ReplicaId = -1, MaxWaitMs = settings.MaxWaitMs, MinBytes = 1, MaxBytes = settings.MaxBytes, Topics = [fetchTopic] };
        var session = new FetchSession(settings.FetchSessions);
        var byIndex = partitions.ToDictionary(p => p.Partition);
        long interval = settings.FetchRate > 0 ? (long)(Stopwatch.Frequency / settings.FetchRate) : 0;
        long due = Stopwatch.GetTimestamp();
        try
        {
            while (partitions.Any(p => !p.Done))
            {
                if (interval > 0)
                {
                    long wait = due - Stopwatch.GetTimestamp();
                    if (wait > 0)
                    {
                        await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), cancellationToken).ConfigureAwait(false);
                    }

                    // A late answer does not earn a burst of catch-up requests.
                    due = Math.Max(due + interval, Stopwatch.GetTimestamp() - interval);
                }

                bool incremental = session.Build(request, fetchTopic, partitions, settings.PartitionMaxBytes);
                using FetchResponseHandle handle = await connection.FetchAsync(request, version, cancellationToken).ConfigureAwait(false);
                bool measuring = run.Measuring;
                if (measuring)
                {
                    Interlocked.Increment(ref run.Fetches);
                    Interlocked.Increment(ref incremental ? ref run.IncrementalFetches : ref run.FullFetches);
                }

                bool accepted = session.Accept(handle.Response, out bool reset);
                if (reset && measuring)
                {
                    Interlocked.Increment(ref run.SessionResets);
                }
                if (!accepted)
                {
                    continue;
                }

                KafkaException.ThrowIfError(handle.Response.ErrorCode, $"Fetch {topic.Name}");
                long nowUnixTicks = DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks;
                foreach (var t in handle.Response.Responses)
                {
                    foreach (var data in t.Partitions)
                    {
                        KafkaException.ThrowIfError(data.ErrorCode, $"Fetch {topic.Name}-{data.PartitionIndex}");
                        if (byIndex.TryGetValue(data.PartitionIndex, out PartitionCursor? cursor) && data.Records is { } records)
                        {
                            Consume(cursor, records.Span, settings.VerifyCrc, measuring, settings.Follow, nowUnixTicks, totals, latency, run);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The duration ended first: report what was read.
        }
        catch (KafkaException ex)
        {
            run.Fail(ex.Message);
        }
    }

    private static void Consume(PartitionCursor cursor, ReadOnlySpan<byte> records, bool verifyCrc, bool measuring, bool follow, long nowUnixTicks,
        GroupTotals totals, LatencyRecorder latency, RunState run)
    {
        long bytes = 0;
        long count = 0;
        long position = cursor.Position;
        var batches = RecordBatch.EnumerateBatches(records);
        while (batches.MoveNext())
        {
            ReadOnlySpan<byte> batch = batches.Current;
            var header = new RecordBatchHeader(batch);
            long last = header.BaseOffset + header.LastOffsetDelta;
            if (last < position)
            {
                continue;
            }

            if (verifyCrc && !RecordBatch.IsCrcValid(batch))
            {
                Interlocked.Increment(ref run.CrcErrors);
            }

            count += header.BaseOffset >= position ? header.RecordCount : last + 1 - position;
            bytes += batch.Length;
            position = last + 1;
            if (measuring && follow && header.MaxTimestamp > 0)
            {
                long ticks = Math.Max(0, nowUnixTicks - header.MaxTimestamp * TimeSpan.TicksPerMillisecond);
                latency.Record(ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond);
            }
        }

        cursor.Position = position;
        Interlocked.Add(ref totals.AllRecords, count);
        if (measuring)
        {
            Interlocked.Add(ref totals.Bytes, bytes);
            Interlocked.Add(ref totals.Records, count);
        }
    }

    /// <summary>
    /// Commits the consumer's positions to its group every interval, as a consumer with
    /// auto-commit does; generation -1 and no member id, which the coordinator accepts for a group
    /// without members.
    /// </summary>
    private static async Task CommitLoopAsync(KafkaClient client, string topic, string group, PartitionCursor[] partitions, TimeSpan interval,
        GroupTotals totals, RunState run, CancellationToken cancellationToken)
    {
        try
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                CommittedOffset[] offsets = [.. partitions.Select(p => new CommittedOffset(topic, p.Partition, p.Position, null))];
                await client.CommitOffsetsAsync(group, offsets, cancellationToken).ConfigureAwait(false);
                if (run.Measuring)
                {
                    Interlocked.Increment(ref totals.Commits);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run ended.
        }
        catch (KafkaException ex)
        {
            run.Fail(ex.Message);
        }
    }

    /// <summary>The process's CPU time once the measured window opens (null when it is gone by then).</summary>
    private static async Task<TimeSpan?> SampleCpuAtAsync(int pid, long windowStart, CancellationToken cancellationToken)
    {
        long wait = windowStart - Stopwatch.GetTimestamp();
        if (wait > 0)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The run ended inside the warmup: measure from now.
            }
        }

        return ProcessCpu(pid);
    }

    /// <summary>User plus system CPU time of a process (from /proc on Linux).</summary>
    private static TimeSpan? ProcessCpu(int pid)
    {
        try
        {
            using Process process = Process.GetProcessById(pid);
            return process.TotalProcessorTime;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
