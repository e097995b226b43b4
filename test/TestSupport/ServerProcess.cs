using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace KafScale.TestSupport;

/// <summary>
/// A child process the tests start, signal, stop and start again with the same command line
/// (etcd, s3rver, a broker). Its output goes to a log file that failure messages quote.
/// </summary>
public partial class ServerProcess : IAsyncDisposable
{
    private readonly object _logLock = new();
    private readonly string _fileName;
    private readonly Func<IReadOnlyList<string>> _arguments;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private StreamWriter? _log;
    private Process? _process;
    private int _generation;

    public ServerProcess(string name, string fileName, Func<IReadOnlyList<string>> arguments, string logPath, IReadOnlyDictionary<string, string>? environment = null)
    {
        Name = name;
        _fileName = fileName;
        _arguments = arguments;
        _environment = environment ?? new Dictionary<string, string>();
        LogPath = logPath;
    }

    public string Name { get; }

    public string LogPath { get; }

    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Running and not paused: it answers requests.</summary>
    public bool IsServing => IsRunning && !IsPaused;

    public bool IsPaused { get; private set; }

    /// <summary>Starts the process (again) and waits until its port accepts connections.</summary>
    public async Task StartAsync(int port, TimeSpan? timeout = null)
    {
        if (IsRunning) throw new InvalidOperationException($"{Name} is already running");
        _process?.Dispose();
        _generation++;
        var args = _arguments();
        lock (_logLock)
        {
            _log ??= new StreamWriter(new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            _log.WriteLine($"=== {DateTime.UtcNow:HH:mm:ss.fff} start #{_generation}: {_fileName} {string.Join(' ', args)}");
        }
        var info = new ProcessStartInfo(_fileName) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args) info.ArgumentList.Add(a);
        foreach (var (k, v) in _environment) info.Environment[k] = v;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync().ConfigureAwait(false);
                throw new InvalidOperationException($"{Name} exited with code {process.ExitCode} before accepting connections on port {port}.\n{Log()}");
            }
            using (var client = new TcpClient())
            {
                try
                {
                    using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    await client.ConnectAsync(IPAddress.Loopback, port, attempt.Token).ConfigureAwait(false);
                    return;
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException) { }
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{Name} did not accept connections on port {port}.\n{Log()}");
            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    public void Append(string? line)
    {
        if (line is null) return;
        lock (_logLock) _log?.WriteLine(line);
    }

    /// <summary>SIGKILL: no cleanup, as a crash leaves things.</summary>
    public async Task KillAsync()
    {
        var p = _process;
        if (p is null || p.HasExited) return;
        p.Kill(entireProcessTree: false);
        await p.WaitForExitAsync().ConfigureAwait(false);
        Append($"=== {DateTime.UtcNow:HH:mm:ss.fff} killed with SIGKILL");
    }

    /// <summary>SIGTERM, then waits for the exit (SIGKILL after the timeout); returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan? timeout = null)
    {
        var p = _process ?? throw new InvalidOperationException($"{Name} is not running");
        if (!p.HasExited) Signal(p.Id, Sigterm);
        using var wait = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(40));
        try { await p.WaitForExitAsync(wait.Token).ConfigureAwait(false); }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: false);
            await p.WaitForExitAsync().ConfigureAwait(false);
            throw new TimeoutException($"{Name} did not exit within {timeout ?? TimeSpan.FromSeconds(40)} of SIGTERM.\n{Log()}");
        }
        Append($"=== {DateTime.UtcNow:HH:mm:ss.fff} exited after SIGTERM with code {p.ExitCode}");
        return p.ExitCode;
    }

    /// <summary>SIGSTOP: the process stops in its tracks (its sockets stay open), as a long pause would.</summary>
    public void Pause()
    {
        var p = _process ?? throw new InvalidOperationException($"{Name} is not running");
        Signal(p.Id, Sigstop);
        IsPaused = true;
        Append($"=== {DateTime.UtcNow:HH:mm:ss.fff} paused with SIGSTOP");
    }

    public void Resume()
    {
        var p = _process ?? throw new InvalidOperationException($"{Name} is not running");
        Append($"=== {DateTime.UtcNow:HH:mm:ss.fff} resumed with SIGCONT");
        Signal(p.Id, Sigcont);
        IsPaused = false;
    }

    private static void Signal(int pid, int signal)
    {
        if (SendSignal(pid, signal) != 0) throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}");
    }

    public string Log(int max = 40_000)
    {
        lock (_logLock) _log?.Flush();
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            string text = reader.ReadToEnd();
            return text.Length <= max ? text : "... (start cut)\n" + text[^max..];
        }
        catch (IOException e) { return $"(no log: {e.Message})"; }
    }

    public virtual async ValueTask DisposeAsync()
    {
        var p = _process;
        if (p is not null)
        {
            try
            {
                if (!p.HasExited)
                {
                    // A paused process must be resumed to die promptly on some kernels' accounting; SIGKILL works anyway.
                    p.Kill(entireProcessTree: true);
                    await p.WaitForExitAsync().ConfigureAwait(false);
                }
            }
            catch (InvalidOperationException) { }
            p.Dispose();
        }
        lock (_logLock)
        {
            _log?.Dispose();
            _log = null;
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>A free loopback port (bound and released; the race with others is accepted).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private const int Sigterm = 15;
    private const int Sigstop = 19;
    private const int Sigcont = 18;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
