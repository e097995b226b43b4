using System.Globalization;
using System.Text;
using System.Text.Json;
using KafScale.Admin;
using KafScale.Client;
using KafScale.Observability;
using KafScale.Records;
using KafScale.Storage;
using KafScale.Storage.Wal;

namespace KafScale.WebConsole;

/// <summary>The JSON API behind the pages, one method per route of docs/console.md.</summary>
public sealed partial class WebConsoleServer
{
    /// <summary>The most records one messages request returns.</summary>
    public const int MaxMessages = 500;
    /// <summary>The most WAL objects the storage page lists (the newest).</summary>
    public const int MaxWalObjects = 200;

    private async Task<HttpResponse> OverviewAsync(CancellationToken ct)
    {
        var client = await ClientAsync(ct).ConfigureAwait(false);
        ClusterMetadata cluster = await client.RefreshMetadataAsync(null, ct).ConfigureAwait(false);
        var led = new Dictionary<int, int>();
        int partitions = 0;
        foreach (var topic in cluster.Topics.Values)
        {
            foreach (var p in topic.Partitions)
            {
                partitions++;
                led[p.LeaderId] = led.GetValueOrDefault(p.LeaderId) + 1;
            }
        }
        var v = _host.Vitals();
        var points = _history.Points();
        return Json(200, w =>
        {
            w.WriteString("cluster_id", cluster.ClusterId ?? v.ClusterId);
            w.WriteNumber("controller_id", cluster.ControllerId);
            w.WriteNumber("topics", cluster.Topics.Count);
            w.WriteNumber("partitions", partitions);
            w.WriteStartArray("brokers");
            foreach (var b in cluster.Brokers.Values.OrderBy(b => b.NodeId))
            {
                w.WriteStartObject();
                w.WriteNumber("id", b.NodeId);
                w.WriteString("host", b.Host);
                w.WriteNumber("port", b.Port);
                w.WriteString("rack", b.Rack);
                w.WriteNumber("partitions_led", led.GetValueOrDefault(b.NodeId));
                w.WriteBoolean("this_broker", b.NodeId == v.BrokerId);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("this_broker");
            w.WriteNumber("id", v.BrokerId);
            w.WriteString("metadata_store", v.MetadataStore);
            w.WriteBoolean("lease_valid", v.LeaseValid);
            w.WriteString("object_store", v.ObjectStore);
            w.WriteString("object_store_state", v.ObjectStoreState);
            w.WriteNumber("partitions_led", v.PartitionsLed);
            w.WriteNumber("object_puts", v.ObjectPuts);
            w.WriteNumber("object_gets", v.ObjectGets);
            w.WriteNumber("object_lists", v.ObjectLists);
            w.WriteNumber("estimated_request_cost_usd_per_day", Math.Round(v.RequestCostUsdPerDay, 4));
            w.WriteNumber("bytes_in", v.BytesIn);
            w.WriteNumber("bytes_out", v.BytesOut);
            w.WriteEndObject();
            w.WriteNumber("history_interval_seconds", MetricsHistory.Interval.TotalSeconds);
            w.WriteStartArray("history");
            foreach (var p in points)
            {
                w.WriteStartObject();
                w.WriteNumber("at_ms", p.AtMs);
                w.WriteNumber("produce_bytes_per_sec", Math.Round(p.ProduceBytesPerSec, 2));
                w.WriteNumber("produce_records_per_sec", Math.Round(p.ProduceRecordsPerSec, 2));
                w.WriteNumber("fetch_bytes_per_sec", Math.Round(p.FetchBytesPerSec, 2));
                w.WriteNumber("fetch_records_per_sec", Math.Round(p.FetchRecordsPerSec, 2));
                Nullable(w, "produce_latency_ms", p.ProduceLatencyMs);
                Nullable(w, "fetch_latency_ms", p.FetchLatencyMs);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static void Nullable(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double d) w.WriteNumber(name, Math.Round(d, 3));
        else w.WriteNull(name);
    }

    private Task<HttpResponse> CreateTopicAsync(HttpRequest r, CancellationToken ct)
    {
        using var doc = Body(r);
        string name = RequiredString(doc.RootElement, "name");
        int partitions = OptionalInt(doc.RootElement, "partitions") ?? -1;
        if (partitions is 0 or < -1 or > 100_000) throw ApiError.BadRequest("partitions must be from 1 to 100000");
        var configs = StringMap(doc.RootElement, "configs");
        return AdminJsonAsync((c, o) => TopicAdmin.CreateAsync(c, o, name, partitions, configs, ct), ct);
    }

    private Task<HttpResponse> AddPartitionsAsync(HttpRequest r, string topic, CancellationToken ct)
    {
        using var doc = Body(r);
        int count = OptionalInt(doc.RootElement, "count") ?? throw ApiError.BadRequest("the body needs \"count\": how many partitions to add");
        if (count is < 1 or > 100_000) throw ApiError.BadRequest("count must be from 1 to 100000");
        return AdminJsonAsync((c, o) => TopicAdmin.AddPartitionsAsync(c, o, topic, count, ct), ct);
    }

    private Task<HttpResponse> AlterConfigAsync(HttpRequest r, string topic, CancellationToken ct)
    {
        using var doc = Body(r);
        var set = StringMap(doc.RootElement, "set");
        var delete = new List<string>();
        if (doc.RootElement.TryGetProperty("delete", out var d))
        {
            if (d.ValueKind != JsonValueKind.Array) throw ApiError.BadRequest("\"delete\" must be an array of config names");
            foreach (var e in d.EnumerateArray())
                delete.Add(e.ValueKind == JsonValueKind.String ? e.GetString()! : throw ApiError.BadRequest("\"delete\" must be an array of config names"));
        }
        return AdminJsonAsync((c, o) => TopicAdmin.AlterConfigAsync(c, o, topic, set, delete, ct), ct);
    }

    private async Task<TopicMetadata> TopicAsync(KafkaClient client, string topic, CancellationToken ct)
    {
        var topics = await client.ListTopicsAsync(ct).ConfigureAwait(false);
        if (!topics.TryGetValue(topic, out var metadata) || metadata.ErrorCode == Protocol.ErrorCode.UnknownTopicOrPartition)
            throw ApiError.NotFound($"topic '{topic}' does not exist");
        return metadata;
    }

    private static int Partition(TopicMetadata topic, string? text)
    {
        if (text is null or "") throw ApiError.BadRequest("the query needs partition=N");
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int p) || !topic.TryGetPartition(p, out _))
            throw ApiError.BadRequest($"topic '{topic.Name}' has no partition '{text}' (it has {topic.PartitionCount})");
        return p;
    }

    /// <summary>
    /// A page of one partition: from=offset (offset=N), from=time (time=ms since the epoch, or
    /// ISO 8601) or from=newest (the last count records); count from 1 to <see cref="MaxMessages"/>.
    /// </summary>
    private async Task<HttpResponse> MessagesAsync(HttpRequest r, string topicName, CancellationToken ct)
    {
        var client = await ClientAsync(ct).ConfigureAwait(false);
        var topic = await TopicAsync(client, topicName, ct).ConfigureAwait(false);
        int partition = Partition(topic, r.QueryValue("partition"));
        int count = 50;
        if (r.QueryValue("count") is { Length: > 0 } countText
            && (!int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1 || count > MaxMessages))
            throw ApiError.BadRequest($"count must be from 1 to {MaxMessages}");
        long start = await client.ListOffsetAsync(topicName, partition, OffsetSpec.Earliest, ct).ConfigureAwait(false);
        long end = await client.ListOffsetAsync(topicName, partition, OffsetSpec.Latest, ct).ConfigureAwait(false);
        string from = r.QueryValue("from") ?? "newest";
        long offset;
        switch (from)
        {
            case "newest":
                offset = Math.Max(start, end - count);
                break;
            case "offset":
                string? text = r.QueryValue("offset");
                if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out offset))
                    throw ApiError.BadRequest($"offset must be a whole number, not '{text}'");
                if (offset < start || offset > end)
                    throw ApiError.BadRequest($"offset {offset} is outside the log of {topicName}-{partition}: it holds offsets {start} to {end - 1} (end {end})");
                break;
            case "time":
                long ms;
                try { ms = AdminParsing.ParseTime(r.QueryValue("time") ?? "", "time"); }
                catch (AdminUsageException ex) { throw ApiError.BadRequest(ex.Message); }
                long found = await client.ListOffsetAsync(topicName, partition, ms, ct).ConfigureAwait(false);
                offset = found < 0 ? end : found;
                if (start > 0 && offset == start && start < end)
                {
                    // Records were removed below the log start (retention, DeleteRecords): a time
                    // before the first record still held asks for records that are gone, which
                    // the page says rather than silently show later ones.
                    // See docs/decisions.md, "Web console and ACLs".
                    long first = await FirstTimestampAsync(client, topicName, partition, start, ct).ConfigureAwait(false);
                    if (first > ms)
                        throw ApiError.BadRequest($"time {AdminOutput.Time(ms)} is before the log start of {topicName}-{partition}: records before offset {start} were deleted, and the first one still held (offset {start}) is from {AdminOutput.Time(first)}; browse from that time or from offset {start}");
                }
                break;
            default:
                throw ApiError.BadRequest($"from must be newest, offset or time, not '{from}'");
        }

        var records = new List<Record>();
        long next = offset;
        // Bounded: at most 8 fetches of at most 4 MiB each, never waiting for new data.
        for (int round = 0; round < 8 && records.Count < count && next < end; round++)
        {
            using var result = await client.FetchAsync(topicName, partition, next, new FetchOptions { MaxWaitMs = 0, MinBytes = 0, MaxBytes = 4 * 1024 * 1024 }, ct).ConfigureAwait(false);
            var fetched = result.Partitions.FirstOrDefault(p => p.Partition == partition) ?? throw ApiError.NotFound($"no fetch result for {topicName}-{partition}");
            fetched.ThrowIfError();
            var page = fetched.ReadRecords();
            if (page.Count == 0) break;
            foreach (var record in page)
            {
                if (records.Count == count) break;
                records.Add(record);
                next = record.Offset + 1;
            }
        }

        return Json(200, w =>
        {
            w.WriteString("topic", topicName);
            w.WriteNumber("partition", partition);
            w.WriteNumber("log_start_offset", start);
            w.WriteNumber("log_end_offset", end);
            w.WriteNumber("from_offset", offset);
            w.WriteNumber("next_offset", next);
            w.WriteStartArray("records");
            foreach (var rec in records)
            {
                w.WriteStartObject();
                w.WriteNumber("offset", rec.Offset);
                w.WriteNumber("timestamp", rec.Timestamp);
                Bytes(w, "key", rec.Key);
                Bytes(w, "value", rec.Value);
                w.WriteStartArray("headers");
                foreach (var h in rec.Headers)
                {
                    w.WriteStartObject();
                    w.WriteString("key", h.Key);
                    Bytes(w, "value", h.Value);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>The timestamp of the record at an offset (the log start), or -1 when it cannot be read.</summary>
    private static async Task<long> FirstTimestampAsync(KafkaClient client, string topic, int partition, long offset, CancellationToken ct)
    {
        using var result = await client.FetchAsync(topic, partition, offset, new FetchOptions { MaxWaitMs = 0, MinBytes = 0, MaxBytes = 64 * 1024 }, ct).ConfigureAwait(false);
        var fetched = result.Partitions.FirstOrDefault(p => p.Partition == partition);
        if (fetched is null) return -1;
        fetched.ThrowIfError();
        return fetched.ReadRecords().FirstOrDefault(r => r.Offset >= offset)?.Timestamp ?? -1;
    }

    /// <summary>Bytes travel as base64 (null stays null); the page shows them as JSON, text or hex.</summary>
    private static void Bytes(Utf8JsonWriter w, string name, byte[]? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteBase64String(name, value);
    }

    /// <summary>Produces one test record: {"partition"?, "key"?, "value", "headers"?: {name: value}}, all text.</summary>
    private async Task<HttpResponse> ProduceAsync(HttpRequest r, string topicName, CancellationToken ct)
    {
        using var doc = Body(r);
        var root = doc.RootElement;
        string? key = OptionalString(root, "key");
        string? value = OptionalString(root, "value");
        var headers = StringMap(root, "headers").Select(h => new RecordHeader(h.Key, Encoding.UTF8.GetBytes(h.Value))).ToList();
        var client = await ClientAsync(ct).ConfigureAwait(false);
        var topic = await TopicAsync(client, topicName, ct).ConfigureAwait(false);
        int? given = OptionalInt(root, "partition");
        int partition = given is int g ? Partition(topic, g.ToString(CultureInfo.InvariantCulture))
            : key is null ? 0 : Partitioner.ForKey(Encoding.UTF8.GetBytes(key), topic.PartitionCount);
        var result = await client.ProduceAsync(topicName, partition,
            [new ProducerRecord(key is null ? null : Encoding.UTF8.GetBytes(key), value is null ? null : Encoding.UTF8.GetBytes(value), null, headers)],
            Acks.All, cancellationToken: ct).ConfigureAwait(false);
        return Json(200, w =>
        {
            w.WriteString("topic", topicName);
            w.WriteNumber("partition", partition);
            w.WriteNumber("offset", result.BaseOffset);
        });
    }

    /// <summary>
    /// <c>admin groups reset-offsets</c> with the same rules (no active members, clamped to the
    /// log): {"topic", "partitions"?, "to": earliest|latest|offset|time|shift, "value"?, "execute"?}.
    /// </summary>
    private Task<HttpResponse> ResetOffsetsAsync(HttpRequest r, string group, CancellationToken ct)
    {
        using var doc = Body(r);
        var root = doc.RootElement;
        string topic = RequiredString(root, "topic");
        List<int>? partitions = null;
        if (root.TryGetProperty("partitions", out var ps) && ps.ValueKind != JsonValueKind.Null)
        {
            if (ps.ValueKind != JsonValueKind.Array) throw ApiError.BadRequest("\"partitions\" must be an array of partition numbers");
            partitions = [.. ps.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int p) && p >= 0 ? p : throw ApiError.BadRequest("\"partitions\" must be an array of partition numbers"))];
        }
        string to = RequiredString(root, "to");
        ResetTarget target = to switch
        {
            "earliest" => new ResetTarget.Earliest(),
            "latest" => new ResetTarget.Latest(),
            "offset" => new ResetTarget.ToOffset(RequiredLong(root, "value")),
            "time" => new ResetTarget.ToTime(RequiredLong(root, "value")),
            "shift" => new ResetTarget.ShiftBy(RequiredLong(root, "value")),
            _ => throw ApiError.BadRequest($"\"to\" must be earliest, latest, offset, time or shift, not '{to}'"),
        };
        bool execute = root.TryGetProperty("execute", out var e) && e.ValueKind == JsonValueKind.True;
        return AdminJsonAsync((c, o) => GroupAdmin.ResetOffsetsAsync(c, o, group, topic, partitions, target, execute, ct), ct);
    }

    /// <summary>A partition's segments as <c>admin segments verify</c> reads them, and the newest WAL objects of the namespace.</summary>
    private async Task<HttpResponse> StorageAsync(string topicName, string partitionText, CancellationToken ct)
    {
        var client = await ClientAsync(ct).ConfigureAwait(false);
        var topic = await TopicAsync(client, topicName, ct).ConfigureAwait(false);
        int partition = Partition(topic, partitionText);
        var store = _host.ObjectStore;
        string ns = _host.Namespace;
        PartitionReport report = await PartitionVerifier.VerifyAsync(store, ns, topicName, partition, ct).ConfigureAwait(false);
        var wal = new List<(ObjectInfo Object, long CreatedAtMs, int BrokerId)>();
        await foreach (var o in store.ListAsync(WalKeys.Prefix(ns), ct).ConfigureAwait(false))
        {
            if (WalKeys.TryParse(o.Key, out long created, out _, out int broker)) wal.Add((o, created, broker));
        }
        int walTotal = wal.Count;
        return Json(200, w =>
        {
            w.WriteString("namespace", ns);
            w.WriteString("topic", topicName);
            w.WriteNumber("partition", partition);
            w.WriteString("object_store", store.Kind);
            w.WriteBoolean("clean", report.IsClean);
            w.WriteNumber("segment_bytes", report.Segments.Sum(s => s.SizeBytes));
            w.WriteStartArray("segments");
            foreach (var s in report.Segments)
            {
                w.WriteStartObject();
                w.WriteString("key", s.Key);
                w.WriteNumber("base_offset", s.BaseOffset);
                if (s.LastOffset is long last) w.WriteNumber("last_offset", last); else w.WriteNull("last_offset");
                w.WriteNumber("size_bytes", s.SizeBytes);
                w.WriteNumber("batches", s.Batches);
                w.WriteNumber("records", s.Records);
                w.WriteNumber("created_at_ms", s.CreatedAtMs);
                w.WriteBoolean("has_index", s.HasIndex);
                w.WriteNumber("index_entries", s.IndexEntries);
                w.WriteNumber("faults", s.Faults.Count);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("faults");
            foreach (var f in report.Faults)
            {
                w.WriteStartObject();
                w.WriteString("key", f.Key);
                w.WriteString("check", f.Check);
                w.WriteString("message", f.Message);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("wal_objects_total", walTotal);
            w.WriteStartArray("wal_objects");
            foreach (var (o, created, broker) in wal.OrderByDescending(x => x.CreatedAtMs).Take(MaxWalObjects))
            {
                w.WriteStartObject();
                w.WriteString("key", o.Key);
                w.WriteNumber("size_bytes", o.Size);
                w.WriteNumber("created_at_ms", created);
                w.WriteNumber("broker_id", broker);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static JsonDocument Body(HttpRequest r)
    {
        if (r.Body.Length == 0) throw ApiError.BadRequest("the request needs a JSON object body");
        var doc = JsonDocument.Parse(r.Body);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw ApiError.BadRequest("the body must be a JSON object");
        }
        return doc;
    }

    private static string RequiredString(JsonElement o, string name) =>
        OptionalString(o, name) is { Length: > 0 } s ? s : throw ApiError.BadRequest($"the body needs \"{name}\" (a non-empty string)");

    private static string? OptionalString(JsonElement o, string name) =>
        !o.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null ? null
        : e.ValueKind == JsonValueKind.String ? e.GetString()
        : throw ApiError.BadRequest($"\"{name}\" must be a string");

    private static int? OptionalInt(JsonElement o, string name) =>
        !o.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null ? null
        : e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v
        : throw ApiError.BadRequest($"\"{name}\" must be a whole number");

    private static long RequiredLong(JsonElement o, string name) =>
        o.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long v) ? v
        : throw ApiError.BadRequest($"the body needs \"{name}\" (a whole number)");

    private static List<(string Key, string Value)> StringMap(JsonElement o, string name)
    {
        var list = new List<(string, string)>();
        if (!o.TryGetProperty(name, out var e) || e.ValueKind == JsonValueKind.Null) return list;
        if (e.ValueKind != JsonValueKind.Object) throw ApiError.BadRequest($"\"{name}\" must be an object of string values");
        foreach (var p in e.EnumerateObject())
            list.Add((p.Name, p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw ApiError.BadRequest($"\"{name}\" must be an object of string values")));
        return list;
    }
}
