using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

/// <summary>
/// scripts/build.sh works on a fresh machine: it installs clang and lld itself (through
/// scripts/install-build-deps.sh) instead of refusing to build. The install script is run for real
/// against a made-up PATH whose apt-get only records how it was called.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class BuildPrerequisitesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"kafscale-build-deps-{Guid.NewGuid():N}");
    private readonly string _bin;
    private readonly string _aptLog;

    public BuildPrerequisitesTests()
    {
        _bin = Path.Combine(_dir, "bin");
        _aptLog = Path.Combine(_dir, "apt-get.log");
        Directory.CreateDirectory(_bin);
        // The few real programs the script runs besides the ones it checks for.
        foreach (string program in new[] { "id", "env" })
        {
            string real = new[] { "/usr/bin", "/bin" }.Select(d => Path.Combine(d, program)).First(File.Exists);
            File.CreateSymbolicLink(Path.Combine(_bin, program), real);
        }

        Fake("apt-get", $"echo \"apt-get $*\" >> '{_aptLog}'");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void Fake(string name, string body)
    {
        string path = Path.Combine(_bin, name);
        File.WriteAllText(path, $"#!/bin/sh\n{body}\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
    }

    private static string Script => Path.Combine(RepoPaths.Root, "scripts", "install-build-deps.sh");

    /// <summary>Runs the script with only the made-up PATH, optionally as an unprivileged user.</summary>
    private ToolResult RunScript(bool unprivileged = false)
    {
        string[] command = ["/usr/bin/env", $"PATH={_bin}", "/bin/bash", Script];
        if (unprivileged && Environment.UserName == "root")
        {
            // setpriv drops root for the run (tests run as root in CI and here).
            command = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", .. command];
        }

        return Tool.Run(command[0], command[1..]);
    }

    private string[] AptCalls() => File.Exists(_aptLog) ? File.ReadAllLines(_aptLog) : [];

    [Fact]
    public void Build_sh_installs_its_prerequisites_before_publishing_instead_of_refusing()
    {
        string build = Tool.RepoFile("scripts/build.sh");
        int install = build.IndexOf("./scripts/install-build-deps.sh", StringComparison.Ordinal);
        int publish = build.IndexOf("dotnet publish", StringComparison.Ordinal);
        Assert.True(install >= 0, "scripts/build.sh does not run scripts/install-build-deps.sh");
        Assert.True(publish > install, "scripts/build.sh must install its prerequisites before dotnet publish");
        Assert.DoesNotMatch(new Regex(@"needs clang.*\n\s*exit 1"), build);
        // The test script installs the same way (it calls the same script).
        Assert.Contains("./scripts/install-build-deps.sh", Tool.RepoFile("scripts/install-deps.sh"), StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_clang_and_lld_are_installed_with_apt_get()
    {
        ToolResult r = RunScript();
        Assert.True(r.ExitCode == 0, r.Describe("install-build-deps.sh"));
        string[] calls = AptCalls();
        Assert.Equal(2, calls.Length);
        Assert.StartsWith("apt-get update", calls[0], StringComparison.Ordinal);
        Assert.Matches(@"^apt-get install -y .*\bclang lld$", calls[1]);
    }

    [Fact]
    public void Only_what_is_missing_is_installed_and_nothing_when_all_is_there()
    {
        Fake("clang", "exit 0");
        ToolResult r = RunScript();
        Assert.True(r.ExitCode == 0, r.Describe("install-build-deps.sh"));
        Assert.Matches(@"^apt-get install -y .*\blld$", AptCalls()[^1]);
        Assert.DoesNotContain("clang", AptCalls()[^1], StringComparison.Ordinal);

        File.Delete(_aptLog);
        Fake("ld.lld", "exit 0");
        r = RunScript();
        Assert.True(r.ExitCode == 0, r.Describe("install-build-deps.sh"));
        Assert.Empty(AptCalls());
        Assert.Equal("", r.Stdout + r.Stderr);
    }

    [Fact]
    public void Without_root_or_sudo_it_says_what_to_install_in_one_line()
    {
        ToolResult r = RunScript(unprivileged: true);
        Assert.Equal(1, r.ExitCode);
        Assert.Empty(AptCalls());
        string[] lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, r.Describe("install-build-deps.sh"));
        Assert.Contains("apt-get install clang lld", lines[0], StringComparison.Ordinal);
    }
}
