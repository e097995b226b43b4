using KafScale.Storage.Wal;
using Microsoft.Extensions.Time.Testing;

namespace KafScale.Broker.Tests;

/// <summary>
/// docs/architecture.md, "The write path": one WAL object per flush for every partition, flush
/// when idle, group commit, --flush-interval-ms as the PUT bound, --flush-max-bytes as the
/// early trigger, and sealing into segments by --segment-ms and segment.bytes.
/// </summary>
public class FlushPolicyTests
{
    private static bool IsWal(string key) => key.Contains("/!wal/", StringComparison.Ordinal);

    private static async Task<List<WalFooter>> WalObjectsAsync(LogHost host)
    {
        var list = new List<WalFooter>();
        foreach (var o in await host.ListAsync(WalKeys.Prefix(host.Namespace)))
            list.Add(WalReader.Open((await host.Store.Inner.GetAsync(o.Key, CancellationToken.None))!));
        return list;
    }

    private static int WalPuts(LogHost host) => host.Store.Attempts.Count(a => IsWal(a.Key));

    [Fact]
    public async Task With_no_flush_interval_an_idle_broker_writes_each_append_at_once_and_seals_at_segment_ms_zero()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.SegmentMs = 0; });
        var log = (await host.CreateTopicAsync("idle"))[0];

        Assert.Equal(0, await log.AppendBlob(Batches.Make(2)).DurableAsync());
        Assert.Equal(0, await log.AppendBlob(Batches.Make(3)).DurableAsync());

        Assert.Equal(2, WalPuts(host));
        Assert.Equal(5, log.HighWatermark);
        // segment.ms 0: each flush's chunk is sealed on its own, as soon as it is durable.
        await TestExtensions.UntilAsync(async () => (await host.SegmentBasesAsync("idle")).Count == 2, "both chunks sealed");
        Assert.Equal([0L, 2L], await host.SegmentBasesAsync("idle"));
        await TestExtensions.UntilAsync(async () => (await host.ListAsync(WalKeys.Prefix(host.Namespace))).Count == 0, "both WAL objects collected");
    }

    [Fact]
    public async Task One_WAL_object_carries_every_partition_with_pending_batches()
    {
        var time = new FakeTimeProvider();
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 250; c.SegmentMs = 600_000; }, time: time);
        var logs = await host.CreateTopicAsync("many", partitions: 6);
        var other = (await host.CreateTopicAsync("other"))[0];

        var appends = logs.Select((l, i) => l.AppendBlob(Batches.Make(i + 1, $"p{i}"))).Append(other.AppendBlob(Batches.Make(1, "o"))).ToList();
        Assert.Equal(0, WalPuts(host));
        time.Advance(TimeSpan.FromMilliseconds(250));
        foreach (var a in appends) Assert.Equal(0, await a.DurableAsync());

        Assert.Equal(1, WalPuts(host));
        var wal = Assert.Single(await WalObjectsAsync(host));
        Assert.Equal(7, wal.Chunks.Count);
        for (int p = 0; p < 6; p++)
        {
            var chunk = Assert.Single(wal.Chunks, c => c.Topic == "many" && c.Partition == p);
            Assert.Equal(0, chunk.FirstOffset);
            Assert.Equal(p, chunk.LastOffset);
            Assert.Equal(p + 1, logs[p].HighWatermark);
        }
        // Durable but not sealed: no segment yet (segment.ms is minutes), the data is in the WAL only.
        Assert.Empty(await host.SegmentBasesAsync("many"));
    }

    [Fact]
    public async Task Appends_arriving_during_an_upload_are_group_committed_into_the_next_object()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.MaxWalUploads = 1; c.SegmentMs = 600_000; });
        var log = (await host.CreateTopicAsync("busy"))[0];
        var gate = host.HoldNextWal();

        var first = log.AppendBlob(Batches.Make(1, "first"));
        await gate.Arrived.Within();
        var waiting = Enumerable.Range(0, 5).Select(i => log.AppendBlob(Batches.Make(2, $"w{i}"))).ToList();
        Assert.True(log.PendingBytes > 0);
        gate.Release();

        Assert.Equal(0, await first.DurableAsync());
        foreach (var w in waiting) Assert.Equal(0, await w.DurableAsync());
        Assert.Equal(11, log.HighWatermark);
        var objects = await WalObjectsAsync(host);
        Assert.Equal(2, objects.Count);
        Assert.Equal(1, objects[1].Chunks[0].FirstOffset);
        Assert.Equal(10, objects[1].Chunks[0].LastOffset);
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
        time.Advance(TimeSpan.FromMilliseconds(600_000 - 1));
        await Task.Delay(50);

        Assert.Equal(0, WalPuts(host));
        Assert.All(appends, a => Assert.False(a.Durable!.IsCompleted));
        Assert.Equal(0, log.HighWatermark);
        Assert.True(log.PendingBytes > 0);

        time.Advance(TimeSpan.FromMilliseconds(1));
        foreach (var a in appends) Assert.Equal(0, await a.DurableAsync());
        Assert.Equal(1, WalPuts(host));
        Assert.Equal(6, log.HighWatermark);
        Assert.Equal(0, log.PendingBytes);
        Assert.Equal(0, host.Runtime.PendingBytes);
    }

    [Fact]
    public async Task Reaching_flush_max_bytes_flushes_before_the_interval()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 600_000; c.FlushMaxBytes = 1000; }, time: new FakeTimeProvider());
        var logs = await host.CreateTopicAsync("sized", partitions: 2);

        var early = new[] { logs[0].AppendBlob(Batches.OfSize(300, "a")), logs[1].AppendBlob(Batches.OfSize(300, "b")), logs[0].AppendBlob(Batches.OfSize(300, "c")) };
        await Task.Delay(50);
        Assert.Equal(0, WalPuts(host));
        var fourth = logs[1].AppendBlob(Batches.OfSize(300, "d")); // 1,200 pending bytes across partitions

        foreach (var a in early) Assert.Equal(0, await a.DurableAsync());
        Assert.Equal(0, await fourth.DurableAsync());
        Assert.Equal(2, logs[0].HighWatermark);
        Assert.Equal(2, logs[1].HighWatermark);
    }

    [Fact]
    public async Task Several_WAL_uploads_may_be_in_flight_and_the_high_watermark_waits_for_the_earlier_one()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.MaxWalUploads = 2; c.SegmentMs = 600_000; });
        var log = (await host.CreateTopicAsync("hot"))[0];
        var gate0 = host.HoldNextWal();

        var a = log.AppendBlob(Batches.Make(1, "a"));
        await gate0.Arrived.Within();
        var gate1 = host.HoldNextWal();
        var b = log.AppendBlob(Batches.Make(1, "b"));
        await gate1.Arrived.Within();
        gate1.Release();
        await TestExtensions.UntilAsync(async () => (await host.ListAsync(WalKeys.Prefix(host.Namespace))).Count == 1, "the second object landed");
        await Task.Delay(50);
        // The second object is durable, but offset 0 is not: nothing is acknowledged yet.
        Assert.False(b.Durable!.IsCompleted);
        Assert.Equal(0, log.HighWatermark);

        gate0.Release();
        Assert.Equal(0, await a.DurableAsync());
        Assert.Equal(0, await b.DurableAsync());
        Assert.Equal(2, log.HighWatermark);
    }

    [Fact]
    public async Task Unsealed_data_is_readable_and_segment_ms_seals_it()
    {
        var time = new FakeTimeProvider();
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.SegmentMs = 60_000; }, time: time);
        var log = (await host.CreateTopicAsync("aging"))[0];
        Assert.Equal(0, await log.AppendBlob(Batches.Make(3, "x")).DurableAsync());

        var slices = new List<ReadOnlyMemory<byte>>();
        await host.Storage.ReadAsync(log, 0, 1 << 20, true, slices);
        Assert.Equal(3, slices.SelectMany(s => Batches.Split(s.Span)).Sum(b => Batches.Header(b).RecordCount));
        Assert.Empty(await host.SegmentBasesAsync("aging"));
        Assert.True(log.UnsealedBytes > 0);

        time.Advance(TimeSpan.FromMilliseconds(61_000));
        await TestExtensions.UntilAsync(async () => (await host.SegmentBasesAsync("aging")).Count == 1, "segment.ms sealed the data");
        await TestExtensions.UntilAsync(() => log.UnsealedBytes == 0, "nothing left unsealed");
        // Every chunk of the WAL object is sealed: the object is collected.
        await TestExtensions.UntilAsync(async () => (await host.ListAsync(WalKeys.Prefix(host.Namespace))).Count == 0, "the WAL object is deleted");
        Assert.Equal(3, Batches.Header(Assert.Single(await host.StoredBatchesAsync("aging", 0, 0))).RecordCount);
    }

    [Fact]
    public async Task Segment_bytes_seals_at_once_and_caps_each_segment()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.SegmentBytes = 1000; c.SegmentMs = 600_000; });
        var log = (await host.CreateTopicAsync("sized"))[0];
        foreach (var size in new[] { 400, 400, 400, 300 })
            Assert.Equal(0, await log.AppendBlob(Batches.OfSize(size, $"s{size}")).DurableAsync());

        await TestExtensions.UntilAsync(async () => (await host.SegmentBasesAsync("sized")).Count >= 1, "segment.bytes sealed");
        var bases = await host.SegmentBasesAsync("sized");
        Assert.Equal(0L, bases[0]);
        Assert.Equal(2, (await host.StoredBatchesAsync("sized", 0, 0)).Count);
    }
}
