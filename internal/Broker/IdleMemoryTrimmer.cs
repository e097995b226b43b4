using System.Runtime;

namespace KafScale.Broker;

/// <summary>
/// Gives memory back to the system once a burst of traffic is over: when a few seconds pass
/// with no bytes produced or fetched after a period that had some, it runs one compacting,
/// decommitting collection. Segments garbage-collected during load live in the large object
/// heap, which is otherwise only reclaimed when the GC next needs it, so an idle broker would
/// keep the footprint of its last peak.
/// </summary>
internal sealed class IdleMemoryTrimmer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public IdleMemoryTrimmer(BrokerMetrics metrics, TimeSpan idleAfter)
    {
        _loop = RunAsync(metrics, idleAfter, _stop.Token);
    }

    public int Trims { get; private set; }

    private async Task RunAsync(BrokerMetrics metrics, TimeSpan idleAfter, CancellationToken ct)
    {
        long last = -1;
        bool busySinceTrim = false;
        using var timer = new PeriodicTimer(idleAfter);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                long now = metrics.BytesIn.Value + metrics.BytesOut.Value;
                if (now != last)
                {
                    busySinceTrim |= last >= 0;
                    last = now;
                    continue;
                }
                if (!busySinceTrim) continue;
                busySinceTrim = false;
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                Trims++;
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
