using KafScale.TestSupport;
using Xunit;

namespace KafScale.Integration.Security;

/// <summary>
/// The built binary against an https S3 endpoint whose certificate comes from a private CA
/// (openssl, made for the test): s3rver behind <see cref="TlsForwarder"/>. With --s3-tls-ca the
/// broker keeps its segments there; without it the broker stops at start with one line naming
/// the setting, a non-zero exit code and no stack trace.
/// </summary>
public sealed class S3TlsBrokerTests : IAsyncLifetime
{
    private const string Bucket = "kafscale-tls";
    private readonly string _root = Directory.CreateTempSubdirectory("kafscale-it-s3-tls-").FullName;
    private TestCertificates? _certs;
    private S3rverServer? _s3;
    private TlsForwarder? _forwarder;

    private string[] S3Args(string? ca) =>
        ["--s3-bucket", Bucket, "--s3-endpoint", $"https://127.0.0.1:{_forwarder!.Port}", "--s3-path-style", "true", .. ca is null ? (string[])[] : ["--s3-tls-ca", ca]];

    public async Task InitializeAsync()
    {
        // The binary takes S3 credentials from the environment only; children inherit these.
        Environment.SetEnvironmentVariable("KAFSCALE_S3_ACCESS_KEY", S3rverServer.AccessKey);
        Environment.SetEnvironmentVariable("KAFSCALE_S3_SECRET_KEY", S3rverServer.SecretKey);
        _certs = await TestCertificates.CreateAsync();
        _s3 = await S3rverServer.StartAsync(_root, Bucket);
        _forwarder = TlsForwarder.Start(_certs.BrokerCert, _certs.BrokerKey, _s3.Port);
    }

    public async Task DisposeAsync()
    {
        if (_forwarder is not null) await _forwarder.DisposeAsync();
        if (_s3 is not null) await _s3.DisposeAsync();
        _certs?.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task With_the_private_CA_the_broker_keeps_its_segments_in_the_https_bucket()
    {
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info", ExtraArguments = S3Args(_certs!.Ca) });
        string[] admin = ["admin", "--bootstrap", broker.Bootstrap];
        ClientResult produced = await ClientRunner.RunAsync(RepoPaths.Binary, [.. admin, "produce", "tls-s3"], stdin: "a\nb\nc\n", timeout: TimeSpan.FromSeconds(60));
        Assert.True(produced.ExitCode == 0, produced.ToString());
        ClientResult consumed = await ClientRunner.RunAsync(RepoPaths.Binary,
            [.. admin, "consume", "tls-s3", "--from", "beginning", "--count", "3"], timeout: TimeSpan.FromSeconds(60));
        Assert.True(consumed.ExitCode == 0, consumed.ToString());
        Assert.Equal(["a", "b", "c"], consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        // The records went to the bucket through TLS: nothing of the topic under the directory store.
        Assert.False(Directory.Exists(Path.Combine(broker.DataDir, "objects", "default", "tls-s3")));
        Assert.Equal(0, await broker.TerminateAsync());
    }

    [Fact]
    public async Task Without_the_CA_the_broker_stops_with_one_line_naming_the_setting()
    {
        string dataDir = Directory.CreateTempSubdirectory("kafscale-it-s3-tls-data-").FullName;
        try
        {
            (int kafkaPort, int httpPort) = BrokerProcess.FreePorts();
            ClientResult result = await ClientRunner.RunAsync(RepoPaths.Binary,
                ["broker", "--listen", $"127.0.0.1:{kafkaPort}", "--http", $"127.0.0.1:{httpPort}", "--data-dir", dataDir, .. S3Args(null)],
                timeout: TimeSpan.FromSeconds(90));
            Assert.False(result.TimedOut, $"the broker kept running: {result}");
            Assert.NotEqual(0, result.ExitCode);
            string output = result.Stderr + result.Stdout;
            Assert.DoesNotContain("   at ", output);
            string[] lines = [.. output.Split('\n').Where(l => l.Contains("--s3-tls-ca / KAFSCALE_S3_TLS_CA", StringComparison.Ordinal))];
            Assert.True(lines.Length == 1, $"expected one line naming --s3-tls-ca: {result}");
            Assert.Contains("TLS handshake", lines[0]);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
