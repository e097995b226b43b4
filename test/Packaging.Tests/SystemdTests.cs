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

    /// <summary>The directives of the services whose EnvironmentFile a settings file is.</summary>
    private static List<Dictionary<string, List<string>>> UnitsReading(string envFile) =>
        [.. Directory.EnumerateFiles(UnitDir, "*.service").Select(u => Directives(File.ReadAllText(u)))
            .Where(d => d.GetValueOrDefault("EnvironmentFile")?.Contains("/etc/kafscale/" + Path.GetFileName(envFile)) == true)];

    /// <summary>The commands of the binary a settings file configures: those of the services whose EnvironmentFile it is.</summary>
    private static List<string> CommandsConfiguredBy(string envFile)
    {
        var paths = new List<string>();
        foreach (var d in UnitsReading(envFile))
        {
            foreach (string exec in d["ExecStart"].Concat(d.GetValueOrDefault("ExecStartPost") ?? []))
            {
                paths.Add(string.Join(' ', exec.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).TakeWhile(a => !a.StartsWith('-') && !a.StartsWith('$'))));
            }
        }

        return paths;
    }

    /// <summary>The variables a settings file sets or shows commented out, with their values and line numbers.</summary>
    private static List<(string Variable, string Value, int Line)> Settings(string envFile) =>
        [.. File.ReadAllLines(envFile).Select((line, i) => (Match: Regex.Match(line, @"^#?([A-Z][A-Z0-9_]*)=(.*)$"), Line: i))
            .Where(x => x.Match.Success)
            .Select(x => (x.Match.Groups[1].Value, x.Match.Groups[2].Value, x.Line))];

    /// <summary>
    /// Each KAFSCALE_* variable of a settings file is read by the command its unit runs (not merely
    /// by some command: kafscale admin's KAFSCALE_CLIENT_* would do nothing in processor.env); the
    /// others are used by the units.
    /// </summary>
    [Fact]
    public void Every_variable_in_the_example_env_files_is_read_by_the_command_it_configures_or_the_units()
    {
        string units = string.Concat(Directory.EnumerateFiles(UnitDir).Where(f => !f.EndsWith(".env", StringComparison.Ordinal)).Select(File.ReadAllText));
        int checkedVariables = 0;
        foreach (string env in Directory.EnumerateFiles(UnitDir, "*.env"))
        {
            List<string> commands = CommandsConfiguredBy(env);
            Assert.True(commands.Count > 0, $"no unit reads {Path.GetFileName(env)}");
            var read = commands.SelectMany(CodeFacts.EnvOf).ToHashSet(StringComparer.Ordinal);
            foreach (var (variable, _, _) in Settings(env))
            {
                bool used = variable.StartsWith("KAFSCALE_", StringComparison.Ordinal) ? read.Contains(variable) : units.Contains("$" + variable, StringComparison.Ordinal);
                Assert.True(used, $"{Path.GetFileName(env)} sets {variable}, which {(variable.StartsWith("KAFSCALE_", StringComparison.Ordinal) ? "'kafscale " + string.Join("' and 'kafscale ", commands) + (commands.Count == 1 ? "' does not read" : "' do not read") : "no unit uses")}");
                checkedVariables++;
            }
        }

        Assert.True(checkedVariables > 50, $"only {checkedVariables} variables checked");
    }

    /// <summary>A commented value is the default when the binary's --help states one ("the commented value is the default").</summary>
    [Fact]
    public void Commented_values_are_the_defaults_the_binary_states()
    {
        var problems = new List<string>();
        int compared = 0;
        foreach (string env in Directory.EnumerateFiles(UnitDir, "*.env"))
        {
            // What the unit sets itself (Environment=KAFSCALE_DATA_DIR=...) is the default under systemd.
            var unitSets = UnitsReading(env).SelectMany(d => d.GetValueOrDefault("Environment") ?? [])
                .Select(e => e.Split('=', 2)).DistinctBy(e => e[0]).ToDictionary(e => e[0], e => e[1]);
            var options = CommandsConfiguredBy(env).SelectMany(c => CliFacts.Commands[c].Options).Where(o => o.Env is not null && o.DefaultValue is not null).ToList();
            foreach (var (variable, value, line) in Settings(env))
            {
                if (options.FirstOrDefault(o => o.Env == variable) is not { } option)
                {
                    continue;
                }

                string expected = unitSets.GetValueOrDefault(variable) ?? option.DefaultValue!;
                // The whole default as --help states it ("PLAIN,SCRAM-SHA-256,SCRAM-SHA-512, and OAUTHBEARER when ..."):
                // a list is written out in full.
                string stated = Regex.Match(option.Description, @"\bdefault ([^\]]*)\]\s*$").Groups[1].Value;
                if (value.Contains(',') && (stated == value || stated.StartsWith(value + ",", StringComparison.Ordinal)))
                {
                    compared++;
                    continue;
                }

                // A default that is a phrase, not a value ("AWS", "--data-dir/objects"): the line shows an example.
                if (expected.StartsWith("--", StringComparison.Ordinal) || Regex.IsMatch(expected, "^[A-Z][A-Za-z]*$"))
                {
                    continue;
                }

                compared++;
                // "none" where no value means none (--super-users) is an empty value.
                if (value != expected && !(value.Length == 0 && expected == "none"))
                {
                    problems.Add($"{Path.GetFileName(env)}:{line + 1}: {variable}={value}, but the default is {expected}");
                }
            }
        }

        Assert.True(compared > 10, $"only {compared} values compared");
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    /// <summary>
    /// broker.env's Security group shows every listener, TLS, SASL (OAUTHBEARER included) and
    /// authorizer setting of `kafscale broker`, each with a comment line explaining it.
    /// </summary>
    [Fact]
    public void The_broker_settings_have_a_security_group_with_every_listener_TLS_SASL_and_ACL_variable()
    {
        string[] lines = File.ReadAllLines(Path.Combine(UnitDir, "broker.env"));
        int start = Array.FindIndex(lines, l => l.StartsWith("# --- Security", StringComparison.Ordinal));
        Assert.True(start >= 0, "broker.env has no '# --- Security' group");
        int end = Array.FindIndex(lines, start + 1, l => l.StartsWith("# ---", StringComparison.Ordinal));
        string[] group = lines[start..(end < 0 ? lines.Length : end)];

        var security = CliFacts.Commands["broker"].Options
            .Where(o => Regex.IsMatch(o.Name, "^--(listeners|advertised-listeners|tls-|sasl-|authorizer|super-users)"))
            .Select(o => o.Env ?? throw new Xunit.Sdk.XunitException($"{o.Name} names no variable in --help"))
            .ToList();
        Assert.True(security.Count >= 15, $"only {security.Count} security options in 'kafscale broker --help'");
        foreach (string variable in security)
        {
            int at = Array.FindIndex(group, l => l.StartsWith("#" + variable + "=", StringComparison.Ordinal));
            Assert.True(at > 0, $"broker.env's Security group does not show {variable}");
            string before = group[at - 1];
            Assert.True(before.StartsWith("# ", StringComparison.Ordinal) && !Regex.IsMatch(before, @"^#[A-Z]"),
                $"broker.env: {variable} has no explanation on the line above it");
        }
    }

    /// <summary>Every service's settings show the etcd and S3 TLS variables its command reads (docs/security.md, "TLS to etcd and S3").</summary>
    [Fact]
    public void Each_settings_file_shows_the_etcd_and_S3_TLS_variables_of_its_command()
    {
        foreach (string env in Directory.EnumerateFiles(UnitDir, "*.env"))
        {
            var shown = Settings(env).Select(s => s.Variable).ToHashSet(StringComparer.Ordinal);
            var tls = CommandsConfiguredBy(env).SelectMany(c => CliFacts.Commands[c].Options)
                .Where(o => Regex.IsMatch(o.Name, "^--(etcd-tls-|s3-tls-)")).Select(o => o.Env!).ToHashSet(StringComparer.Ordinal);
            Assert.Equal(4, tls.Count);
            Assert.All(tls, v => Assert.True(shown.Contains(v), $"{Path.GetFileName(env)} does not show {v}"));
        }
    }
}
