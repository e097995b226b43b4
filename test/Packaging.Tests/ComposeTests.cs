using System.Text.Json;
using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

/// <summary>docker-compose.yml: valid for docker-compose 1.29, and it runs what the binary offers in a sound order.</summary>
public sealed class ComposeTests
{
    private static readonly Lazy<JsonDocument> s_config = new(() =>
    {
        ToolResult r = Tool.Run("docker-compose", ["-f", "docker-compose.yml", "config"]);
        Assert.True(r.ExitCode == 0, r.Describe("docker-compose config"));
        return Tool.YamlAsJson(r.Stdout);
    });

    private static JsonElement Services => s_config.Value.RootElement.GetProperty("services");

    private static IEnumerable<(string Name, JsonElement Service)> All() =>
        Services.EnumerateObject().Select(p => (p.Name, p.Value));

    private static bool IsKafscale(JsonElement service) =>
        service.TryGetProperty("image", out var image) && image.GetString()!.StartsWith("kafscale", StringComparison.Ordinal)
        || service.TryGetProperty("build", out _);

    private static string[] Command(JsonElement service) =>
        service.TryGetProperty("command", out var c) ? [.. c.EnumerateArray().Select(e => e.GetString()!)] : [];

    private static Dictionary<string, string> Environment(JsonElement service) =>
        service.TryGetProperty("environment", out var env)
            ? env.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.Null ? "" : p.Value.ToString())
            : [];

    [Fact]
    public void Docker_compose_1_29_validates_the_file_quietly()
    {
        ToolResult r = Tool.Run("docker-compose", ["-f", "docker-compose.yml", "config", "-q"]);
        Assert.True(r.ExitCode == 0 && r.Stderr.Trim().Length == 0 && r.Stdout.Trim().Length == 0, r.Describe("docker-compose config -q"));
    }

    [Fact]
    public void It_runs_minio_a_bucket_job_etcd_two_brokers_the_iceberg_processor_and_a_snapshot_scheduler()
    {
        var services = All().ToList();
        Assert.Contains(services, s => s.Service.GetProperty("image").GetString()!.Contains("minio/minio", StringComparison.Ordinal) && Command(s.Service).Contains("server"));
        Assert.Contains(services, s => s.Service.GetProperty("image").GetString()!.Contains("etcd", StringComparison.Ordinal));
        Assert.Contains(services, s => Command(s.Service).Any(a => a.Contains("mc mb", StringComparison.Ordinal)));
        Assert.Equal(2, services.Count(s => IsKafscale(s.Service) && Command(s.Service).FirstOrDefault() == "broker"));
        Assert.Single(services, s => IsKafscale(s.Service) && Command(s.Service).Take(2).SequenceEqual(["processor", "iceberg"]));
        Assert.Single(services, s => IsKafscale(s.Service) && Command(s.Service).Take(2).SequenceEqual(["snapshot", "schedule"]));
        // One image for every subcommand: the kafscale services all run the image the Dockerfile builds.
        Assert.Single(services.Where(s => IsKafscale(s.Service)).Select(s => s.Service.GetProperty("image").GetString()).Distinct());
    }

    [Fact]
    public void Every_kafscale_command_and_flag_in_the_compose_file_exists_in_the_binary()
    {
        foreach (var (name, service) in All().Where(s => IsKafscale(s.Service)))
        {
            string[] argv = Command(service);
            string path = string.Join(' ', argv.TakeWhile(a => !a.StartsWith('-')));
            Assert.True(CliFacts.Commands.ContainsKey(path), $"{name}: 'kafscale {path}' is not a command of the binary");
            HelpCommand command = CliFacts.Commands[path];
            foreach (string flag in argv.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=')[0]))
            {
                Assert.True(command.Option(flag) is not null, $"{name}: 'kafscale {path}' has no option {flag}");
            }
        }
    }

    [Fact]
    public void Third_party_images_are_pinned_to_a_release()
    {
        foreach (var (name, service) in All().Where(s => !IsKafscale(s.Service)))
        {
            string image = service.GetProperty("image").GetString()!;
            string tag = image.Contains(':') ? image[(image.LastIndexOf(':') + 1)..] : "";
            Assert.True(tag.Length > 0 && tag != "latest", $"{name}: image {image} is not pinned to a release");
        }
    }

    [Fact]
    public void Every_kafscale_environment_variable_in_the_compose_file_is_read_by_the_product()
    {
        IReadOnlySet<string> known = CodeFacts.AllEnv();
        foreach (var (name, service) in All().Where(s => IsKafscale(s.Service)))
        {
            foreach (string variable in Environment(service).Keys.Where(k => k.StartsWith("KAFSCALE_", StringComparison.Ordinal)))
            {
                Assert.True(known.Contains(variable), $"{name} sets {variable}, which nothing reads");
            }
        }
    }

    [Fact]
    public void The_brokers_advertise_distinct_ports_that_are_published_on_the_host()
    {
        var advertised = new List<int>();
        foreach (var (name, service) in All().Where(s => IsKafscale(s.Service) && Command(s.Service).FirstOrDefault() == "broker"))
        {
            Dictionary<string, string> env = Environment(service);
            int listenPort = int.Parse(env["KAFSCALE_BROKER_ADDR"].Split(':')[^1]);
            int port = int.Parse(env["KAFSCALE_BROKER_PORT"]);
            var published = service.GetProperty("ports").EnumerateArray()
                .Select(p => (Target: p.GetProperty("target").GetInt32(), Published: int.Parse(p.GetProperty("published").ToString())));
            Assert.True(published.Contains((listenPort, port)), $"{name}: the advertised port {port} must be published to the listener {listenPort}");
            Assert.NotEmpty(env["KAFSCALE_BROKER_HOST"]);
            advertised.Add(port);
        }

        Assert.Equal(advertised.Count, advertised.Distinct().Count());
    }

    /// <summary>
    /// The start order: each kafscale service waits, directly or through another, for the bucket job
    /// to complete and etcd to be healthy; the processor and the snapshot wait for a healthy broker.
    /// </summary>
    [Fact]
    public void Depends_on_conditions_bring_the_services_up_in_order()
    {
        Dictionary<string, Dictionary<string, string>> deps = All().ToDictionary(s => s.Name, s =>
            s.Service.TryGetProperty("depends_on", out var d)
                ? d.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetProperty("condition").GetString()!)
                : []);

        IEnumerable<(string Service, string Condition)> Closure(string name)
        {
            var seen = new HashSet<string>();
            var stack = new Stack<string>([name]);
            while (stack.Count > 0)
            {
                foreach (var (dep, condition) in deps[stack.Pop()])
                {
                    yield return (dep, condition);
                    if (seen.Add(dep))
                    {
                        stack.Push(dep);
                    }
                }
            }
        }

        string bucketJob = All().Single(s => Command(s.Service).Any(a => a.Contains("mc mb", StringComparison.Ordinal))).Name;
        string etcd = All().Single(s => s.Service.GetProperty("image").GetString()!.Contains("etcd", StringComparison.Ordinal)).Name;
        Assert.Contains((All().Single(s => Command(s.Service).Contains("server")).Name, "service_healthy"), deps[bucketJob].Select(kv => (kv.Key, kv.Value)));
        foreach (var (name, service) in All().Where(s => IsKafscale(s.Service)))
        {
            var closure = Closure(name).ToList();
            Assert.Contains((bucketJob, "service_completed_successfully"), closure);
            Assert.Contains((etcd, "service_healthy"), closure);
            if (Command(service).FirstOrDefault() != "broker")
            {
                Assert.Contains(closure, c => c.Condition == "service_healthy" && Command(Services.GetProperty(c.Service)).FirstOrDefault() == "broker");
            }
        }

        // Every service another one waits on for health has a health check, its own or its image's.
        foreach (var (_, conditions) in deps)
        {
            foreach (var (dep, condition) in conditions.Where(c => c.Value == "service_healthy"))
            {
                JsonElement service = Services.GetProperty(dep);
                Assert.True(service.TryGetProperty("healthcheck", out _) || IsKafscale(service), $"{dep} has no health check");
            }
        }
    }

    [Fact]
    public void The_services_health_ports_are_their_http_listeners()
    {
        foreach (var (name, service) in All().Where(s => IsKafscale(s.Service)))
        {
            Dictionary<string, string> env = Environment(service);
            string healthPort = env.GetValueOrDefault("KAFSCALE_HEALTH_PORT", "9093");
            string? http = Command(service).FirstOrDefault(a => a.StartsWith("--http=", StringComparison.Ordinal))?.Split('=')[1]
                ?? env.GetValueOrDefault("KAFSCALE_METRICS_ADDR");
            Assert.True(http is not null, $"{name}: no HTTP listener configured");
            Assert.Equal(healthPort, http![(http.LastIndexOf(':') + 1)..]);
        }
    }

    [Fact]
    public void The_readme_produces_with_kcat_to_a_broker_the_compose_file_publishes()
    {
        string readme = Tool.RepoFile("README.md");
        var published = All().Where(s => IsKafscale(s.Service) && Command(s.Service).FirstOrDefault() == "broker")
            .Select(s => int.Parse(Environment(s.Service)["KAFSCALE_BROKER_PORT"])).ToHashSet();
        var kcatPorts = Regex.Matches(readme, @"kcat -b 127\.0\.0\.1:(\d+)[^\n]*-P").Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.Contains(kcatPorts, published.Contains);
        Assert.Contains("docker compose up", readme, StringComparison.Ordinal);
    }
}
