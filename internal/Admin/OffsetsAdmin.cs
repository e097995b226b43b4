using KafScale.Client;

namespace KafScale.Admin;

/// <summary><c>offsets T [--time]</c>: per partition the earliest and latest offset, and the offset at a time.</summary>
public static class OffsetsAdmin
{
    public static async Task<int> RunAsync(KafkaClient client, AdminOutput output, string topic, long? timeMs, CancellationToken ct)
    {
        TopicMetadata metadata = await TopicAdmin.RequireTopicAsync(client, topic, ct).ConfigureAwait(false);
        int[] partitions = [.. metadata.Partitions.Select(p => p.Partition)];
        var earliest = await client.ListOffsetsAsync(topic, partitions, OffsetSpec.Earliest, ct).ConfigureAwait(false);
        var latest = await client.ListOffsetsAsync(topic, partitions, OffsetSpec.Latest, ct).ConfigureAwait(false);
        IReadOnlyDictionary<int, ListedOffset>? at = timeMs is long t
            ? await client.ListOffsetsAsync(topic, partitions, t, ct).ConfigureAwait(false)
            : null;

        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("topic", topic);
                if (timeMs is long ms)
                {
                    w.WriteNumber("time_ms", ms);
                }

                w.WriteStartArray("partitions");
                foreach (int p in partitions)
                {
                    w.WriteStartObject();
                    w.WriteNumber("partition", p);
                    w.WriteNumber("earliest", earliest[p].Offset);
                    w.WriteNumber("latest", latest[p].Offset);
                    if (at is not null)
                    {
                        // -1: no record at or after the time (a consumer seeking there starts at the end).
                        w.WriteStartObject("at_time");
                        w.WriteNumber("offset", at[p].Offset);
                        w.WriteNumber("timestamp", at[p].Timestamp);
                        w.WriteEndObject();
                    }

                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
            return AdminExitCodes.Ok;
        }

        if (timeMs is long time)
        {
            output.Line($"time: {AdminOutput.Time(time)} ({time} ms)");
            output.WriteTable(["PARTITION", "EARLIEST", "LATEST", "AT-TIME", "RECORD-TIME"],
                partitions.Select(p => (IReadOnlyList<string>)[AdminOutput.N(p), AdminOutput.N(earliest[p].Offset), AdminOutput.N(latest[p].Offset),
                    at![p].Offset >= 0 ? AdminOutput.N(at[p].Offset) : "-", AdminOutput.Time(at[p].Timestamp)]));
        }
        else
        {
            output.WriteTable(["PARTITION", "EARLIEST", "LATEST"],
                partitions.Select(p => (IReadOnlyList<string>)[AdminOutput.N(p), AdminOutput.N(earliest[p].Offset), AdminOutput.N(latest[p].Offset)]));
        }

        return AdminExitCodes.Ok;
    }
}
