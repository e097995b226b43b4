using System.Text;
using KafScale.Broker.Log;
using Microsoft.Extensions.Time.Testing;

namespace KafScale.Broker.Tests;

/// <summary>The flush timer, graceful shutdown and the next_offset hints, deletion while uploads are under way.</summary>
public class LogLifecycleTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task With_a_flush_interval_pending_data_is_flushed_once_the_interval_elapses_without_being_forced()
    {
        await using var host = await LogHost.StartAsync(c => c.FlushIntervalMs = 20);
        var log = (await host.CreateTopicAsync("timed"))[0];

        var appends = Enumerable.Range(0, 3).Select(i => log.AppendBlob(Batches.Make(1, $"t{i}"))).ToList();

        foreach (var a in appends) Assert.Equal(0, await a.DurableAsync());
        Assert.Equal(3, log.HighWatermark);
    }

    [Fact]
    public async Task With_a_flush_interval_appends_held_back_by_an_upload_in_flight_are_flushed_after_it()
    {
        var time = new FakeTimeProvider();
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 20; c.MaxWalUploads = 1; }, time: time);
        var log = (await host.CreateTopicAsync("timed"))[0];
        var gate = host.HoldNextWal();
        var first = log.AppendBlob(Batches.Make(1, "first"));
        time.Advance(TimeSpan.FromMilliseconds(20));
        string firstKey = await gate.Arrived.Within();
        var held = log.AppendBlob(Batches.Make(1, "held"));
        // The timer of the second append fires while the first upload still holds the only slot;
        // the clock never moves again, so only the end of that upload can flush it.
        time.Advance(TimeSpan.FromMilliseconds(20));
        await Task.Delay(50);
        Assert.False(held.Durable!.IsCompleted);
        gate.Release();

        Assert.Equal(0, await first.DurableAsync());
        Assert.Equal(0, await held.DurableAsync());
        Assert.Equal(2, log.HighWatermark);
    }

    [Fact]
    public async Task Graceful_shutdown_flushes_what_is_pending_and_writes_the_next_offset_hints()
    {
        await using var host = await LogHost.StartAsync(c => c.FlushIntervalMs = 600_000);
        var logs = await host.CreateTopicAsync("orders", 2);
        var a = logs[0].AppendBlob(Batches.Make(3));
        var b = logs[1].AppendBlob(Batches.Make(5));

        await host.Logs.FlushAllAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(0, await a.DurableAsync());
        Assert.Equal(0, await b.DurableAsync());
        Assert.Equal("3", await HintAsync(host, "orders", 0));
        Assert.Equal("5", await HintAsync(host, "orders", 1));
    }

    [Fact]
    public async Task Disposing_the_log_manager_twice_is_harmless()
    {
        await using var host = await LogHost.StartAsync();

        await host.Logs.DisposeAsync();
        await host.Logs.DisposeAsync();
    }

    [Fact]
    public async Task A_segment_still_uploading_when_its_topic_is_deleted_does_not_reappear_in_a_new_topic_of_that_name()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        var gate = host.HoldNextWal();
        var append = log.AppendBlob(Batches.Make(2, "deleted"));
        await gate.Arrived.Within();
        Assert.Equal(0, (await host.Logs.DeleteTopicAsync("orders", None)).ErrorCode);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, await append.DurableAsync());
        var landed = log.NextChange();
        gate.Release();
        await landed.Within();

        var again = (await host.CreateTopicAsync("orders"))[0];

        Assert.Equal(0, again.HighWatermark);
        Assert.Empty(await host.SegmentBasesAsync("orders"));
    }

    private static async Task<string?> HintAsync(LogHost host, string topic, int partition)
    {
        var kv = await host.Metadata.GetAsync(MetadataKeys.NextOffset(topic, partition), None);
        return kv is null ? null : Encoding.ASCII.GetString(kv.Value);
    }
}
