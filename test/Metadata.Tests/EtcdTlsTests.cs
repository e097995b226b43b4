using System.Text;
using KafScale.Metadata.Etcd;

namespace KafScale.Metadata.Tests;

/// <summary>
/// etcd serving https only with --client-cert-auth, on certificates openssl makes for the test:
/// the store connects with the CA and a client certificate, and every wrong setting fails the
/// connect with one message naming the setting to fix.
/// </summary>
public sealed class EtcdTlsTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private TestCertificates? _certs;
    private TestCertificates? _otherCa;
    private EtcdServer? _server;

    private EtcdServer Server => _server!;
    private TestCertificates Certs => _certs!;

    public async Task InitializeAsync()
    {
        _certs = await TestCertificates.CreateAsync();
        _otherCa = await TestCertificates.CreateAsync();
        _server = await EtcdServer.StartTemporaryTlsAsync(Certs);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
        _certs?.Dispose();
        _otherCa?.Dispose();
    }

    private EtcdMetadataStoreOptions Options(string? ca, string? cert, string? key) =>
        new() { Tls = new EtcdTlsOptions { CaPath = ca, CertificatePath = cert, KeyPath = key }, RequestTimeout = TimeSpan.FromSeconds(5) };

    [Fact]
    public async Task The_CA_and_a_client_certificate_read_write_watch_and_keep_leases()
    {
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([Server.Endpoint], null, null,
            Options(Certs.Ca, Certs.ClientCert, Certs.ClientKey), Ct);
        long revision = await store.PutAsync("/kafscale/a", Encoding.UTF8.GetBytes("1"), 0, Ct);
        Assert.Equal("1", Encoding.UTF8.GetString((await store.GetAsync("/kafscale/a", Ct))!.Value));
        long lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        await store.PutAsync("/kafscale/brokers/1", Encoding.UTF8.GetBytes("b"), lease, Ct);
        Assert.NotNull(await store.KeepAliveAsync(lease, Ct));
        await using WatchProbe watch = WatchProbe.Start(store, "/kafscale/", revision);
        Assert.Equal("/kafscale/a", (await watch.NextAsync()).Kv.Key);
        // etcdctl over the same TLS sees what the store wrote.
        Assert.Equal("b", await Server.GetAsync("/kafscale/brokers/1"));
    }

    [Fact]
    public async Task An_endpoint_without_a_scheme_means_https_when_TLS_is_configured()
    {
        string bare = Server.Endpoint["https://".Length..];
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([bare], null, null,
            Options(Certs.Ca, Certs.ClientCert, Certs.ClientKey), Ct);
        await store.PutAsync("/kafscale/bare", [1], 0, Ct);
        Assert.Equal("https://" + bare, store.Endpoints);
    }

    [Fact]
    public async Task A_CA_that_did_not_sign_etcds_certificate_names_the_CA_setting()
    {
        var error = await Assert.ThrowsAsync<MetadataStoreUnavailableException>(() =>
            EtcdMetadataStore.ConnectAsync([Server.Endpoint], null, null, Options(_otherCa!.Ca, Certs.ClientCert, Certs.ClientKey), Ct));
        Assert.Contains("is not trusted", error.Message);
        Assert.Contains("--etcd-tls-ca / KAFSCALE_ETCD_TLS_CA", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task The_system_roots_do_not_trust_a_private_CA_and_the_message_names_the_CA_setting()
    {
        var error = await Assert.ThrowsAsync<MetadataStoreUnavailableException>(() =>
            EtcdMetadataStore.ConnectAsync([Server.Endpoint], null, null, Options(null, Certs.ClientCert, Certs.ClientKey), Ct));
        Assert.Contains("does not chain to the system's roots", error.Message);
        Assert.Contains("--etcd-tls-ca / KAFSCALE_ETCD_TLS_CA", error.Message);
    }

    [Fact]
    public async Task Without_a_client_certificate_the_message_names_the_certificate_settings()
    {
        var error = await Assert.ThrowsAsync<MetadataStoreUnavailableException>(() =>
            EtcdMetadataStore.ConnectAsync([Server.Endpoint], null, null, Options(Certs.Ca, null, null), Ct));
        Assert.True(error.Message.Contains("the TLS connection to etcd", StringComparison.Ordinal), error.Message);
        Assert.Contains("--etcd-tls-cert / KAFSCALE_ETCD_TLS_CERT", error.Message);
        Assert.Contains("--etcd-tls-key / KAFSCALE_ETCD_TLS_KEY", error.Message);
    }

    [Fact]
    public async Task Unreadable_or_mismatched_files_fail_before_connecting_and_name_the_setting()
    {
        string missing = Path.Combine(Certs.Dir, "nope.pem");
        var noCa = await Assert.ThrowsAsync<MetadataStoreException>(() =>
            EtcdMetadataStore.ConnectAsync([Server.Endpoint], null, null, Options(missing, null, null), Ct));
        Assert.Contains($"cannot read '{missing}' (--etcd-tls-ca / KAFSCALE_ETCD_TLS_CA)", noCa.Message);

        var notPem = await Assert.ThrowsAsync<MetadataStoreException>(() =>
            EtcdMetadataStore.ConnectAsync([Server.Endpoint], null, null, Options(Certs.ClientKey, null, null), Ct));
        Assert.Contains("holds no PEM certificate", notPem.Message);

        var noKey = await Assert.ThrowsAsync<MetadataStoreException>(() =>
            EtcdMetadataStore.ConnectAsync([Server.Endpoint], null, null, Options(Certs.Ca, Certs.ClientCert, null), Ct));
        Assert.Contains("--etcd-tls-cert / KAFSCALE_ETCD_TLS_CERT and --etcd-tls-key / KAFSCALE_ETCD_TLS_KEY go together", noKey.Message);

        var wrongKey = await Assert.ThrowsAsync<MetadataStoreException>(() =>
            EtcdMetadataStore.ConnectAsync([Server.Endpoint], null, null, Options(Certs.Ca, Certs.ClientCert, Certs.BrokerKey), Ct));
        Assert.Contains("--etcd-tls-key / KAFSCALE_ETCD_TLS_KEY", wrongKey.Message);

        var plain = await Assert.ThrowsAsync<MetadataStoreException>(() =>
            EtcdMetadataStore.ConnectAsync(["http" + Server.Endpoint["https".Length..]], null, null, Options(Certs.Ca, Certs.ClientCert, Certs.ClientKey), Ct));
        Assert.Contains("is plain http but TLS to etcd is configured", plain.Message);
    }
}
