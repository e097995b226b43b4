using System.Text;
using System.Threading.Channels;
using KafScale.Client;
using KafScale.Records;

namespace KafScale.Admin;

/// <summary>Settings of <c>admin produce</c>.</summary>
public sealed record ProduceSettings
{
    public required string Topic { get; init; }

    /// <summary>A key for every record (null: none, unless <see cref="KeySeparator"/> splits one off each line).</summary>
    public string? Key { get; init; }

    /// <summary>When set, each line is KEY SEPARATOR VALUE (a line without it is a value with no key).</summary>
    public string? KeySeparator { get; init; }

    public IReadOnlyList<RecordHeader> Headers { get; init; } = [];

    /// <summary>-1: keyed records by murmur2 of the key (as Kafka's producer), others round-robin per batch.</summary>
    public int Partition { get; init; } = -1;

    public CompressionType Compression { get; init; }

    public Acks Acks { get; init; } = Acks.All;

    /// <summary>Most records in one Produce request.</summary>
    public int BatchRecords { get; init; } = 1000;

    public int BatchBytes { get; init; } = 1024 * 1024;
}

/// <summary><c>produce T</c>: one record per line of standard input.</summary>
public static class ProduceAdmin
{
    private sealed class PartitionTally
    {
        public long Records;
        public long FirstOffset = -1;
        public long LastOffset = -1;
    }

    public static async Task<int> RunAsync(KafkaClient client, AdminOutput output, ProduceSettings settings, TextReader input, CancellationToken ct)
    {
        TopicMetadata topic = await client.LookupOrCreateTopicAsync(settings.Topic, ct).ConfigureAwait(false);
        if (settings.Partition >= topic.PartitionCount)
        {
            throw new AdminUsageException($"invalid value '{settings.Partition}' for --partition: topic '{settings.Topic}' has {topic.PartitionCount} partition(s)");
        }

        // Lines are read on their own task so a batch leaves as soon as input pauses (interactive
        // use) while piped input still fills whole batches.
        var lines = Channel.CreateBounded<string>(new BoundedChannelOptions(settings.BatchRecords * 4) { SingleReader = true, SingleWriter = true });
        Task reader = Task.Run(async () =>
        {
            try
            {
                while (await input.ReadLineAsync(ct).ConfigureAwait(false) is string line)
                {
                    await lines.Writer.WriteAsync(line, ct).ConfigureAwait(false);
                }

                lines.Writer.TryComplete();
            }
            catch (Exception ex)
            {
                lines.Writer.TryComplete(ex);
            }
        }, CancellationToken.None);

        var tallies = new SortedDictionary<int, PartitionTally>();
        int roundRobin = Random.Shared.Next(topic.PartitionCount);
        long total = 0;
        byte[]? fixedKey = settings.Key is null ? null : Encoding.UTF8.GetBytes(settings.Key);
        var batch = new Dictionary<int, List<ProducerRecord>>();
        while (await lines.Reader.WaitToReadAsync(ct).ConfigureAwait(false))
        {
            batch.Clear();
            int count = 0, bytes = 0;
            int unkeyedPartition = settings.Partition >= 0 ? settings.Partition : roundRobin++ % topic.PartitionCount;
            while (count < settings.BatchRecords && bytes < settings.BatchBytes && lines.Reader.TryRead(out string? line))
            {
                byte[]? key = fixedKey;
                string value = line;
                if (settings.KeySeparator is { Length: > 0 } separator)
                {
                    int at = line.IndexOf(separator, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        key = Encoding.UTF8.GetBytes(line[..at]);
                        value = line[(at + separator.Length)..];
                    }
                }

                byte[] valueBytes = Encoding.UTF8.GetBytes(value);
                int partition = settings.Partition >= 0 ? settings.Partition
                    : key is not null ? Partitioner.ForKey(key, topic.PartitionCount)
                    : unkeyedPartition;
                if (!batch.TryGetValue(partition, out List<ProducerRecord>? records))
                {
                    batch[partition] = records = [];
                }

                records.Add(new ProducerRecord(key, valueBytes, null, settings.Headers.Count == 0 ? null : settings.Headers));
                count++;
                bytes += valueBytes.Length + (key?.Length ?? 0);
            }

            if (count == 0)
            {
                continue;
            }

            var partitions = batch.Select(b => new PartitionRecords(b.Key, KafkaClient.BuildBatch(b.Value, settings.Compression))).ToList();
            IReadOnlyList<ProduceResult> results = await client.ProduceAsync(settings.Topic, partitions, settings.Acks, ct).ConfigureAwait(false);
            for (int i = 0; i < partitions.Count; i++)
            {
                int partition = partitions[i].Partition;
                int n = batch[partition].Count;
                if (!tallies.TryGetValue(partition, out PartitionTally? tally))
                {
                    tallies[partition] = tally = new PartitionTally();
                }

                tally.Records += n;
                if (results[i].BaseOffset >= 0)
                {
                    if (tally.FirstOffset < 0)
                    {
                        tally.FirstOffset = results[i].BaseOffset;
                    }

                    tally.LastOffset = results[i].BaseOffset + n - 1;
                }
            }

            total += count;
        }

        await reader.ConfigureAwait(false);
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("topic", settings.Topic);
                w.WriteNumber("records", total);
                w.WriteStartArray("partitions");
                foreach ((int partition, PartitionTally t) in tallies)
                {
                    w.WriteStartObject();
                    w.WriteNumber("partition", partition);
                    w.WriteNumber("records", t.Records);
                    if (t.FirstOffset >= 0)
                    {
                        w.WriteNumber("first_offset", t.FirstOffset);
                        w.WriteNumber("last_offset", t.LastOffset);
                    }
                    else
                    {
                        w.WriteNull("first_offset");
                        w.WriteNull("last_offset");
                    }

                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
        }
        else
        {
            string where = string.Join(", ", tallies.Select(t => t.Value.FirstOffset >= 0
                ? $"partition {t.Key}: {t.Value.Records} at offsets {t.Value.FirstOffset}-{t.Value.LastOffset}"
                : $"partition {t.Key}: {t.Value.Records}"));
            output.Line($"produced {total} record(s) to '{settings.Topic}'{(where.Length > 0 ? $" ({where})" : "")}");
        }

        return AdminExitCodes.Ok;
    }
}
