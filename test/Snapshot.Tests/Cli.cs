using System.Text.Json;

namespace KafScale.Snapshot.Tests;

/// <summary>Runs the built binary (RepoPaths.Binary) and the test's Python client.</summary>
internal static class Cli
{
    public static async Task<ClientResult> RunAsync(params string[] args)
    {
        if (!File.Exists(RepoPaths.Binary))
            throw new InvalidOperationException($"the kafscale binary is missing at {RepoPaths.Binary}: build it with scripts/build.sh");
        return await ClientRunner.RunAsync(RepoPaths.Binary, args, timeout: TimeSpan.FromSeconds(60));
    }

    /// <summary>Runs and requires exit code 0.</summary>
    public static async Task<ClientResult> OkAsync(params string[] args)
    {
        ClientResult r = await RunAsync(args);
        Assert.True(r.ExitCode == 0, $"kafscale {string.Join(' ', args)} exited {r.ExitCode}\n{r}");
        return r;
    }

    public static async Task<JsonElement> JsonAsync(params string[] args)
    {
        ClientResult r = await OkAsync(args);
        using JsonDocument doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.Clone();
    }

    public static async Task<JsonElement> PythonAsync(params string[] args)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "clients", "snapshot_client.py");
        ClientResult r = await ClientRunner.RunAsync(ClientRunner.Python, [script, .. args], timeout: TimeSpan.FromSeconds(90));
        Assert.True(r.ExitCode == 0, $"snapshot_client.py {string.Join(' ', args)} failed\n{r}");
        string line = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        using JsonDocument doc = JsonDocument.Parse(line);
        return doc.RootElement.Clone();
    }

    public static string TempDir(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"kafscale-{name}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(dir.Replace(from, to, StringComparison.Ordinal));
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(file, file.Replace(from, to, StringComparison.Ordinal));
    }

    public static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
