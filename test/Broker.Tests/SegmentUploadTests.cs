using KafScale.Broker.Log;

namespace KafScale.Broker.Tests;

/// <summary>DESIGN.md sections 5 and 6: retries with the same key and bytes, and the conditional-create fence.</summary>
public class SegmentUploadTests
{
    [Fact]
    public async Task A_failed_upload_is_retried_with_the_same_key_and_bytes_and_answered_only_after_it_lands()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        var highWatermarkAtFailures = new List<long>();
        host.Store.FailNextPuts(2, k => k == kfs, onFault: _ => { lock (highWatermarkAtFailures) highWatermarkAtFailures.Add(log.HighWatermark); });
        var gate = host.Store.Hold(k => k == kfs);

        var append = log.AppendBlob(Batches.Make(4));
        await gate.Arrived.Within();

        Assert.Equal([0L, 0L], highWatermarkAtFailures);
        Assert.False(append.Durable!.IsCompleted, "answered before the upload succeeded");
        gate.Release();
        Assert.Equal(0, await append.DurableAsync());
        Assert.Equal(4, log.HighWatermark);

        var creates = host.Store.Attempts.Where(a => a.Key == kfs).ToList();
        Assert.Equal(3, creates.Count);
        Assert.All(creates, c => Assert.True(c.IsCreate, "a segment is written by conditional create only"));
        Assert.All(creates, c => Assert.Equal(creates[0].Data, c.Data));
        Assert.Equal(creates[0].Data, await host.Store.Inner.GetAsync(kfs, CancellationToken.None));
    }

    [Fact]
    public async Task A_create_whose_earlier_attempt_landed_finds_identical_bytes_and_counts_as_success()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        // The first create writes the object but its response is lost.
        host.Store.FailNextPuts(1, k => k == kfs, landAnyway: true);

        var append = log.AppendBlob(Batches.Make(2));

        Assert.Equal(0, await append.DurableAsync());
        Assert.Equal(2, log.HighWatermark);
        Assert.Equal(2, host.Store.Attempts.Count(a => a.Key == kfs));
        Assert.True(await host.ExistsAsync(host.IndexKey("orders", 0, 0)));
        var next = log.AppendBlob(Batches.Make(1));
        Assert.Equal(0, await next.DurableAsync());
        Assert.Equal(3, log.HighWatermark);
    }

    [Fact]
    public async Task A_create_that_finds_the_key_taken_with_identical_bytes_succeeds_without_retrying()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        host.Store.ReportTaken(k => k == kfs, identical: true);

        var append = log.AppendBlob(Batches.Make(2));

        Assert.Equal(0, await append.DurableAsync());
        Assert.Equal(2, log.HighWatermark);
        Assert.Single(host.Store.Attempts, a => a.Key == kfs);
        Assert.True(await host.ExistsAsync(host.IndexKey("orders", 0, 0)));
    }

    [Fact]
    public async Task A_failed_index_put_is_retried_and_the_producer_waits_for_it()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string index = host.IndexKey("orders", 0, 0);
        bool answeredWhileIndexFailed = false;
        AppendResult? append = null;
        host.Store.FailNextPuts(1, k => k == index, onFault: _ => answeredWhileIndexFailed = append?.Durable?.IsCompleted == true || log.HighWatermark != 0);

        append = log.AppendBlob(Batches.Make(3));

        Assert.Equal(0, await append.Value.DurableAsync());
        Assert.False(answeredWhileIndexFailed);
        Assert.Equal(2, host.Store.Attempts.Count(a => a.Key == index));
        Assert.Equal(3, log.HighWatermark);
        Assert.True(await host.ExistsAsync(index));
    }

    [Fact]
    public async Task A_create_that_finds_different_bytes_fails_every_waiter_with_KAFKA_STORAGE_ERROR_and_refuses_appends()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        host.Store.ReportTaken(k => k == kfs, identical: false);
        var gate = host.Store.Hold(k => k == kfs);

        var first = log.AppendBlob(Batches.Make(2, "mine"));
        await gate.Arrived.Within();
        var second = log.AppendBlob(Batches.Make(2, "waiting"));
        gate.Release();

        Assert.Equal(ErrorCodes.KafkaStorageError, await first.DurableAsync());
        Assert.Equal(ErrorCodes.KafkaStorageError, await second.DurableAsync());
        Assert.Equal(0, log.HighWatermark);
        var refused = log.Append(Batches.Make(1), 1);
        Assert.Equal(ErrorCodes.KafkaStorageError, refused.ErrorCode);
        Assert.Null(refused.Durable);

        // The other writer's object is left as it was, and no index of ours is written beside it.
        byte[] occupant = (await host.Store.Inner.GetAsync(kfs, CancellationToken.None))!;
        Assert.NotEqual(host.Store.Attempts.First(a => a.Key == kfs).Data, occupant);
        Assert.False(await host.ExistsAsync(host.IndexKey("orders", 0, 0)));
        Assert.Equal([0L], await host.SegmentBasesAsync("orders"));
    }

    [Fact]
    public async Task A_partition_that_failed_leaves_no_bytes_counted_as_pending()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        host.Store.ReportTaken(k => k == kfs, identical: false);
        var gate = host.Store.Hold(k => k == kfs);

        var first = log.AppendBlob(Batches.Make(2, "mine"));
        await gate.Arrived.Within();
        var second = log.AppendBlob(Batches.Make(2, "waiting"));
        gate.Release();
        Assert.Equal(ErrorCodes.KafkaStorageError, await second.DurableAsync());
        await first.DurableAsync();

        // The dropped batches will never be uploaded: the pending-bytes gauge must not keep them.
        Assert.Equal(0, log.PendingBytes);
        Assert.Equal(0, host.Runtime.PendingBytes);
        Assert.False(log.HasPending);
    }

    [Fact]
    public async Task A_deleted_topic_leaves_no_bytes_counted_as_pending()
    {
        await using var host = await LogHost.StartAsync(c => c.FlushIntervalMs = 60_000);
        var log = (await host.CreateTopicAsync("doomed"))[0];
        var append = log.AppendBlob(Batches.Make(5));

        Assert.Equal(0, (await host.Logs.DeleteTopicAsync("doomed", CancellationToken.None)).ErrorCode);

        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, await append.DurableAsync());
        Assert.Equal(0, host.Runtime.PendingBytes);
    }
}
