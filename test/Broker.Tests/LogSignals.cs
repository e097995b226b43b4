using KafScale.Broker.Log;

namespace KafScale.Broker.Tests;

internal static class LogSignals
{
    /// <summary>Completes at the log's next change (its high watermark moves, an upload ends on a closed log, its term ends), as a waiting fetch sees it.</summary>
    public static Task NextChange(this PartitionLog log)
    {
        var waiter = new FetchWaiter();
        waiter.Arm();
        log.AddWaiter(waiter);
        return waiter.WaitAsync(int.MaxValue - 1).AsTask().ContinueWith(_ => waiter.Disarm(), TaskScheduler.Default);
    }
}
