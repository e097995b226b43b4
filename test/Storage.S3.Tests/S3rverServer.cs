using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using KafScale.Storage.S3;

namespace KafScale.Storage.S3.Tests;

/// <summary>
/// A real s3rver (the npm S3 server pinned in test/servers) on a free loopback port with its own
/// data directory; killed and removed on dispose. s3rver accepts any SigV4 signature
/// (--allow-mismatched-signatures) but only its own access key, S3RVER.
/// </summary>
public sealed class S3rverServer : IAsyncDisposable
{
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kafscale-s3-tests", Guid.NewGuid().ToString("N"));
    private readonly Queue<string> _log = new();
    private Process? _process;

    private S3rverServer() => Directory.CreateDirectory(_directory);

    public int Port { get; private set; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>Starts s3rver with the given buckets already created.</summary>
    public static async Task<S3rverServer> StartAsync(params string[] buckets)
    {
        string executable = FindExecutable();
        var server = new S3rverServer();
        try
        {
            // A free port can be taken between probing and binding; try a few.
            for (int attempt = 1; ; attempt++)
            {
                if (await server.TryStartAsync(executable, buckets).ConfigureAwait(false))
                    return server;
                if (attempt == 3)
                {
                    string log;
                    lock (server._log) log = string.Join('\n', server._log);
                    throw new InvalidOperationException($"s3rver did not start on {server.Endpoint}:\n{log}");
                }
            }
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Options for a store on one of this server's buckets, with fast retries for tests.</summary>
    public S3StoreOptions OptionsFor(string bucket) => new()
    {
        Bucket = bucket,
        Endpoint = Endpoint,
        PathStyle = true,
        AccessKey = AccessKey,
        SecretKey = SecretKey,
        RetryBaseDelay = TimeSpan.FromMilliseconds(10),
        RetryMaxDelay = TimeSpan.FromMilliseconds(100),
        RequestTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>test/servers/node_modules/.bin/s3rver of this repository, or a failure that says how to install it.</summary>
    internal static string FindExecutable()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string servers = Path.Combine(dir.FullName, "test", "servers");
            if (!File.Exists(Path.Combine(servers, "package.json")))
                continue;
            string executable = Path.Combine(servers, "node_modules", ".bin", "s3rver");
            if (!File.Exists(executable))
                throw new InvalidOperationException($"s3rver is not installed in {servers}: run scripts/install-deps.sh (it runs npm ci there).");
            return executable;
        }
        throw new InvalidOperationException($"cannot find test/servers/package.json above {AppContext.BaseDirectory}: run the tests from the repository.");
    }

    private async Task<bool> TryStartAsync(string executable, string[] buckets)
    {
        Port = FreePort();
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment = { ["NODE_OPTIONS"] = "--openssl-legacy-provider" },
        };
        foreach (string arg in new[] { "-d", _directory, "-a", "127.0.0.1", "-p", Port.ToString(), "--allow-mismatched-signatures", "--silent" })
            info.ArgumentList.Add(arg);
        foreach (string bucket in buckets)
        {
            info.ArgumentList.Add("--configure-bucket");
            info.ArgumentList.Add(bucket);
        }

        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run {executable} ({e.Message}): is node installed? Run scripts/install-deps.sh.", e);
        }
        _process = process;
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
            }
            await Task.Delay(25).ConfigureAwait(false);
        }
        await KillAsync().ConfigureAwait(false);
        return false;
    }

    public async Task KillAsync()
    {
        Process? process = _process;
        _process = null;
        if (process is null)
            return;
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

    private void Remember(string? line)
    {
        if (line is null)
            return;
        lock (_log)
        {
            _log.Enqueue(line);
            while (_log.Count > 50)
                _log.Dequeue();
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>One s3rver per test class, with <see cref="Bucket"/> and <see cref="ReplicaBucket"/> created.</summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    public const string Bucket = "kafscale-segments";
    public const string ReplicaBucket = "kafscale-replica";

    private S3rverServer? _server;

    public S3rverServer Server => _server ?? throw new InvalidOperationException("s3rver is not running.");

    public async Task InitializeAsync() => _server = await S3rverServer.StartAsync(Bucket, ReplicaBucket);

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }
}
