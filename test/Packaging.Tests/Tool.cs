using System.Diagnostics;

namespace KafScale.Packaging.Tests;

/// <summary>The result of running a program to completion.</summary>
public sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public string Describe(string what) => $"{what} exited {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Runs programs (the kafscale binary, docker-compose, shellcheck, systemd-analyze, python3) to completion.</summary>
public static class Tool
{
    public static ToolResult Run(string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? RepoPaths.Root,
        };
        foreach (string a in arguments)
        {
            info.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                info.Environment[k] = v;
            }
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {fileName}");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromSeconds(60)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish");
        }

        process.WaitForExit();
        return new ToolResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs the kafscale binary under test.</summary>
    public static ToolResult Kafscale(params string[] arguments)
    {
        Assert.True(File.Exists(RepoPaths.Binary), $"the kafscale binary is missing at {RepoPaths.Binary}: build it with scripts/build.sh");
        return Run(RepoPaths.Binary, arguments);
    }

    /// <summary>A YAML file as JSON, through the system Python's PyYAML (installed with docker-compose).</summary>
    public static System.Text.Json.JsonDocument YamlAsJson(string yaml)
    {
        string path = Path.Combine(Path.GetTempPath(), "kafscale-pkg-" + Guid.NewGuid().ToString("N") + ".yml");
        File.WriteAllText(path, yaml);
        try
        {
            ToolResult r = Run("/usr/bin/python3",
                ["-c", "import sys, json, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)", path]);
            Assert.True(r.ExitCode == 0, r.Describe("python3 yaml"));
            return System.Text.Json.JsonDocument.Parse(r.Stdout);
        }
        finally
        {
            File.Delete(path);
        }
    }

    public static string RepoFile(string relative) => File.ReadAllText(Path.Combine(RepoPaths.Root, relative));
}
