using KafScale.Metadata;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Clustering;

/// <summary>
/// Keeps a view of every key under a prefix: reads them all, then watches from the revision
/// after that read. When the watch ends (a compacted revision, a store that went away and
/// gave up) it reads everything again and carries on, so the view converges whatever happens.
/// The callbacks run on the mirror's own loop, one at a time, in revision order.
/// </summary>
internal sealed class PrefixMirror(IMetadataStore store, string prefix, ILogger log,
    Action<IReadOnlyList<KeyValue>, long> reset, Action<WatchEvent> apply)
{
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes after the first full read has been applied.</summary>
    public Task Synced => _synced.Task;

    public async Task RunAsync(CancellationToken ct)
    {
        var delay = TimeSpan.FromMilliseconds(100);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var range = await store.GetPrefixAsync(prefix, ct).ConfigureAwait(false);
                reset(range.Kvs, range.Revision);
                _synced.TrySetResult();
                delay = TimeSpan.FromMilliseconds(100);
                await foreach (var e in store.WatchAsync(prefix, range.Revision + 1, ct).ConfigureAwait(false))
                    apply(e);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (ObjectDisposedException) { return; }
            catch (CompactedRevisionException)
            {
                log.LogInformation("watch of {Prefix} fell behind the store's history; reading it again", prefix);
                continue;
            }
            catch (Exception ex)
            {
                log.LogWarning("watch of {Prefix} failed ({Error}); retrying in {Delay} ms", prefix, ex.Message, (int)delay.TotalMilliseconds);
            }
            try { await Task.Delay(delay, ct).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
    }
}
