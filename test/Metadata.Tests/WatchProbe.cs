using System.Threading.Channels;

namespace KafScale.Metadata.Tests;

/// <summary>Runs a watch in the background and lets a test take its events one at a time, with a timeout.</summary>
internal sealed class WatchProbe : IAsyncDisposable
{
    private readonly Channel<WatchEvent> _events = Channel.CreateUnbounded<WatchEvent>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;

    private WatchProbe(IMetadataStore store, string prefix, long fromRevision)
    {
        _pump = Task.Run(async () =>
        {
            try
            {
                await foreach (WatchEvent e in store.WatchAsync(prefix, fromRevision, _stop.Token))
                    await _events.Writer.WriteAsync(e);
                _events.Writer.TryComplete(new InvalidOperationException("The watch ended without being cancelled."));
            }
            catch (Exception ex)
            {
                _events.Writer.TryComplete(ex);
            }
        });
    }

    public static WatchProbe Start(IMetadataStore store, string prefix, long fromRevision) => new(store, prefix, fromRevision);

    public async Task<WatchEvent> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        try
        {
            return await _events.Reader.ReadAsync(cts.Token);
        }
        catch (ChannelClosedException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException("No watch event arrived in time.");
        }
    }

    /// <summary>True when no event arrives within the window.</summary>
    public async Task<bool> IsQuietForAsync(TimeSpan window)
    {
        using var cts = new CancellationTokenSource(window);
        try
        {
            await _events.Reader.WaitToReadAsync(cts.Token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _pump;
        _stop.Dispose();
    }
}
