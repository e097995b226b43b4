using System.Diagnostics;
using KafScale.Client;
using KafScale.Protocol.Messages;
using KafScale.Records;

namespace KafScale.LoadGen;

/// <summary>
/// <c>loadgen consume</c>: reads a topic from its start offsets to the end offsets it had when
/// the command started (or until the duration ends) and reports throughput. Records are counted
/// from batch headers, and each batch's CRC is checked, as Kafka's Java consumer does; values
/// are not decoded.
/// </summary>
internal static class ConsumeCommand
{
    public const string Usage = """
        loadgen consume --bootstrap HOST:PORT --topic T [options]
          --duration D              stop after this long even if not at the end    [60s]
          --connections C           connections per leader broker                  [1]
          --max-bytes B             Fetch max_bytes                                [64m]
          --partition-max-bytes B   Fetch partition_max_bytes                      [8m]
          --max-wait D              Fetch max_wait_ms                              [100ms]
          --verify-crc true|false   check each batch's CRC-32C                     [true]
        """ + "\n" + SecurityArguments.Usage;

    private sealed class PartitionState(int partition, long position, long end)
    {
        public int Partition { get; } = partition;
        public long Position { get; set; } = position;
        public long End { get; } = end;
        public bool Done => Position >= End;
    }

    private sealed class Totals
    {
        public long Bytes;
        public long Records;
        public long Fetches;
        public long CrcErrors;
        public string? Error;
    }

    public static async Task<int> RunAsync(Arguments args, CancellationToken cancellationToken)
    {
        string bootstrap = args.Required("bootstrap");
        string topicName = args.Required("topic");
        TimeSpan duration = args.Duration("duration", TimeSpan.FromSeconds(60));
        int connectionsPerLeader = args.Int("connections", 1);
        int maxBytes = args.Bytes("max-bytes", 64 * 1024 * 1024);
        int partitionMaxBytes = args.Bytes("partition-max-bytes", 8 * 1024 * 1024);
        int maxWaitMs = (int)args.Duration("max-wait", TimeSpan.FromMilliseconds(100)).TotalMilliseconds;
        bool verifyCrc = args.Bool("verify-crc", true);
        KafkaSecurityOptions security = SecurityArguments.Read(args);
        args.ThrowIfUnread();
        if (connectionsPerLeader < 1)
        {
            throw new UsageException("--connections must be at least 1");
        }

        var options = new KafkaClientOptions
        {
            BootstrapServers = bootstrap,
            Connection = new KafkaConnectionOptions { MaxResponseBytes = Math.Max(maxBytes, partitionMaxBytes) + (1 << 20), Security = security },
        };
        await using KafkaClient client = await KafkaClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        TopicMetadata topic = await client.GetTopicAsync(topicName, refresh: true, cancellationToken).ConfigureAwait(false);
        int[] partitions = [.. topic.Partitions.Select(p => p.Partition)];
        IReadOnlyDictionary<int, ListedOffset> starts = await client.ListOffsetsAsync(topicName, partitions, OffsetSpec.Earliest, cancellationToken).ConfigureAwait(false);
        IReadOnlyDictionary<int, ListedOffset> ends = await client.ListOffsetsAsync(topicName, partitions, OffsetSpec.Latest, cancellationToken).ConfigureAwait(false);

        var connections = new List<KafkaConnection>();
        var loops = new List<Func<Task>>();
        var totals = new Totals();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            foreach (var leaderGroup in partitions.GroupBy(p => topic.Partitions[p].LeaderId))
            {
                int[] leaderPartitions = [.. leaderGroup];
                int count = Math.Min(connectionsPerLeader, leaderPartitions.Length);
                for (int c = 0; c < count; c++)
                {
                    PartitionState[] mine = [.. leaderPartitions.Where((_, i) => i % count == c).Select(p => new PartitionState(p, starts[p].Offset, ends[p].Offset))];
                    KafkaConnection connection = await client.OpenConnectionAsync(leaderGroup.Key, cancellationToken).ConfigureAwait(false);
                    connections.Add(connection);
                    loops.Add(() => FetchLoopAsync(connection, topic, mine, maxBytes, partitionMaxBytes, maxWaitMs, verifyCrc, totals, deadline.Token));
                }
            }

            long total = partitions.Sum(p => Math.Max(0, ends[p].Offset - starts[p].Offset));
            long started = Stopwatch.GetTimestamp();
            deadline.CancelAfter(duration);
            await Task.WhenAll(loops.Select(loop => Task.Run(loop, CancellationToken.None))).ConfigureAwait(false);
            double seconds = Math.Max(Stopwatch.GetElapsedTime(started).TotalSeconds, 1e-6);
            bool complete = totals.Records >= total && totals.Error is null;
            double mib = totals.Bytes / (1024.0 * 1024);
            var report = new Report("consume")
            {
                ["topic"] = topicName,
                ["partitions"] = partitions.Length,
                ["connections"] = connections.Count,
                ["expected_records"] = total,
                ["records"] = totals.Records,
                ["bytes"] = totals.Bytes,
                ["fetches"] = totals.Fetches,
                ["crc_errors"] = totals.CrcErrors,
                ["complete"] = complete,
                ["elapsed_s"] = Math.Round(seconds, 3),
                ["mib_per_s"] = Math.Round(mib / seconds, 2),
                ["records_per_s"] = Math.Round(totals.Records / seconds, 0),
            };
            if (totals.Error is { } error)
            {
                report["error"] = error;
            }

            report.Write(
                $"consume {topicName} ({partitions.Length} partitions): {totals.Records:#,0} of {total:#,0} records, {mib:0.0} MiB of batches in {seconds:0.00} s: " +
                $"{mib / seconds:0.0} MiB/s, {totals.Records / seconds:#,0} records/s ({totals.Fetches:#,0} fetches, {totals.CrcErrors} CRC errors){(complete ? "" : ", INCOMPLETE")}");
            return complete && totals.CrcErrors == 0 ? 0 : 1;
        }
        finally
        {
            foreach (KafkaConnection connection in connections)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task FetchLoopAsync(KafkaConnection connection, TopicMetadata topic, PartitionState[] partitions, int maxBytes,
        int partitionMaxBytes, int maxWaitMs, bool verifyCrc, Totals totals, CancellationToken cancellationToken)
    {
        short version = connection.GetVersion(FetchRequest.ApiKey);
        var fetchTopic = new FetchRequest.FetchTopic { Topic = topic.Name, TopicId = topic.TopicId };
        var request = new FetchRequest { ReplicaId = -1, MaxWaitMs = maxWaitMs, MinBytes = 1, MaxBytes = maxBytes, SessionEpoch = -1, Topics = [fetchTopic] };
        var byIndex = partitions.ToDictionary(p => p.Partition);
        try
        {
            while (true)
            {
                fetchTopic.Partitions.Clear();
                foreach (PartitionState p in partitions)
                {
                    if (!p.Done)
                    {
                        fetchTopic.Partitions.Add(new FetchRequest.FetchPartition { Partition = p.Partition, FetchOffset = p.Position, PartitionMaxBytes = partitionMaxBytes });
                    }
                }

                if (fetchTopic.Partitions.Count == 0)
                {
                    return;
                }

                using FetchResponseHandle handle = await connection.FetchAsync(request, version, cancellationToken).ConfigureAwait(false);
                Interlocked.Increment(ref totals.Fetches);
                KafkaException.ThrowIfError(handle.Response.ErrorCode, $"Fetch {topic.Name}");
                foreach (var t in handle.Response.Responses)
                {
                    foreach (var data in t.Partitions)
                    {
                        KafkaException.ThrowIfError(data.ErrorCode, $"Fetch {topic.Name}-{data.PartitionIndex}");
                        if (byIndex.TryGetValue(data.PartitionIndex, out PartitionState? state) && data.Records is { } records)
                        {
                            Consume(state, records.Span, verifyCrc, totals);
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
            Interlocked.CompareExchange(ref totals.Error, ex.Message, null);
        }
    }

    private static void Consume(PartitionState state, ReadOnlySpan<byte> records, bool verifyCrc, Totals totals)
    {
        long bytes = 0;
        long count = 0;
        var batches = RecordBatch.EnumerateBatches(records);
        while (batches.MoveNext())
        {
            ReadOnlySpan<byte> batch = batches.Current;
            var header = new RecordBatchHeader(batch);
            long last = header.BaseOffset + header.LastOffsetDelta;
            if (last < state.Position)
            {
                continue;
            }

            if (verifyCrc && !RecordBatch.IsCrcValid(batch))
            {
                Interlocked.Increment(ref totals.CrcErrors);
            }

            count += header.BaseOffset >= state.Position ? header.RecordCount : last + 1 - state.Position;
            bytes += batch.Length;
            state.Position = last + 1;
        }

        Interlocked.Add(ref totals.Bytes, bytes);
        Interlocked.Add(ref totals.Records, count);
    }
}
