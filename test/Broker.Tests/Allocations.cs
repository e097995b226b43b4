namespace KafScale.Broker.Tests;

/// <summary>Measures what a hot path allocates on the calling thread once warm.</summary>
internal static class Allocations
{
    /// <summary>
    /// Runs <paramref name="iteration"/> <paramref name="count"/> times per round and returns the
    /// fewest bytes this thread allocated in any of <paramref name="rounds"/> rounds. Pools shared
    /// with tests running at the same time (the handler's state queue, the frame pool) may grow
    /// once in a while, which shows in one round; an allocation per request shows in every round.
    /// </summary>
    public static long LeastPerRound(Action<int> iteration, int count, int rounds = 3)
    {
        long least = long.MaxValue;
        for (int r = 0; r < rounds && least > 0; r++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < count; i++) iteration(r * count + i);
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }
}
