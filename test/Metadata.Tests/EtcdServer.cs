using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KafScale.Metadata.Tests;

/// <summary>A real single-member etcd on free loopback ports, with its own data directory; killed and removed on dispose.</summary>
internal sealed class EtcdServer : IAsyncDisposable
{
    private static readonly HttpClient Health = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly TempDirectory _dir = new();
    private readonly string[] _extraArgs;
    private readonly Queue<string> _log = new();
    private Process? _process;

    private EtcdServer(string[] extraArgs)
    {
        _extraArgs = extraArgs;
        ClientPort = FreePort();
        PeerPort = FreePort();
    }

    public int ClientPort { get; }

    public int PeerPort { get; }

    public string Endpoint => $"http://127.0.0.1:{ClientPort}";

    public static async Task<EtcdServer> StartAsync(params string[] extraArgs)
    {
        var server = new EtcdServer(extraArgs);
        try
        {
            await server.StartProcessAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL: a crash, not a shutdown.</summary>
    public async Task KillAsync()
    {
        Process? process = _process;
        _process = null;
        if (process is null) return;
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        await process.WaitForExitAsync();
        process.Dispose();
    }

    /// <summary>Starts it again on the same ports and data.</summary>
    public Task RestartAsync() => StartProcessAsync();

    public async Task<string> EtcdctlAsync(params string[] args)
    {
        var info = new ProcessStartInfo("etcdctl")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["ETCDCTL_API"] = "3" },
        };
        info.ArgumentList.Add("--endpoints");
        info.ArgumentList.Add(Endpoint);
        foreach (string arg in args) info.ArgumentList.Add(arg);
        using Process process = Process.Start(info)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"etcdctl {string.Join(' ', args)} failed: {await stderr}{await stdout}");
        return await stdout;
    }

    private async Task StartProcessAsync()
    {
        var info = new ProcessStartInfo("etcd")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string client = Endpoint, peer = $"http://127.0.0.1:{PeerPort}";
        foreach (string arg in new[]
                 {
                     "--name", "t", "--data-dir", Path.Combine(_dir.Path, "data"),
                     "--listen-client-urls", client, "--advertise-client-urls", client,
                     "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                     "--initial-cluster", $"t={peer}", "--logger", "zap", "--log-level", "warn",
                 }.Concat(_extraArgs))
        {
            info.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("etcd is not installed: apt-get install -y etcd-server etcd-client", ex);
        }
        _process = process;
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) break;
            try
            {
                string health = await Health.GetStringAsync($"{client}/health");
                if (health.Contains("\"true\"", StringComparison.Ordinal)) return;
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }
            await Task.Delay(100);
        }
        await KillAsync();
        string log;
        lock (_log) log = string.Join('\n', _log);
        throw new InvalidOperationException($"etcd did not become healthy at {client}:\n{log}");
    }

    private void Remember(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            _log.Enqueue(line);
            while (_log.Count > 50) _log.Dequeue();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _dir.Dispose();
    }
}

/// <summary>One etcd per test class.</summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    private EtcdServer? _server;

    internal EtcdServer Server => _server ?? throw new InvalidOperationException("etcd is not running.");

    public async Task InitializeAsync() => _server = await EtcdServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}
