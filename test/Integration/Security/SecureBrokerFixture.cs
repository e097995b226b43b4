using KafScale.TestSupport;
using Xunit;

namespace KafScale.Integration.Security;

/// <summary>
/// One broker with all four listeners (PLAINTEXT on the harness's port, SSL, SASL_PLAINTEXT,
/// SASL_SSL), TLS from <see cref="TestCertificates"/> with client certificates requested, and
/// SCRAM users made with <c>kafscale admin users set</c> over the PLAINTEXT listener.
/// </summary>
public sealed class SecureBrokerFixture : IAsyncLifetime
{
    public const string AlicePassword = "alice-Pa55,word=";
    public const string BobPassword = "bob-secret";

    public TestCertificates Certificates { get; private set; } = null!;
    public BrokerProcess Broker { get; private set; } = null!;
    public int SslPort { get; private set; }
    public int SaslPlaintextPort { get; private set; }
    public int SaslSslPort { get; private set; }

    public async Task InitializeAsync()
    {
        Certificates = await TestCertificates.CreateAsync();
        (SslPort, SaslPlaintextPort) = BrokerProcess.FreePorts();
        (SaslSslPort, _) = BrokerProcess.FreePorts();
        Broker = await BrokerProcess.StartAsync(new BrokerOptions
        {
            GroupInitialRebalanceDelayMs = 0,
            ExtraArguments =
            [
                "--listeners", $"PLAINTEXT://127.0.0.1:{{kafka-port}},SSL://127.0.0.1:{SslPort},SASL_PLAINTEXT://127.0.0.1:{SaslPlaintextPort},SASL_SSL://127.0.0.1:{SaslSslPort}",
                "--tls-cert", Certificates.BrokerCert, "--tls-key", Certificates.BrokerKey, "--tls-ca", Certificates.Ca,
                "--tls-client-auth", "requested",
            ],
        });
        await WaitForPortAsync(SaslSslPort);
        foreach (var (user, mechanism, password) in new[]
        {
            ("alice", "SCRAM-SHA-256", AlicePassword), ("alice", "SCRAM-SHA-512", AlicePassword), ("bob", "SCRAM-SHA-512", BobPassword),
        })
        {
            (await AdminAsync("users", "set", user, "--mechanism", mechanism, "--password", password)).EnsureSuccess();
        }
    }

    /// <summary>Runs <c>kafscale admin</c> against the PLAINTEXT listener (extra arguments may point it elsewhere).</summary>
    public Task<ClientResult> AdminAsync(params string[] args) => AdminAtAsync(Broker.Bootstrap, args);

    /// <summary>Runs <c>kafscale admin</c> against the given bootstrap address.</summary>
    public Task<ClientResult> AdminAtAsync(string bootstrap, params string[] args) =>
        ClientRunner.RunAsync(Broker.Binary, ["admin", "--bootstrap", bootstrap, .. args], timeout: TimeSpan.FromSeconds(60));

    private static async Task WaitForPortAsync(int port)
    {
        for (int i = 0; i < 100; i++)
        {
            try
            {
                using var client = new System.Net.Sockets.TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
                return;
            }
            catch (System.Net.Sockets.SocketException)
            {
                await Task.Delay(50);
            }
        }
    }

    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        Certificates.Dispose();
    }
}
