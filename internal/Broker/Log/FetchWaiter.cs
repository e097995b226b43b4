using System.Threading.Tasks.Sources;

namespace KafScale.Broker.Log;

/// <summary>
/// What a long-polling fetch waits on (docs/architecture.md, "The read path"): the partitions it
/// registered with wake it when their high watermark moves or their term ends, and its own timer
/// wakes it at max_wait_ms. Each pooled fetch state owns one, reused for every wait, so a wait
/// allocates nothing and leaves no timer behind: the timer is disarmed as soon as the wait ends.
/// A wake that arrives late (after the fetch moved on) only makes a later wait end early, and
/// the fetch then reads again, so it is harmless.
/// </summary>
internal sealed class FetchWaiter : IValueTaskSource<bool>
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private readonly Timer _timer;
    private int _fired;

    public FetchWaiter()
    {
        _timer = new Timer(static s => ((FetchWaiter)s!).Fire(byData: false), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Readies the waiter for one wait: call before registering with partitions and reading them.</summary>
    public void Arm()
    {
        _core.Reset();
        Volatile.Write(ref _fired, 0);
    }

    /// <summary>A partition it registered with has news.</summary>
    public void Wake() => Fire(byData: true);

    /// <summary>Waits until a wake, or <paramref name="timeoutMs"/>; true when a partition woke it.</summary>
    public ValueTask<bool> WaitAsync(long timeoutMs)
    {
        _timer.Change(Math.Clamp(timeoutMs, 0, int.MaxValue - 1), Timeout.Infinite);
        return new ValueTask<bool>(this, _core.Version);
    }

    /// <summary>Ends the timer of a wait that is over.</summary>
    public void Disarm() => _timer.Change(Timeout.Infinite, Timeout.Infinite);

    private void Fire(bool byData)
    {
        if (Interlocked.Exchange(ref _fired, 1) == 0) _core.SetResult(byData);
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);
    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
