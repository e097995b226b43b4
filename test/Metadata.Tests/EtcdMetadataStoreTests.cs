using System.Net;
using System.Net.Sockets;
using System.Text;
using KafScale.Metadata.Etcd;

namespace KafScale.Metadata.Tests;

/// <summary>What only the etcd store does: endpoints, failover, reconnects, compaction, errors.</summary>
public sealed class EtcdMetadataStoreTests(EtcdFixture etcd) : IClassFixture<EtcdFixture>
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly string P = $"/test/{Guid.NewGuid():N}/";

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    internal static string DeadEndpoint()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
    }

    [Fact]
    public async Task Connecting_to_unreachable_endpoints_fails_naming_them_and_the_setting()
    {
        string dead1 = DeadEndpoint(), dead2 = DeadEndpoint();
        var error = await Assert.ThrowsAsync<MetadataStoreUnavailableException>(() =>
            EtcdMetadataStore.ConnectAsync([dead1, dead2], null, null, Ct));
        Assert.Contains(dead1, error.Message);
        Assert.Contains(dead2, error.Message);
        Assert.Contains("--etcd-endpoints", error.Message);
        Assert.Contains("KAFSCALE_ETCD_ENDPOINTS", error.Message);
    }

    [Fact]
    public async Task A_malformed_endpoint_is_rejected_naming_the_setting()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => EtcdMetadataStore.ConnectAsync(["ftp://x:1"], null, null, Ct));
        Assert.Contains("--etcd-endpoints", error.Message);
        await Assert.ThrowsAsync<ArgumentException>(() => EtcdMetadataStore.ConnectAsync([" , "], null, null, Ct));
    }

    [Fact]
    public async Task Endpoints_may_be_given_without_scheme_and_comma_separated()
    {
        string hostPort = etcd.Server.Endpoint["http://".Length..];
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([$"{DeadEndpoint()[7..]},{hostPort}"], null, null, Ct);
        Assert.Equal("etcd", store.Kind);
        await store.PutAsync(P + "a", B("1"), 0, Ct);
    }

    [Fact]
    public async Task Calls_fail_over_to_the_next_endpoint_when_the_first_is_dead()
    {
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([DeadEndpoint(), etcd.Server.Endpoint], null, null, Ct);
        long revision = await store.PutAsync(P + "a", B("1"), 0, Ct);
        Assert.Equal("1", Encoding.UTF8.GetString((await store.GetAsync(P + "a", Ct))!.Value));
        TxnResult txn = await store.TxnAsync(new TxnRequest([Compare.KeyMissing(P + "b")], [TxnOp.Put(P + "b", B("2"))], []), Ct);
        Assert.True(txn.Succeeded);

        long lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.NotNull(await store.KeepAliveAsync(lease, Ct));
        await using WatchProbe watch = WatchProbe.Start(store, P, revision);
        Assert.Equal(P + "a", (await watch.NextAsync()).Kv.Key);
        Assert.Equal(P + "b", (await watch.NextAsync()).Kv.Key);
        await store.RevokeLeaseAsync(lease, Ct);
    }

    [Fact]
    public async Task Watch_from_a_revision_etcd_has_compacted_fails_with_CompactedRevision()
    {
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([etcd.Server.Endpoint], null, null, Ct);
        long first = await store.PutAsync(P + "a", B("1"), 0, Ct);
        await store.PutAsync(P + "a", B("2"), 0, Ct);
        long last = await store.PutAsync(P + "a", B("3"), 0, Ct);
        await etcd.Server.EtcdctlAsync("compact", last.ToString());

        var error = await Assert.ThrowsAsync<CompactedRevisionException>(async () =>
        {
            await foreach (WatchEvent _ in store.WatchAsync(P, first, Ct)) { }
        });
        Assert.Equal(last - 1, error.CompactedRevision);

        await using WatchProbe watch = WatchProbe.Start(store, P, last);
        Assert.Equal("3", Encoding.UTF8.GetString((await watch.NextAsync()).Kv.Value));
    }

    [Fact]
    public async Task Each_keepalive_gets_the_answer_to_its_own_request_even_after_an_earlier_one_was_abandoned()
    {
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([etcd.Server.Endpoint], null, null, Ct);
        long shortLease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(5), Ct);
        long longLease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(9), Ct);
        // Interleaved on the one shared stream: every caller hears its own lease's TTL.
        TimeSpan?[] ttls = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => store.KeepAliveAsync(i % 2 == 0 ? shortLease : longLease, Ct)));
        for (int i = 0; i < ttls.Length; i++) Assert.Equal(TimeSpan.FromSeconds(i % 2 == 0 ? 5 : 9), ttls[i]);

        for (int round = 0; round < 20; round++)
        {
            long lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(30), Ct);
            // Abandoned at some point before, during or after its request went out.
            using (var abandon = new CancellationTokenSource(TimeSpan.FromTicks(Random.Shared.Next(0, 20_000))))
            {
                try { await store.KeepAliveAsync(lease, abandon.Token); } catch (OperationCanceledException) { }
            }
            await store.RevokeLeaseAsync(lease, Ct);
            // The answer to an abandoned request, sent before the revoke, must not stand in for this one.
            Assert.Null(await store.KeepAliveAsync(lease, Ct));
        }
    }

    [Fact]
    public async Task Operations_after_dispose_throw_ObjectDisposed()
    {
        EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([etcd.Server.Endpoint], null, null, Ct);
        await store.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.GetAsync(P + "a", Ct));
        await store.DisposeAsync();
    }

    [Fact]
    public async Task Disposing_the_store_ends_its_watches()
    {
        EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([etcd.Server.Endpoint], null, null, Ct);
        IAsyncEnumerator<WatchEvent> watch = store.WatchAsync(P, 0, Ct).GetAsyncEnumerator();
        ValueTask<bool> next = watch.MoveNextAsync();
        await Task.Delay(300);
        await store.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await next.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
