using KafScale.Broker.Log;

namespace KafScale.Broker.Tests;

/// <summary>docs/architecture.md, "The write path" and "Leadership and fencing": retries with the same key and bytes, and the conditional-create fence.</summary>
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

    /// <summary>A segment as another broker would have written it at baseOffset.</summary>
    internal static byte[] ForeignSegment(long baseOffset, params byte[][] batches)
    {
        var patched = new List<ReadOnlyMemory<byte>>();
        long offset = baseOffset;
        foreach (var b in batches)
        {
            byte[] copy = (byte[])b.Clone();
            KafScale.Records.RecordBatch.PatchBaseOffset(copy, offset);
            offset += Batches.Header(copy).LastOffsetDelta + 1;
            patched.Add(copy);
        }
        return KafScale.Storage.SegmentWriter.Build(patched, Batches.Epoch2023, KafScale.Storage.SegmentFormat.DefaultIndexInterval).Segment.ToArray();
    }

    [Fact]
    public async Task A_create_that_finds_another_writers_segment_adopts_it_and_rebases_our_batches_after_it()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        var gate = host.Store.Hold(k => k == kfs);
        var first = log.AppendBlob(Batches.Make(2, "mine"));
        await gate.Arrived.Within();
        // A deposed leader's late upload lands first.
        byte[] foreign = ForeignSegment(0, Batches.Make(3, "theirs"));
        await host.Store.Inner.PutAsync(kfs, foreign, CancellationToken.None);
        var second = log.AppendBlob(Batches.Make(1, "waiting"));
        gate.Release();

        Assert.Equal(0, await first.DurableAsync());
        Assert.Equal(0, await second.DurableAsync());
        Assert.Equal(3, first.Group!.Rebase(first.BaseOffset));
        Assert.Equal(5, second.Group!.Rebase(second.BaseOffset));
        Assert.Equal(6, log.HighWatermark);
        Assert.Equal(foreign, await host.Store.Inner.GetAsync(kfs, CancellationToken.None));
        Assert.True(await host.ExistsAsync(host.IndexKey("orders", 0, 0)), "the adopted segment's missing index is written");
        var stored = await host.AllStoredBatchesAsync("orders");
        Assert.Equal([0L, 3L, 5L], stored.Select(b => Batches.Header(b).BaseOffset));
        Assert.Equal(Batches.Make(3, "theirs"), Batches.AsProduced(stored[0]));
        Assert.Equal(Batches.Make(2, "mine"), Batches.AsProduced(stored[1]));
        var next = log.AppendBlob(Batches.Make(1, "after"));
        Assert.Equal(6, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
    }

    [Fact]
    public async Task A_batch_the_adopted_segment_already_holds_is_answered_as_a_duplicate_with_the_adopted_offset()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        byte[] retried;
        using (var b = new KafScale.Records.RecordBatchBuilder { ProducerId = 7, ProducerEpoch = 0, BaseSequence = 0 })
        {
            b.Add(null, "p-0"u8.ToArray(), Batches.Epoch2023);
            b.Add(null, "p-1"u8.ToArray(), Batches.Epoch2023 + 1);
            retried = b.Build();
        }
        var gate = host.Store.Hold(k => k == kfs);
        // The producer's first attempt went to the old leader, which wrote it late, after one other batch.
        var append = log.AppendBlob(retried);
        await gate.Arrived.Within();
        await host.Store.Inner.PutAsync(kfs, ForeignSegment(0, Batches.Make(1, "other"), retried), CancellationToken.None);
        gate.Release();

        Assert.Equal(0, await append.DurableAsync());
        Assert.Equal(1, append.Group!.Rebase(append.BaseOffset));
        Assert.Equal(3, log.HighWatermark);
        Assert.Equal([0L], await host.SegmentBasesAsync("orders"));
    }

    [Fact]
    public async Task A_taken_key_holding_no_valid_segment_gives_the_partition_up_and_refuses_later_appends_with_NOT_LEADER_OR_FOLLOWER()
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

        // The first batch was in an upload when the partition was given up: "outcome unknown"
        // (conservative: its create did not land, but the answer only errs toward "maybe").
        Assert.Equal(ErrorCodes.RequestTimedOut, await first.DurableAsync());
        Assert.Equal(ErrorCodes.NotLeaderOrFollower, await second.DurableAsync());
        Assert.True(log.IsClosed);
        Assert.Equal(ErrorCodes.NotLeaderOrFollower, log.Append(Batches.Make(1), 1).ErrorCode);
        Assert.Equal(0, log.PendingBytes);
        Assert.Equal(0, host.Runtime.PendingBytes);
        Assert.False(log.HasPending);
    }

    [Fact]
    public async Task A_deposed_writer_whose_create_finds_different_bytes_acknowledges_nothing_and_keeps_the_new_leaders_bytes()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        var gate = host.Store.Hold(k => k == kfs);
        var append = log.AppendBlob(Batches.Make(2, "mine"));
        await gate.Arrived.Within();
        // Paused past its lease; the next leader wrote this offset meanwhile.
        host.Runtime.Lease.Lapse();
        byte[] theirs = ForeignSegment(0, Batches.Make(4, "new-leader"));
        await host.Store.Inner.PutAsync(kfs, theirs, CancellationToken.None);
        gate.Release();

        Assert.Equal(ErrorCodes.RequestTimedOut, await append.DurableAsync());
        Assert.Equal(0, log.HighWatermark);
        Assert.Equal(theirs, await host.Store.Inner.GetAsync(kfs, CancellationToken.None));
    }

    [Fact]
    public async Task An_upload_that_lands_after_the_lease_deadline_is_not_acknowledged()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        var gate = host.Store.Hold(k => k == host.SegmentKey("orders", 0, 0));
        var append = log.AppendBlob(Batches.Make(2));
        await gate.Arrived.Within();
        host.Runtime.Lease.Lapse();
        gate.Release();

        // The segment is in the store but may not count (a new leader may have listed the store
        // before it landed): "outcome unknown", which a client retries with the same sequence.
        Assert.Equal(ErrorCodes.RequestTimedOut, await append.DurableAsync());
        Assert.Equal(0, log.HighWatermark);
        Assert.Equal(ErrorCodes.NotLeaderOrFollower, log.Append(Batches.Make(1), 1).ErrorCode);
    }

    [Fact]
    public async Task When_the_lease_lapses_a_batch_in_an_upload_is_answered_REQUEST_TIMED_OUT_and_one_never_uploaded_NOT_LEADER_OR_FOLLOWER()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        var gate = host.Store.Hold(k => k == host.SegmentKey("orders", 0, 0));
        var uploading = log.AppendBlob(Batches.Make(2, "in-the-upload"));
        await gate.Arrived.Within();
        // One upload at a time on the directory store: this one waits in memory.
        var waiting = log.AppendBlob(Batches.Make(3, "still-pending"));
        host.Runtime.Lease.Lapse();
        gate.Release();

        Assert.Equal(ErrorCodes.RequestTimedOut, await uploading.DurableAsync());
        Assert.Equal(ErrorCodes.NotLeaderOrFollower, await waiting.DurableAsync());
        Assert.DoesNotContain(host.Store.Attempts, a => a.Key == host.SegmentKey("orders", 0, 2));
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
