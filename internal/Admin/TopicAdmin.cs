using System.Text.Json;
using KafScale.Client;
using KafScale.Protocol;

namespace KafScale.Admin;

/// <summary><c>topics list | describe | create | delete | alter-config | add-partitions</c>.</summary>
public static class TopicAdmin
{
    /// <summary>Lists the topics; with <paramref name="sizes"/> false, without asking the brokers for sizes (null).</summary>
    public static async Task<int> ListAsync(KafkaClient client, AdminOutput output, CancellationToken ct, bool sizes = true)
    {
        IReadOnlyDictionary<string, TopicMetadata> topics = await client.ListTopicsAsync(ct).ConfigureAwait(false);
        var sorted = topics.Values.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        PartitionSizes? known = sizes ? await SizesAsync(client, null, ct).ConfigureAwait(false) : null;
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("topics");
                foreach (TopicMetadata t in sorted)
                {
                    w.WriteStartObject();
                    w.WriteString("name", t.Name);
                    w.WriteNumber("partitions", t.PartitionCount);
                    w.WriteString("topic_id", t.TopicId == Guid.Empty ? null : t.TopicId.ToString());
                    WriteSize(w, known?.OfTopic(t.Name, t.PartitionCount));
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
            return AdminExitCodes.Ok;
        }

        output.WriteTable(["TOPIC", "PARTITIONS", "TOPIC-ID", "SIZE"],
            sorted.Select(t => (IReadOnlyList<string>)[t.Name, AdminOutput.N(t.PartitionCount), t.TopicId == Guid.Empty ? "-" : t.TopicId.ToString(),
                AdminOutput.Size(known?.OfTopic(t.Name, t.PartitionCount))]));
        return AdminExitCodes.Ok;
    }

    /// <summary>
    /// Partition sizes from the brokers' log dirs (DescribeLogDirs), or null when the user may not
    /// ask (Kafka requires DESCRIBE on the cluster): the listing is still useful without them.
    /// </summary>
    private static async Task<PartitionSizes?> SizesAsync(KafkaClient client, IReadOnlyCollection<string>? topics, CancellationToken ct)
    {
        try
        {
            return await client.DescribePartitionSizesAsync(topics, ct).ConfigureAwait(false);
        }
        catch (KafkaException ex) when (ex.ErrorCode is ErrorCode.ClusterAuthorizationFailed or ErrorCode.UnsupportedVersion)
        {
            return null;
        }
    }

    /// <summary>"size_bytes": a number, or null when unknown.</summary>
    private static void WriteSize(Utf8JsonWriter w, long? bytes)
    {
        if (bytes is long b) w.WriteNumber("size_bytes", b);
        else w.WriteNull("size_bytes");
    }

    /// <summary>The topic's metadata, or a clear failure when it does not exist.</summary>
    internal static async Task<TopicMetadata> RequireTopicAsync(KafkaClient client, string topic, CancellationToken ct)
    {
        IReadOnlyDictionary<string, TopicMetadata> topics = await client.ListTopicsAsync(ct).ConfigureAwait(false);
        if (!topics.TryGetValue(topic, out TopicMetadata? metadata) || metadata.ErrorCode == ErrorCode.UnknownTopicOrPartition)
        {
            throw new AdminFailure($"topic '{topic}' does not exist");
        }

        return metadata;
    }

    public static async Task<int> DescribeAsync(KafkaClient client, AdminOutput output, string topic, CancellationToken ct)
    {
        TopicMetadata metadata = await RequireTopicAsync(client, topic, ct).ConfigureAwait(false);
        int[] partitions = [.. metadata.Partitions.Select(p => p.Partition)];
        var earliest = await client.ListOffsetsAsync(topic, partitions, OffsetSpec.Earliest, ct).ConfigureAwait(false);
        var latest = await client.ListOffsetsAsync(topic, partitions, OffsetSpec.Latest, ct).ConfigureAwait(false);
        IReadOnlyList<ConfigEntry> configs = await client.DescribeTopicConfigsAsync(topic, ct).ConfigureAwait(false);
        PartitionSizes? sizes = await SizesAsync(client, [topic], ct).ConfigureAwait(false);
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("name", topic);
                w.WriteString("topic_id", metadata.TopicId == Guid.Empty ? null : metadata.TopicId.ToString());
                WriteSize(w, sizes?.OfTopic(topic, metadata.PartitionCount));
                w.WriteStartArray("partitions");
                foreach (PartitionMetadata p in metadata.Partitions)
                {
                    w.WriteStartObject();
                    w.WriteNumber("partition", p.Partition);
                    w.WriteNumber("leader", p.LeaderId);
                    w.WriteNumber("leader_epoch", p.LeaderEpoch);
                    w.WriteNumber("earliest_offset", earliest[p.Partition].Offset);
                    w.WriteNumber("latest_offset", latest[p.Partition].Offset);
                    w.WriteNumber("records", latest[p.Partition].Offset - earliest[p.Partition].Offset);
                    WriteSize(w, sizes?.Of(topic, p.Partition));
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStartArray("configs");
                foreach (ConfigEntry c in configs)
                {
                    w.WriteStartObject();
                    w.WriteString("name", c.Name);
                    w.WriteString("value", c.IsSensitive ? null : c.Value);
                    w.WriteBoolean("default", c.IsDefault);
                    w.WriteBoolean("read_only", c.ReadOnly);
                    w.WriteString("source", c.Source);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
            return AdminExitCodes.Ok;
        }

        output.WriteFields([
            ("topic", topic),
            ("topic id", metadata.TopicId == Guid.Empty ? "-" : metadata.TopicId.ToString()),
            ("partitions", AdminOutput.N(metadata.PartitionCount)),
            ("size", AdminOutput.Size(sizes?.OfTopic(topic, metadata.PartitionCount))),
        ]);
        output.Line("");
        output.WriteTable(["PARTITION", "LEADER", "EPOCH", "EARLIEST", "LATEST", "RECORDS", "SIZE"],
            metadata.Partitions.Select(p => (IReadOnlyList<string>)[
                AdminOutput.N(p.Partition), AdminOutput.N(p.LeaderId), AdminOutput.N(p.LeaderEpoch),
                AdminOutput.N(earliest[p.Partition].Offset), AdminOutput.N(latest[p.Partition].Offset),
                AdminOutput.N(latest[p.Partition].Offset - earliest[p.Partition].Offset), AdminOutput.Size(sizes?.Of(topic, p.Partition))]));
        output.Line("");
        output.WriteTable(["CONFIG", "VALUE", "SOURCE"],
            configs.Select(c => (IReadOnlyList<string>)[c.Name, c.IsSensitive ? "(sensitive)" : c.Value ?? "-", c.Source]));
        return AdminExitCodes.Ok;
    }

    public static async Task<int> CreateAsync(KafkaClient client, AdminOutput output, string topic, int partitions,
        IReadOnlyList<(string Key, string Value)> configs, CancellationToken ct)
    {
        var newTopic = new NewTopic(topic, partitions) { Configs = configs.ToDictionary(c => c.Key, c => (string?)c.Value) };
        await client.CreateTopicsAsync([newTopic], ignoreIfExists: false, ct).ConfigureAwait(false);
        TopicMetadata created = await client.GetTopicAsync(topic, refresh: true, ct).ConfigureAwait(false);
        Done(output, "created", topic, w => w.WriteNumber("partitions", created.PartitionCount),
            $"created topic '{topic}' with {created.PartitionCount} partition(s)");
        return AdminExitCodes.Ok;
    }

    public static async Task<int> DeleteAsync(KafkaClient client, AdminOutput output, string topic, CancellationToken ct)
    {
        await client.DeleteTopicsAsync([topic], ignoreIfMissing: false, ct).ConfigureAwait(false);
        Done(output, "deleted", topic, null, $"deleted topic '{topic}'");
        return AdminExitCodes.Ok;
    }

    public static async Task<int> AlterConfigAsync(KafkaClient client, AdminOutput output, string topic,
        IReadOnlyList<(string Key, string Value)> set, IReadOnlyList<string> delete, CancellationToken ct)
    {
        if (set.Count == 0 && delete.Count == 0)
        {
            throw new AdminUsageException("alter-config needs at least one --set KEY=VALUE or --delete KEY");
        }

        var changes = set.Select(s => new ConfigChange(s.Key, s.Value)).Concat(delete.Select(d => new ConfigChange(d, null))).ToList();
        await client.AlterTopicConfigsAsync(topic, changes, ct).ConfigureAwait(false);
        Done(output, "altered", topic, w =>
        {
            w.WriteStartObject("set");
            foreach ((string key, string value) in set)
            {
                w.WriteString(key, value);
            }

            w.WriteEndObject();
            w.WriteStartArray("deleted");
            foreach (string key in delete)
            {
                w.WriteStringValue(key);
            }

            w.WriteEndArray();
        }, $"altered topic '{topic}': {string.Join(", ", set.Select(s => $"{s.Key}={s.Value}").Concat(delete.Select(d => $"{d} (deleted)")))}");
        return AdminExitCodes.Ok;
    }

    public static async Task<int> AddPartitionsAsync(KafkaClient client, AdminOutput output, string topic, int count, CancellationToken ct)
    {
        TopicMetadata before = await RequireTopicAsync(client, topic, ct).ConfigureAwait(false);
        int total = before.PartitionCount + count;
        await client.CreatePartitionsAsync(topic, total, ct).ConfigureAwait(false);
        Done(output, "partitions_added", topic, w =>
        {
            w.WriteNumber("added", count);
            w.WriteNumber("partitions", total);
        }, $"topic '{topic}' now has {total} partitions ({count} added)");
        return AdminExitCodes.Ok;
    }

    private static void Done(AdminOutput output, string action, string topic, Action<Utf8JsonWriter>? extra, string text)
    {
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("action", action);
                w.WriteString("topic", topic);
                extra?.Invoke(w);
                w.WriteEndObject();
            });
        }
        else
        {
            output.Line(text);
        }
    }
}
