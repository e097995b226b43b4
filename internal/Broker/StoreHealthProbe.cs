using System.Diagnostics;
using KafScale.Storage;

namespace KafScale.Broker;

/// <summary>
/// While the object store counts as unavailable, produce is refused, so little traffic would
/// tell the broker that the store is back. This sends one cheap request a second (the size of
/// a key that need not exist) until the health window says the store has recovered.
/// </summary>
internal sealed class StoreHealthProbe : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public StoreHealthProbe(IObjectStore store, string ns, BrokerMetrics metrics)
    {
        _loop = RunAsync(store, $"{ns}/_kafscale/health-probe", metrics, _stop.Token);
    }

    private static async Task RunAsync(IObjectStore store, string key, BrokerMetrics metrics, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                if (!metrics.Health.LastKnownUnavailable) continue;
                long start = Stopwatch.GetTimestamp();
                bool ok;
                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    timeout.CancelAfter(TimeSpan.FromSeconds(5));
                    await store.GetSizeAsync(key, timeout.Token).ConfigureAwait(false);
                    ok = true;
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
                catch (Exception) { ok = false; }
                metrics.ObjectStore("probe", Stopwatch.GetElapsedTime(start).TotalMilliseconds, ok);
            }
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
