using System.Diagnostics;
using KafScale.Client;
using KafScale.Records;

namespace KafScale.Admin;

/// <summary>Settings of <c>bench produce</c> and <c>bench consume</c>.</summary>
public sealed record BenchSettings
{
    public string Topic { get; init; } = "kafscale-bench";

    /// <summary>Partitions of the topic when the bench creates it.</summary>
    public int Partitions { get; init; } = 3;

    public int RecordSize { get; init; } = 1024;

    /// <summary>Records per produce request (one batch per request).</summary>
    public int BatchRecords { get; init; } = 100;

    /// <summary>Produce requests in flight at once.</summary>
    public int InFlight { get; init; } = 8;

    /// <summary>Stop after this many records (-1: run for <see cref="Duration"/>).</summary>
    public long Records { get; init; } = -1;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    public Acks Acks { get; init; } = Acks.All;

    public CompressionType Compression { get; init; }
}

/// <summary>
/// Throughput and latency against a cluster: produce sends prebuilt batches from several
/// concurrent senders; consume reads a topic from its start. Latency is per request (a produce
/// request's acknowledgement, a fetch's answer), in milliseconds.
/// </summary>
public static class BenchAdmin
{
    private const double MB = 1024 * 1024;

    private sealed record Result(string Mode, string Topic, long Records, long Bytes, TimeSpan Elapsed, List<double> LatenciesMs, int Requests);

    public static async Task<int> ProduceAsync(KafkaClient client, AdminOutput output, BenchSettings settings, CancellationToken ct)
    {
        await client.CreateTopicsAsync([new NewTopic(settings.Topic, settings.Partitions)], ignoreIfExists: true, ct).ConfigureAwait(false);
        TopicMetadata topic = await client.GetTopicAsync(settings.Topic, refresh: true, ct).ConfigureAwait(false);
        int partitions = topic.PartitionCount;

        // One prebuilt batch per partition, sent again and again: the broker assigns the offsets,
        // so the sender allocates nothing per record and measures the cluster, not itself.
        var payload = new byte[settings.RecordSize];
        Random.Shared.NextBytes(payload);
        var records = new ProducerRecord[settings.BatchRecords];
        for (int i = 0; i < records.Length; i++)
        {
            records[i] = new ProducerRecord(null, payload);
        }

        byte[] batch = KafkaClient.BuildBatch(records, settings.Compression);
        long budget = settings.Records;
        long sent = 0;
        int next = 0;
        var latencies = new List<double>[settings.InFlight];
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (settings.Records < 0)
        {
            stop.CancelAfter(settings.Duration);
        }

        var clock = Stopwatch.StartNew();
        var workers = new Task[settings.InFlight];
        for (int w = 0; w < workers.Length; w++)
        {
            var mine = latencies[w] = new List<double>(4096);
            workers[w] = Task.Run(async () =>
            {
                var one = new PartitionRecords[1];
                while (!stop.IsCancellationRequested)
                {
                    if (budget >= 0 && Interlocked.Add(ref sent, settings.BatchRecords) > budget)
                    {
                        return;
                    }

                    int partition = (Interlocked.Increment(ref next) & int.MaxValue) % partitions;
                    one[0] = new PartitionRecords(partition, batch);
                    long start = Stopwatch.GetTimestamp();
                    try
                    {
                        await client.ProduceAsync(settings.Topic, one, settings.Acks, stop.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (stop.IsCancellationRequested)
                    {
                        return;
                    }

                    mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }, CancellationToken.None);
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        clock.Stop();
        var all = latencies.SelectMany(l => l).ToList();
        long recordsDone = (long)all.Count * settings.BatchRecords;
        Write(output, new Result("produce", settings.Topic, recordsDone, recordsDone * settings.RecordSize, clock.Elapsed, all, all.Count), settings);
        return AdminExitCodes.Ok;
    }

    public static async Task<int> ConsumeAsync(KafkaClient client, AdminOutput output, BenchSettings settings, CancellationToken ct)
    {
        TopicMetadata topic = await TopicAdmin.RequireTopicAsync(client, settings.Topic, ct).ConfigureAwait(false);
        int[] partitions = [.. topic.Partitions.Select(p => p.Partition)];
        var starts = await client.ListOffsetsAsync(settings.Topic, partitions, OffsetSpec.Earliest, ct).ConfigureAwait(false);
        var ends = await client.ListOffsetsAsync(settings.Topic, partitions, OffsetSpec.Latest, ct).ConfigureAwait(false);
        var positions = partitions.ToDictionary(p => p, p => starts[p].Offset);
        long available = partitions.Sum(p => ends[p].Offset - starts[p].Offset);
        if (available == 0)
        {
            throw new AdminFailure($"topic '{settings.Topic}' is empty: run 'kafscale admin bench produce --topic {settings.Topic}' first");
        }

        long wanted = settings.Records >= 0 ? Math.Min(settings.Records, available) : available;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(settings.Records >= 0 ? TimeSpan.FromMinutes(10) : settings.Duration);
        var latencies = new List<double>(4096);
        var options = new FetchOptions { MaxWaitMs = 100, PartitionMaxBytes = 4 * 1024 * 1024, MaxBytes = 64 * 1024 * 1024 };
        long records = 0, bytes = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            while (records < wanted && !stop.IsCancellationRequested)
            {
                var open = positions.Where(p => p.Value < ends[p.Key].Offset).Select(p => new FetchPosition(p.Key, p.Value)).ToList();
                if (open.Count == 0)
                {
                    break;
                }

                long start = Stopwatch.GetTimestamp();
                using FetchResult fetched = await client.FetchAsync(settings.Topic, open, options, stop.Token).ConfigureAwait(false);
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                foreach (FetchedPartition part in fetched.Partitions)
                {
                    part.ThrowIfError();
                    long position = positions[part.Partition];
                    var batches = RecordBatch.EnumerateBatches(part.Records.Span);
                    while (batches.MoveNext())
                    {
                        var header = new RecordBatchHeader(batches.Current);
                        long last = header.BaseOffset + header.LastOffsetDelta;
                        if (last < position)
                        {
                            continue;
                        }

                        records += last + 1 - Math.Max(position, header.BaseOffset);
                        bytes += batches.Current.Length;
                        position = last + 1;
                    }

                    positions[part.Partition] = position;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested && !ct.IsCancellationRequested)
        {
        }

        clock.Stop();
        Write(output, new Result("consume", settings.Topic, records, bytes, clock.Elapsed, latencies, latencies.Count), settings);
        return AdminExitCodes.Ok;
    }

    private static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1 < 0 ? 0 : (int)Math.Ceiling(q * sorted.Count) - 1)];

    private static void Write(AdminOutput output, Result r, BenchSettings settings)
    {
        r.LatenciesMs.Sort();
        double seconds = Math.Max(r.Elapsed.TotalSeconds, 1e-9);
        double recordsPerSec = r.Records / seconds;
        double mbPerSec = r.Bytes / MB / seconds;
        double p50 = Percentile(r.LatenciesMs, 0.50), p99 = Percentile(r.LatenciesMs, 0.99), p999 = Percentile(r.LatenciesMs, 0.999);
        double max = r.LatenciesMs.Count == 0 ? 0 : r.LatenciesMs[^1];
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("mode", r.Mode);
                w.WriteString("topic", r.Topic);
                w.WriteNumber("records", r.Records);
                w.WriteNumber("bytes", r.Bytes);
                w.WriteNumber("requests", r.Requests);
                w.WriteNumber("seconds", Math.Round(seconds, 3));
                w.WriteNumber("records_per_sec", Math.Round(recordsPerSec, 1));
                w.WriteNumber("mb_per_sec", Math.Round(mbPerSec, 2));
                w.WriteStartObject("latency_ms");
                w.WriteNumber("p50", Math.Round(p50, 3));
                w.WriteNumber("p99", Math.Round(p99, 3));
                w.WriteNumber("p999", Math.Round(p999, 3));
                w.WriteNumber("max", Math.Round(max, 3));
                w.WriteEndObject();
                if (r.Mode == "produce")
                {
                    w.WriteNumber("record_size", settings.RecordSize);
                    w.WriteNumber("batch_records", settings.BatchRecords);
                    w.WriteNumber("in_flight", settings.InFlight);
                    w.WriteString("acks", settings.Acks switch { Acks.All => "all", Acks.Leader => "1", _ => "0" });
                    w.WriteString("compression", settings.Compression.ToString().ToLowerInvariant());
                }

                w.WriteEndObject();
            });
            return;
        }

        var fields = new List<(string, string)>
        {
            ("mode", r.Mode),
            ("topic", r.Topic),
            ("records", AdminOutput.N(r.Records)),
            ("bytes", AdminOutput.N(r.Bytes)),
            ("requests", AdminOutput.N(r.Requests)),
            ("seconds", seconds.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)),
            ("records/s", recordsPerSec.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)),
            ("MB/s", mbPerSec.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)),
            ("latency ms", FormattableString.Invariant($"p50 {p50:0.000}  p99 {p99:0.000}  p999 {p999:0.000}  max {max:0.000}")),
        };
        if (r.Mode == "produce")
        {
            fields.Add(("settings", FormattableString.Invariant(
                $"record size {settings.RecordSize}, {settings.BatchRecords} records per request, {settings.InFlight} in flight, acks {(settings.Acks == Acks.All ? "all" : ((short)settings.Acks).ToString(System.Globalization.CultureInfo.InvariantCulture))}, compression {settings.Compression.ToString().ToLowerInvariant()}")));
        }

        output.WriteFields(fields);
    }
}
