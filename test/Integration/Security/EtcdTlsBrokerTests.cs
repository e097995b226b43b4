using KafScale.TestSupport;
using Xunit;

namespace KafScale.Integration.Security;

/// <summary>
/// The built binary against an etcd that serves https only and requires client certificates
/// (--client-cert-auth), with certificates openssl makes for the test: the broker registers in
/// etcd and serves a produce and a consume with the CA and a client certificate; a wrong CA, a
/// missing client certificate and an unreadable CA file each stop it at start with one line
/// naming the setting, a non-zero exit code and no stack trace.
/// </summary>
public sealed class EtcdTlsBrokerTests : IAsyncLifetime
{
    private static readonly TimeSpan ExpectExit = TimeSpan.FromSeconds(60);
    private TestCertificates? _certs;
    private TestCertificates? _otherCa;
    private EtcdServer? _etcd;

    private TestCertificates Certs => _certs!;
    private EtcdServer Etcd => _etcd!;

    public async Task InitializeAsync()
    {
        _certs = await TestCertificates.CreateAsync();
        _otherCa = await TestCertificates.CreateAsync();
        _etcd = await EtcdServer.StartTemporaryTlsAsync(Certs);
    }

    public async Task DisposeAsync()
    {
        if (_etcd is not null) await _etcd.DisposeAsync();
        _certs?.Dispose();
        _otherCa?.Dispose();
    }

    [Fact]
    public async Task A_broker_with_the_CA_and_a_client_certificate_registers_in_etcd_and_serves_records()
    {
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions
        {
            LogLevel = "info",
            ExtraArguments = ["--etcd-endpoints", Etcd.Endpoint, "--etcd-tls-ca", Certs.Ca, "--etcd-tls-cert", Certs.ClientCert, "--etcd-tls-key", Certs.ClientKey],
        });
        // The broker's registration is in etcd (read with etcdctl over the same TLS).
        string brokers = await Etcd.EtcdctlAsync("get", "/kafscale/", "--prefix", "--keys-only");
        Assert.Contains("/kafscale/brokers/", brokers);

        string[] admin = ["admin", "--bootstrap", broker.Bootstrap];
        ClientResult produced = await ClientRunner.RunAsync(RepoPaths.Binary, [.. admin, "produce", "tls-etcd"], stdin: "one\ntwo\nthree\n", timeout: ExpectExit);
        Assert.True(produced.ExitCode == 0, produced.ToString());
        ClientResult consumed = await ClientRunner.RunAsync(RepoPaths.Binary,
            [.. admin, "consume", "tls-etcd", "--from", "beginning", "--count", "3"], timeout: ExpectExit);
        Assert.True(consumed.ExitCode == 0, consumed.ToString());
        Assert.Equal(["one", "two", "three"], consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // The topic's metadata went to etcd too.
        Assert.Contains("tls-etcd", await Etcd.EtcdctlAsync("get", "/kafscale/", "--prefix", "--keys-only"));
    }

    [Fact]
    public async Task A_CA_that_did_not_sign_etcds_certificate_stops_the_broker_with_one_line_naming_the_CA_setting()
    {
        string line = await StartupFailureAsync("--etcd-tls-ca", _otherCa!.Ca, "--etcd-tls-cert", Certs.ClientCert, "--etcd-tls-key", Certs.ClientKey);
        Assert.Contains("is not trusted", line);
        Assert.Contains("--etcd-tls-ca / KAFSCALE_ETCD_TLS_CA", line);
    }

    [Fact]
    public async Task Without_a_client_certificate_the_broker_stops_with_one_line_naming_the_certificate_settings()
    {
        string line = await StartupFailureAsync("--etcd-tls-ca", Certs.Ca);
        Assert.Contains("--etcd-tls-cert / KAFSCALE_ETCD_TLS_CERT", line);
        Assert.Contains("--etcd-tls-key / KAFSCALE_ETCD_TLS_KEY", line);
    }

    [Fact]
    public async Task An_unreadable_CA_file_stops_the_broker_with_one_line_naming_the_file_and_setting()
    {
        string missing = Path.Combine(Certs.Dir, "no-such-ca.pem");
        string line = await StartupFailureAsync("--etcd-tls-ca", missing, "--etcd-tls-cert", Certs.ClientCert, "--etcd-tls-key", Certs.ClientKey);
        Assert.Contains($"cannot read '{missing}' (--etcd-tls-ca / KAFSCALE_ETCD_TLS_CA)", line);
    }

    /// <summary>Runs a broker that must fail at start; returns its one error line after checking the exit and the absence of a stack trace.</summary>
    private async Task<string> StartupFailureAsync(params string[] tls)
    {
        string dataDir = Directory.CreateTempSubdirectory("kafscale-it-etcd-tls-").FullName;
        try
        {
            (int kafkaPort, int httpPort) = BrokerProcess.FreePorts();
            ClientResult result = await ClientRunner.RunAsync(RepoPaths.Binary,
                ["broker", "--listen", $"127.0.0.1:{kafkaPort}", "--http", $"127.0.0.1:{httpPort}", "--data-dir", dataDir,
                 "--etcd-endpoints", Etcd.Endpoint, .. tls], timeout: ExpectExit);
            Assert.False(result.TimedOut, $"the broker kept running: {result}");
            Assert.NotEqual(0, result.ExitCode);
            Assert.DoesNotContain("   at ", result.Stderr + result.Stdout);
            string[] errors = [.. (result.Stderr + result.Stdout).Split('\n').Where(l => l.Contains("etcd", StringComparison.Ordinal) && l.Contains("KAFSCALE_ETCD_TLS", StringComparison.Ordinal))];
            Assert.True(errors.Length == 1, $"expected one line naming the etcd TLS settings: {result}");
            return errors[0];
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
