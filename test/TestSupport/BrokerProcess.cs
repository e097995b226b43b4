using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace KafScale.TestSupport;

/// <summary>Command-line settings of one broker under test.</summary>
public sealed record BrokerOptions
{
    public bool AutoCreateTopics { get; init; } = true;

    public int DefaultPartitions { get; init; } = 1;

    public int? FlushIntervalMs { get; init; }

    public int? MaxRequestBytes { get; init; }

    /// <summary>
    /// --group-initial-rebalance-delay-ms; null keeps the broker's 3 s default. Tests whose groups
    /// may form over several generations give 0, as Kafka's own test brokers do, so a join is not
    /// held 3 s waiting for members that are not coming.
    /// </summary>
    public int? GroupInitialRebalanceDelayMs { get; init; }

    public string LogLevel { get; init; } = "debug";

    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>A data directory to start from (copied, so the original stays as it is): an upgrade test's fixture.</summary>
    public string? SeedDataDir { get; init; }
}

/// <summary>
/// The built kafscale binary running as <c>kafscale broker</c> on free loopback ports, in a fresh
/// temporary data directory that <see cref="DisposeAsync"/> removes. Standard error and output
/// go to a log file; <see cref="Log"/> returns it for failure messages.
/// </summary>
public sealed partial class BrokerProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly object _logLock = new();
    private readonly BrokerOptions _options;
    private StreamWriter? _log;
    private Process? _process;
    private int _generation;

    private BrokerProcess(BrokerOptions options, string binary, string dataDir, int kafkaPort, int httpPort)
    {
        _options = options;
        Binary = binary;
        DataDir = dataDir;
        KafkaPort = kafkaPort;
        HttpPort = httpPort;
        LogPath = Path.Combine(Path.GetDirectoryName(dataDir)!, "broker.log");
    }

    public string DataDir { get; }

    /// <summary>The copy of the binary under test that this broker runs.</summary>
    public string Binary { get; }

    public int KafkaPort { get; }

    public int HttpPort { get; }

    public string LogPath { get; }

    public string Bootstrap => $"127.0.0.1:{KafkaPort}";

    public Uri HttpBase => new($"http://127.0.0.1:{HttpPort}/");

    public int? ProcessId => _process?.Id;

    public bool HasExited => _process is null || _process.HasExited;

    /// <summary>Starts a broker and waits until its Kafka port accepts connections.</summary>
    public static async Task<BrokerProcess> StartAsync(BrokerOptions? options = null)
    {
        string binary = RepoPaths.Binary;
        if (!File.Exists(binary))
        {
            throw new InvalidOperationException(
                $"the kafscale binary is missing at {binary}: build it with scripts/build.sh " +
                "or point KAFSCALE_BINARY at it. The integration tests drive the real binary.");
        }

        string root = Path.Combine(Path.GetTempPath(), "kafscale-it-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        string dataDir = Path.Combine(root, "data");
        Directory.CreateDirectory(dataDir);
        // A private copy: rebuilding out/kafscale while tests run would otherwise fail with "text file busy".
        string copy = Path.Combine(root, "kafscale");
        File.Copy(binary, copy);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        if (options?.SeedDataDir is { } seed)
        {
            Directories.CopyTree(seed, dataDir);
        }

        (int kafkaPort, int httpPort) = FreePorts();
        var broker = new BrokerProcess(options ?? new BrokerOptions(), copy, dataDir, kafkaPort, httpPort);
        try
        {
            await broker.LaunchAsync().ConfigureAwait(false);
        }
        catch
        {
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return broker;
    }

    /// <summary>Two distinct free loopback ports (bound and released; the race with others is accepted).</summary>
    public static (int First, int Second) FreePorts()
    {
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        b.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (((IPEndPoint)a.LocalEndPoint!).Port, ((IPEndPoint)b.LocalEndPoint!).Port);
    }

    public IReadOnlyList<string> Arguments()
    {
        var args = new List<string>
        {
            "broker",
            "--listen", Bootstrap,
            "--http", $"127.0.0.1:{HttpPort}",
            "--data-dir", DataDir,
            "--advertised-host", "127.0.0.1",
            "--auto-create-topics", _options.AutoCreateTopics ? "true" : "false",
            "--default-partitions", _options.DefaultPartitions.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--log-level", _options.LogLevel,
        };
        if (_options.FlushIntervalMs is int flush)
        {
            args.Add("--flush-interval-ms");
            args.Add(flush.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (_options.MaxRequestBytes is int max)
        {
            args.Add("--max-request-bytes");
            args.Add(max.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (_options.GroupInitialRebalanceDelayMs is int delay)
        {
            args.Add("--group-initial-rebalance-delay-ms");
            args.Add(delay.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        // "{kafka-port}" stands for the port chosen here, so a test's --listeners can name it.
        args.AddRange(_options.ExtraArguments.Select(a => a.Replace("{kafka-port}", KafkaPort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)));
        return args;
    }

    private async Task LaunchAsync()
    {
        _generation++;
        lock (_logLock)
        {
            _log ??= new StreamWriter(new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            _log.WriteLine($"=== start #{_generation}: {Binary} {string.Join(' ', Arguments())}");
        }

        var info = new ProcessStartInfo(Binary)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
        };
        foreach (string arg in Arguments())
        {
            info.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.ErrorDataReceived += (_, e) => AppendLog(e.Data);
        process.OutputDataReceived += (_, e) => AppendLog(e.Data);
        // Tests start brokers from parallel threads: a fork for another process while our copy of
        // the binary was still open for writing leaves the child holding that descriptor until it
        // execs, and our exec then fails with ETXTBSY ("text file busy"). It clears in moments.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                process.Start();
                break;
            }
            catch (System.ComponentModel.Win32Exception ex) when (ex.NativeErrorCode == 26 && attempt < 50)
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        await WaitUntilAcceptingAsync(process).ConfigureAwait(false);
    }

    private void AppendLog(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logLock)
        {
            _log?.WriteLine(line);
        }
    }

    private async Task WaitUntilAcceptingAsync(Process process)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync().ConfigureAwait(false);
                throw new InvalidOperationException(
                    $"the broker exited with code {process.ExitCode} before accepting connections on {Bootstrap}.\n{Log()}");
            }

            using (var client = new TcpClient())
            {
                try
                {
                    using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    await client.ConnectAsync(IPAddress.Loopback, KafkaPort, attempt.Token).ConfigureAwait(false);
                    return;
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the broker did not accept connections on {Bootstrap} within {StartTimeout}.\n{Log()}");
            }

            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    /// <summary>SIGKILL: no flush, no cleanup, as a crash or an OOM kill would leave things.</summary>
    public async Task Kill9Async()
    {
        Process process = _process ?? throw new InvalidOperationException("the broker is not running");
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: false); // SIGKILL on Unix
        }

        await process.WaitForExitAsync().ConfigureAwait(false);
        AppendLog($"=== killed with SIGKILL (exit code {process.ExitCode})");
    }

    /// <summary>Sends SIGTERM and waits for the broker to exit; returns its exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan? timeout = null)
    {
        Process process = _process ?? throw new InvalidOperationException("the broker is not running");
        if (!process.HasExited && SendSignal(process.Id, Sigterm) != 0)
        {
            throw new InvalidOperationException($"kill(SIGTERM) failed with errno {Marshal.GetLastPInvokeError()}");
        }

        using var wait = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: false);
            await process.WaitForExitAsync().ConfigureAwait(false);
            throw new TimeoutException($"the broker did not exit within {timeout ?? TimeSpan.FromSeconds(30)} of SIGTERM.\n{Log()}");
        }

        AppendLog($"=== exited after SIGTERM with code {process.ExitCode}");
        return process.ExitCode;
    }

    /// <summary>Starts the binary again on the same data directory and ports (the previous run must have exited).</summary>
    public async Task RestartAsync()
    {
        if (_process is { HasExited: false })
        {
            throw new InvalidOperationException("stop the broker (Kill9Async or TerminateAsync) before restarting it");
        }

        _process?.Dispose();
        _process = null;
        await LaunchAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Waits until the broker's output holds <paramref name="text"/> (by default up to 10 s), and
    /// fails with the output if it never does. A log line reaches the file a little after what it
    /// reports is visible to a client (the broker's logger writes from its own thread), so a test
    /// that checks a line right after the event waits for it here.
    /// </summary>
    public async Task AssertLogContainsAsync(string text, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            if (ReadLog(out _)?.Contains(text, StringComparison.Ordinal) == true) return;
            if (DateTime.UtcNow >= deadline) break;
            await Task.Delay(50).ConfigureAwait(false);
        }
        Xunit.Assert.Contains(text, Log(), StringComparison.Ordinal);
    }

    /// <summary>The broker's output so far (every run), for failure messages.</summary>
    public string Log()
    {
        if (ReadLog(out string? error) is not { } text) return $"(no broker log: {error})";
        const int Max = 30_000;
        return text.Length <= Max ? text : "... (start cut)\n" + text[^Max..];
    }

    /// <summary>The whole log file, or null (with the reason) when it cannot be read.</summary>
    private string? ReadLog(out string? error)
    {
        lock (_logLock)
        {
            _log?.Flush();
        }

        error = null;
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (IOException e)
        {
            error = e.Message;
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
            }
        }

        _process?.Dispose();
        lock (_logLock)
        {
            _log?.Dispose();
            _log = null;
        }

        try
        {
            Directory.Delete(Path.GetDirectoryName(DataDir)!, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private const int Sigterm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
