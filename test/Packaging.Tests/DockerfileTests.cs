using System.Text.Json;
using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

/// <summary>The Dockerfile builds with the repository's own recipe and runs the binary as the docs say.</summary>
public sealed class DockerfileTests
{
    private static readonly IReadOnlyList<DockerStage> Stages = Dockerfile.Parse(Tool.RepoFile("Dockerfile"));

    private static DockerStage BuildStage => Stages.Single(s => s.Run.Any(r => r.Contains("build.sh", StringComparison.Ordinal)));

    private static DockerStage RunStage => Stages[^1];

    [Fact]
    public void It_is_multi_stage_and_the_build_stage_runs_scripts_build_sh_and_no_second_recipe()
    {
        Assert.True(Stages.Count >= 2, "a build stage and a run stage");
        Assert.NotSame(BuildStage, RunStage);
        Assert.Contains(BuildStage.Run, r => Regex.IsMatch(r, @"(^|\s|&&\s*)\./scripts/build\.sh(\s|$)"));
        // The compiler is driven by build.sh only: no publish or build command of its own.
        foreach (DockerStage stage in Stages)
        {
            Assert.DoesNotContain(stage.Run, r => Regex.IsMatch(r, @"\bdotnet\s+(publish|build)\b"));
        }
    }

    [Fact]
    public void The_build_stage_installs_only_packages_the_install_scripts_install_and_all_that_build_sh_needs()
    {
        string installDeps = Tool.RepoFile("scripts/install-deps.sh");
        var declared = Regex.Match(installDeps, @"packages=\(([^)]*)\)").Groups[1].Value
            .Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(declared);

        // build.sh installs its own prerequisites through install-build-deps.sh ("for p in clang lld").
        Assert.Contains("./scripts/install-build-deps.sh", Tool.RepoFile("scripts/build.sh"));
        string buildDeps = Tool.RepoFile("scripts/install-build-deps.sh");
        var needed = Regex.Match(buildDeps, @"for p in ([a-z0-9.+\- ]+); do").Groups[1].Value
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.NotEmpty(needed);
        declared.UnionWith(needed);

        IReadOnlyList<string> installed = BuildStage.AptPackages();
        Assert.NotEmpty(installed);
        Assert.All(installed, p => Assert.True(declared.Contains(p), $"the Dockerfile installs '{p}', which neither scripts/install-deps.sh nor scripts/install-build-deps.sh does"));
        Assert.All(needed, p => Assert.Contains(p, installed));
    }

    [Fact]
    public void The_sdk_image_matches_global_json_and_the_run_stage_has_the_same_distribution()
    {
        using var globalJson = JsonDocument.Parse(Tool.RepoFile("global.json"));
        string sdk = globalJson.RootElement.GetProperty("sdk").GetProperty("version").GetString()!;
        string major = sdk.Split('.')[0] + "." + sdk.Split('.')[1];
        Assert.Matches(@"^mcr\.microsoft\.com/dotnet/sdk:" + Regex.Escape(major) + "-", BuildStage.Image);
        // The AOT binary links against the build image's C library: the run image must be the same distribution.
        string Distro(string image) => image[(image.IndexOf(':') + 1)..].Split('-', 2)[1];
        Assert.StartsWith("mcr.microsoft.com/dotnet/runtime-deps:", RunStage.Image);
        Assert.Equal(Distro(BuildStage.Image), Distro(RunStage.Image));
    }

    [Fact]
    public void The_binary_needs_no_system_compression_library_and_the_run_stage_installs_none()
    {
        // The codecs are managed: neither the dynamic section (ldd) nor a P/Invoke library name
        // inside the binary (loaded by dlopen, which ldd cannot see) names a compression library.
        string[] libraries = ["liblz4", "libzstd", "libsnappy"];
        Assert.True(File.Exists(RepoPaths.Binary), $"the kafscale binary is missing at {RepoPaths.Binary}: build it with scripts/build.sh");
        ToolResult ldd = Tool.Run("ldd", [RepoPaths.Binary]);
        Assert.True(ldd.ExitCode == 0, ldd.Describe("ldd"));
        Assert.Contains("libc.so", ldd.Stdout);
        string image = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(RepoPaths.Binary));
        foreach (string library in libraries)
        {
            Assert.DoesNotContain(library, ldd.Stdout);
            Assert.DoesNotContain(library + ".so", image);
        }
        // The same check finds a library the binary does name.
        Assert.Contains("libc", image);

        Assert.DoesNotContain(RunStage.AptPackages(), p => p.StartsWith("liblz4", StringComparison.Ordinal) || p.StartsWith("libzstd", StringComparison.Ordinal) || p.StartsWith("libsnappy", StringComparison.Ordinal));
    }

    [Fact]
    public void It_runs_the_binary_built_by_build_sh_as_a_non_root_user()
    {
        DockerInstruction copy = RunStage.All("COPY").Single(c => c.Arguments.Contains("--from=" + BuildStage.Name, StringComparison.Ordinal));
        string[] parts = copy.Arguments.Split(' ');
        string workdir = BuildStage.All("WORKDIR").Last().Arguments;
        Assert.Equal($"{workdir}/out/kafscale", parts[^2]);
        Assert.Contains("out/kafscale", Tool.RepoFile("scripts/build.sh"));

        using var entry = JsonDocument.Parse(RunStage.All("ENTRYPOINT").Single().Arguments);
        Assert.Equal(parts[^1], entry.RootElement[0].GetString());

        string user = RunStage.All("USER").Last().Arguments.Split(':')[0];
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user);
        Assert.Contains(RunStage.Run, r => r.Contains("useradd", StringComparison.Ordinal) && r.Contains(user, StringComparison.Ordinal));
    }

    [Fact]
    public void It_exposes_the_brokers_default_kafka_and_http_ports()
    {
        var exposed = RunStage.All("EXPOSE").SelectMany(e => e.Arguments.Split(' ')).Select(p => p.Split('/')[0]).ToHashSet();
        HelpCommand broker = CliFacts.Commands["broker"];
        foreach (string flag in new[] { "--listen", "--http" })
        {
            string? fallback = broker.Option(flag)?.DefaultValue;
            Assert.NotNull(fallback);
            Assert.Contains(fallback![(fallback.LastIndexOf(':') + 1)..], exposed);
        }
    }

    /// <summary>The HEALTHCHECK command itself, run with bash against a real broker.</summary>
    [Fact]
    public async Task The_health_check_passes_on_a_ready_broker_and_fails_on_a_wrong_path_or_a_closed_port()
    {
        DockerInstruction check = RunStage.All("HEALTHCHECK").Single();
        Match cmd = Regex.Match(check.Arguments, @"CMD (\[.*\])$");
        Assert.True(cmd.Success, "HEALTHCHECK in exec form");
        using var json = JsonDocument.Parse(cmd.Groups[1].Value);
        string[] argv = [.. json.RootElement.EnumerateArray().Select(e => e.GetString()!)];
        Assert.Equal("bash", argv[0]);
        Assert.Contains("/readyz", string.Join(' ', argv), StringComparison.Ordinal);

        await using BrokerProcess broker = await BrokerProcess.StartAsync();
        ToolResult Check(int port, string? path = null)
        {
            var env = new Dictionary<string, string> { ["KAFSCALE_HEALTH_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            if (path is not null)
            {
                env["KAFSCALE_HEALTH_PATH"] = path;
            }

            return Tool.Run("/bin/bash", argv[1..], environment: env, timeout: TimeSpan.FromSeconds(30));
        }

        ToolResult ready = Check(broker.HttpPort);
        for (int attempt = 0; attempt < 100 && ready.ExitCode != 0; attempt++)
        {
            await Task.Delay(100);
            ready = Check(broker.HttpPort);
        }

        Assert.True(ready.ExitCode == 0, ready.Describe("health check on a ready broker") + broker.Log());
        Assert.NotEqual(0, Check(broker.HttpPort, "/no-such-path").ExitCode);
        (int closed, _) = BrokerProcess.FreePorts();
        Assert.NotEqual(0, Check(closed).ExitCode);
    }

    [Fact]
    public void The_build_context_keeps_sources_and_drops_outputs()
    {
        string[] ignore = Tool.RepoFile(".dockerignore").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        Assert.Contains("out/", ignore);
        Assert.Contains(ignore, l => l.Contains("obj", StringComparison.Ordinal));
        // Nothing build.sh reads is excluded.
        foreach (string needed in new[] { "cmd", "internal", "scripts", "global.json", "Directory.Build.props" })
        {
            Assert.DoesNotContain(ignore, l => l.TrimEnd('/') == needed);
        }
    }
}
