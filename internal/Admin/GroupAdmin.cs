using KafScale.Client;
using KafScale.Protocol;

namespace KafScale.Admin;

/// <summary>Where <c>groups reset-offsets</c> moves a group's offsets.</summary>
public abstract record ResetTarget
{
    public sealed record Earliest : ResetTarget;

    public sealed record Latest : ResetTarget;

    public sealed record ToOffset(long Offset) : ResetTarget;

    public sealed record ToTime(long TimestampMs) : ResetTarget;

    public sealed record ShiftBy(long Delta) : ResetTarget;

    public string Describe() => this switch
    {
        Earliest => "earliest",
        Latest => "latest",
        ToOffset o => $"offset {o.Offset}",
        ToTime t => $"time {AdminOutput.Time(t.TimestampMs)}",
        ShiftBy s => $"shift by {s.Delta}",
        _ => "?",
    };
}

/// <summary><c>groups list | describe | delete | reset-offsets</c>.</summary>
public static class GroupAdmin
{
    public static async Task<int> ListAsync(KafkaClient client, AdminOutput output, CancellationToken ct)
    {
        IReadOnlyList<GroupListing> groups = await client.ListGroupsAsync(ct).ConfigureAwait(false);
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteStartArray("groups");
                foreach (GroupListing g in groups)
                {
                    w.WriteStartObject();
                    w.WriteString("group", g.GroupId);
                    w.WriteString("state", g.State);
                    w.WriteString("protocol_type", g.ProtocolType);
                    w.WriteNumber("coordinator", g.CoordinatorId);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
            return AdminExitCodes.Ok;
        }

        output.WriteTable(["GROUP", "STATE", "PROTOCOL-TYPE", "COORDINATOR"],
            groups.Select(g => (IReadOnlyList<string>)[g.GroupId, g.State.Length == 0 ? "-" : g.State, g.ProtocolType.Length == 0 ? "-" : g.ProtocolType, AdminOutput.N(g.CoordinatorId)]));
        return AdminExitCodes.Ok;
    }

    /// <summary>One partition of <c>groups describe</c>: committed offset (-1: none), end offset, lag (null without a commit) and the member it is assigned to.</summary>
    private sealed record PartitionLag(string Topic, int Partition, long Committed, long End, long? Lag, GroupMember? Member);

    public static async Task<int> DescribeAsync(KafkaClient client, AdminOutput output, string group, CancellationToken ct)
    {
        GroupDescription description = await client.DescribeGroupAsync(group, ct).ConfigureAwait(false);
        IReadOnlyList<CommittedOffset> committed = await client.FetchCommittedOffsetsAsync(group, null, ct).ConfigureAwait(false);
        if (description.State is "Dead" or "" && committed.Count == 0)
        {
            throw new AdminFailure($"group '{group}' does not exist");
        }

        var owners = new Dictionary<(string, int), GroupMember>();
        foreach (GroupMember m in description.Members)
        {
            foreach ((string topic, int partition) in m.Assignment)
            {
                owners[(topic, partition)] = m;
            }
        }

        var keys = new SortedSet<(string Topic, int Partition)>(Comparer<(string Topic, int Partition)>.Create(static (a, b) =>
            a.Topic != b.Topic ? string.CompareOrdinal(a.Topic, b.Topic) : a.Partition.CompareTo(b.Partition)));
        foreach (CommittedOffset c in committed)
        {
            if (c.Offset >= 0)
            {
                keys.Add((c.Topic, c.Partition));
            }
        }

        foreach ((string, int) owned in owners.Keys)
        {
            keys.Add(owned);
        }

        var ends = new Dictionary<(string, int), long>();
        foreach (var byTopic in keys.GroupBy(k => k.Topic))
        {
            try
            {
                var latest = await client.ListOffsetsAsync(byTopic.Key, [.. byTopic.Select(k => k.Partition)], OffsetSpec.Latest, ct).ConfigureAwait(false);
                foreach ((int partition, ListedOffset o) in latest)
                {
                    ends[(byTopic.Key, partition)] = o.Offset;
                }
            }
            catch (KafkaException ex) when (ex.ErrorCode == ErrorCode.UnknownTopicOrPartition)
            {
                // A topic deleted after the group committed: no end offset, no lag.
            }
        }

        var rows = new List<PartitionLag>();
        foreach ((string topic, int partition) in keys)
        {
            long offset = committed.FirstOrDefault(c => c.Topic == topic && c.Partition == partition) is { Topic: not null } found ? found.Offset : -1;
            long end = ends.TryGetValue((topic, partition), out long e) ? e : -1;
            long? lag = offset >= 0 && end >= 0 ? Math.Max(0, end - offset) : null;
            rows.Add(new PartitionLag(topic, partition, offset, end, lag, owners.GetValueOrDefault((topic, partition))));
        }

        long totalLag = rows.Sum(r => r.Lag ?? 0);
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("group", group);
                w.WriteString("state", description.State);
                w.WriteString("protocol_type", description.ProtocolType);
                w.WriteString("protocol", description.Protocol);
                w.WriteNumber("coordinator", description.CoordinatorId);
                w.WriteStartArray("members");
                foreach (GroupMember m in description.Members)
                {
                    w.WriteStartObject();
                    w.WriteString("member_id", m.MemberId);
                    w.WriteString("group_instance_id", m.GroupInstanceId);
                    w.WriteString("client_id", m.ClientId);
                    w.WriteString("client_host", m.ClientHost);
                    w.WriteStartArray("assignment");
                    foreach ((string topic, int partition) in m.Assignment)
                    {
                        w.WriteStartObject();
                        w.WriteString("topic", topic);
                        w.WriteNumber("partition", partition);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStartArray("offsets");
                foreach (PartitionLag r in rows)
                {
                    w.WriteStartObject();
                    w.WriteString("topic", r.Topic);
                    w.WriteNumber("partition", r.Partition);
                    WriteNullable(w, "committed_offset", r.Committed >= 0 ? r.Committed : null);
                    WriteNullable(w, "end_offset", r.End >= 0 ? r.End : null);
                    WriteNullable(w, "lag", r.Lag);
                    w.WriteString("member_id", r.Member?.MemberId);
                    w.WriteString("client_id", r.Member?.ClientId);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteNumber("total_lag", totalLag);
                w.WriteEndObject();
            });
            return AdminExitCodes.Ok;
        }

        output.WriteFields([
            ("group", group),
            ("state", description.State),
            ("protocol", description.ProtocolType.Length == 0 ? "-" : $"{description.ProtocolType}/{(description.Protocol.Length == 0 ? "-" : description.Protocol)}"),
            ("coordinator", AdminOutput.N(description.CoordinatorId)),
            ("members", AdminOutput.N(description.Members.Count)),
            ("total lag", AdminOutput.N(totalLag)),
        ]);
        if (description.Members.Count > 0)
        {
            output.Line("");
            output.WriteTable(["MEMBER", "CLIENT-ID", "HOST", "ASSIGNMENT"],
                description.Members.Select(m => (IReadOnlyList<string>)[m.MemberId, m.ClientId, m.ClientHost,
                    m.Assignment.Count == 0 ? "-" : string.Join(",", m.Assignment.Select(a => $"{a.Topic}-{a.Partition}"))]));
        }

        output.Line("");
        output.WriteTable(["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER"],
            rows.Select(r => (IReadOnlyList<string>)[r.Topic, AdminOutput.N(r.Partition),
                r.Committed >= 0 ? AdminOutput.N(r.Committed) : "-", r.End >= 0 ? AdminOutput.N(r.End) : "-",
                r.Lag is long l ? AdminOutput.N(l) : "-", r.Member?.MemberId ?? "-"]));
        return AdminExitCodes.Ok;
    }

    private static void WriteNullable(System.Text.Json.Utf8JsonWriter w, string name, long? value)
    {
        if (value is long v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    public static async Task<int> DeleteAsync(KafkaClient client, AdminOutput output, string group, CancellationToken ct)
    {
        await client.DeleteGroupAsync(group, ct).ConfigureAwait(false);
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("action", "deleted");
                w.WriteString("group", group);
                w.WriteEndObject();
            });
        }
        else
        {
            output.Line($"deleted group '{group}'");
        }

        return AdminExitCodes.Ok;
    }

    public static async Task<int> ResetOffsetsAsync(KafkaClient client, AdminOutput output, string group, string topic, IReadOnlyList<int>? onlyPartitions,
        ResetTarget target, bool execute, CancellationToken ct)
    {
        GroupDescription description = await client.DescribeGroupAsync(group, ct).ConfigureAwait(false);
        if (description.Members.Count > 0)
        {
            throw new AdminFailure($"group '{group}' has {description.Members.Count} active member(s) (state {description.State}): stop its consumers before resetting offsets");
        }

        TopicMetadata metadata = await TopicAdmin.RequireTopicAsync(client, topic, ct).ConfigureAwait(false);
        List<int> partitions = onlyPartitions is null ? [.. metadata.Partitions.Select(p => p.Partition)] : [.. onlyPartitions];
        foreach (int p in partitions)
        {
            if (!metadata.TryGetPartition(p, out _))
            {
                throw new AdminFailure($"topic '{topic}' has no partition {p} (it has {metadata.PartitionCount})");
            }
        }

        var earliest = await client.ListOffsetsAsync(topic, partitions, OffsetSpec.Earliest, ct).ConfigureAwait(false);
        var latest = await client.ListOffsetsAsync(topic, partitions, OffsetSpec.Latest, ct).ConfigureAwait(false);
        IReadOnlyDictionary<int, ListedOffset>? atTime = target is ResetTarget.ToTime t
            ? await client.ListOffsetsAsync(topic, partitions, t.TimestampMs, ct).ConfigureAwait(false)
            : null;
        IReadOnlyList<CommittedOffset> committed = await client.FetchCommittedOffsetsAsync(group,
            new Dictionary<string, IReadOnlyList<int>> { [topic] = partitions }, ct).ConfigureAwait(false);

        var plan = new List<(int Partition, long Current, long New)>();
        foreach (int p in partitions)
        {
            long low = earliest[p].Offset, high = latest[p].Offset;
            long current = committed.FirstOrDefault(c => c.Topic == topic && c.Partition == p) is { Topic: not null } c ? c.Offset : -1;
            long next = target switch
            {
                ResetTarget.Earliest => low,
                ResetTarget.Latest => high,
                ResetTarget.ToOffset o => Math.Clamp(o.Offset, low, high),
                // No record at or after the time: the end of the log, as Kafka's tool does.
                ResetTarget.ToTime => atTime![p].Offset < 0 ? high : atTime[p].Offset,
                ResetTarget.ShiftBy s => current < 0
                    ? throw new AdminFailure($"group '{group}' has no committed offset for {topic}-{p} to shift: reset it with --to-earliest, --to-latest or --to-offset first")
                    : Math.Clamp(current + s.Delta, low, high),
                _ => throw new InvalidOperationException(),
            };
            plan.Add((p, current, next));
        }

        if (execute)
        {
            await client.CommitOffsetsAsync(group, [.. plan.Select(x => new CommittedOffset(topic, x.Partition, x.New, null))], ct).ConfigureAwait(false);
        }

        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("group", group);
                w.WriteString("topic", topic);
                w.WriteString("target", target.Describe());
                w.WriteBoolean("executed", execute);
                w.WriteStartArray("partitions");
                foreach ((int partition, long current, long next) in plan)
                {
                    w.WriteStartObject();
                    w.WriteNumber("partition", partition);
                    WriteNullable(w, "current_offset", current >= 0 ? current : null);
                    w.WriteNumber("new_offset", next);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
            return AdminExitCodes.Ok;
        }

        output.WriteTable(["TOPIC", "PARTITION", "CURRENT", "NEW"],
            plan.Select(x => (IReadOnlyList<string>)[topic, AdminOutput.N(x.Partition), x.Current >= 0 ? AdminOutput.N(x.Current) : "-", AdminOutput.N(x.New)]));
        output.Line("");
        output.Line(execute
            ? $"committed the new offsets of group '{group}' ({target.Describe()})"
            : $"dry run: nothing changed; add --execute to commit these offsets for group '{group}'");
        return AdminExitCodes.Ok;
    }
}
