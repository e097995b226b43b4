using System.Buffers.Binary;
using System.Diagnostics;
using KafScale.Client;
using KafScale.Protocol.Messages;
using KafScale.Records;

namespace KafScale.LoadGen;

/// <summary>
/// <c>loadgen produce</c>: drives Produce as fast as the broker acknowledges it (or at a fixed
/// rate) and reports throughput and per-request latency (send to response).
/// Each connection runs <c>--in-flight</c> senders; each sender owns one Produce request with a
/// pre-built batch per partition of its connection, and before each send only restamps the
/// batch timestamps and CRC. The connection pipelines the senders' requests on one socket.
/// </summary>
internal static class ProduceCommand
{
    public const string Usage = """
        loadgen produce --bootstrap HOST:PORT --topic T [options]
          --partitions N        partitions of the topic (created if missing)        [1]
          --record-size BYTES   value size of each record                           [1024]
          --acks all|1|0        acknowledgement                                     [all]
          --duration D          measured time (e.g. 20s)                            [20s]
          --warmup D            unmeasured time before it                           [2s]
          --rate MBPS           pace to this many MiB/s of record values (0 = max)  [0]
          --total-mib N         stop once N MiB of record values are sent and
                                report the time they took (0 = the duration)        [0]
          --connections C       connections per leader broker                       [1]
          --batch-bytes B       record bytes per partition batch                    [64k]
          --in-flight K         requests in flight per connection                   [8]
          --request-partitions R  partitions per request (0 = all the connection's) [0]
          --compression C       none|gzip|snappy|lz4|zstd                           [none]
          --progress true       print throughput every second to stderr             [false]
        """ + "\n" + SecurityArguments.Usage;

    private sealed class Settings
    {
        public required string Bootstrap { get; init; }
        public required string Topic { get; init; }
        public int Partitions { get; init; }
        public int RecordSize { get; init; }
        public Acks Acks { get; init; }
        public TimeSpan Duration { get; init; }
        public TimeSpan Warmup { get; init; }
        public double RateMiBps { get; init; }
        public double TotalMiB { get; init; }
        public int Connections { get; init; }
        public int BatchBytes { get; init; }
        public int InFlight { get; init; }
        public int RequestPartitions { get; init; }
        public CompressionType Compression { get; init; }
        public bool Progress { get; init; }
        public required KafkaSecurityOptions Security { get; init; }
    }

    public static async Task<int> RunAsync(Arguments args, CancellationToken cancellationToken)
    {
        var settings = new Settings
        {
            Bootstrap = args.Required("bootstrap"),
            Topic = args.Required("topic"),
            Partitions = args.Int("partitions", 1),
            RecordSize = args.Bytes("record-size", 1024),
            Acks = ParseAcks(args.String("acks") ?? "all"),
            Duration = args.Duration("duration", TimeSpan.FromSeconds(20)),
            Warmup = args.Duration("warmup", TimeSpan.FromSeconds(2)),
            RateMiBps = args.Double("rate", 0),
            TotalMiB = args.Double("total-mib", 0),
            Connections = args.Int("connections", 1),
            BatchBytes = args.Bytes("batch-bytes", 64 * 1024),
            InFlight = args.Int("in-flight", 8),
            RequestPartitions = args.Int("request-partitions", 0),
            Compression = ParseCompression(args.String("compression") ?? "none"),
            Progress = args.Bool("progress", false),
            Security = SecurityArguments.Read(args),
        };
        args.ThrowIfUnread();
        if (settings.Partitions < 1 || settings.Connections < 1 || settings.InFlight < 1 || settings.RateMiBps < 0 || settings.TotalMiB < 0)
        {
            throw new UsageException("--partitions, --connections and --in-flight must be at least 1, --rate and --total-mib not negative");
        }

        var options = new KafkaClientOptions { BootstrapServers = settings.Bootstrap, Connection = new KafkaConnectionOptions { Security = settings.Security } };
        await using KafkaClient client = await KafkaClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        await client.CreateTopicsAsync([new NewTopic(settings.Topic, settings.Partitions)], ignoreIfExists: true, cancellationToken).ConfigureAwait(false);
        TopicMetadata topic = await client.GetTopicAsync(settings.Topic, refresh: true, cancellationToken).ConfigureAwait(false);
        if (topic.PartitionCount < settings.Partitions)
        {
            throw new UsageException($"topic '{settings.Topic}' exists with {topic.PartitionCount} partitions, fewer than --partitions {settings.Partitions}");
        }

        int recordsPerBatch = Math.Max(1, settings.BatchBytes / settings.RecordSize);
        var templates = new byte[settings.Partitions][];
        var random = new Random(42);
        for (int p = 0; p < settings.Partitions; p++)
        {
            templates[p] = BuildTemplate(random, recordsPerBatch, settings.RecordSize, settings.Compression);
        }

        // Partitions grouped by leader, then dealt round-robin to that leader's connections.
        var connections = new List<KafkaConnection>();
        var senders = new List<Sender>();
        try
        {
            foreach (var leaderGroup in Enumerable.Range(0, settings.Partitions).GroupBy(p => topic.Partitions[p].LeaderId))
            {
                int[] leaderPartitions = [.. leaderGroup];
                for (int c = 0; c < settings.Connections; c++)
                {
                    // More connections than partitions: several connections share a partition.
                    int[] mine = leaderPartitions.Length >= settings.Connections
                        ? [.. leaderPartitions.Where((_, i) => i % settings.Connections == c)]
                        : [leaderPartitions[c % leaderPartitions.Length]];
                    KafkaConnection connection = await client.OpenConnectionAsync(leaderGroup.Key, cancellationToken).ConfigureAwait(false);
                    connections.Add(connection);
                    for (int k = 0; k < settings.InFlight; k++)
                    {
                        // Senders take turns over the connection's partitions when a request holds only some of them.
                        int[] request = settings.RequestPartitions <= 0 || settings.RequestPartitions >= mine.Length
                            ? mine
                            : [.. Enumerable.Range(0, settings.RequestPartitions).Select(j => mine[(k * settings.RequestPartitions + j) % mine.Length])];
                        senders.Add(new Sender(connection, settings.Topic, request, templates, settings.Acks, recordsPerBatch));
                    }
                }
            }

            return await MeasureAsync(settings, senders, recordsPerBatch, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (KafkaConnection connection in connections)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<int> MeasureAsync(Settings settings, List<Sender> senders, int recordsPerBatch, CancellationToken cancellationToken)
    {
        var run = new RunState(settings.Warmup, settings.Duration, settings.RateMiBps, (long)(settings.TotalMiB * 1024 * 1024));
        using var progress = settings.Progress ? new ProgressPrinter(run, settings.RecordSize) : null;
        Task[] loops = [.. senders.Select(s => Task.Run(() => s.RunAsync(run, settings.RecordSize, cancellationToken), cancellationToken))];
        await Task.WhenAll(loops).ConfigureAwait(false);

        LatencySummary latency = LatencyRecorder.Summarize(senders.Select(s => s.Latency));
        double seconds = settings.Duration.TotalSeconds;
        if (run.TotalBytes > 0 && Interlocked.Read(ref run.LastDone) is long lastDone and > 0 && lastDone < run.WindowEnd)
        {
            // Stopped by --total-mib: the time the bytes took, not the duration.
            seconds = Math.Max((lastDone - run.WindowStart) / (double)Stopwatch.Frequency, 1e-6);
        }

        long records = Interlocked.Read(ref run.Records);
        double mib = records * (double)settings.RecordSize / (1024 * 1024);
        var report = new Report("produce")
        {
            ["topic"] = settings.Topic,
            ["partitions"] = settings.Partitions,
            ["record_size"] = settings.RecordSize,
            ["acks"] = AcksName(settings.Acks),
            ["compression"] = settings.Compression.ToString().ToLowerInvariant(),
            ["connections"] = senders.Select(s => s.Connection).Distinct().Count(),
            ["in_flight"] = settings.InFlight,
            ["request_partitions"] = senders.Max(s => s.PartitionCount),
            ["records_per_batch"] = recordsPerBatch,
            ["target_mib_per_s"] = settings.RateMiBps,
            ["total_mib"] = settings.TotalMiB,
            ["duration_s"] = Math.Round(seconds, 3),
            ["records"] = records,
            ["requests"] = Interlocked.Read(ref run.Requests),
            ["errors"] = Interlocked.Read(ref run.Errors),
            ["mib_per_s"] = Math.Round(mib / seconds, 2),
            ["records_per_s"] = Math.Round(records / seconds, 0),
            ["wire_mib_per_s"] = Math.Round(Interlocked.Read(ref run.BatchBytes) / seconds / (1024 * 1024), 2),
            ["latency_p50_ms"] = Math.Round(latency.P50Ms, 3),
            ["latency_p99_ms"] = Math.Round(latency.P99Ms, 3),
            ["latency_p999_ms"] = Math.Round(latency.P999Ms, 3),
            ["latency_max_ms"] = Math.Round(latency.MaxMs, 3),
            ["latency_mean_ms"] = Math.Round(latency.MeanMs, 3),
        };
        if (run.FirstError is { } firstError)
        {
            report["first_error"] = firstError;
        }

        report.Write(
            $"produce {settings.Topic} ({settings.Partitions} partitions, acks={AcksName(settings.Acks)}, {settings.RecordSize} B records): " +
            $"{mib / seconds:0.0} MiB/s, {records / seconds:#,0} records/s, latency p50 {latency.P50Ms:0.00} ms, p99 {latency.P99Ms:0.00} ms, " +
            $"p99.9 {latency.P999Ms:0.00} ms ({run.Requests:#,0} requests, {run.Errors} errors, {seconds:0.#} s)");
        if (run.FirstError is { } error)
        {
            Console.Error.WriteLine($"loadgen: {(run.Fatal is null ? "first error" : "stopped on")}: {error}");
        }

        return run.Fatal is null ? 0 : 1;
    }

    private static byte[] BuildTemplate(Random random, int records, int recordSize, CompressionType compression)
    {
        using var builder = new RecordBatchBuilder(compression);
        byte[] value = new byte[recordSize];
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (int i = 0; i < records; i++)
        {
            random.NextBytes(value);
            builder.Add(ReadOnlySpan<byte>.Empty, keyIsNull: true, value, valueIsNull: false, now);
        }

        return builder.Build();
    }

    private static Acks ParseAcks(string text) => text switch
    {
        "all" or "-1" => Acks.All,
        "1" or "leader" => Acks.Leader,
        "0" or "none" => Acks.None,
        _ => throw new UsageException($"--acks '{text}' is not all, 1 or 0"),
    };

    private static string AcksName(Acks acks) => acks switch { Acks.All => "all", Acks.Leader => "1", _ => "0" };

    private static CompressionType ParseCompression(string text) => text switch
    {
        "none" => CompressionType.None,
        "gzip" => CompressionType.Gzip,
        "snappy" => CompressionType.Snappy,
        "lz4" => CompressionType.Lz4,
        "zstd" => CompressionType.Zstd,
        _ => throw new UsageException($"--compression '{text}' is not none, gzip, snappy, lz4 or zstd"),
    };

    /// <summary>Shared counters and the clock of one run; counts only what completes inside the window.</summary>
    private sealed class RunState
    {
        public long Records;
        public long Requests;
        public long Errors;
        public long BatchBytes;
        public long Reserved;
        public long Sent;
        public long LastDone;
        public string? FirstError;
        public string? Fatal;

        private readonly double _ticksPerByte;

        public RunState(TimeSpan warmup, TimeSpan duration, double rateMiBps, long totalBytes)
        {
            TotalBytes = totalBytes;
            Start = Stopwatch.GetTimestamp();
            WindowStart = Start + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
            WindowEnd = WindowStart + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            _ticksPerByte = rateMiBps > 0 ? Stopwatch.Frequency / (rateMiBps * 1024 * 1024) : 0;
        }

        public long Start { get; }
        /// <summary>Value bytes after which no more requests are sent (0: no limit).</summary>
        public long TotalBytes { get; }
        public long WindowStart { get; }
        public long WindowEnd { get; }
        public bool Paced => _ticksPerByte > 0;

        public bool Stopped => Volatile.Read(ref Fatal) is not null;

        /// <summary>Claims one request's value bytes; false once --total-mib is reached.</summary>
        public bool TryClaim(int valueBytes) => TotalBytes <= 0 || Interlocked.Add(ref Sent, valueBytes) <= TotalBytes;

        /// <summary>Open-loop pacing: each request's send time is fixed by the bytes before it.</summary>
        public async ValueTask PaceAsync(int valueBytes, CancellationToken cancellationToken)
        {
            long before = Interlocked.Add(ref Reserved, valueBytes) - valueBytes;
            long due = Start + (long)(before * _ticksPerByte);
            long wait = due - Stopwatch.GetTimestamp();
            if (wait > Stopwatch.Frequency / 2000)
            {
                await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency), cancellationToken).ConfigureAwait(false);
            }
        }

        public void Error(string message, bool fatal)
        {
            Interlocked.Increment(ref Errors);
            Interlocked.CompareExchange(ref FirstError, message, null);
            if (fatal)
            {
                Interlocked.CompareExchange(ref Fatal, message, null);
            }
        }
    }

    /// <summary>One request slot: its own request and batch buffers, reused for every send.</summary>
    private sealed class Sender
    {
        private readonly ProduceRequest _request;
        private readonly byte[][] _batches;
        private readonly short _version;
        private readonly string _topic;
        private readonly int _records;
        private readonly int _batchBytes;

        public Sender(KafkaConnection connection, string topic, int[] partitions, byte[][] templates, Acks acks, int recordsPerBatch)
        {
            Connection = connection;
            _topic = topic;
            _version = connection.GetVersion(ProduceRequest.ApiKey);
            _batches = new byte[partitions.Length][];
            var topicData = new ProduceRequest.TopicProduceData { Name = topic };
            for (int i = 0; i < partitions.Length; i++)
            {
                _batches[i] = (byte[])templates[partitions[i]].Clone();
                _batchBytes += _batches[i].Length;
                topicData.PartitionData.Add(new ProduceRequest.PartitionProduceData { Index = partitions[i], Records = _batches[i] });
            }

            _records = recordsPerBatch * partitions.Length;
            _request = new ProduceRequest { Acks = (short)acks, TimeoutMs = 30_000, TopicData = [topicData] };
        }

        public KafkaConnection Connection { get; }

        public int PartitionCount => _batches.Length;

        public LatencyRecorder Latency { get; } = new();

        public async Task RunAsync(RunState run, int recordSize, CancellationToken cancellationToken)
        {
            int valueBytes = _records * recordSize;
            while (!run.Stopped && !cancellationToken.IsCancellationRequested)
            {
                if (!run.TryClaim(valueBytes))
                {
                    return;
                }

                if (run.Paced)
                {
                    await run.PaceAsync(valueBytes, cancellationToken).ConfigureAwait(false);
                }

                long sent = Stopwatch.GetTimestamp();
                if (sent >= run.WindowEnd)
                {
                    return;
                }

                Restamp(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                ProduceResponse? response;
                try
                {
                    response = await Connection.ProduceAsync(_request, _version, cancellationToken).ConfigureAwait(false);
                }
                catch (KafkaException ex)
                {
                    run.Error(ex.Message, fatal: true);
                    return;
                }

                long done = Stopwatch.GetTimestamp();
                if (response is not null && !Check(response, run))
                {
                    await Task.Delay(50, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (done >= run.WindowStart && done <= run.WindowEnd)
                {
                    Interlocked.Add(ref run.Records, _records);
                    Interlocked.Add(ref run.BatchBytes, _batchBytes);
                    Interlocked.Increment(ref run.Requests);
                    Latency.Record(done - sent);
                    if (run.TotalBytes > 0)
                    {
                        InterlockedMax(ref run.LastDone, done);
                    }
                }
            }
        }

        private static void InterlockedMax(ref long target, long value)
        {
            long current = Interlocked.Read(ref target);
            while (value > current)
            {
                long seen = Interlocked.CompareExchange(ref target, value, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }

        /// <summary>New timestamps (records keep delta 0) and CRC: what a producer would send now.</summary>
        private void Restamp(long nowMs)
        {
            foreach (byte[] batch in _batches)
            {
                BinaryPrimitives.WriteInt64BigEndian(batch.AsSpan(RecordBatch.BaseTimestampOffset), nowMs);
                BinaryPrimitives.WriteInt64BigEndian(batch.AsSpan(RecordBatch.MaxTimestampOffset), nowMs);
                RecordBatch.UpdateCrc(batch);
            }
        }

        private bool Check(ProduceResponse response, RunState run)
        {
            foreach (var t in response.Responses)
            {
                foreach (var p in t.PartitionResponses)
                {
                    if (p.ErrorCode != 0)
                    {
                        var error = KafkaException.FromCode(p.ErrorCode, $"Produce to {_topic}-{p.Index}", p.ErrorMessage);
                        run.Error(error.Message, fatal: !error.IsRetriable);
                        return false;
                    }
                }
            }

            return true;
        }
    }

    /// <summary>Prints the MiB/s of the last second to stderr.</summary>
    private sealed class ProgressPrinter : IDisposable
    {
        private readonly Timer _timer;
        private long _lastRecords;

        public ProgressPrinter(RunState run, int recordSize)
        {
            _timer = new Timer(_ =>
            {
                long records = Interlocked.Read(ref run.Records);
                long delta = records - _lastRecords;
                _lastRecords = records;
                double elapsed = Stopwatch.GetElapsedTime(run.Start).TotalSeconds;
                Console.Error.WriteLine($"[{elapsed,5:0.0}s] {delta * (double)recordSize / (1024 * 1024),8:0.0} MiB/s {delta,9:#,0} records/s");
            }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }

        public void Dispose() => _timer.Dispose();
    }
}
