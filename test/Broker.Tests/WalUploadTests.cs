using KafScale.Broker.Log;
using KafScale.Storage;
using KafScale.Storage.Wal;

namespace KafScale.Broker.Tests;

/// <summary>
/// docs/architecture.md, "The write path" and "Leadership and fencing": WAL uploads retried with
/// the same key and bytes, acknowledged only before the lease deadline, "outcome unknown" for
/// what may have landed; seals that meet another writer's segment.
/// </summary>
public class WalUploadTests
{
    private static bool IsWal(string key) => key.Contains("/!wal/", StringComparison.Ordinal);

    [Fact]
    public async Task The_appends_of_one_request_share_one_WAL_object_though_a_flush_was_due_at_the_first()
    {
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 0; c.SegmentMs = 600_000; });
        var logs = await host.CreateTopicAsync("orders", 4);
        var appends = new AppendResult[logs.Length];
        using (WalFlusher.BeginRequest())
        {
            for (int p = 0; p < logs.Length; p++)
            {
                appends[p] = logs[p].AppendBlob(Batches.Make(2, $"r{p}"));
                // Time for a flush the first append made due to run, were it started at once.
                Thread.Sleep(100);
            }
        }
        foreach (var append in appends) Assert.Equal(0, await append.DurableAsync().WaitAsync(TimeSpan.FromSeconds(30)));

        var written = new List<string>();
        await foreach (var o in host.Store.Inner.ListAsync(WalKeys.Prefix(host.Namespace), CancellationToken.None)) written.Add(o.Key);
        Assert.Single(written);
    }

    [Fact]
    public async Task A_failed_upload_is_retried_with_the_same_key_and_bytes_and_answered_only_after_it_lands()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        var highWatermarkAtFailures = new List<long>();
        host.Store.FailNextPuts(2, IsWal, onFault: _ => { lock (highWatermarkAtFailures) highWatermarkAtFailures.Add(log.HighWatermark); });
        var gate = host.Store.Hold(IsWal);

        var append = log.AppendBlob(Batches.Make(4));
        string key = await gate.Arrived.Within();

        Assert.Equal([0L, 0L], highWatermarkAtFailures);
        Assert.False(append.Durable!.IsCompleted, "answered before the upload succeeded");
        gate.Release();
        Assert.Equal(0, await append.DurableAsync());
        Assert.Equal(4, log.HighWatermark);

        var creates = host.Store.Attempts.Where(a => a.Key == key).ToList();
        Assert.Equal(3, creates.Count);
        Assert.All(creates, c => Assert.True(c.IsCreate, "a WAL object is written by conditional create only"));
        Assert.All(creates, c => Assert.Equal(creates[0].Data, c.Data));
    }

    [Fact]
    public async Task A_create_whose_earlier_attempt_landed_finds_identical_bytes_and_counts_as_success()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        // The first create writes the object but its response is lost.
        host.Store.FailNextPuts(1, IsWal, landAnyway: true);

        var append = log.AppendBlob(Batches.Make(2));

        Assert.Equal(0, await append.DurableAsync());
        Assert.Equal(2, log.HighWatermark);
        Assert.Equal(2, host.Store.Attempts.Count(a => IsWal(a.Key)));
        var next = log.AppendBlob(Batches.Make(1));
        Assert.Equal(0, await next.DurableAsync());
        Assert.Equal(3, log.HighWatermark);
    }

    [Fact]
    public async Task A_create_that_finds_the_key_taken_with_identical_bytes_succeeds_without_retrying()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        host.Store.ReportTaken(IsWal, identical: true);

        var append = log.AppendBlob(Batches.Make(2));

        Assert.Equal(0, await append.DurableAsync());
        Assert.Equal(2, log.HighWatermark);
        Assert.Single(host.Store.Attempts, a => IsWal(a.Key));
    }

    [Fact]
    public async Task A_WAL_key_taken_by_other_bytes_acknowledges_nothing_and_gives_the_partition_up()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        host.Store.ReportTaken(IsWal, identical: false);

        var append = log.AppendBlob(Batches.Make(2, "mine"));

        Assert.Equal(ErrorCodes.RequestTimedOut, await append.DurableAsync());
        Assert.True(log.IsClosed);
        Assert.Equal(0, log.HighWatermark);
        Assert.Equal(ErrorCodes.NotLeaderOrFollower, log.Append(Batches.Make(1), 1).ErrorCode);
        Assert.Equal(0, host.Runtime.PendingBytes);
        Assert.False(log.HasPending);
    }

    [Fact]
    public async Task An_upload_that_lands_after_the_lease_deadline_is_not_acknowledged()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        var gate = host.HoldNextWal();
        var append = log.AppendBlob(Batches.Make(2));
        await gate.Arrived.Within();
        host.Runtime.Lease.Lapse();
        gate.Release();

        // The object is in the store but may not count (a new leader may have listed the store
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
        var gate = host.HoldNextWal();
        var uploading = log.AppendBlob(Batches.Make(2, "in-the-upload"));
        string key = await gate.Arrived.Within();
        // One WAL upload at a time here: this one waits in memory.
        var waiting = log.AppendBlob(Batches.Make(3, "still-pending"));
        host.Runtime.Lease.Lapse();
        gate.Release();

        Assert.Equal(ErrorCodes.RequestTimedOut, await uploading.DurableAsync());
        Assert.Equal(ErrorCodes.NotLeaderOrFollower, await waiting.DurableAsync());
        Assert.DoesNotContain(host.Store.Attempts, a => IsWal(a.Key) && a.Key != key);
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

    [Fact]
    public async Task Bytes_a_dropped_term_held_do_not_count_toward_the_next_flush()
    {
        // 800 bytes pending are dropped with their topic; 800 more elsewhere are under the 1,000
        // bytes that make a flush due, so nothing is written before the 60-second interval.
        await using var host = await LogHost.StartAsync(c => { c.FlushIntervalMs = 60_000; c.FlushMaxBytes = 1_000; });
        var doomed = (await host.CreateTopicAsync("doomed"))[0];
        var kept = (await host.CreateTopicAsync("kept"))[0];
        byte[] blob = Batches.Make(1, valueBytes: 700);
        doomed.AppendBlob(blob);
        Assert.Equal(0, (await host.Logs.DeleteTopicAsync("doomed", CancellationToken.None)).ErrorCode);
        kept.AppendBlob(blob);
        await Task.Delay(300);
        Assert.DoesNotContain(host.Store.Attempts, a => IsWal(a.Key));
        Assert.Equal(blob.Length, host.Runtime.PendingBytes);
    }

    [Fact]
    public async Task A_WAL_object_whose_chunks_a_lapse_left_unsealed_is_no_longer_outstanding_and_stays_in_the_store()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var log = (await host.CreateTopicAsync("orders"))[0];
        Assert.Equal(0, await log.AppendBlob(Batches.Make(3)).DurableAsync());
        Assert.Equal(1, host.Runtime.Wal!.Outstanding);
        string key = Assert.Single(await host.ListAsync(""), o => IsWal(o.Key)).Key;

        host.Node.Registry.Lapse("the test says so");

        Assert.Equal(0, host.Runtime.Wal.Outstanding);
        // Its chunk is the next term's to seal from the store; the sweep deletes the object after that.
        Assert.True(await host.ExistsAsync(key));
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
        return SegmentWriter.Build(patched, Batches.Epoch2023, SegmentFormat.DefaultIndexInterval).Segment.ToArray();
    }

    /// <summary>The record batches of a partition's chunk in the WAL objects of the store, as this broker wrote them.</summary>
    private static async Task<byte[]> ChunkBytesAsync(LogHost host, string key)
    {
        byte[] wal = (await host.Store.Inner.GetAsync(key, CancellationToken.None))!;
        var chunk = Assert.Single(WalReader.Open(wal).Chunks);
        return wal.AsSpan((int)chunk.Position, chunk.Length).ToArray();
    }

    [Fact]
    public async Task A_seal_that_finds_the_same_data_sealed_by_another_broker_adopts_that_segment()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        var walGate = host.HoldNextWal();
        var sealGate = host.Store.Hold(k => k == kfs);
        var append = log.AppendBlob(Batches.Make(2, "mine"));
        string walKey = await walGate.Arrived.Within();
        walGate.Release();
        Assert.Equal(0, await append.DurableAsync());
        await sealGate.Arrived.Within();
        // A deposed leader's late seal of the same WAL data (another created-at time, so other bytes).
        byte[] theirs = SegmentWriter.Build([await ChunkBytesAsync(host, walKey)], Batches.Epoch2023, SegmentFormat.DefaultIndexInterval).Segment.ToArray();
        await host.Store.Inner.PutAsync(kfs, theirs, CancellationToken.None);
        sealGate.Release();

        await TestExtensions.UntilAsync(() => log.UnsealedBytes == 0, "the data counts as sealed");
        Assert.False(log.IsClosed);
        Assert.Equal(theirs, await host.Store.Inner.GetAsync(kfs, CancellationToken.None));
        Assert.True(await host.ExistsAsync(host.IndexKey("orders", 0, 0)), "the adopted segment's missing index is written");
        var next = log.AppendBlob(Batches.Make(1, "after"));
        Assert.Equal(2, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
    }

    [Fact]
    public async Task A_seal_that_finds_other_data_at_its_offset_gives_the_partition_up()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string kfs = host.SegmentKey("orders", 0, 0);
        var sealGate = host.Store.Hold(k => k == kfs);
        Assert.Equal(0, await log.AppendBlob(Batches.Make(2, "mine")).DurableAsync());
        await sealGate.Arrived.Within();
        byte[] theirs = SegmentWriter.Build([Batches.Make(2, "theirs")], Batches.Epoch2023, SegmentFormat.DefaultIndexInterval).Segment.ToArray();
        await host.Store.Inner.PutAsync(kfs, theirs, CancellationToken.None);
        sealGate.Release();

        await TestExtensions.UntilAsync(() => log.IsClosed, "the partition is given up");
        Assert.Equal(ErrorCodes.NotLeaderOrFollower, log.Append(Batches.Make(1), 1).ErrorCode);
        Assert.Equal(theirs, await host.Store.Inner.GetAsync(kfs, CancellationToken.None));
    }

    [Fact]
    public async Task A_failed_seal_is_retried_and_never_holds_up_an_acknowledgement()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("orders"))[0];
        string index = host.IndexKey("orders", 0, 0);
        host.Store.FailNextPuts(1, k => k == index);

        Assert.Equal(0, await log.AppendBlob(Batches.Make(3)).DurableAsync());
        Assert.Equal(3, log.HighWatermark);

        await TestExtensions.UntilAsync(() => log.UnsealedBytes == 0, "the seal is retried until it lands");
        Assert.Equal(2, host.Store.Attempts.Count(a => a.Key == index));
        Assert.True(await host.ExistsAsync(index));
    }
}
