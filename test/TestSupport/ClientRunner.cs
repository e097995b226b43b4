using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Xunit.Sdk;

namespace KafScale.TestSupport;

/// <summary>What a client process did: exit code, output, and whether it was killed for time.</summary>
public sealed record ClientResult(string CommandLine, int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    /// <summary>The stdout lines that are JSON objects with this "type" (see test/clients/clientio.py).</summary>
    public IReadOnlyList<JsonElement> Lines(string type) =>
        ClientLines.OfType(Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), type);

    public ClientResult EnsureSuccess()
    {
        if (TimedOut || ExitCode != 0)
        {
            throw new XunitException($"client failed: {this}");
        }

        return this;
    }

    public override string ToString()
    {
        string state = TimedOut ? "timed out" : $"exit code {ExitCode}";
        return $"{CommandLine}\n  -> {state}\n--- stdout ---\n{Tail(Stdout)}\n--- stderr ---\n{Tail(Stderr)}";
    }

    private static string Tail(string text) => text.Length <= 12_000 ? text : "... (start cut)\n" + text[^12_000..];
}

/// <summary>
/// Runs the real Kafka clients: the python drivers under /usr/bin/python3 (the distribution's
/// python, where python3-kafka and python3-confluent-kafka are installed), the node driver, and
/// kcat. Every run has a timeout after which the process is killed.
/// </summary>
public static class ClientRunner
{
    public const string Python = "/usr/bin/python3";

    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(90);

    public static Task<ClientResult> PythonAsync(string script, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null) =>
        RunAsync(Python, [Path.Combine(RepoPaths.Clients, script), .. args], stdin, timeout);

    public static Task<ClientResult> NodeAsync(string script, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        if (!Directory.Exists(Path.Combine(RepoPaths.Clients, "node_modules", "kafkajs")))
        {
            throw new XunitException("test/clients/node_modules is missing: run scripts/install-deps.sh (npm ci in test/clients)");
        }

        return RunAsync("node", [Path.Combine(RepoPaths.Clients, script), .. args], stdin, timeout);
    }

    public static Task<ClientResult> KcatAsync(IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null) =>
        RunAsync("kcat", args, stdin, timeout);

    public static async Task<ClientResult> RunAsync(string fileName, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        using var process = new Process { StartInfo = StartInfo(fileName, args) };
        string commandLine = CommandLine(process.StartInfo);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.Append(e.Data).Append('\n'); };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new XunitException($"cannot start {fileName} ({e.Message}): run scripts/install-deps.sh");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin).ConfigureAwait(false);
        }

        process.StandardInput.Close();

        bool timedOut = false;
        using (var cts = new CancellationTokenSource(timeout ?? DefaultTimeout))
        {
            try
            {
                await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        lock (stdout)
        lock (stderr)
        {
            return new ClientResult(commandLine, process.ExitCode, stdout.ToString(), stderr.ToString(), timedOut);
        }
    }

    /// <summary>Starts a long-running client whose stdout lines are read as they come.</summary>
    public static RunningClient StartPython(string script, IEnumerable<string> args) =>
        RunningClient.Start(StartInfo(Python, [Path.Combine(RepoPaths.Clients, script), .. args]));

    public static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepoPaths.Clients,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // The drivers import clientio.py from their own folder; unbuffered so a kill loses no line.
        info.Environment["PYTHONPATH"] = RepoPaths.Clients;
        info.Environment["PYTHONUNBUFFERED"] = "1";
        info.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        info.Environment["KAFKAJS_NO_PARTITIONER_WARNING"] = "1";
        return info;
    }

    public static string CommandLine(ProcessStartInfo info) =>
        info.FileName + " " + string.Join(' ', info.ArgumentList.Select(a => a.Contains(' ') ? $"'{a}'" : a));
}

/// <summary>A client process running in the background; its JSON stdout lines are collected as they arrive.</summary>
public sealed class RunningClient : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = new();
    private readonly StringBuilder _stderr = new();

    private RunningClient(Process process)
    {
        _process = process;
    }

    public string CommandLine => ClientRunner.CommandLine(_process.StartInfo);

    public static RunningClient Start(ProcessStartInfo info)
    {
        var process = new Process { StartInfo = info };
        var client = new RunningClient(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (client._lines) client._lines.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (client._stderr) client._stderr.Append(e.Data).Append('\n'); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        return client;
    }

    public bool HasExited => _process.HasExited;

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
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

    /// <summary>Every stdout line so far, JSON or not.</summary>
    public IReadOnlyList<string> OutputLines
    {
        get { lock (_lines) return _lines.ToArray(); }
    }

    /// <summary>Waits until at least <paramref name="count"/> stdout lines of any kind have arrived.</summary>
    public async Task WaitForOutputLinesAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (OutputLines.Count < count)
        {
            if (_process.HasExited)
            {
                throw new XunitException($"{CommandLine} exited with code {_process.ExitCode} after {OutputLines.Count} lines\n{Stderr}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"{CommandLine}: only {OutputLines.Count} lines within {timeout}\n{Stderr}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> lines of the type have arrived.</summary>
    public async Task WaitForLinesAsync(string type, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Lines(type).Count < count)
        {
            if (_process.HasExited)
            {
                throw new XunitException($"{CommandLine} exited with code {_process.ExitCode} after {Lines(type).Count} '{type}' lines\n{Stderr}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new XunitException($"{CommandLine}: only {Lines(type).Count} '{type}' lines within {timeout}\n{Stderr}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <summary>SIGKILL, then waits until every line it had written has been read.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        _process.Dispose();
    }
}

/// <summary>The client scripts' protocol: stdout lines that are JSON objects with a "type" (test/clients/clientio.py).</summary>
public static class ClientLines
{
    public static IReadOnlyList<JsonElement> OfType(IEnumerable<string> lines, string type)
    {
        var result = new List<JsonElement>();
        foreach (string line in lines)
        {
            if (!line.StartsWith('{'))
            {
                continue;
            }

            JsonElement element = JsonDocument.Parse(line).RootElement;
            if (element.TryGetProperty("type", out JsonElement t) && t.GetString() == type)
            {
                result.Add(element);
            }
        }

        return result;
    }
}
