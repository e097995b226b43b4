using System.Text.Json;
using System.Text.RegularExpressions;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Packaging.Tests;

/// <summary>One `kafscale broker` for the tests that read what a running broker advertises and exports.</summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    public BrokerProcess Broker { get; private set; } = null!;

    /// <summary>Metric names from the broker's /metrics (the # TYPE lines).</summary>
    public IReadOnlyDictionary<string, string> MetricTypes { get; private set; } = new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        Broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info" });
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        string text = await http.GetStringAsync(new Uri(Broker.HttpBase, "metrics"));
        MetricTypes = Regex.Matches(text, @"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
    }

    public async Task DisposeAsync() => await Broker.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class RunningBrokerCollection : ICollectionFixture<BrokerFixture>
{
    public const string Name = "running broker";
}

/// <summary>docs/protocol.md's table equals what ApiVersions advertises.</summary>
[Collection(RunningBrokerCollection.Name)]
public sealed class ProtocolDocTests(BrokerFixture fixture)
{
    [Fact]
    public async Task The_api_table_equals_what_ApiVersions_advertises()
    {
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(fixture.Broker.KafkaPort);
        ApiVersionsResponse response = await connection.SendAsync<ApiVersionsResponse>(ApiKeys.ApiVersions, 3,
            new ApiVersionsRequest { ClientSoftwareName = "kafscale-packaging-tests", ClientSoftwareVersion = "1" });
        Assert.Equal(0, response.ErrorCode);
        var advertised = response.ApiKeys.ToDictionary(k => k.ApiKey, k => (k.MinVersion, k.MaxVersion));

        Section table = Markdown.Sections(Tool.RepoFile("docs/protocol.md"))
            .Single(s => s.Body.Any(l => l.StartsWith('|') && l.Contains("advertised", StringComparison.Ordinal)));
        var documented = new Dictionary<short, (short Min, short Max)>();
        var problems = new List<string>();
        foreach (TableRow row in table.Rows())
        {
            short key = short.Parse(row.Cells[0]);
            string name = TableRow.Plain(row.Cells[1]);
            (short Min, short Max) Range(string cell)
            {
                string[] parts = TableRow.Plain(cell).Split('-');
                return (short.Parse(parts[0]), short.Parse(parts[^1]));
            }

            documented[key] = Range(row.Cells[2]);
            if (!ApiKeys.TryGet(key, out ApiKeyInfo info) || info.Name != name)
            {
                problems.Add($"key {key} is {(ApiKeys.TryGet(key, out info) ? info.Name : "unknown")}, the table says {name}");
                continue;
            }

            // The versions served: from the lowest Kafka 4.0 accepts (KIP-896) up to the advertised highest.
            var served = Range(row.Cells[3]);
            var expectServed = ((short)Math.Max(documented[key].Min, ApiKeys.Kip896Floor(key)), documented[key].Max);
            if (served != expectServed)
            {
                problems.Add($"{name}: served {served.Min}-{served.Max}, the broker serves {expectServed.Item1}-{expectServed.Item2}");
            }
        }

        foreach (var (key, range) in advertised)
        {
            if (!documented.TryGetValue(key, out var doc))
            {
                problems.Add($"api key {key} ({range.MinVersion}-{range.MaxVersion}) is advertised but not in docs/protocol.md");
            }
            else if (doc != range)
            {
                problems.Add($"api key {key}: advertised {range.MinVersion}-{range.MaxVersion}, documented {doc.Min}-{doc.Max}");
            }
        }

        problems.AddRange(documented.Keys.Where(k => !advertised.ContainsKey(k)).Select(k => $"api key {k} is documented but not advertised"));
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }
}

/// <summary>
/// The dashboard, the alert rules and docs/metrics.md query and describe only metrics the binary
/// exports: a running broker's /metrics, plus the metric-name literals of the processor and
/// snapshot commands (which need a configured store to run).
/// </summary>
[Collection(RunningBrokerCollection.Name)]
public sealed class MetricNameTests(BrokerFixture fixture)
{
    private static readonly string[] HistogramSuffixes = ["_bucket", "_sum", "_count"];

    private IReadOnlySet<string> Exported()
    {
        var names = new HashSet<string>(fixture.MetricTypes.Keys, StringComparer.Ordinal);
        names.UnionWith(CodeFacts.MetricLiterals("Processor"));
        names.UnionWith(CodeFacts.MetricLiterals("Snapshot"));
        return names;
    }

    private string? Unknown(string name)
    {
        IReadOnlySet<string> exported = Exported();
        if (exported.Contains(name))
        {
            return null;
        }

        foreach (string suffix in HistogramSuffixes)
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && fixture.MetricTypes.GetValueOrDefault(name[..^suffix.Length]) == "histogram")
            {
                return null;
            }

            if (name.EndsWith(suffix, StringComparison.Ordinal) && exported.Contains(name[..^suffix.Length]))
            {
                return null;
            }
        }

        return name;
    }

    private static IEnumerable<string> MetricTokens(string promql) =>
        Regex.Matches(promql, @"\b(?:kafscale|kafka)_[a-z0-9_]+\b").Select(m => m.Value);

    private static IEnumerable<string> DashboardQueries()
    {
        using var dashboard = JsonDocument.Parse(Tool.RepoFile("docs/grafana/kafscale.json"));
        var queries = new List<string>();
        void Walk(JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (JsonProperty p in e.EnumerateObject())
                    {
                        if (p.Name is "expr" or "definition" && p.Value.ValueKind == JsonValueKind.String)
                        {
                            queries.Add(p.Value.GetString()!);
                        }

                        Walk(p.Value);
                    }

                    break;
                case JsonValueKind.Array:
                    foreach (JsonElement item in e.EnumerateArray())
                    {
                        Walk(item);
                    }

                    break;
            }
        }

        Walk(dashboard.RootElement);
        return queries;
    }

    private static IEnumerable<string> AlertExpressions()
    {
        using JsonDocument rules = Tool.YamlAsJson(Tool.RepoFile("docs/prometheus/alerts.yml"));
        return rules.RootElement.GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .Select(r => r.GetProperty("expr").GetString()!)
            .ToList();
    }

    [Fact]
    public void The_broker_exports_the_metrics_the_upstream_dashboards_use()
    {
        Assert.Contains("kafscale_s3_health_state", fixture.MetricTypes.Keys);
        Assert.Equal("histogram", fixture.MetricTypes["kafscale_produce_latency_ms"]);
    }

    [Fact]
    public void The_dashboard_queries_only_exported_metrics()
    {
        var queries = DashboardQueries().ToList();
        Assert.True(queries.Count > 20, $"{queries.Count} queries");
        var unknown = queries.SelectMany(MetricTokens).Select(Unknown).Where(n => n is not null).Distinct().ToList();
        Assert.True(unknown.Count == 0, "the dashboard queries metrics the binary does not export: " + string.Join(", ", unknown));
    }

    [Fact]
    public void The_dashboard_covers_the_areas_an_operator_watches()
    {
        string all = string.Join('\n', DashboardQueries());
        foreach (string needed in new[] { "kafscale_records_in_total", "kafscale_produce_latency_ms_bucket", "api=\"Fetch\"", "kafscale_s3_health_state",
                     "op=\"put\"", "kafscale_consumer_lag_max", "kafscale_processor_last_offset", "kafscale_snapshot_age_seconds" })
        {
            Assert.Contains(needed, all, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_dashboard_is_well_formed_json_with_unique_panel_ids_and_defined_variables()
    {
        string text = Tool.RepoFile("docs/grafana/kafscale.json");
        using var dashboard = JsonDocument.Parse(text);
        var ids = dashboard.RootElement.GetProperty("panels").EnumerateArray().Select(p => p.GetProperty("id").GetInt32()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        var variables = dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray().Select(v => v.GetProperty("name").GetString()!).ToHashSet();
        var used = Regex.Matches(text, @"\$\{?([a-z_][a-z0-9_]*)").Select(m => m.Groups[1].Value).Where(v => !v.StartsWith("__", StringComparison.Ordinal)).ToHashSet();
        Assert.Empty(used.Except(variables));
        foreach (string query in DashboardQueries())
        {
            AssertBalanced(query);
        }
    }

    [Fact]
    public void The_alert_rules_query_only_exported_metrics()
    {
        var expressions = AlertExpressions().ToList();
        Assert.True(expressions.Count >= 10, $"{expressions.Count} rules");
        var unknown = expressions.SelectMany(MetricTokens).Select(Unknown).Where(n => n is not null).Distinct().ToList();
        Assert.True(unknown.Count == 0, "the alert rules query metrics the binary does not export: " + string.Join(", ", unknown));
        foreach (string e in expressions)
        {
            AssertBalanced(e);
        }
    }

    [Fact]
    public void Every_exported_metric_is_documented_in_metrics_md_and_every_documented_one_is_exported()
    {
        string doc = Tool.RepoFile("docs/metrics.md");
        var documented = Markdown.Sections(doc).SelectMany(s => s.Rows())
            .SelectMany(r => Regex.Matches(r.Cells[0], @"`((?:kafscale|kafka)_[a-z0-9_]+)").Select(m => m.Groups[1].Value)).ToHashSet();
        var undocumented = Exported().Where(n => !documented.Contains(n)).Order().ToList();
        Assert.True(undocumented.Count == 0, "exported but not in docs/metrics.md: " + string.Join(", ", undocumented));
        var unknown = documented.Select(Unknown).Where(n => n is not null).ToList();
        Assert.True(unknown.Count == 0, "in docs/metrics.md but not exported: " + string.Join(", ", unknown));
    }

    private static void AssertBalanced(string query)
    {
        var stack = new Stack<char>();
        bool quoted = false;
        foreach (char c in query)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && c is '(' or '[' or '{')
            {
                stack.Push(c);
            }
            else if (!quoted && c is ')' or ']' or '}')
            {
                char open = stack.Count > 0 ? stack.Pop() : '?';
                Assert.True((open, c) is ('(', ')') or ('[', ']') or ('{', '}'), $"unbalanced '{c}' in {query}");
            }
        }

        Assert.False(quoted, $"unclosed quote in {query}");
        Assert.True(stack.Count == 0, $"unclosed '{(stack.Count > 0 ? stack.Peek() : ' ')}' in {query}");
    }
}
