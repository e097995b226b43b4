using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace KafScale.TestSupport;

/// <summary>
/// A single-member etcd 3.4 on free loopback ports with its own data directory; it can be stopped
/// and started again on the same data. Extra etcd flags (such as --auth-token-ttl) go to every start.
/// With certificates (<see cref="StartTemporaryTlsAsync"/>) clients speak https and must present a
/// client certificate signed by the test CA (etcd's --client-cert-auth).
/// </summary>
public sealed class EtcdServer : IAsyncDisposable
{
    private readonly ServerProcess _process;
    private readonly bool _ownsRoot;

    private EtcdServer(string root, bool ownsRoot, IReadOnlyList<string> extraArgs, TestCertificates? tls = null)
    {
        Root = root;
        Tls = tls;
        _ownsRoot = ownsRoot;
        ClientPort = ServerProcess.FreePort();
        PeerPort = ServerProcess.FreePort();
        string data = Path.Combine(root, "etcd");
        _process = new ServerProcess("etcd", "etcd", () =>
        [
            "--name", "t", "--data-dir", data,
            "--listen-client-urls", Endpoint, "--advertise-client-urls", Endpoint,
            "--listen-peer-urls", $"http://127.0.0.1:{PeerPort}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{PeerPort}",
            "--initial-cluster", $"t=http://127.0.0.1:{PeerPort}",
            .. (tls is null ? (string[])[] : ["--cert-file", tls.BrokerCert, "--key-file", tls.BrokerKey, "--trusted-ca-file", tls.Ca, "--client-cert-auth"]),
            .. extraArgs,
        ], Path.Combine(root, "etcd.log"));
    }

    public string Root { get; }
    public int ClientPort { get; }
    public int PeerPort { get; }
    public string Endpoint => $"{(Tls is null ? "http" : "https")}://127.0.0.1:{ClientPort}";

    /// <summary>The certificates of a TLS etcd (server certificate, CA, client certificate), else null.</summary>
    public TestCertificates? Tls { get; }
    public ServerProcess Process => _process;

    /// <summary>Starts etcd with its data and log under root (which the caller owns).</summary>
    public static Task<EtcdServer> StartAsync(string root, params string[] extraArgs) => StartAsync(root, ownsRoot: false, extraArgs);

    /// <summary>Starts etcd in a temporary directory of its own, deleted on dispose.</summary>
    public static Task<EtcdServer> StartTemporaryAsync(params string[] extraArgs)
    {
        string root = Path.Combine(Path.GetTempPath(), "kafscale-etcd", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        return StartAsync(root, ownsRoot: true, extraArgs);
    }

    /// <summary>
    /// Starts etcd over TLS only in a temporary directory: its certificate is tls.BrokerCert, and
    /// clients must present a certificate signed by tls.Ca. The caller owns tls.
    /// </summary>
    public static Task<EtcdServer> StartTemporaryTlsAsync(TestCertificates tls, params string[] extraArgs)
    {
        ArgumentNullException.ThrowIfNull(tls);
        string root = Path.Combine(Path.GetTempPath(), "kafscale-etcd", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        return StartAsync(root, ownsRoot: true, extraArgs, tls);
    }

    private static async Task<EtcdServer> StartAsync(string root, bool ownsRoot, string[] extraArgs, TestCertificates? tls = null)
    {
        var server = new EtcdServer(root, ownsRoot, extraArgs, tls);
        try
        {
            await server.StartAgainAsync().ConfigureAwait(false);
            return server;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException("etcd is not installed: apt-get install -y etcd-server etcd-client", e);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts etcd (again, on the same data) and waits until /health says it is.</summary>
    public async Task StartAgainAsync()
    {
        await _process.StartAsync(ClientPort).ConfigureAwait(false);
        using var http = new HttpClient(HealthHandler()) { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                string body = await http.GetStringAsync($"{Endpoint}/health").ConfigureAwait(false);
                if (body.Contains("\"true\"", StringComparison.Ordinal)) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            await Task.Delay(50).ConfigureAwait(false);
        }
        throw new TimeoutException($"etcd is not healthy.\n{_process.Log()}");
    }

    private SocketsHttpHandler HealthHandler()
    {
        var handler = new SocketsHttpHandler();
        if (Tls is not null)
        {
            var ca = new X509Certificate2Collection();
            ca.ImportFromPemFile(Tls.Ca);
            using var pem = X509Certificate2.CreateFromPemFile(Tls.ClientCert, Tls.ClientKey);
            handler.SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)],
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is null) return false;
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    using var cert = new X509Certificate2(certificate);
                    return chain.Build(cert);
                },
            };
        }
        return handler;
    }

    /// <summary>A key's value through etcdctl (v3 API), or null when it is missing.</summary>
    public async Task<string?> GetAsync(string key)
    {
        string value = (await EtcdctlAsync("get", key, "--print-value-only").ConfigureAwait(false)).TrimEnd('\n');
        return value.Length == 0 ? null : value;
    }

    /// <summary>Runs etcdctl (v3 API) against this etcd; returns its output, throws when it fails.</summary>
    public async Task<string> EtcdctlAsync(params string[] args)
    {
        string[] tls = Tls is null ? [] : ["--cacert", Tls.Ca, "--cert", Tls.ClientCert, "--key", Tls.ClientKey];
        var result = await ClientRunner.RunAsync("etcdctl", ["--endpoints", Endpoint, .. tls, .. args], timeout: TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        if (result.TimedOut || result.ExitCode != 0) throw new IOException($"etcdctl {string.Join(' ', args)} failed: {result}");
        return result.Stdout;
    }

    /// <summary>Stops etcd as an outage would (SIGKILL: no goodbye to its clients).</summary>
    public Task StopAsync() => _process.KillAsync();

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync().ConfigureAwait(false);
        if (_ownsRoot)
        {
            try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
