using Xunit;
using Xunit.Abstractions;

namespace KafScale.Faults;

/// <summary>
/// The short form of the fault suite (about a minute): etcd and 3 brokers on a shared directory
/// store, real clients producing and consuming, one kill -9 and restart, one SIGSTOP past the
/// lease and one SIGTERM and restart. It asserts safety, and that every producer flushes once the faults healed; how long partitions were
/// unavailable is printed (the long form, scripts/faults.sh, judges the kill -9 bound).
/// </summary>
public sealed class ShortRunTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Kill_pause_and_terminate_of_brokers_lose_nothing_acknowledged_and_write_nothing_twice_or_inconsistently()
    {
        var options = new SuiteOptions { Store = StorageKind.SharedDirectory, Log = output.WriteLine, KeepLogsIn = Environment.GetEnvironmentVariable("KAFSCALE_FAULTS_KEEP_LOGS") };
        var report = await FaultSuite.RunAsync(options, async (nemesis, cluster) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            await nemesis.BrokerKillAsync(await nemesis.LeaderOfAsync(0), TimeSpan.FromSeconds(2));
            await Task.Delay(TimeSpan.FromSeconds(2));
            await nemesis.BrokerPauseAsync(await nemesis.LeaderOfAsync(1), TimeSpan.FromMilliseconds(nemesis.LeaseTtlMs + 2000));
            await Task.Delay(TimeSpan.FromSeconds(2));
            await nemesis.BrokerTerminateAsync(await nemesis.LeaderOfAsync(2), TimeSpan.FromSeconds(1));
            await Task.Delay(TimeSpan.FromSeconds(2));
        });
        output.WriteLine(report.ToString());
        Assert.True(report.FaultsByKind.Values.Sum() == 3, report.ToString());
        Assert.True(report.Acked > 0, report.ToString());
        Assert.True(report.Lost.Count == 0, "acknowledged records lost:\n" + report);
        Assert.True(report.Inconsistent.Count == 0, "offsets read with two values:\n" + report);
        Assert.True(report.IdempotentDuplicates.Count == 0, "idempotent producers' records stored twice:\n" + report);
        Assert.True(report.Gaps.Count == 0, "partitions whose offsets are not contiguous:\n" + report);
        Assert.True(report.FatalErrors.Count == 0, "fatal client errors:\n" + report);
        Assert.True(report.Stalled.Count == 0, "producers that could not flush after every fault healed:\n" + report);
    }
}
