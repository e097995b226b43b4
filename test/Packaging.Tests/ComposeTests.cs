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

    /// <summary>Every service of the file, whatever its profile: docker-compose 1.29's `config` lists them all, with their `profiles`.</summary>
    private static IEnumerable<(string Name, JsonElement Service)> Every() =>
        Services.EnumerateObject().Select(p => (p.Name, p.Value));

    /// <summary>What a plain `docker compose up` starts: the services without a profile.</summary>
    private static IEnumerable<(string Name, JsonElement Service)> All() =>
        Every().Where(s => Profiles(s.Service).Length == 0);

    /// <summary>The services of one profile, started only with `--profile NAME`.</summary>
    private static IEnumerable<(string Name, JsonElement Service)> Profile(string name) =>
        Every().Where(s => Profiles(s.Service).Contains(name));

    private static string[] Profiles(JsonElement service) =>
        service.TryGetProperty("profiles", out var p) ? [.. p.EnumerateArray().Select(e => e.GetString()!)] : [];

    /// <summary>The volumes of a service as source, target and whether read-only (docker-compose 1.29 writes "SOURCE:TARGET:MODE").</summary>
    private static List<(string Source, string Target, bool ReadOnly)> Volumes(JsonElement service) =>
        service.TryGetProperty("volumes", out var v)
            ? [.. v.EnumerateArray().Select(e =>
            {
                string[] parts = e.GetString()!.Split(':');
                return (parts[0], parts[1], parts.Length > 2 && parts[2] == "ro");
            })]
            : [];

    /// <summary>The command of the binary an argument list runs: the longest run of leading words that is a command ("admin users set" in "admin users set NAME --mechanism ...").</summary>
    private static string CommandPath(string[] argv)
    {
        string path = "";
        var words = new List<string>();
        foreach (string word in argv.TakeWhile(a => !a.StartsWith('-')))
        {
            words.Add(word);
            if (CliFacts.Commands.ContainsKey(string.Join(' ', words)))
            {
                path = string.Join(' ', words);
            }
        }

        return path;
    }

    /// <summary>The value of --name=value or --name value in an argument list.</summary>
    private static string? FlagValue(string[] argv, string name)
    {
        for (int i = 0; i < argv.Length; i++)
        {
            if (argv[i].StartsWith(name + "=", StringComparison.Ordinal))
            {
                return argv[i][(name.Length + 1)..];
            }

            if (argv[i] == name && i + 1 < argv.Length)
            {
                return argv[i + 1];
            }
        }

        return null;
    }

    /// <summary>A listener list, NAME://HOST:PORT,... (docs/security.md, "Listeners").</summary>
    private static Dictionary<string, (string Host, int Port)> Listeners(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => Regex.Match(l, @"^([A-Z_]+)://(.*):(\d+)$"))
            .ToDictionary(m => m.Success ? m.Groups[1].Value : throw new Xunit.Sdk.XunitException($"not a listener: {value}"),
                m => (m.Groups[2].Value, int.Parse(m.Groups[3].Value)));

    private static List<(int Target, int Published)> Ports(JsonElement service) =>
        service.TryGetProperty("ports", out var ports)
            ? [.. ports.EnumerateArray().Select(p => (p.GetProperty("target").GetInt32(), int.Parse(p.GetProperty("published").ToString())))]
            : [];

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

    /// <summary>Every service of every profile: the secured profile's broker and its user job too.</summary>
    [Fact]
    public void Every_kafscale_command_and_flag_in_the_compose_file_exists_in_the_binary()
    {
        Assert.Contains(Every(), s => Profiles(s.Service).Length > 0 && IsKafscale(s.Service));
        foreach (var (name, service) in Every().Where(s => IsKafscale(s.Service)))
        {
            string[] argv = Command(service);
            string path = CommandPath(argv);
            string words = string.Join(' ', argv.TakeWhile(a => !a.StartsWith('-')));
            Assert.True(path.Length > 0, $"{name}: 'kafscale {words}' is not a command of the binary");
            // Words after the command are its arguments (a user name); a misspelt subcommand would be one too, so allow one at most.
            Assert.True(words.Split(' ').Length - path.Split(' ').Length <= 1, $"{name}: 'kafscale {words}' is not a command of the binary");
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
        foreach (var (name, service) in Every().Where(s => !IsKafscale(s.Service)))
        {
            string image = service.GetProperty("image").GetString()!;
            string tag = image.Contains(':') ? image[(image.LastIndexOf(':') + 1)..] : "";
            Assert.True(tag.Length > 0 && tag != "latest", $"{name}: image {image} is not pinned to a release");
        }
    }

    /// <summary>
    /// Each kafscale service's variables are read by the command it runs (its options' variables,
    /// the storage ones for a command that takes them) or by the image's health check.
    /// </summary>
    [Fact]
    public void Every_kafscale_environment_variable_in_the_compose_file_is_read_by_the_command_it_configures()
    {
        IReadOnlySet<string> image = CodeFacts.EnvInDockerfile();
        int checkedVariables = 0;
        foreach (var (name, service) in Every().Where(s => IsKafscale(s.Service)))
        {
            string path = CommandPath(Command(service));
            IReadOnlySet<string> read = CodeFacts.EnvOf(path);
            foreach (string variable in Environment(service).Keys.Where(k => k.StartsWith("KAFSCALE_", StringComparison.Ordinal)))
            {
                Assert.True(read.Contains(variable) || image.Contains(variable), $"{name} sets {variable}, which 'kafscale {path}' does not read");
                checkedVariables++;
            }
        }

        Assert.True(checkedVariables > 20, $"only {checkedVariables} variables checked");
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
        Dictionary<string, Dictionary<string, string>> deps = Every().ToDictionary(s => s.Name, s =>
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

        // Every service another one waits on for health has a health check, its own or its image's
        // (the secured profile's too).
        foreach (var (_, conditions) in deps)
        {
            foreach (var (dep, condition) in conditions.Where(c => c.Value == "service_healthy"))
            {
                JsonElement service = Services.GetProperty(dep);
                Assert.True(service.TryGetProperty("healthcheck", out _) || IsKafscale(service), $"{dep} has no health check");
            }
        }
    }

    /// <summary>Every long-running kafscale service, of every profile (one-shot jobs, restart "no", have no listener).</summary>
    [Fact]
    public void The_services_health_ports_are_their_http_listeners()
    {
        foreach (var (name, service) in Every().Where(s => IsKafscale(s.Service)
                     && !(s.Service.TryGetProperty("restart", out var r) && r.GetString() == "no")))
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

    // ---- The "secured" profile (docs/security.md, "Docker Compose: a secured broker") ----------

    private const string SecuredProfile = "secured";

    /// <summary>The secured profile's parts: the broker, the job that makes its certificates, and the job that makes the first SCRAM user.</summary>
    private sealed record Secured(
        string BrokerName, JsonElement Broker, string CertJobName, JsonElement CertJob, string UserJobName, JsonElement UserJob)
    {
        public Dictionary<string, string> BrokerEnv => Environment(Broker);

        public Dictionary<string, (string Host, int Port)> Listeners => ComposeTests.Listeners(BrokerEnv["KAFSCALE_LISTENERS"]);

        /// <summary>The user job's arguments: admin users set NAME --mechanism M --password P --bootstrap B.</summary>
        public string[] UserArgv => Command(UserJob);

        public string UserName => UserArgv[3];

        /// <summary>The certificate script as the job runs it: its path in the container, and the directory argument.</summary>
        public (string Script, string Directory) CertScript
        {
            get
            {
                Match m = Regex.Match(string.Join(' ', Command(CertJob)), @"\bsh (\S+\.sh) (\S+)");
                Assert.True(m.Success, $"{CertJobName} does not run a certificate script with sh: {string.Join(' ', Command(CertJob))}");
                return (m.Groups[1].Value, m.Groups[2].Value);
            }
        }
    }

    private static Secured SecuredServices()
    {
        var services = Profile(SecuredProfile).ToList();
        var broker = Assert.Single(services, s => IsKafscale(s.Service) && Command(s.Service).FirstOrDefault() == "broker");
        var user = Assert.Single(services, s => IsKafscale(s.Service) && CommandPath(Command(s.Service)) == "admin users set");
        var certs = Assert.Single(services, s => !IsKafscale(s.Service) && Command(s.Service).Any(a => a.Contains("openssl", StringComparison.Ordinal)));
        return new Secured(broker.Name, broker.Service, certs.Name, certs.Service, user.Name, user.Service);
    }

    [Fact]
    public void A_plain_up_starts_the_plaintext_cluster_alone_and_the_secured_services_only_with_their_profile()
    {
        // Exactly the services a plain `up` started before the profile existed.
        Assert.Equal(new[] { "broker-1", "broker-2", "create-bucket", "etcd", "iceberg-processor", "minio", "snapshot-scheduler" },
            All().Select(s => s.Name).Order(StringComparer.Ordinal));
        var profiled = Every().Where(s => Profiles(s.Service).Length > 0).ToList();
        Assert.Equal(3, profiled.Count);
        Assert.All(profiled, s => Assert.Equal(new[] { SecuredProfile }, Profiles(s.Service)));

        // A service of the plain `up` needs nothing from a profile: compose would refuse to start it otherwise.
        var plain = All().Select(s => s.Name).ToHashSet();
        foreach (var (name, service) in All())
        {
            if (service.TryGetProperty("depends_on", out var d))
            {
                Assert.All(d.EnumerateObject(), dep => Assert.True(plain.Contains(dep.Name), $"{name} waits for {dep.Name}, which only --profile {SecuredProfile} starts"));
            }

            Assert.False(service.TryGetProperty("network_mode", out _), $"{name} shares another service's network");
        }

        // No published port of the profile collides with the plain cluster's.
        var published = All().SelectMany(s => Ports(s.Service)).Select(p => p.Published).ToList();
        Assert.Empty(profiled.SelectMany(s => Ports(s.Service)).Select(p => p.Published).Intersect(published));

        ToolResult r = Tool.Run("docker-compose", ["-f", "docker-compose.yml", "--profile", SecuredProfile, "config", "-q"]);
        Assert.True(r.ExitCode == 0 && (r.Stdout + r.Stderr).Trim().Length == 0, r.Describe("docker-compose --profile secured config -q"));
        Assert.Contains($"--profile {SecuredProfile} up", Tool.RepoFile("docker-compose.yml"), StringComparison.Ordinal);
    }

    [Fact]
    public void The_secured_broker_serves_SASL_SSL_with_SCRAM_checks_ACLs_and_keeps_PLAINTEXT_on_its_loopback()
    {
        Secured p = SecuredServices();
        var env = p.BrokerEnv;
        var listeners = p.Listeners;
        Assert.True(listeners.ContainsKey("SASL_SSL"), $"{p.BrokerName}: no SASL_SSL listener in {env["KAFSCALE_LISTENERS"]}");
        // Any listener without TLS and SASL is on the container's loopback: its clients are User:ANONYMOUS.
        foreach (var (listener, (host, _)) in listeners.Where(l => l.Key is "PLAINTEXT" or "SASL_PLAINTEXT" or "SSL"))
        {
            Assert.True(host == "127.0.0.1", $"{p.BrokerName}: the {listener} listener binds {host}, not the loopback");
        }

        Assert.Equal("acl", env["KAFSCALE_AUTHORIZER"]);
        string[] mechanisms = env["KAFSCALE_SASL_MECHANISMS"].Split(',');
        Assert.Contains(mechanisms, m => m.StartsWith("SCRAM-", StringComparison.Ordinal));
        Assert.DoesNotContain("PLAIN", mechanisms);

        // Clients are told the SASL_SSL address the host publishes; only that port and the HTTP port are published.
        var advertised = Listeners(env["KAFSCALE_ADVERTISED_LISTENERS"]);
        int saslPort = listeners["SASL_SSL"].Port;
        int httpPort = int.Parse(env["KAFSCALE_METRICS_ADDR"].Split(':')[^1]);
        var ports = Ports(p.Broker);
        Assert.Contains((saslPort, advertised["SASL_SSL"].Port), ports);
        Assert.All(ports, port => Assert.True(port.Target == saslPort || port.Target == httpPort, $"{p.BrokerName} publishes port {port.Target}"));
        Assert.DoesNotContain(ports, port => listeners.Any(l => l.Key != "SASL_SSL" && l.Value.Port == port.Target));
    }

    [Fact]
    public void The_secured_brokers_certificate_and_key_are_in_the_volume_the_certificate_job_writes()
    {
        Secured p = SecuredServices();
        var env = p.BrokerEnv;
        var (script, directory) = p.CertScript;

        // The job runs the repository's script, mounted read-only, on a volume ...
        var certVolumes = Volumes(p.CertJob);
        var scriptMount = Assert.Single(certVolumes, v => v.Target == script);
        Assert.True(scriptMount.ReadOnly);
        Assert.Equal(Path.Combine(RepoPaths.Root, "scripts", "compose-secured-certs.sh"), scriptMount.Source);
        var written = Assert.Single(certVolumes, v => v.Target == directory);
        Assert.False(written.Source.StartsWith('/'), $"{p.CertJobName} writes to {written.Source}, not a named volume");
        Assert.Contains(written.Source, s_config.Value.RootElement.GetProperty("volumes").EnumerateObject().Select(v => v.Name));

        // ... which the broker mounts read-only, and its TLS settings point into.
        var mounted = Assert.Single(Volumes(p.Broker), v => v.Source == written.Source);
        Assert.True(mounted.ReadOnly, $"{p.BrokerName} can write its certificates");
        foreach (string variable in env.Keys.Where(k => k.StartsWith("KAFSCALE_TLS_", StringComparison.Ordinal) && k != "KAFSCALE_TLS_CLIENT_AUTH"))
        {
            Assert.StartsWith(mounted.Target + "/", env[variable], StringComparison.Ordinal);
        }

        Assert.Equal(mounted.Target + "/broker.crt", env["KAFSCALE_TLS_CERT"]);
        Assert.Equal(mounted.Target + "/broker.key", env["KAFSCALE_TLS_KEY"]);

        // The broker starts after the job has written them; the key goes to the image's user.
        Assert.Equal("service_completed_successfully", p.Broker.GetProperty("depends_on").GetProperty(p.CertJobName).GetProperty("condition").GetString());
        Assert.Equal("10001:10001", Environment(p.CertJob)["CERT_OWNER"]);
        Assert.Contains("--uid 10001", Tool.RepoFile("Dockerfile"), StringComparison.Ordinal);
        // The certificate names the host clients use and the broker's name in the compose network.
        string[] hosts = Environment(p.CertJob)["CERT_HOSTS"].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(Listeners(env["KAFSCALE_ADVERTISED_LISTENERS"])["SASL_SSL"].Host, hosts);
        Assert.Contains(p.BrokerName, hosts);
    }

    [Fact]
    public void The_first_SCRAM_user_is_a_super_user_made_over_the_loopback_listener_once_the_broker_is_healthy()
    {
        Secured p = SecuredServices();
        string[] argv = p.UserArgv;
        var plaintext = p.Listeners["PLAINTEXT"];
        Assert.Equal($"{plaintext.Host}:{plaintext.Port}", FlagValue(argv, "--bootstrap"));
        // Loopback of the broker's container: the job joins its network namespace.
        Assert.Equal($"service:{p.BrokerName}", p.UserJob.GetProperty("network_mode").GetString());
        Assert.Equal("service_healthy", p.UserJob.GetProperty("depends_on").GetProperty(p.BrokerName).GetProperty("condition").GetString());
        Assert.Equal("no", p.UserJob.GetProperty("restart").GetString());

        string[] superUsers = p.BrokerEnv["KAFSCALE_SUPER_USERS"].Split([',', ';'], StringSplitOptions.TrimEntries);
        Assert.Contains("User:ANONYMOUS", superUsers);
        Assert.Contains("User:" + p.UserName, superUsers);
        Assert.Contains(FlagValue(argv, "--mechanism")!, p.BrokerEnv["KAFSCALE_SASL_MECHANISMS"].Split(','));
        Assert.False(string.IsNullOrEmpty(FlagValue(argv, "--password")));
    }

    /// <summary>
    /// The profile run on this machine without containers: the certificate job's script with the
    /// real openssl, the broker binary with the secured service's environment (ports and the
    /// volume's paths moved to this machine), the user job's command against it, then kcat over
    /// SASL_SSL with SCRAM, checking the broker's certificate against the script's CA. A user
    /// without ACLs sees nothing: the authorizer is on.
    /// </summary>
    [Fact]
    public async Task The_secured_profile_runs_its_certificate_script_broker_settings_and_user_job_for_real()
    {
        Secured p = SecuredServices();
        string root = Directory.CreateTempSubdirectory("kafscale-compose-secured-").FullName;
        ServerProcess? broker = null;
        try
        {
            // The certificate job, with the host's sh and openssl, into a directory standing for its volume.
            var (script, directory) = p.CertScript;
            string hostScript = Volumes(p.CertJob).Single(v => v.Target == script).Source;
            string certs = Path.Combine(root, "certs");
            var certEnv = Environment(p.CertJob);
            certEnv["CERT_OWNER"] = $"{Tool.Run("id", ["-u"]).Stdout.Trim()}:{Tool.Run("id", ["-g"]).Stdout.Trim()}";
            ToolResult made = Tool.Run("/bin/sh", [hostScript, certs], environment: certEnv);
            Assert.True(made.ExitCode == 0, made.Describe("the certificate script"));
            ToolResult again = Tool.Run("/bin/sh", [hostScript, certs], environment: certEnv);
            Assert.True(again.ExitCode == 0 && again.Stdout.Contains("keeping", StringComparison.Ordinal), again.Describe("the certificate script, run again"));

            // The broker's view of that volume.
            string writtenVolume = Volumes(p.CertJob).Single(v => v.Target == directory).Source;
            string mountedAt = Volumes(p.Broker).Single(v => v.Source == writtenVolume).Target;
            string OnHost(string containerPath) => Path.Combine(certs, Path.GetRelativePath(mountedAt, containerPath));

            var env = p.BrokerEnv;
            var ports = p.Listeners.ToDictionary(l => l.Key, _ => ServerProcess.FreePort());
            env["KAFSCALE_LISTENERS"] = string.Join(',', p.Listeners.Keys.Select(l => $"{l}://127.0.0.1:{ports[l]}"));
            env["KAFSCALE_ADVERTISED_LISTENERS"] = string.Join(',', Listeners(env["KAFSCALE_ADVERTISED_LISTENERS"]).Keys.Select(l => $"{l}://127.0.0.1:{ports[l]}"));
            foreach (string variable in env.Keys.Where(k => k.StartsWith("KAFSCALE_TLS_", StringComparison.Ordinal) && k != "KAFSCALE_TLS_CLIENT_AUTH").ToList())
            {
                env[variable] = OnHost(env[variable]);
            }

            env["KAFSCALE_METRICS_ADDR"] = $"127.0.0.1:{ServerProcess.FreePort()}";
            env["KAFSCALE_DATA_DIR"] = Path.Combine(root, "data");
            env["KAFSCALE_LOG_LEVEL"] = "debug"; // the authentication lines are debug
            broker = new ServerProcess(p.BrokerName, RepoPaths.Binary, () => Command(p.Broker), Path.Combine(root, "broker.log"), env);
            await broker.StartAsync(ports["SASL_SSL"]);

            // The user job's command, against the loopback PLAINTEXT listener.
            string[] userArgv = [.. p.UserArgv.Select(a => a.StartsWith("--bootstrap", StringComparison.Ordinal) ? $"--bootstrap=127.0.0.1:{ports["PLAINTEXT"]}" : a)];
            ToolResult user = Tool.Run(RepoPaths.Binary, userArgv);
            Assert.True(user.ExitCode == 0, user.Describe("kafscale " + string.Join(' ', userArgv)) + "\n" + broker.Log());

            string mechanism = FlagValue(p.UserArgv, "--mechanism")!;
            List<string> Client(string name, string password) =>
            [
                "-X", "security.protocol=SASL_SSL", "-X", $"sasl.mechanisms={mechanism}",
                "-X", $"sasl.username={name}", "-X", $"sasl.password={password}",
                "-X", $"ssl.ca.location={Path.Combine(certs, "ca.crt")}",
            ];
            string bootstrap = $"127.0.0.1:{ports["SASL_SSL"]}";
            string topic = "secured-" + Guid.NewGuid().ToString("N")[..8];
            var admin = Client(p.UserName, FlagValue(p.UserArgv, "--password")!);
            (await ClientRunner.KcatAsync(["-P", "-b", bootstrap, "-t", topic, "-X", "acks=-1", .. admin], "one\ntwo\nthree\n")).EnsureSuccess();
            var consumed = (await ClientRunner.KcatAsync(["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", .. admin])).EnsureSuccess();
            Assert.Equal(new[] { "one", "three", "two" }, consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
            Assert.Contains($"authenticated as User:{p.UserName} with {mechanism}", broker.Log(), StringComparison.Ordinal);

            // A user with a password but no ACLs is not allowed to see the topic.
            ToolResult nobody = Tool.Run(RepoPaths.Binary, ["admin", "users", "set", "nobody", $"--mechanism={mechanism}", "--password=nobody-secret", $"--bootstrap=127.0.0.1:{ports["PLAINTEXT"]}"]);
            Assert.True(nobody.ExitCode == 0, nobody.Describe("admin users set nobody"));
            var denied = (await ClientRunner.KcatAsync(["-L", "-b", bootstrap, "-t", topic, .. Client("nobody", "nobody-secret")])).EnsureSuccess();
            Assert.Contains("Topic authorization failed", denied.Stdout + denied.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            if (broker is not null)
            {
                await broker.DisposeAsync();
            }

            Directory.Delete(root, recursive: true);
        }
    }
}
