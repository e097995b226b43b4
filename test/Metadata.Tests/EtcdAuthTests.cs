using System.Text;
using KafScale.Metadata.Etcd;

namespace KafScale.Metadata.Tests;

/// <summary>etcd with auth enabled: a user whose role may read and write /kafscale/ only. Tokens live 2 s.</summary>
public sealed class EtcdAuthTests : IAsyncLifetime
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private EtcdServer? _server;

    private EtcdServer Server => _server!;

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    public async Task InitializeAsync()
    {
        _server = await EtcdServer.StartTemporaryAsync("--auth-token-ttl", "2");
        await Server.EtcdctlAsync("user", "add", "root:rootpw");
        await Server.EtcdctlAsync("user", "add", "kafscale:s3cret");
        await Server.EtcdctlAsync("role", "add", "kafscale");
        await Server.EtcdctlAsync("role", "grant-permission", "kafscale", "--prefix=true", "readwrite", "/kafscale/");
        await Server.EtcdctlAsync("user", "grant-role", "kafscale", "kafscale");
        await Server.EtcdctlAsync("auth", "enable");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }

    [Fact]
    public async Task A_user_with_the_right_password_reads_writes_watches_and_keeps_leases()
    {
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([Server.Endpoint], "kafscale", "s3cret", Ct);
        long revision = await store.PutAsync("/kafscale/a", B("1"), 0, Ct);
        Assert.Equal("1", Encoding.UTF8.GetString((await store.GetAsync("/kafscale/a", Ct))!.Value));
        long lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        await store.PutAsync("/kafscale/brokers/1", B("b"), lease, Ct);
        Assert.NotNull(await store.KeepAliveAsync(lease, Ct));
        await using WatchProbe watch = WatchProbe.Start(store, "/kafscale/", revision);
        Assert.Equal("/kafscale/a", (await watch.NextAsync()).Kv.Key);
        await store.RevokeLeaseAsync(lease, Ct);
        Assert.Null(await store.GetAsync("/kafscale/brokers/1", Ct));
    }

    [Fact]
    public async Task An_expired_token_is_renewed_without_the_caller_noticing()
    {
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([Server.Endpoint], "kafscale", "s3cret", Ct);
        long revision = await store.PutAsync("/kafscale/a", B("1"), 0, Ct);
        await Task.Delay(TimeSpan.FromSeconds(4));
        await store.PutAsync("/kafscale/b", B("2"), 0, Ct);
        await Task.Delay(TimeSpan.FromSeconds(4));
        await using WatchProbe watch = WatchProbe.Start(store, "/kafscale/", revision);
        Assert.Equal("/kafscale/a", (await watch.NextAsync()).Kv.Key);
        Assert.Equal("/kafscale/b", (await watch.NextAsync()).Kv.Key);
        long lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.NotNull(await store.KeepAliveAsync(lease, Ct));
    }

    [Fact]
    public async Task A_wrong_password_fails_the_connect_clearly()
    {
        var error = await Assert.ThrowsAsync<MetadataStoreException>(() =>
            EtcdMetadataStore.ConnectAsync([Server.Endpoint], "kafscale", "wrong", Ct));
        Assert.Contains("rejected user 'kafscale'", error.Message);
    }

    [Fact]
    public async Task Connecting_without_credentials_to_an_etcd_that_requires_them_fails_clearly()
    {
        var error = await Assert.ThrowsAsync<MetadataStoreException>(() =>
            EtcdMetadataStore.ConnectAsync([Server.Endpoint], null, null, Ct));
        Assert.Contains("requires authentication", error.Message);
    }

    [Fact]
    public async Task Keys_outside_the_users_permissions_are_denied_clearly()
    {
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([Server.Endpoint], "kafscale", "s3cret", Ct);
        var error = await Assert.ThrowsAsync<MetadataStoreException>(() => store.PutAsync("/elsewhere", B("1"), 0, Ct));
        Assert.Contains("permission denied", error.Message);
    }
}
