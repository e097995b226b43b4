using KafScale.Broker;
using KafScale.Observability;
using KafScale.Storage;

namespace KafScale.Broker.Tests;

/// <summary>
/// The probe that tells an unavailable object store from one that is back. Runs on a real
/// directory store whose directory is swapped for a plain file (the outage) and back.
/// </summary>
public sealed class StoreHealthProbeTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kafscale-probe-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (File.Exists(_root)) File.Delete(_root);
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
        if (Directory.Exists(_root + ".away")) Directory.Delete(_root + ".away", recursive: true);
    }

    [Fact]
    public async Task A_store_whose_directory_is_gone_stays_unavailable_until_it_is_back()
    {
        Directory.CreateDirectory(_root);
        var store = new LocalDirectoryObjectStore(_root);
        var metrics = new BrokerMetrics(new MetricsRegistry(), new StoreHealth(new StoreHealthThresholds()));
        Directory.Move(_root, _root + ".away");
        File.WriteAllText(_root, "not a directory");
        // What a failing produce would have recorded.
        for (int i = 0; i < 10; i++) metrics.ObjectStore("put", 1, ok: false);
        Assert.True(metrics.Health.LastKnownUnavailable);

        await using (var probe = new StoreHealthProbe(store, "ns", metrics, TimeSpan.FromMilliseconds(20)))
        {
            // Far more probes than the recovery run: a lookup that reads "no such object" as an
            // answer would have counted the store as recovered by now.
            await Task.Delay(StoreHealth.RecoveryRun * 20 * 10);
            Assert.True(metrics.Health.LastKnownUnavailable, "the probe counted a store it cannot write to as recovered");
            Assert.Equal(StoreHealthState.Unavailable, metrics.Health.State);

            File.Delete(_root);
            Directory.Move(_root + ".away", _root);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (metrics.Health.LastKnownUnavailable)
            {
                Assert.True(DateTime.UtcNow < deadline, "the store came back but the probe never said so");
                await Task.Delay(20);
            }
        }

        Assert.Equal(StoreHealthState.Healthy, metrics.Health.State);
        Assert.NotNull(await store.GetSizeAsync(StoreHealthProbe.Key("ns"), CancellationToken.None));
    }
}
