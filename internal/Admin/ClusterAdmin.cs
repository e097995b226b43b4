using System.Net.Sockets;
using KafScale.Client;
using KafScale.Protocol;

namespace KafScale.Admin;

/// <summary>How <c>cluster health</c> reaches each broker's /readyz.</summary>
public sealed record HealthEndpoints(int HttpPort, IReadOnlyDictionary<int, string> Explicit)
{
    /// <summary>HOST:PORT of a broker's HTTP listener, or null when readiness is not checked (--http-port 0 and no explicit entry).</summary>
    public string? For(BrokerNode broker) =>
        Explicit.TryGetValue(broker.NodeId, out string? endpoint) ? endpoint
        : HttpPort > 0 ? $"{(broker.Host.Contains(':') ? $"[{broker.Host}]" : broker.Host)}:{HttpPort}"
        : null;

    /// <summary>Parses <c>ID=HOST:PORT[,ID=HOST:PORT...]</c>.</summary>
    public static IReadOnlyDictionary<int, string> ParseExplicit(string? value, string flag)
    {
        var result = new Dictionary<int, string>();
        if (string.IsNullOrWhiteSpace(value))
        {
            return result;
        }

        foreach (string entry in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            (string id, string endpoint) = AdminParsing.ParseKeyValue(entry, flag);
            int colon = endpoint.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(endpoint.AsSpan(colon + 1), out int port) || port is <= 0 or > 65535)
            {
                throw new AdminUsageException($"invalid value '{entry}' for {flag}: expected BROKER_ID=HOST:PORT");
            }

            result[AdminParsing.ParseInt(id, flag, 0, int.MaxValue)] = endpoint;
        }

        return result;
    }
}

/// <summary><c>cluster info</c> and <c>cluster health</c>.</summary>
public static class ClusterAdmin
{
    public static async Task<int> InfoAsync(KafkaClient client, AdminOutput output, CancellationToken ct)
    {
        IReadOnlyDictionary<string, TopicMetadata> all = await client.ListTopicsAsync(ct).ConfigureAwait(false);
        ClusterMetadata metadata = client.Metadata;
        var brokers = metadata.Brokers.Values.OrderBy(b => b.NodeId).ToList();
        int topics = all.Count;
        int partitions = all.Values.Sum(t => t.PartitionCount);
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteString("cluster_id", metadata.ClusterId);
                w.WriteNumber("controller_id", metadata.ControllerId);
                w.WriteNumber("topics", topics);
                w.WriteNumber("partitions", partitions);
                w.WriteStartArray("brokers");
                foreach (BrokerNode b in brokers)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", b.NodeId);
                    w.WriteString("host", b.Host);
                    w.WriteNumber("port", b.Port);
                    w.WriteString("rack", b.Rack);
                    w.WriteBoolean("controller", b.NodeId == metadata.ControllerId);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            });
            return AdminExitCodes.Ok;
        }

        output.WriteFields([
            ("cluster id", metadata.ClusterId ?? "-"),
            ("controller", AdminOutput.N(metadata.ControllerId)),
            ("topics", AdminOutput.N(topics)),
            ("partitions", AdminOutput.N(partitions)),
        ]);
        output.Line("");
        output.WriteTable(["ID", "HOST", "PORT", "RACK", "CONTROLLER"],
            brokers.Select(b => (IReadOnlyList<string>)[AdminOutput.N(b.NodeId), b.Host, AdminOutput.N(b.Port), b.Rack ?? "-", b.NodeId == metadata.ControllerId ? "yes" : "no"]));
        return AdminExitCodes.Ok;
    }

    private sealed record BrokerReadiness(BrokerNode Broker, string? Endpoint, int Status, string Detail, string ObjectStore, string MetadataStore)
    {
        public bool Ready => Endpoint is null || Status == 200;
    }

    private sealed record LeaderlessPartition(string Topic, int Partition, ErrorCode Error);

    private sealed record HealthReport(ClusterMetadata Metadata, IReadOnlyList<BrokerReadiness> Brokers, int PartitionCount,
        IReadOnlyList<LeaderlessPartition> Leaderless, IReadOnlyList<string> Problems, DateTimeOffset CheckedAt)
    {
        public bool Healthy => Problems.Count == 0;
    }

    /// <summary>
    /// Checks that every partition has a live leader and every broker's /readyz answers 200;
    /// returns 0 when healthy and 10 when not. With <paramref name="watchInterval"/>, repeats
    /// until cancelled and returns the last result's code.
    /// </summary>
    public static async Task<int> HealthAsync(KafkaClient client, AdminOutput output, HealthEndpoints endpoints, TimeSpan? watchInterval, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        int code = AdminExitCodes.Ok;
        while (true)
        {
            HealthReport report;
            try
            {
                report = await CheckAsync(client, http, endpoints, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return code;
            }

            code = report.Healthy ? AdminExitCodes.Ok : AdminExitCodes.Unhealthy;
            Write(output, report, oneLine: watchInterval is not null);
            if (watchInterval is not { } interval)
            {
                return code;
            }

            try
            {
                await Task.Delay(interval, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return code;
            }

            if (!output.Json)
            {
                output.Line("");
            }
        }
    }

    private static async Task<HealthReport> CheckAsync(KafkaClient client, HttpClient http, HealthEndpoints endpoints, CancellationToken ct)
    {
        var problems = new List<string>();
        ClusterMetadata metadata;
        IReadOnlyDictionary<string, TopicMetadata> topics;
        try
        {
            topics = await client.ListTopicsAsync(ct).ConfigureAwait(false);
            metadata = client.Metadata;
        }
        catch (KafkaException ex) when (ex is not KafkaConnectionException)
        {
            throw new AdminFailure($"cannot read the cluster metadata: {ex.Message}");
        }

        var leaderless = new List<LeaderlessPartition>();
        int partitions = 0;
        foreach (TopicMetadata topic in topics.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            foreach (PartitionMetadata p in topic.Partitions)
            {
                partitions++;
                if (p.LeaderId < 0 || p.ErrorCode != ErrorCode.None || !metadata.Brokers.ContainsKey(p.LeaderId))
                {
                    ErrorCode error = p.ErrorCode != ErrorCode.None ? p.ErrorCode : ErrorCode.LeaderNotAvailable;
                    leaderless.Add(new LeaderlessPartition(topic.Name, p.Partition, error));
                    problems.Add($"{topic.Name}-{p.Partition} has no live leader ({error.KafkaName()})");
                }
            }
        }

        if (metadata.Brokers.Count == 0)
        {
            problems.Add("the cluster reports no live brokers");
        }

        var checks = metadata.Brokers.Values.OrderBy(b => b.NodeId).Select(b => ReadyzAsync(http, b, endpoints.For(b), ct)).ToList();
        BrokerReadiness[] brokers = await Task.WhenAll(checks).ConfigureAwait(false);
        foreach (BrokerReadiness b in brokers)
        {
            if (!b.Ready)
            {
                problems.Add($"broker {b.Broker.NodeId}: /readyz at {b.Endpoint} {(b.Status > 0 ? $"answered {b.Status}" : "did not answer")}: {b.Detail}");
            }
        }

        return new HealthReport(metadata, brokers, partitions, leaderless, problems, DateTimeOffset.UtcNow);
    }

    private static async Task<BrokerReadiness> ReadyzAsync(HttpClient http, BrokerNode broker, string? endpoint, CancellationToken ct)
    {
        if (endpoint is null)
        {
            return new BrokerReadiness(broker, null, 0, "not checked (--http-port 0)", "unknown", "unknown");
        }

        try
        {
            using var response = await http.GetAsync(new Uri($"http://{endpoint}/readyz"), ct).ConfigureAwait(false);
            string body = (await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)).Trim();
            int status = (int)response.StatusCode;
            if (status == 200)
            {
                return new BrokerReadiness(broker, endpoint, status, body, "ok", "ok");
            }

            // The broker checks the object store first, then its metadata-store lease.
            bool objectStoreDown = body.Contains("object store", StringComparison.OrdinalIgnoreCase);
            bool metadataDown = body.Contains("metadata store", StringComparison.OrdinalIgnoreCase);
            return new BrokerReadiness(broker, endpoint, status, body.Length == 0 ? $"HTTP {status}" : body,
                objectStoreDown ? "unavailable" : metadataDown ? "ok" : "unknown",
                metadataDown ? "unavailable" : "unknown");
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            string reason = ex is TaskCanceledException ? "timed out" : ex.Message;
            return new BrokerReadiness(broker, endpoint, 0, $"{reason} (set --http-port or --http-endpoints)", "unknown", "unknown");
        }
    }

    private static void Write(AdminOutput output, HealthReport report, bool oneLine)
    {
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartObject();
                w.WriteBoolean("healthy", report.Healthy);
                w.WriteString("checked_at", report.CheckedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
                w.WriteString("cluster_id", report.Metadata.ClusterId);
                w.WriteNumber("controller_id", report.Metadata.ControllerId);
                w.WriteStartArray("brokers");
                foreach (BrokerReadiness b in report.Brokers)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", b.Broker.NodeId);
                    w.WriteString("host", b.Broker.Host);
                    w.WriteNumber("port", b.Broker.Port);
                    w.WriteString("http_endpoint", b.Endpoint);
                    w.WriteBoolean("ready", b.Ready);
                    if (b.Status > 0)
                    {
                        w.WriteNumber("readyz_status", b.Status);
                    }
                    else
                    {
                        w.WriteNull("readyz_status");
                    }

                    w.WriteString("detail", b.Detail);
                    w.WriteString("object_store", b.ObjectStore);
                    w.WriteString("metadata_store", b.MetadataStore);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteStartObject("partitions");
                w.WriteNumber("total", report.PartitionCount);
                w.WriteNumber("with_live_leader", report.PartitionCount - report.Leaderless.Count);
                w.WriteStartArray("without_live_leader");
                foreach (LeaderlessPartition p in report.Leaderless)
                {
                    w.WriteStartObject();
                    w.WriteString("topic", p.Topic);
                    w.WriteNumber("partition", p.Partition);
                    w.WriteString("error", p.Error.KafkaName());
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
                w.WriteStartArray("problems");
                foreach (string problem in report.Problems)
                {
                    w.WriteStringValue(problem);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }, oneLine);
            return;
        }

        output.WriteFields([
            ("status", report.Healthy ? "HEALTHY" : "UNHEALTHY"),
            ("checked at", AdminOutput.Time(report.CheckedAt.ToUnixTimeMilliseconds())),
            ("cluster id", report.Metadata.ClusterId ?? "-"),
            ("controller", AdminOutput.N(report.Metadata.ControllerId)),
            ("partitions", $"{report.PartitionCount - report.Leaderless.Count} of {report.PartitionCount} have a live leader"),
        ]);
        output.Line("");
        output.WriteTable(["BROKER", "ADDRESS", "HTTP", "READYZ", "OBJECT-STORE", "METADATA-STORE"],
            report.Brokers.Select(b => (IReadOnlyList<string>)[
                AdminOutput.N(b.Broker.NodeId), $"{b.Broker.Host}:{b.Broker.Port}", b.Endpoint ?? "-",
                b.Status > 0 ? AdminOutput.N(b.Status) : b.Endpoint is null ? "skipped" : "no answer", b.ObjectStore, b.MetadataStore]));
        if (report.Problems.Count > 0)
        {
            output.Line("");
            output.Line("problems:");
            foreach (string problem in report.Problems)
            {
                output.Line($"  - {problem}");
            }
        }
    }
}
