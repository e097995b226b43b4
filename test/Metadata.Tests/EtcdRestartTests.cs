using System.Text;
using KafScale.Metadata.Etcd;

namespace KafScale.Metadata.Tests;

/// <summary>etcd crashes and comes back under a running watch and lease keep-alive (each test owns its etcd).</summary>
public sealed class EtcdRestartTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task A_watch_and_a_lease_keepalive_both_recover_when_etcd_restarts()
    {
        await using EtcdServer server = await EtcdServer.StartTemporaryAsync();
        var options = new EtcdMetadataStoreOptions { RequestTimeout = TimeSpan.FromSeconds(3), MaxReconnectDelay = TimeSpan.FromMilliseconds(500) };
        await using EtcdMetadataStore store = await EtcdMetadataStore.ConnectAsync([server.Endpoint], null, null, options, Ct);

        long lease = await store.GrantLeaseAsync(TimeSpan.FromSeconds(6), Ct);
        await store.PutAsync("/r/brokers/1", B("b1"), lease, Ct);
        long before = await store.PutAsync("/r/topics/a", B("1"), 0, Ct);
        await using WatchProbe watch = WatchProbe.Start(store, "/r/topics/", before);
        Assert.Equal("/r/topics/a", (await watch.NextAsync()).Kv.Key);

        // The broker's keep-alive loop: refresh every second, and carry on through failures.
        using var stop = new CancellationTokenSource();
        int lost = 0, failures = 0;
        long lastSuccessTicks = 0;
        Task keeper = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    if (await store.KeepAliveAsync(lease, Ct) is null) Interlocked.Exchange(ref lost, 1);
                    else Interlocked.Exchange(ref lastSuccessTicks, DateTime.UtcNow.Ticks);
                }
                catch (MetadataStoreUnavailableException)
                {
                    Interlocked.Increment(ref failures);
                }
                try { await Task.Delay(1000, stop.Token); } catch (OperationCanceledException) { }
            }
        });

        await Task.Delay(1500);
        await server.StopAsync();
        await Task.Delay(2500);
        await Assert.ThrowsAsync<MetadataStoreUnavailableException>(() => store.GetAsync("/r/topics/a", Ct));
        await server.StartAgainAsync();
        DateTime restarted = DateTime.UtcNow;

        long after = await store.PutAsync("/r/topics/b", B("2"), 0, Ct);
        WatchEvent resumed = await watch.NextAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(("/r/topics/b", after), (resumed.Kv.Key, resumed.Kv.ModRevision)); // nothing repeated, nothing lost

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (new DateTime(Interlocked.Read(ref lastSuccessTicks)) < restarted && DateTime.UtcNow < deadline) await Task.Delay(200);
        stop.Cancel();
        await keeper;
        Assert.True(new DateTime(lastSuccessTicks) > restarted, "no keep-alive succeeded after the restart");
        Assert.True(failures > 0, "keep-alives should have failed while etcd was down");
        Assert.Equal(0, lost);
        Assert.NotNull(await store.GetAsync("/r/brokers/1", Ct));
    }
}
