using System.Diagnostics;

namespace KafScale.TestSupport;

/// <summary>
/// Certificates made with openssl when a test runs (no key material lives in the repository): a
/// CA, broker certificates for 127.0.0.1 and localhost, and a client certificate for mTLS. EC
/// P-256 keys, PEM, PKCS#8: what Kafka's tools and every client here read.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(string dir)
    {
        Dir = dir;
    }

    public string Dir { get; }
    public string Ca => Path.Combine(Dir, "ca.crt");
    private string CaKey => Path.Combine(Dir, "ca.key");
    public string BrokerCert => Path.Combine(Dir, "broker.crt");
    public string BrokerKey => Path.Combine(Dir, "broker.key");
    public string ClientCert => Path.Combine(Dir, "client.crt");
    public string ClientKey => Path.Combine(Dir, "client.key");

    /// <summary>The subject CN of the client certificate: the mTLS principal is User:&lt;this&gt;.</summary>
    public const string ClientName = "kafscale-test-client";

    public static async Task<TestCertificates> CreateAsync()
    {
        string dir = Path.Combine(Path.GetTempPath(), "kafscale-certs-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var certs = new TestCertificates(dir);
        await OpenSslAsync(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", certs.CaKey, "-out", certs.Ca, "-days", "2", "-subj", "/CN=kafscale-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
        await certs.IssueAsync("broker-1", certs.BrokerCert, certs.BrokerKey);
        await certs.IssueAsync(ClientName, certs.ClientCert, certs.ClientKey);
        return certs;
    }

    /// <summary>A certificate signed by the CA, valid for 127.0.0.1 and localhost, for servers and clients.</summary>
    public async Task IssueAsync(string commonName, string certPath, string keyPath)
    {
        string csr = Path.Combine(Dir, commonName + ".csr");
        string ext = Path.Combine(Dir, commonName + ".ext");
        await File.WriteAllTextAsync(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n");
        await OpenSslAsync(Dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", keyPath, "-out", csr, "-subj", "/CN=" + commonName);
        await OpenSslAsync(Dir, "x509", "-req", "-in", csr, "-CA", Ca, "-CAkey", CaKey, "-CAcreateserial",
            "-out", certPath, "-days", "2", "-extfile", ext);
    }

    private static async Task OpenSslAsync(string dir, params string[] args)
    {
        var info = new ProcessStartInfo("openssl") { RedirectStandardError = true, RedirectStandardOutput = true, WorkingDirectory = dir };
        foreach (string a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"openssl {string.Join(' ', args)} failed: {stderr}");
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }
}
