using KafScale.Storage;
using Microsoft.Extensions.Time.Testing;

namespace KafScale.Broker.Tests;

/// <summary>docs/architecture.md, "The write path": flush when idle, group commit, flush.interval.ms as the PUT bound, segment.bytes as the cap.</summary>
public class FlushPolicyTests
{
    [Fact]
    public async Task With_no_flush_interval_an_idle_partition_flushes_each_append_at_once()
    {
        await using var host = await LogHost.StartAsync(c => c.FlushIntervalMs = 0);
        var log = (await host.CreateTopicAsync("idle"))[0];

        var first = log.AppendBlob(Batches.Make(2));
        Assert.Equal(0, await first.DurableAsync());
        var second = log.AppendBlob(Batches.Make(3));
        Assert.Equal(0, await second.DurableAsync());

        Assert.Equal([0L, 2L], await host.SegmentBasesAsync("idle"));
        Assert.Equal(5, log.HighWatermark);
    }

    [Fact]
    public async Task Appends_arriving_during_an_upload_are_group_committed_into_the_next_segment()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.MaxUploadsPerPartition = 1; });
        var log = (await host.CreateTopicAsync("busy"))[0];
        var gate = host.Store.Hold(k => k == host.SegmentKey("busy", 0, 0));

        var first = log.AppendBlob(Batches.Make(1, "first"));
        await gate.Arrived.Within();
        var waiting = Enumerable.Range(0, 5).Select(i => log.AppendBlob(Batches.Make(2, $"w{i}"))).ToList();
        Assert.True(log.PendingBytes > 0);
        gate.Release();

        Assert.Equal(0, await first.DurableAsync());
        foreach (var w in waiting) Assert.Equal(0, await w.DurableAsync());
        Assert.Equal([0L, 1L], await host.SegmentBasesAsync("busy"));
        Assert.Equal(5, (await host.StoredBatchesAsync("busy", 0, 1)).Count);
        Assert.Equal(11, log.HighWatermark);
        // One flush answers the whole group: one completion, not one per request.
        Assert.All(waiting, w => Assert.Same(waiting[0].Durable, w.Durable));
    }

    [Fact]
    public async Task With_a_flush_interval_nothing_is_uploaded_before_it_elapses()
    {
        var time = new FakeTimeProvider();
        await using var host = await LogHost.StartAsync(c => c.FlushIntervalMs = 600_000, time: time);
        var log = (await host.CreateTopicAsync("batched"))[0];

        var appends = Enumerable.Range(0, 3).Select(i => log.AppendBlob(Batches.Make(2, $"b{i}"))).ToList();
        // A millisecond short of the interval: the timer has not fired and a flush finds nothing due.
        time.Advance(TimeSpan.FromMilliseconds(600_000 - 1));
        Assert.True(log.FlushTimerArmed);
        await log.FlushAsync();

        Assert.Empty(host.Store.Attempts);
        Assert.Empty(await host.SegmentBasesAsync("batched"));
        Assert.All(appends, a => Assert.False(a.Durable!.IsCompleted));
        Assert.Equal(0, log.HighWatermark);
        Assert.True(log.PendingBytes > 0);

        // The interval elapses: the timer flushes everything pending as one segment.
        time.Advance(TimeSpan.FromMilliseconds(1));
        foreach (var a in appends) Assert.Equal(0, await a.DurableAsync());
        Assert.Equal([0L], await host.SegmentBasesAsync("batched"));
        Assert.Equal(3, (await host.StoredBatchesAsync("batched", 0, 0)).Count);
        Assert.Equal(6, log.HighWatermark);
        Assert.Equal(0, log.PendingBytes);
        Assert.Equal(0, host.Runtime.PendingBytes);
    }

    [Fact]
    public async Task Reaching_segment_bytes_flushes_before_the_interval_without_exceeding_segment_bytes()
    {
        const int segmentBytes = 1000;
        // The clock never moves: only segment.bytes can trigger a flush here.
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 600_000; c.SegmentBytes = segmentBytes; }, time: new FakeTimeProvider());
        var log = (await host.CreateTopicAsync("sized"))[0];
        var blobs = Enumerable.Range(0, 4).Select(i => Batches.OfSize(300, $"b{i}")).ToList();

        var early = blobs.Take(3).Select(log.AppendBlob).ToList();
        await log.FlushAsync(); // 900 bytes: below segment.bytes, nothing is due
        Assert.Empty(host.Store.Attempts);
        var fourth = log.AppendBlob(blobs[3]); // 1200 pending bytes: over segment.bytes

        foreach (var a in early) Assert.Equal(0, await a.DurableAsync());
        Assert.Equal([0L], await host.SegmentBasesAsync("sized"));
        Assert.Equal(900, await BodySizeAsync(host, "sized", 0));
        Assert.False(fourth.Durable!.IsCompleted, "the remainder below segment.bytes waits for the interval");
        Assert.Equal(3, log.HighWatermark);

        await log.FlushAsync(force: true);
        Assert.Equal(0, await fourth.DurableAsync());
        Assert.Equal([0L, 3L], await host.SegmentBasesAsync("sized"));
    }

    [Fact]
    public async Task A_backlog_is_split_into_segments_no_larger_than_segment_bytes()
    {
        const int segmentBytes = 1000;
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.SegmentBytes = segmentBytes; });
        var log = (await host.CreateTopicAsync("backlog"))[0];
        var gate = host.Store.Hold(k => k == host.SegmentKey("backlog", 0, 0));
        var head = log.AppendBlob(Batches.OfSize(100, "head"));
        await gate.Arrived.Within();

        var sizes = new[] { 400, 400, 400, 250, 700, 999, 1000, 120, 880, 300 };
        var appends = sizes.Select((s, i) => log.AppendBlob(Batches.OfSize(s, $"q{i}"))).ToList();
        gate.Release();

        Assert.Equal(0, await head.DurableAsync());
        foreach (var a in appends) Assert.Equal(0, await a.DurableAsync());
        var bases = await host.SegmentBasesAsync("backlog");
        Assert.True(bases.Count >= 1 + (sizes.Sum() + segmentBytes - 1) / segmentBytes);
        long expectedBase = 0;
        foreach (long b in bases)
        {
            Assert.Equal(expectedBase, b);
            Assert.InRange(await BodySizeAsync(host, "backlog", b), 1, segmentBytes);
            expectedBase += (await host.StoredBatchesAsync("backlog", 0, b)).Sum(x => Batches.Header(x).RecordCount);
        }
        Assert.Equal(log.HighWatermark, expectedBase);
        Assert.Equal(1 + sizes.Length, log.HighWatermark);
    }

    [Fact]
    public async Task Producers_whose_segment_is_durable_are_answered_while_the_rest_of_a_backlog_is_still_uploading()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.SegmentBytes = 1000; });
        var log = (await host.CreateTopicAsync("backlog"))[0];
        var gate0 = host.Store.Hold(k => k == host.SegmentKey("backlog", 0, 0));
        var head = log.AppendBlob(Batches.OfSize(100, "head"));
        await gate0.Arrived.Within();
        // Offsets 1 and 2 fit one segment; offset 3 goes to the next one, which is held.
        var b1 = log.AppendBlob(Batches.OfSize(400, "b1"));
        var b2 = log.AppendBlob(Batches.OfSize(400, "b2"));
        var b3 = log.AppendBlob(Batches.OfSize(400, "b3"));
        var gate3 = host.Store.Hold(k => k == host.SegmentKey("backlog", 0, 3));
        gate0.Release();
        await gate3.Arrived.Within();

        Assert.Equal(0, await head.DurableAsync());
        Assert.Equal(0, await b1.DurableAsync());
        Assert.Equal(0, await b2.DurableAsync());
        Assert.Equal(3, log.HighWatermark);
        Assert.False(b3.Durable!.IsCompleted);

        gate3.Release();
        Assert.Equal(0, await b3.DurableAsync());
        Assert.Equal([0L, 1L, 3L], await host.SegmentBasesAsync("backlog"));
    }

    [Fact]
    public async Task A_single_blob_larger_than_segment_bytes_becomes_one_segment_of_its_own()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 600_000; c.SegmentBytes = 1000; });
        var log = (await host.CreateTopicAsync("big"))[0];
        byte[] oversized = Batches.Blob(Batches.OfSize(1500, "a"), Batches.OfSize(1100, "b"));

        var append = log.AppendBlob(oversized);

        Assert.Equal(0, await append.DurableAsync());
        Assert.Equal([0L], await host.SegmentBasesAsync("big"));
        Assert.Equal(2600, await BodySizeAsync(host, "big", 0));
    }

    [Fact]
    public async Task Several_uploads_per_partition_may_be_in_flight_at_once()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.MaxUploadsPerPartition = 2; });
        var log = (await host.CreateTopicAsync("hot"))[0];
        var gate0 = host.Store.Hold(k => k == host.SegmentKey("hot", 0, 0));
        var gate1 = host.Store.Hold(k => k == host.SegmentKey("hot", 0, 1));

        var a = log.AppendBlob(Batches.Make(1, "a"));
        await gate0.Arrived.Within();
        var b = log.AppendBlob(Batches.Make(1, "b"));
        // The second upload starts while the first is still held.
        await gate1.Arrived.Within();
        var c = log.AppendBlob(Batches.Make(1, "c"));
        gate1.Release();
        gate0.Release();

        Assert.Equal(0, await a.DurableAsync());
        Assert.Equal(0, await b.DurableAsync());
        Assert.Equal(0, await c.DurableAsync());
        Assert.Equal([0L, 1L, 2L], await host.SegmentBasesAsync("hot"));
        Assert.Equal(3, log.HighWatermark);
    }

    private static async Task<long> BodySizeAsync(LogHost host, string topic, long baseOffset)
    {
        long? size = await host.Store.Inner.GetSizeAsync(host.SegmentKey(topic, 0, baseOffset), CancellationToken.None);
        return size!.Value - SegmentFormat.HeaderSize - SegmentFormat.FooterSize;
    }
}
