using System.Text;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Storage.S3.Tests;

/// <summary>
/// An https S3 endpoint whose certificate comes from a private CA (openssl, made for the test):
/// s3rver behind a TLS-terminating forwarder. With --s3-tls-ca the store works; without it, or
/// with another CA, opening fails with one message naming the setting.
/// </summary>
public sealed class S3TlsTests(S3rverFixture fixture) : IClassFixture<S3rverFixture>, IAsyncLifetime
{
    private static CancellationToken Ct => CancellationToken.None;
    private TestCertificates? _certs;
    private TestCertificates? _otherCa;
    private TlsForwarder? _forwarder;

    private TestCertificates Certs => _certs!;

    public async Task InitializeAsync()
    {
        _certs = await TestCertificates.CreateAsync();
        _otherCa = await TestCertificates.CreateAsync();
        _forwarder = TlsForwarder.Start(Certs.BrokerCert, Certs.BrokerKey, fixture.Server.Port);
    }

    public async Task DisposeAsync()
    {
        if (_forwarder is not null) await _forwarder.DisposeAsync();
        _certs?.Dispose();
        _otherCa?.Dispose();
    }

    private S3StoreOptions Https(string? ca) => fixture.Server.OptionsFor(S3rverFixture.Bucket) with
    {
        Endpoint = $"https://127.0.0.1:{_forwarder!.Port}",
        TlsCaPath = ca,
        MaxRetries = 0,
    };

    [Fact]
    public async Task With_the_private_CA_the_store_writes_and_reads_over_https()
    {
        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(Https(Certs.Ca), NullLogger.Instance, Ct);
        string key = $"tls-{Guid.NewGuid():N}/segment.kfs";
        await store.PutAsync(key, "over tls"u8.ToArray(), Ct);
        Assert.Equal("over tls", Encoding.UTF8.GetString((await store.GetAsync(key, Ct))!));
    }

    [Fact]
    public async Task Without_the_CA_opening_fails_with_one_line_naming_the_setting()
    {
        var error = await Assert.ThrowsAsync<S3StoreStartupException>(() => S3ObjectStore.OpenAsync(Https(null), NullLogger.Instance, Ct));
        Assert.Contains("TLS handshake", error.Message);
        Assert.Contains("--s3-tls-ca / KAFSCALE_S3_TLS_CA", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Another_CA_is_refused_and_the_message_says_which_file_did_not_match()
    {
        var error = await Assert.ThrowsAsync<S3StoreStartupException>(() => S3ObjectStore.OpenAsync(Https(_otherCa!.Ca), NullLogger.Instance, Ct));
        Assert.Contains("does not chain to the CA in", error.Message);
        Assert.Contains(_otherCa!.Ca, error.Message);
        Assert.Contains("--s3-tls-ca / KAFSCALE_S3_TLS_CA", error.Message);
    }

    [Fact]
    public async Task An_unreadable_CA_file_fails_before_any_request()
    {
        string missing = Path.Combine(Certs.Dir, "missing.pem");
        var error = await Assert.ThrowsAsync<S3StoreStartupException>(() => S3ObjectStore.OpenAsync(Https(missing), NullLogger.Instance, Ct));
        Assert.Contains($"cannot read '{missing}' (--s3-tls-ca / KAFSCALE_S3_TLS_CA)", error.Message);
    }
}
