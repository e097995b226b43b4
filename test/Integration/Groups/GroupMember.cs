using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Xunit.Sdk;

namespace KafScale.Integration.Groups;

/// <summary>
/// A consumer-group member: one of the group driver scripts in test/clients, running in the
/// background with its stdin open. Closing stdin (<see cref="StopAsync"/>) makes it close its
/// consumer, which leaves the group; <see cref="KillAsync"/> is SIGKILL, which does not.
/// </summary>
public sealed class GroupMember : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = new();
    private readonly StringBuilder _stderr = new();

    private GroupMember(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public string CommandLine => ClientRunner.CommandLine(_process.StartInfo);

    public bool HasExited => _process.HasExited;

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    public static GroupMember Python(string name, string script, IEnumerable<string> args) =>
        Start(name, ClientRunner.StartInfo(ClientRunner.Python, [Path.Combine(RepoPaths.Clients, script), .. args]));

    public static GroupMember Node(string name, string script, IEnumerable<string> args)
    {
        if (!Directory.Exists(Path.Combine(RepoPaths.Clients, "node_modules", "kafkajs")))
        {
            throw new XunitException("test/clients/node_modules is missing: run scripts/install-deps.sh (npm ci in test/clients)");
        }

        return Start(name, ClientRunner.StartInfo("node", [Path.Combine(RepoPaths.Clients, script), .. args]));
    }

    private static GroupMember Start(string name, ProcessStartInfo info)
    {
        var process = new Process { StartInfo = info };
        var member = new GroupMember(name, process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (member._lines) member._lines.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (member._stderr) member._stderr.Append(e.Data).Append('\n'); };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new XunitException($"cannot start {info.FileName} ({e.Message}): run scripts/install-deps.sh");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return member;
    }

    /// <summary>The JSON lines of this type received so far.</summary>
    public IReadOnlyList<JsonElement> Lines(string type)
    {
        string[] snapshot;
        lock (_lines)
        {
            snapshot = _lines.ToArray();
        }

        return ClientLines.OfType(snapshot, type);
    }

    /// <summary>The partitions of the latest "assignment" line; empty before the first.</summary>
    public IReadOnlyList<int> Assignment =>
        Lines("assignment") is { Count: > 0 } lines
            ? lines[^1].GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32()).ToArray()
            : [];

    /// <summary>The values of the "record" lines so far.</summary>
    public IReadOnlyList<string> Values => Lines("record").Select(r => r.GetProperty("value").GetString()!).ToArray();

    /// <summary>Closes stdin, so the driver closes its consumer (a LeaveGroup) and exits 0.</summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(60);
        if (!_process.HasExited)
        {
            _process.StandardInput.Close();
        }

        using var cts = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await KillAsync().ConfigureAwait(false);
            throw new XunitException($"{Name} did not stop within {limit} of its stdin closing\n{Describe()}");
        }

        if (_process.ExitCode != 0 || Lines("done").Count == 0)
        {
            throw new XunitException($"{Name} did not stop cleanly (exit code {_process.ExitCode})\n{Describe()}");
        }
    }

    /// <summary>SIGKILL: the member leaves nothing behind but its session, which must time out.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    /// <summary>Fails the test when the driver has exited (it runs until told to stop).</summary>
    public void EnsureHealthy()
    {
        if (_process.HasExited)
        {
            throw new XunitException($"{Name} exited with code {_process.ExitCode}\n{Describe()}");
        }
    }

    public string Describe()
    {
        string[] lines;
        lock (_lines)
        {
            lines = _lines.Where(l => !l.Contains("\"type\":\"record\"", StringComparison.Ordinal)).TakeLast(40).ToArray();
        }

        string stderr = Stderr;
        if (stderr.Length > 6000)
        {
            stderr = "... " + stderr[^6000..];
        }

        return $"{Name}: {CommandLine}\n  {Lines("record").Count} records; other lines:\n  {string.Join("\n  ", lines)}\n  stderr:\n{stderr}";
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process.Dispose();
    }

    /// <summary>
    /// Waits until the members' latest assignments split every partition between them, each
    /// member holding at least one: the rebalance that includes exactly these members is over.
    /// </summary>
    public static Task WaitForSplitAsync(IReadOnlyList<GroupMember> running, int partitions, TimeSpan timeout) =>
        Eventually.HoldsAsync(
            () =>
            {
                IReadOnlyList<int>[] assignments = running.Select(m => m.Assignment).ToArray();
                int[] all = assignments.SelectMany(a => a).ToArray();
                return assignments.All(a => a.Count > 0) && all.Length == partitions && all.Distinct().Count() == partitions;
            },
            timeout,
            () => "assignments: " + string.Join("; ", running.Select(m => $"{m.Name}=[{string.Join(",", m.Assignment)}]")) + "\n" + DescribeAll(running),
            running);

    public static string DescribeAll(IEnumerable<GroupMember> members) => string.Join("\n", members.Select(m => m.Describe()));
}

/// <summary>Bounded waits on group members: a condition polled until it holds or the limit passes.</summary>
public static class Eventually
{
    public static async Task HoldsAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe, IEnumerable<GroupMember>? running = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            foreach (GroupMember m in running ?? [])
            {
                m.EnsureHealthy();
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"not within {timeout}: {describe()}");
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition().ConfigureAwait(false))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"not within {timeout}: {describe()}");
            }

            await Task.Delay(200).ConfigureAwait(false);
        }
    }
}
