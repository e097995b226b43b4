using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KafScale.Client.Tests;

/// <summary>
/// The built <c>kafscale</c> binary running <c>broker</c> on free loopback ports with a fresh
/// data directory. The binary is copied first, so a rebuild of out/kafscale while tests run
/// does not fail with "text file busy". Output is kept for failure messages.
/// </summary>
public sealed class BrokerProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string _root;
    private readonly string _binary;
    private Process? _process;

    private BrokerProcess(string root, string binary, int kafkaPort, int httpPort)
    {
        _root = root;
        _binary = binary;
        KafkaPort = kafkaPort;
        HttpPort = httpPort;
    }

    public int KafkaPort { get; }

    public int HttpPort { get; }

    public string Bootstrap => $"127.0.0.1:{KafkaPort}";

    public string DataDir => Path.Combine(_root, "data");

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The binary under test: KAFSCALE_BINARY, else out/kafscale above the test assembly.</summary>
    public static string SourceBinary()
    {
        if (Environment.GetEnvironmentVariable("KAFSCALE_BINARY") is { Length: > 0 } configured)
        {
            return Path.GetFullPath(configured);
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "kafscale.sln")))
            {
                return Path.Combine(dir.FullName, "out", "kafscale");
            }
        }

        throw new InvalidOperationException($"no kafscale.sln above {AppContext.BaseDirectory}; set KAFSCALE_BINARY to the kafscale binary");
    }

    public static async Task<BrokerProcess> StartAsync(params string[] extraArguments)
    {
        string source = SourceBinary();
        if (!File.Exists(source))
        {
            throw new InvalidOperationException(
                $"the kafscale binary is missing at {source}: build it with scripts/build.sh (or set KAFSCALE_BINARY). The client tests run against the real broker.");
        }

        string root = Path.Combine(Path.GetTempPath(), "kafscale-client-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(root, "data"));
        string binary = Path.Combine(root, "kafscale");
        File.Copy(source, binary);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(binary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        (int kafkaPort, int httpPort) = FreePorts();
        var broker = new BrokerProcess(root, binary, kafkaPort, httpPort);
        try
        {
            await broker.LaunchAsync(extraArguments).ConfigureAwait(false);
        }
        catch
        {
            await broker.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return broker;
    }

    /// <summary>Stops the broker (SIGKILL: no graceful handover) and starts it again on the same ports and data.</summary>
    public async Task RestartAsync(params string[] extraArguments)
    {
        await StopAsync().ConfigureAwait(false);
        await LaunchAsync(extraArguments).ConfigureAwait(false);
    }

    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }

            await process.WaitForExitAsync().ConfigureAwait(false);
            process.Dispose();
        }
    }

    private async Task LaunchAsync(string[] extraArguments)
    {
        var info = new ProcessStartInfo(_binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])["broker", "--listen", Bootstrap, "--http", $"127.0.0.1:{HttpPort}", "--data-dir", DataDir, "--advertised-host", "127.0.0.1", "--log-level", "info", .. extraArguments])
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {_binary}");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;

        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the broker exited with code {process.ExitCode} before listening:\n{Output}");
            }

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(IPAddress.Loopback, KafkaPort).ConfigureAwait(false);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }

        throw new TimeoutException($"the broker did not listen on {Bootstrap} within 30 s:\n{Output}");
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private static (int, int) FreePorts()
    {
        using var a = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var b = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        a.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        b.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (((IPEndPoint)a.LocalEndPoint!).Port, ((IPEndPoint)b.LocalEndPoint!).Port);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>One broker shared by the tests of a class.</summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    private BrokerProcess? _broker;

    public BrokerProcess Broker => _broker ?? throw new InvalidOperationException("the broker fixture did not start");

    public async Task InitializeAsync() => _broker = await BrokerProcess.StartAsync().ConfigureAwait(false);

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync().ConfigureAwait(false);
        }
    }
}
