using KafScale.Broker.Log;

namespace KafScale.Broker.Tests;

internal static class TestExtensions
{
    /// <summary>A generous bound so a hang fails the test instead of the run; never a latency assertion.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    public static AppendResult AppendBlob(this PartitionLog log, byte[] blob)
    {
        var result = log.Append(blob, Batches.Records(blob));
        Assert.Equal(0, result.ErrorCode);
        Assert.NotNull(result.Durable);
        return result;
    }

    /// <summary>Waits for the append's segment to be durable and returns its error code.</summary>
    public static Task<short> DurableAsync(this AppendResult result) => result.Durable!.WaitAsync(Patience);

    public static Task<T> Within<T>(this Task<T> task) => task.WaitAsync(Patience);

    public static Task Within(this Task task) => task.WaitAsync(Patience);

    /// <summary>Polls until something the code under test does on its own happens, bounded by <see cref="Patience"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }

    /// <summary>As <see cref="UntilAsync(Func{bool}, string)"/>, for a condition that has to ask something.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}");
            await Task.Delay(10);
        }
    }
}
