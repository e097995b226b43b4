using KafScale.Broker.Log;
using KafScale.Records;

namespace KafScale.Broker.Tests;

/// <summary>docs/architecture.md, "The write path": offsets are assigned on append; acks wait for durability; the high watermark moves in order.</summary>
public class PartitionLogAppendTests
{
    [Fact]
    public async Task Append_assigns_contiguous_offsets_across_blobs_of_one_or_several_batches()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        byte[] a = Batches.Make(3, "a");
        byte[] b1 = Batches.Make(2, "b1"), b2 = Batches.Make(4, "b2");
        byte[] c = Batches.Make(1, "c");

        var first = log.AppendBlob(a);
        var second = log.AppendBlob(Batches.Blob(b1, b2));
        var third = log.AppendBlob(c);

        Assert.Equal([0L, 3L, 9L], [first.BaseOffset, second.BaseOffset, third.BaseOffset]);
        Assert.Equal(10, log.NextOffset);
        Assert.Equal(0, await first.DurableAsync());
        Assert.Equal(0, await second.DurableAsync());
        Assert.Equal(0, await third.DurableAsync());
        Assert.Equal(10, log.HighWatermark);

        var stored = await host.AllStoredBatchesAsync("orders");
        Assert.Equal([0L, 3L, 5L, 9L], stored.Select(s => Batches.Header(s).BaseOffset));
        Assert.All(stored, s => Assert.True(RecordBatch.IsCrcValid(s), "a patched base offset must leave the CRC valid"));
        Assert.All(stored, s => Assert.Equal(log.LeaderEpoch, Batches.Header(s).PartitionLeaderEpoch));
        // Apart from base offset and leader epoch, the bytes are exactly what the producer sent.
        Assert.Equal([a, b1, b2, c], stored.Select(Batches.AsProduced));
    }

    [Fact]
    public async Task High_watermark_and_reads_stay_below_a_segment_that_is_not_yet_durable()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        var gate = host.HoldNextWal();

        var append = log.AppendBlob(Batches.Make(3));
        await gate.Arrived.Within();

        Assert.Equal(3, log.NextOffset);
        Assert.Equal(0, log.HighWatermark);
        Assert.False(append.Durable!.IsCompleted);
        var slices = new List<ReadOnlyMemory<byte>>();
        Assert.Equal(0, await host.Storage.ReadAsync(log, 0, 1 << 20, atLeastOne: true, slices));

        gate.Release();
        Assert.Equal(0, await append.DurableAsync());
        Assert.Equal(3, log.HighWatermark);
        Assert.True(await host.Storage.ReadAsync(log, 0, 1 << 20, atLeastOne: true, slices) > 0);
    }

    [Fact]
    public async Task Produce_with_acks_is_answered_only_after_the_WAL_object_exists_and_sealing_comes_later()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var log = (await host.CreateTopicAsync("orders"))[0];
        var gate = host.HoldNextWal();

        var append = log.AppendBlob(Batches.Make(2));
        string key = await gate.Arrived.Within();

        Assert.False(await host.ExistsAsync(key));
        Assert.False(append.Durable!.IsCompleted, "answered while the WAL object was not yet written");
        Assert.Equal(0, log.HighWatermark);

        gate.Release();
        Assert.Equal(0, await append.DurableAsync());
        Assert.True(await host.ExistsAsync(key));
        Assert.Equal(2, log.HighWatermark);
        // Acknowledged from the WAL alone: the segment is sealed later (segment.ms).
        Assert.Empty(await host.SegmentBasesAsync("orders"));
    }

    [Fact]
    public async Task A_later_segment_finishing_first_neither_moves_the_high_watermark_nor_answers_anyone()
    {
        await using var host = await LogHost.StartAsync(c => c.MaxWalUploads = 3);
        var log = (await host.CreateTopicAsync("orders"))[0];
        var gate0 = host.HoldNextWal();

        var a = log.AppendBlob(Batches.Make(3, "a"));
        await gate0.Arrived.Within();
        var gate3 = host.HoldNextWal();
        var b = log.AppendBlob(Batches.Make(3, "b"));
        await gate3.Arrived.Within();
        var signal = log.NextChange();
        var c = log.AppendBlob(Batches.Make(3, "c"));
        // Only the third object can finish now; the signal fires once the log has recorded it as durable.
        await signal.Within();

        Assert.Empty(await host.SegmentBasesAsync("orders"));
        Assert.Equal(0, log.HighWatermark);
        Assert.False(a.Durable!.IsCompleted || b.Durable!.IsCompleted || c.Durable!.IsCompleted);

        signal = log.NextChange();
        gate3.Release();
        await signal.Within();
        Assert.Equal(0, log.HighWatermark);
        Assert.False(a.Durable!.IsCompleted || b.Durable!.IsCompleted || c.Durable!.IsCompleted);

        bool aDoneWhenBDone = false, bDoneWhenCDone = false;
        var bSeen = b.Durable!.ContinueWith(_ => aDoneWhenBDone = a.Durable!.IsCompleted, TaskScheduler.Default);
        var cSeen = c.Durable!.ContinueWith(_ => bDoneWhenCDone = b.Durable!.IsCompleted, TaskScheduler.Default);
        gate0.Release();

        Assert.Equal(0, await a.DurableAsync());
        Assert.Equal(0, await b.DurableAsync());
        Assert.Equal(0, await c.DurableAsync());
        await Task.WhenAll(bSeen, cSeen).Within();
        Assert.True(aDoneWhenBDone && bDoneWhenCDone, "waiters must be answered in offset order");
        Assert.Equal(9, log.HighWatermark);
        Assert.Equal([0L, 3L, 6L], await host.SegmentBasesAsync("orders"));
    }

    [Fact]
    public async Task LogAppendTime_topics_store_the_broker_time_and_the_timestamp_type_with_a_valid_crc()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("stamped", configs: new Dictionary<string, string?> { [TopicConfig.MessageTimestampType] = "LogAppendTime" }))[0];
        byte[] first = Batches.Make(2, "x", timestampMs: 1000), second = Batches.Make(3, "y", timestampMs: 2000);

        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var append = log.AppendBlob(Batches.Blob(first, second));
        long after = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.Equal(0, await append.DurableAsync());

        Assert.InRange(append.LogAppendTime, before, after);
        var stored = await host.AllStoredBatchesAsync("stamped");
        Assert.Equal(2, stored.Count);
        foreach (var batch in stored)
        {
            var h = Batches.Header(batch);
            Assert.Equal(TimestampType.LogAppend, h.TimestampType);
            Assert.Equal(append.LogAppendTime, h.MaxTimestamp);
            Assert.True(RecordBatch.IsCrcValid(batch));
            Assert.Equal(BatchValidationResult.Ok, RecordBatchValidator.ValidateOne(batch, out _));
        }
        // The producer's base timestamps are kept, as Kafka does.
        Assert.Equal([1000L, 2000L], stored.Select(s => Batches.Header(s).BaseTimestamp));
    }

    [Fact]
    public async Task CreateTime_topics_keep_the_producer_timestamps_and_report_no_append_time()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("plain"))[0];
        byte[] batch = Batches.Make(2, timestampMs: 1234);

        var append = log.AppendBlob(batch);
        Assert.Equal(0, await append.DurableAsync());

        Assert.Equal(-1, append.LogAppendTime);
        var stored = Assert.Single(await host.AllStoredBatchesAsync("plain"));
        Assert.Equal(TimestampType.Create, Batches.Header(stored).TimestampType);
        Assert.Equal(1235, Batches.Header(stored).MaxTimestamp);
    }
}
