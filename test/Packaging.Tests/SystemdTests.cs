using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

/// <summary>
/// The systemd units, installed by the real scripts/install.sh under a temporary root, verified
/// by systemd-analyze against that root: the unit text is the repository's, unchanged, and the
/// binary is where ExecStart says.
/// </summary>
public sealed class SystemdTests : IClassFixture<SystemdTests.InstalledTree>
{
    private static readonly string UnitDir = Path.Combine(RepoPaths.Root, "scripts", "systemd");

    private readonly InstalledTree _tree;

    public SystemdTests(InstalledTree tree) => _tree = tree;

    private static List<string> UnitFiles() =>
        [.. Directory.EnumerateFiles(UnitDir).Select(f => Path.GetFileName(f)).Where(f => f.EndsWith(".service", StringComparison.Ordinal) || f.EndsWith(".timer", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    public static TheoryData<string> Units() => [.. UnitFiles()];

    public static TheoryData<string> Services() => [.. UnitFiles().Where(f => f.EndsWith(".service", StringComparison.Ordinal))];

    /// <summary>scripts/install.sh --root DIR, plus the host's own unit files (targets the units refer to).</summary>
    public sealed class InstalledTree : IDisposable
    {
        public InstalledTree()
        {
            Root = Path.Combine(Path.GetTempPath(), "kafscale-pkg-root-" + Guid.NewGuid().ToString("N")[..12]);
            Install = Tool.Run("/bin/bash", [Path.Combine(RepoPaths.Root, "scripts", "install.sh"), "--binary", RepoPaths.Binary, "--root", Root]);
            string systemUnits = Path.Combine(Root, "usr", "lib", "systemd", "system");
            Directory.CreateDirectory(systemUnits);
            foreach (string file in Directory.EnumerateFiles("/usr/lib/systemd/system"))
            {
                // Regular unit files only (copies of what links point at); no .wants directories.
                try
                {
                    File.Copy(file, Path.Combine(systemUnits, Path.GetFileName(file)));
                }
                catch (IOException)
                {
                }
            }
        }

        public string Root { get; }

        public ToolResult Install { get; }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static Dictionary<string, List<string>> Directives(string unitText)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (string raw in unitText.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#') || line.StartsWith('['))
            {
                continue;
            }

            int eq = line.IndexOf('=');
            string key = line[..eq];
            if (!result.TryGetValue(key, out var values))
            {
                result[key] = values = [];
            }

            values.Add(line[(eq + 1)..]);
        }

        return result;
    }

    [Fact]
    public void Install_sh_lays_out_binary_units_and_settings_and_the_installed_binary_runs()
    {
        Assert.True(_tree.Install.ExitCode == 0, _tree.Install.Describe("install.sh"));
        string binary = Path.Combine(_tree.Root, "usr", "local", "bin", "kafscale");
        ToolResult version = Tool.Run(binary, ["version"]);
        Assert.True(version.ExitCode == 0 && version.Stdout.StartsWith("kafscale ", StringComparison.Ordinal), version.Describe("installed kafscale version"));
        foreach (string unit in UnitFiles())
        {
            Assert.Equal(File.ReadAllText(Path.Combine(UnitDir, unit)), File.ReadAllText(Path.Combine(_tree.Root, "etc", "systemd", "system", unit)));
        }

        foreach (string env in Directory.EnumerateFiles(UnitDir, "*.env"))
        {
            Assert.True(File.Exists(Path.Combine(_tree.Root, "etc", "kafscale", Path.GetFileName(env))), $"{env} not installed");
        }

        ToolResult again = Tool.Run("/bin/bash", [Path.Combine(RepoPaths.Root, "scripts", "install.sh"), "--binary", RepoPaths.Binary, "--root", _tree.Root]);
        Assert.True(again.ExitCode == 0 && again.Stdout.Contains("keeping", StringComparison.Ordinal), again.Describe("install.sh a second time keeps settings"));
        ToolResult bad = Tool.Run("/bin/bash", [Path.Combine(RepoPaths.Root, "scripts", "install.sh"), "--no-such-flag"]);
        Assert.Equal(2, bad.ExitCode);
    }

    [Theory]
    [MemberData(nameof(Units))]
    public void Systemd_analyze_verify_passes_without_a_word(string unit)
    {
        Assert.True(_tree.Install.ExitCode == 0, _tree.Install.Describe("install.sh"));
        ToolResult r = Tool.Run("systemd-analyze", ["verify", "--root=" + _tree.Root, "/etc/systemd/system/" + unit]);
        Assert.True(r.ExitCode == 0 && (r.Stdout + r.Stderr).Trim().Length == 0, r.Describe("systemd-analyze verify " + unit));
    }

    /// <summary>systemd's own exposure score of each service (0 = locked down, 10 = exposed) stays "OK": at most 3.0.</summary>
    [Theory]
    [MemberData(nameof(Services))]
    public void Systemd_analyze_security_rates_each_service_ok(string unit)
    {
        Assert.True(_tree.Install.ExitCode == 0, _tree.Install.Describe("install.sh"));
        ToolResult r = Tool.Run("systemd-analyze", ["security", "--offline=true", "--threshold=30", "--root=" + _tree.Root, unit]);
        Assert.True(r.ExitCode == 0, r.Describe("systemd-analyze security " + unit));
        Assert.Matches(@"Overall exposure level for \S+: [0-2]\.\d|Overall exposure level for \S+: 3\.0", r.Stdout);
    }

    [Fact]
    public void Verify_fails_on_a_broken_unit_so_the_check_above_means_something()
    {
        Assert.True(_tree.Install.ExitCode == 0, _tree.Install.Describe("install.sh"));
        string unitDir = Path.Combine(_tree.Root, "etc", "systemd", "system");
        string text = File.ReadAllText(Path.Combine(unitDir, "kafscale-broker.service"));
        File.WriteAllText(Path.Combine(unitDir, "broken-kafscale.service"), text.Replace("ProtectSystem=", "ProtectSystm=", StringComparison.Ordinal));
        ToolResult r = Tool.Run("systemd-analyze", ["verify", "--root=" + _tree.Root, "/etc/systemd/system/broken-kafscale.service"]);
        File.Delete(Path.Combine(unitDir, "broken-kafscale.service"));
        Assert.Contains("ProtectSystm", r.Stdout + r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Services))]
    public void Each_service_is_hardened_restarts_on_failure_and_reads_its_env_file(string unit)
    {
        var d = Directives(File.ReadAllText(Path.Combine(UnitDir, unit)));
        string name = unit["kafscale-".Length..^".service".Length];
        Assert.Equal($"/etc/kafscale/{name}.env", Assert.Single(d["EnvironmentFile"]));
        Assert.True(File.Exists(Path.Combine(UnitDir, name + ".env")), $"no example {name}.env beside {unit}");
        Assert.Equal("kafscale", Assert.Single(d["User"]));
        Assert.Equal("yes", Assert.Single(d["NoNewPrivileges"]));
        Assert.Equal("strict", Assert.Single(d["ProtectSystem"]));
        Assert.Equal("on-failure", Assert.Single(d["Restart"]));
        string dataDir = d["Environment"].Select(e => Regex.Match(e, "^KAFSCALE_DATA_DIR=(.+)$")).Single(m => m.Success).Groups[1].Value;
        Assert.Contains(d["ReadWritePaths"].SelectMany(v => v.Split(' ')), p => dataDir.StartsWith(p, StringComparison.Ordinal));
        int stopSeconds = int.Parse(Assert.Single(d["TimeoutStopSec"]));
        Assert.True(stopSeconds >= 60, $"{unit}: TimeoutStopSec {stopSeconds}s leaves too little time for a final flush");
        // install.sh creates the user the unit runs as.
        string install = Tool.RepoFile("scripts/install.sh");
        Assert.Contains("useradd", install, StringComparison.Ordinal);
        Assert.Contains("id -u kafscale", install, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_timer_starts_a_service_that_exists()
    {
        foreach (string timer in Directory.EnumerateFiles(UnitDir, "*.timer"))
        {
            var d = Directives(File.ReadAllText(timer));
            string unit = d.TryGetValue("Unit", out var u) ? u.Single() : Path.GetFileNameWithoutExtension(timer) + ".service";
            Assert.True(File.Exists(Path.Combine(UnitDir, unit)), $"{timer} starts {unit}, which does not exist");
            Assert.True(d.ContainsKey("OnCalendar") || d.ContainsKey("OnUnitActiveSec"), $"{timer} has no schedule");
        }

        Assert.True(File.Exists(Path.Combine(UnitDir, "kafscale-snapshot.timer")));
    }

    /// <summary>The commands the units run are commands of the binary (once their owners' code is in the tree).</summary>
    [Theory]
    [MemberData(nameof(Services))]
    public void The_commands_in_ExecStart_exist_in_the_binary(string unit)
    {
        var d = Directives(File.ReadAllText(Path.Combine(UnitDir, unit)));
        foreach (string exec in d["ExecStart"].Concat(d.GetValueOrDefault("ExecStartPost") ?? []))
        {
            string[] argv = exec.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("/usr/local/bin/kafscale", argv[0]);
            string path = string.Join(' ', argv.Skip(1).TakeWhile(a => !a.StartsWith('-') && !a.StartsWith('$')));
            Assert.True(CliFacts.Commands.ContainsKey(path), $"{unit}: 'kafscale {path}' is not a command of the binary");
            foreach (string flag in argv.Where(a => a.StartsWith("--", StringComparison.Ordinal)))
            {
                Assert.True(CliFacts.Commands[path].Option(flag) is not null, $"{unit}: 'kafscale {path}' has no option {flag}");
            }
        }
    }

    [Fact]
    public void Every_variable_in_the_example_env_files_is_read_by_the_product_or_the_units()
    {
        IReadOnlySet<string> known = CodeFacts.AllEnv();
        string units = string.Concat(Directory.EnumerateFiles(UnitDir).Where(f => !f.EndsWith(".env", StringComparison.Ordinal)).Select(File.ReadAllText));
        foreach (string env in Directory.EnumerateFiles(UnitDir, "*.env"))
        {
            foreach (Match m in Regex.Matches(File.ReadAllText(env), @"^#?([A-Z][A-Z0-9_]*)=", RegexOptions.Multiline))
            {
                string variable = m.Groups[1].Value;
                bool used = variable.StartsWith("KAFSCALE_", StringComparison.Ordinal) ? known.Contains(variable) : units.Contains("$" + variable, StringComparison.Ordinal);
                Assert.True(used, $"{Path.GetFileName(env)} sets {variable}, which nothing reads");
            }
        }
    }
}
