namespace KafScale.Packaging.Tests;

/// <summary>shellcheck on every shell script of the repository, found at test time.</summary>
public sealed class ShellcheckTests
{
    /// <summary>
    /// scripts/*.sh, the systemd example env files (sourced as shell assignments), files under
    /// scripts/systemd with a shell shebang, and test/clients/*.sh.
    /// </summary>
    public static TheoryData<string> Scripts() => [.. ScriptFiles()];

    private static List<string> ScriptFiles()
    {
        string root = RepoPaths.Root;
        IEnumerable<string> Glob(string dir, string pattern) =>
            Directory.Exists(Path.Combine(root, dir)) ? Directory.EnumerateFiles(Path.Combine(root, dir), pattern) : [];
        var files = Glob("scripts", "*.sh")
            .Concat(Glob("scripts/systemd", "*").Where(f => f.EndsWith(".env", StringComparison.Ordinal) || File.ReadLines(f).FirstOrDefault()?.StartsWith("#!", StringComparison.Ordinal) == true))
            .Concat(Glob("test/clients", "*.sh"))
            .Select(f => Path.GetRelativePath(root, f))
            .Order(StringComparer.Ordinal);
        return [.. files];
    }

    [Fact]
    public void The_scripts_are_found()
    {
        var scripts = ScriptFiles();
        Assert.Contains("scripts/build.sh", scripts);
        Assert.Contains("scripts/install.sh", scripts);
        Assert.Contains(scripts, s => s.StartsWith("scripts/systemd/", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Shellcheck_passes(string script)
    {
        string[] args = script.EndsWith(".env", StringComparison.Ordinal) ? ["--shell=sh", script] : [script];
        ToolResult r = Tool.Run("shellcheck", args);
        Assert.True(r.ExitCode == 0, r.Describe("shellcheck " + script));
    }
}
