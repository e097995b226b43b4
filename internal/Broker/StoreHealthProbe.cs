using System.Diagnostics;
using KafScale.Storage;

namespace KafScale.Broker;

/// <summary>
/// While the object store counts as unavailable, produce is refused, so little traffic would
/// tell the broker that the store is back. This writes one tiny object a second until the
/// health window says the store has recovered. A write, because writing is what produce needs,
/// and because a read cannot tell an absent key from an absent store: a directory store whose
/// directory is gone answers every size lookup with "no such object" at once, which would count
/// as recovered while nothing can be written. On S3 this costs one PUT a second, and only while
/// the store counts as unavailable.
/// </summary>
internal sealed class StoreHealthProbe : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private static readonly byte[] Body = "kafscale store health probe\n"u8.ToArray();

    /// <summary>The object each probe writes (replaced each time).</summary>
    public static string Key(string ns) => $"{ns}/_kafscale/health-probe";

    /// <param name="period">How often to probe while unavailable: a second, shorter in tests.</param>
    public StoreHealthProbe(IObjectStore store, string ns, BrokerMetrics metrics, TimeSpan? period = null)
    {
        _loop = RunAsync(store, Key(ns), metrics, period ?? TimeSpan.FromSeconds(1), _stop.Token);
    }

    private static async Task RunAsync(IObjectStore store, string key, BrokerMetrics metrics, TimeSpan period, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(period);
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
                    await store.PutAsync(key, Body, timeout.Token).ConfigureAwait(false);
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
