using System.Globalization;
using System.Text;
using System.Text.Json;
using KafScale.Client;
using KafScale.Protocol;
using KafScale.Records;

namespace KafScale.Admin;

/// <summary>Where <c>consume</c> starts: the log's start, its end, an offset, or the first record at or after a time.</summary>
public abstract record StartPosition
{
    public sealed record Beginning : StartPosition;

    public sealed record End : StartPosition;

    public sealed record AtOffset(long Offset) : StartPosition;

    public sealed record AtTime(long TimestampMs) : StartPosition;

    /// <summary>Parses <c>beginning | end | OFFSET | @TIME</c> (TIME: ISO 8601 or ms).</summary>
    public static StartPosition Parse(string value, string flag)
    {
        switch (value.ToLowerInvariant())
        {
            case "beginning" or "earliest":
                return new Beginning();
            case "end" or "latest":
                return new End();
        }

        if (value.StartsWith('@'))
        {
            return new AtTime(AdminParsing.ParseTime(value[1..], flag));
        }

        if (long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long offset) && offset >= 0)
        {
            return new AtOffset(offset);
        }

        throw new AdminUsageException($"invalid value '{value}' for {flag}: expected beginning, end, an offset, or @TIME (ISO 8601 or ms)");
    }
}

/// <summary>Settings of <c>admin consume</c>.</summary>
public sealed record ConsumeSettings
{
    public required string Topic { get; init; }

    /// <summary>Null: the group's committed offsets when a group is given, else the end.</summary>
    public StartPosition? From { get; init; }

    public long Count { get; init; } = -1;

    public string? Group { get; init; }

    public int Partition { get; init; } = -1;

    /// <summary>Text template: {topic} {partition} {offset} {timestamp} {time} {key} {value} {headers}; \t and \n escapes.</summary>
    public string Format { get; init; } = "{value}";

    public bool ExitAtEnd { get; init; }
}

/// <summary><c>consume T</c>: prints records; JSON output is one object per record per line.</summary>
public static class ConsumeAdmin
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public static async Task<int> RunAsync(KafkaClient client, AdminOutput output, ConsumeSettings settings, CancellationToken ct)
    {
        TopicMetadata topic = await TopicAdmin.RequireTopicAsync(client, settings.Topic, ct).ConfigureAwait(false);
        List<int> partitions = settings.Partition >= 0 ? [settings.Partition] : [.. topic.Partitions.Select(p => p.Partition)];
        if (settings.Partition >= topic.PartitionCount)
        {
            throw new AdminUsageException($"invalid value '{settings.Partition}' for --partition: topic '{settings.Topic}' has {topic.PartitionCount} partition(s)");
        }

        Dictionary<int, long> positions = await StartPositionsAsync(client, settings, partitions, ct).ConfigureAwait(false);
        var template = settings.Format.Replace("\\t", "\t", StringComparison.Ordinal).Replace("\\n", "\n", StringComparison.Ordinal);
        var ends = new Dictionary<int, long>();
        if (settings.ExitAtEnd)
        {
            foreach ((int p, ListedOffset o) in await client.ListOffsetsAsync(settings.Topic, partitions, OffsetSpec.Latest, ct).ConfigureAwait(false))
            {
                ends[p] = o.Offset;
            }
        }

        long printed = 0;
        var line = new StringBuilder();
        var options = new FetchOptions { MaxWaitMs = 500 };
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (settings.Count >= 0 && printed >= settings.Count)
                {
                    break;
                }

                if (settings.ExitAtEnd && positions.All(p => p.Value >= ends.GetValueOrDefault(p.Key, long.MaxValue)))
                {
                    break;
                }

                var advanced = new List<CommittedOffset>();
                using (FetchResult fetched = await client.FetchAsync(settings.Topic, [.. positions.Select(p => new FetchPosition(p.Key, p.Value))], options, ct).ConfigureAwait(false))
                {
                    foreach (FetchedPartition part in fetched.Partitions.OrderBy(p => p.Partition))
                    {
                        if (part.ErrorCode == ErrorCode.OffsetOutOfRange)
                        {
                            long earliest = await client.ListOffsetAsync(settings.Topic, part.Partition, OffsetSpec.Earliest, ct).ConfigureAwait(false);
                            long latest = await client.ListOffsetAsync(settings.Topic, part.Partition, OffsetSpec.Latest, ct).ConfigureAwait(false);
                            long moved = part.FetchOffset < earliest ? earliest : latest;
                            Console.Error.WriteLine($"kafscale admin consume: offset {part.FetchOffset} of {settings.Topic}-{part.Partition} is out of range ({earliest}-{latest}); continuing at {moved}");
                            positions[part.Partition] = moved;
                            continue;
                        }

                        part.ThrowIfError();
                        if (part.HighWatermark >= 0 && settings.ExitAtEnd)
                        {
                            // The end may move while we read: follow it only up to what we saw at start.
                            ends[part.Partition] = Math.Min(ends.GetValueOrDefault(part.Partition, part.HighWatermark), part.HighWatermark);
                        }

                        long next = positions[part.Partition];
                        List<Record> records = part.ReadRecords();
                        foreach (Record record in records)
                        {
                            if (settings.Count >= 0 && printed >= settings.Count)
                            {
                                break;
                            }

                            if (settings.ExitAtEnd && record.Offset >= ends.GetValueOrDefault(part.Partition, long.MaxValue))
                            {
                                break;
                            }

                            Print(output, settings.Topic, part.Partition, record, template, line);
                            printed++;
                            next = record.Offset + 1;
                        }

                        // Skip past batches holding only records below the start (or control batches).
                        if (records.Count == 0 && part.NextOffset > next)
                        {
                            next = part.NextOffset;
                        }

                        if (next != positions[part.Partition])
                        {
                            positions[part.Partition] = next;
                            advanced.Add(new CommittedOffset(settings.Topic, part.Partition, next, null));
                        }
                    }
                }

                output.Out.Flush();
                if (settings.Group is not null && advanced.Count > 0)
                {
                    // Committed after the records are written out: a crash may print a record twice, never lose one.
                    await client.CommitOffsetsAsync(settings.Group, advanced, ct).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        output.Out.Flush();
        Console.Error.WriteLine($"kafscale admin consume: {printed} record(s)");
        return AdminExitCodes.Ok;
    }

    private static async Task<Dictionary<int, long>> StartPositionsAsync(KafkaClient client, ConsumeSettings settings, List<int> partitions, CancellationToken ct)
    {
        var positions = new Dictionary<int, long>();
        if (settings.Group is not null)
        {
            IReadOnlyList<CommittedOffset> committed = await client.FetchCommittedOffsetsAsync(settings.Group,
                new Dictionary<string, IReadOnlyList<int>> { [settings.Topic] = partitions }, ct).ConfigureAwait(false);
            foreach (CommittedOffset c in committed)
            {
                if (c.Offset >= 0 && settings.From is null)
                {
                    positions[c.Partition] = c.Offset;
                }
            }
        }

        List<int> rest = [.. partitions.Where(p => !positions.ContainsKey(p))];
        if (rest.Count == 0)
        {
            return positions;
        }

        switch (settings.From ?? new StartPosition.End())
        {
            case StartPosition.Beginning:
                foreach ((int p, ListedOffset o) in await client.ListOffsetsAsync(settings.Topic, rest, OffsetSpec.Earliest, ct).ConfigureAwait(false))
                {
                    positions[p] = o.Offset;
                }

                break;
            case StartPosition.End:
                foreach ((int p, ListedOffset o) in await client.ListOffsetsAsync(settings.Topic, rest, OffsetSpec.Latest, ct).ConfigureAwait(false))
                {
                    positions[p] = o.Offset;
                }

                break;
            case StartPosition.AtOffset at:
                foreach (int p in rest)
                {
                    positions[p] = at.Offset;
                }

                break;
            case StartPosition.AtTime time:
                var latest = await client.ListOffsetsAsync(settings.Topic, rest, OffsetSpec.Latest, ct).ConfigureAwait(false);
                foreach ((int p, ListedOffset o) in await client.ListOffsetsAsync(settings.Topic, rest, time.TimestampMs, ct).ConfigureAwait(false))
                {
                    positions[p] = o.Offset >= 0 ? o.Offset : latest[p].Offset;
                }

                break;
        }

        return positions;
    }

    private static void Print(AdminOutput output, string topic, int partition, Record record, string template, StringBuilder line)
    {
        if (output.Json)
        {
            output.WriteJsonLine(w =>
            {
                w.WriteStartObject();
                w.WriteString("topic", topic);
                w.WriteNumber("partition", partition);
                w.WriteNumber("offset", record.Offset);
                w.WriteNumber("timestamp", record.Timestamp);
                WriteBytes(w, "key", record.Key);
                WriteBytes(w, "value", record.Value);
                w.WriteStartObject("headers");
                foreach (RecordHeader h in record.Headers)
                {
                    WriteBytes(w, h.Key, h.Value);
                }

                w.WriteEndObject();
                w.WriteEndObject();
            });
            return;
        }

        line.Clear();
        int i = 0;
        while (i < template.Length)
        {
            int open = template.IndexOf('{', i);
            if (open < 0)
            {
                line.Append(template, i, template.Length - i);
                break;
            }

            line.Append(template, i, open - i);
            int close = template.IndexOf('}', open);
            if (close < 0)
            {
                line.Append(template, open, template.Length - open);
                break;
            }

            string field = template[(open + 1)..close];
            switch (field)
            {
                case "topic": line.Append(topic); break;
                case "partition": line.Append(partition.ToString(CultureInfo.InvariantCulture)); break;
                case "offset": line.Append(record.Offset.ToString(CultureInfo.InvariantCulture)); break;
                case "timestamp": line.Append(record.Timestamp.ToString(CultureInfo.InvariantCulture)); break;
                case "time": line.Append(AdminOutput.Time(record.Timestamp)); break;
                case "key": line.Append(Text(record.Key)); break;
                case "value": line.Append(Text(record.Value)); break;
                case "headers": line.Append(string.Join(",", record.Headers.Select(h => $"{h.Key}={Text(h.Value)}"))); break;
                default: line.Append(template, open, close - open + 1); break;
            }

            i = close + 1;
        }

        output.Out.Write(line);
        output.Out.Write('\n');
    }

    /// <summary>Validates a --format template: every {field} must be known.</summary>
    public static void ValidateFormat(string format, string flag)
    {
        int i = 0;
        while ((i = format.IndexOf('{', i)) >= 0)
        {
            int close = format.IndexOf('}', i);
            if (close < 0)
            {
                throw new AdminUsageException($"invalid value '{format}' for {flag}: '{{' without '}}'");
            }

            string field = format[(i + 1)..close];
            if (field is not ("topic" or "partition" or "offset" or "timestamp" or "time" or "key" or "value" or "headers"))
            {
                throw new AdminUsageException($"invalid value '{format}' for {flag}: unknown field {{{field}}} (known: topic, partition, offset, timestamp, time, key, value, headers)");
            }

            i = close + 1;
        }
    }

    private static string Text(byte[]? bytes) => bytes is null ? "" : Encoding.UTF8.GetString(bytes);

    /// <summary>UTF-8 text as a string; other bytes as {"base64": "..."}; null as null.</summary>
    private static void WriteBytes(Utf8JsonWriter w, string name, byte[]? bytes)
    {
        if (bytes is null)
        {
            w.WriteNull(name);
            return;
        }

        try
        {
            w.WriteString(name, StrictUtf8.GetString(bytes));
        }
        catch (DecoderFallbackException)
        {
            w.WriteStartObject(name);
            w.WriteBase64String("base64", bytes);
            w.WriteEndObject();
        }
    }
}
