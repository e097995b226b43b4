using System.Security.Cryptography.X509Certificates;
using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Security;

/// <summary>
/// A broker with client certificates required: a client without one is turned away, and the
/// broker's certificate is replaced on disk while it runs: new connections get the new one,
/// existing ones keep working (docs/security.md, "TLS").
/// </summary>
public sealed class CertificateRotationTests(ITestOutputHelper output) : BrokerTest(output)
{
    [Fact]
    public async Task Replaced_certificate_files_serve_new_connections_while_old_ones_keep_working()
    {
        using var certs = await TestCertificates.CreateAsync();
        var (sslPort, _) = BrokerProcess.FreePorts();
        var options = new BrokerOptions
        {
            ExtraArguments =
            [
                "--listeners", $"PLAINTEXT://127.0.0.1:{{kafka-port}},SSL://127.0.0.1:{sslPort}",
                "--tls-cert", certs.BrokerCert, "--tls-key", certs.BrokerKey, "--tls-ca", certs.Ca, "--tls-client-auth", "required",
            ],
        };
        await WithBrokerAsync(async broker =>
        {
            using var pem = X509Certificate2.CreateFromPemFile(certs.ClientCert, certs.ClientKey);
            using var client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);

            // Required: no client certificate, no connection.
            await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                await using var anonymous = await RawKafkaConnection.ConnectTlsAsync(sslPort);
                await anonymous.SendAsync<ApiVersionsResponse>(ApiKeys.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "it", ClientSoftwareVersion = "1" });
            });

            await using var before = await RawKafkaConnection.ConnectTlsAsync(sslPort, client);
            Assert.Contains("CN=broker-1", before.RemoteCertificate!.Subject, StringComparison.Ordinal);

            // Written to new files and renamed into place, as certificate tools do.
            string nextCert = certs.BrokerCert + ".next", nextKey = certs.BrokerKey + ".next";
            await certs.IssueAsync("broker-2", nextCert, nextKey);
            File.Move(nextKey, certs.BrokerKey, overwrite: true);
            File.Move(nextCert, certs.BrokerCert, overwrite: true);

            string subject = "";
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (DateTime.UtcNow < deadline)
            {
                await using var fresh = await RawKafkaConnection.ConnectTlsAsync(sslPort, client);
                subject = fresh.RemoteCertificate!.Subject;
                if (subject.Contains("CN=broker-2", StringComparison.Ordinal)) break;
                await Task.Delay(500);
            }
            Assert.Contains("CN=broker-2", subject, StringComparison.Ordinal);
            await broker.AssertLogContainsAsync("TLS certificate reloaded");

            var versions = await before.SendAsync<ApiVersionsResponse>(ApiKeys.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "it", ClientSoftwareVersion = "1" });
            Assert.Equal(0, versions.ErrorCode);
            Assert.Contains("CN=broker-1", before.RemoteCertificate!.Subject, StringComparison.Ordinal);
        }, options);
    }

    [Fact]
    public async Task Bad_security_settings_stop_the_broker_with_one_line_naming_the_setting()
    {
        using var certs = await TestCertificates.CreateAsync();
        var (sslPort, _) = BrokerProcess.FreePorts();
        string binary = RepoPaths.Binary;
        var cases = new (string[] Args, string Expected)[]
        {
            (["--listeners", $"SSL://127.0.0.1:{sslPort}"], "--tls-cert and --tls-key"),
            (["--listeners", "BOGUS://127.0.0.1:1"], "unknown listener name 'BOGUS'"),
            (["--listeners", $"PLAINTEXT://127.0.0.1:{sslPort}", "--advertised-listeners", "SSL://h:1"], "SSL is not one of --listeners"),
            (["--tls-cert", certs.BrokerCert, "--tls-key", certs.BrokerKey, "--tls-client-auth", "required"], "needs --tls-ca"),
            (["--sasl-mechanisms", "PLAIN,GSSAPI"], "invalid value 'GSSAPI' in --sasl-mechanisms"),
            (["--sasl-mechanisms", "PLAIN,OAUTHBEARER"], "names OAUTHBEARER but --sasl-oauthbearer-jwks-endpoint-url"),
            (["--sasl-oauthbearer-expected-issuer", "https://idp/"], "need --sasl-oauthbearer-jwks-endpoint-url"),
            (["--sasl-oauthbearer-jwks-endpoint-url", "ftp://idp/jwks"], "expected a file path, a file: URL or an http(s) URL"),
            (["--listeners", $"SSL://127.0.0.1:{sslPort}", "--tls-cert", certs.Ca + ".missing", "--tls-key", certs.BrokerKey], "cannot load the TLS certificate"),
        };
        foreach (var (args, expected) in cases)
        {
            string dir = Path.Combine(Path.GetTempPath(), "kafscale-it-" + Guid.NewGuid().ToString("N")[..12]);
            try
            {
                var result = await ClientRunner.RunAsync(binary, ["broker", "--data-dir", dir, "--http", "127.0.0.1:0", .. args], timeout: TimeSpan.FromSeconds(30));
                Assert.False(result.TimedOut, $"{string.Join(' ', args)}: the broker started");
                Assert.NotEqual(0, result.ExitCode);
                Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
            }
            finally
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
        }
    }
}
