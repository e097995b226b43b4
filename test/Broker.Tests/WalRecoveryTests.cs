using KafScale.Broker.Log;
using KafScale.Records;
using KafScale.Storage.Wal;

namespace KafScale.Broker.Tests;

/// <summary>
/// docs/architecture.md, "The write path", takeover: a new leader adopts the WAL chain beyond the
/// sealed segments (higher epoch wins, epochs never decrease, the chain ends at the first gap),
/// seals it at once and rebuilds the idempotent producers from it.
/// </summary>
public class WalRecoveryTests
{
    private const string Topic = "orders";

    /// <summary>Batches as a leader of epoch <paramref name="epoch"/> appended them from <paramref name="offset"/>.</summary>
    private static List<ReadOnlyMemory<byte>> AsAppended(long offset, int epoch, params byte[][] batches)
    {
        var list = new List<ReadOnlyMemory<byte>>();
        foreach (var b in batches)
        {
            byte[] copy = (byte[])b.Clone();
            RecordBatch.PatchBaseOffset(copy, offset);
            RecordBatch.SetPartitionLeaderEpoch(copy, epoch);
            offset += Batches.Header(copy).LastOffsetDelta + 1;
            list.Add(copy);
        }
        return list;
    }

    private static long _sequence;

    /// <summary>
    /// Writes a WAL object as an earlier process of this broker would have (a crashed leader,
    /// or a deposed one whose upload lands late), holding one chunk of the topic's partition per
    /// entry. This broker's id, since an open reads only the objects of brokers that led an
    /// epoch it may use (epoch_writers).
    /// </summary>
    private static Task<string> WriteWalAsync(LogHost host, params (int Epoch, List<ReadOnlyMemory<byte>> Batches)[] chunks) =>
        WriteWalAsync(host, 0, chunks);

    private static Task<string> WriteWalAsync(LogHost host, int partition, params (int Epoch, List<ReadOnlyMemory<byte>> Batches)[] chunks) =>
        WriteWalAsync(host, partition, host.Runtime.Wal!.BrokerId, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), chunks);

    private static async Task<string> WriteWalAsync(LogHost host, int partition, int broker, long created, params (int Epoch, List<ReadOnlyMemory<byte>> Batches)[] chunks)
    {
        Assert.True(host.Logs.TryGetTopic(Topic, out var topic));
        long seq = Interlocked.Increment(ref _sequence);
        var builder = new WalObjectBuilder(broker, created, seq);
        foreach (var (epoch, batches) in chunks) builder.AddChunk(topic.Id, Topic, partition, epoch, batches);
        var (bytes, _) = builder.Build();
        string key = WalKeys.Key(host.Namespace, created, seq, broker);
        await host.Store.Inner.PutAsync(key, bytes, CancellationToken.None);
        return key;
    }

    private static async Task<List<byte[]>> ReadAllAsync(LogHost host, PartitionLog log)
    {
        var slices = new List<ReadOnlyMemory<byte>>();
        await host.Storage.ReadAsync(log, 0, int.MaxValue, atLeastOne: true, slices);
        return slices.SelectMany(s => Batches.Split(s.Span)).ToList();
    }

    [Fact]
    public async Task Unsealed_data_is_sealed_at_handoff_and_a_restart_finds_it_in_segments()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var log = (await host.CreateTopicAsync(Topic))[0];
        Assert.Equal(0, await log.AppendBlob(Batches.Make(3, "a")).DurableAsync());
        Assert.Equal(0, await log.AppendBlob(Batches.Make(2, "b")).DurableAsync());
        Assert.Empty(await host.SegmentBasesAsync(Topic));

        await host.RestartAsync();

        Assert.Equal([0L], await host.SegmentBasesAsync(Topic));
        log = host.Log(Topic);
        Assert.Equal(5, log.HighWatermark);
        Assert.Equal(5, Batches.Records([.. (await ReadAllAsync(host, log)).SelectMany(b => b)]));
    }

    [Fact]
    public async Task Opens_at_the_same_time_share_WAL_listings_and_read_each_footer_once()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var logs = await host.CreateTopicAsync(Topic, 2);
        Assert.True(host.Logs.TryGetTopic(Topic, out var topic));
        // Three WAL objects that hold only partition 1: partition 0's opens read their footers and nothing else.
        var keys = new List<string>();
        for (int i = 0; i < 3; i++) keys.Add(await WriteWalAsync(host, partition: 1, (logs[1].LeaderEpoch, AsAppended(0, logs[1].LeaderEpoch, Batches.Make(1, "w")))));
        host.Store.ClearRangeReads();
        int lists = WalLists(host), asked = host.Storage.WalListingRequests;

        var chains = await SixOpensWhileTheListingIsHeldAsync(host, topic.Id, asked, claimedAt: null);

        Assert.All(chains, Assert.Empty);
        // The first open lists at once; the five that ask meanwhile share the next listing.
        int listed = WalLists(host) - lists;
        Assert.True(listed is 1 or 2, $"{listed} WAL listings for {host.Storage.WalListingRequests - asked} requests");
        Assert.Equal(keys.Order(StringComparer.Ordinal), host.Store.Reads.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Opens_claimed_before_a_listing_began_share_it_and_a_later_claim_lists_again()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var logs = await host.CreateTopicAsync(Topic, 2);
        Assert.True(host.Logs.TryGetTopic(Topic, out var topic));
        await WriteWalAsync(host, partition: 1, (logs[1].LeaderEpoch, AsAppended(0, logs[1].LeaderEpoch, Batches.Make(1, "w"))));
        int lists = WalLists(host), asked = host.Storage.WalListingRequests;

        // Six partitions claimed together (one timestamp, taken after the claims): the first open
        // lists; the five that ask while it runs began after their claims, so it serves them too.
        await SixOpensWhileTheListingIsHeldAsync(host, topic.Id, asked, claimedAt: System.Diagnostics.Stopwatch.GetTimestamp());
        Assert.Equal(1, WalLists(host) - lists);

        // A partition claimed after that listing began must not trust it: an object its earlier
        // leader acknowledged may have landed since. Its open lists again and finds the new object.
        await WriteWalAsync(host, partition: 0, (logs[0].LeaderEpoch, AsAppended(0, logs[0].LeaderEpoch, Batches.Make(2, "x"))));
        long beforeSecond = System.Diagnostics.Stopwatch.GetTimestamp();
        var chain = await host.Storage.RecoverWalAsync(topic.Id, Topic, 0, 0, -1, null, CancellationToken.None);
        Assert.Equal(2, WalLists(host) - lists);
        Assert.Equal(2, chain.Sum(c => Batches.Records(c.UnsealedBody.ToArray())));

        // One claimed before that second listing began is served by it, finished as it is.
        chain = await host.Storage.RecoverWalAsync(topic.Id, Topic, 0, 0, -1, null, CancellationToken.None, claimedAt: beforeSecond);
        Assert.Equal(2, WalLists(host) - lists);
        Assert.Equal(2, chain.Sum(c => Batches.Records(c.UnsealedBody.ToArray())));
    }

    /// <summary>Listings of the WAL prefix so far (listings of segments, which the opens also make, not counted).</summary>
    private static int WalLists(LogHost host) => host.Store.ListsUnder(WalKeys.Prefix(host.Namespace));

    /// <summary>
    /// Six opens of partition 0 at once; the store holds the first listing until all six have
    /// asked for one, so the later ones arrive while it runs.
    /// </summary>
    private static async Task<List<SegmentRef>[]> SixOpensWhileTheListingIsHeldAsync(LogHost host, Guid topicId, int asked, long? claimedAt)
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Store.ListGate = gate.Task;
        var opens = Enumerable.Range(0, 6).Select(_ => Task.Run(() =>
            host.Storage.RecoverWalAsync(topicId, Topic, 0, 0, -1, null, CancellationToken.None, claimedAt: claimedAt))).ToList();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (host.Storage.WalListingRequests - asked < 6)
        {
            Assert.True(DateTime.UtcNow < deadline, "six opens did not ask for the WAL listing within 15 s");
            await Task.Delay(5);
        }
        host.Store.ListGate = null;
        gate.SetResult();
        return await Task.WhenAll(opens);
    }

    [Fact]
    public async Task Footers_of_WAL_objects_gone_from_the_store_are_forgotten_at_the_next_listing()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var logs = await host.CreateTopicAsync(Topic, 2);
        Assert.True(host.Logs.TryGetTopic(Topic, out var topic));
        var keys = new List<string>();
        for (int i = 0; i < 3; i++) keys.Add(await WriteWalAsync(host, partition: 1, (logs[1].LeaderEpoch, AsAppended(0, logs[1].LeaderEpoch, Batches.Make(1, "w")))));
        await host.Storage.RecoverWalAsync(topic.Id, Topic, 0, 0, -1, null, CancellationToken.None);
        int cached = host.Storage.CachedWalFooters;
        Assert.True(cached >= 3, $"{cached} footers cached after reading three");

        // Another broker's sweep deletes one: the next open's listing no longer shows it.
        await host.Store.DeleteAsync(keys[1], CancellationToken.None);
        await host.Storage.RecoverWalAsync(topic.Id, Topic, 0, 0, -1, null, CancellationToken.None);

        Assert.Equal(cached - 1, host.Storage.CachedWalFooters);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task After_a_handoff_that_sealed_everything_the_next_term_reads_no_WAL_unless_a_term_came_between(bool termBetween)
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var log = (await host.CreateTopicAsync(Topic))[0];
        Assert.Equal(0, await log.AppendBlob(Batches.Make(3, "a")).DurableAsync());
        int epoch = log.LeaderEpoch;
        // A chunk at the end of the log, of this epoch, that no leader acknowledged: only an open
        // that reads the WAL picks it up, which tells whether this one did.
        await WriteWalAsync(host, (epoch, AsAppended(3, epoch, Batches.Make(2, "x"))));

        await host.Node.StopAsync(TimeSpan.FromSeconds(10)); // graceful: seal, then hand over
        var marker = await host.Metadata.GetAsync(MetadataKeys.SealedHandoff(Topic, 0), CancellationToken.None);
        Assert.Equal($"{epoch}:3", System.Text.Encoding.ASCII.GetString(marker!.Value));
        if (termBetween)
        {
            // Another term claimed the partition and crashed before writing anything.
            await host.Metadata.PutAsync(MetadataKeys.LeaderEpoch(Topic, 0), NextOffsetHints.Ascii(epoch + 1), 0, CancellationToken.None);
        }

        await host.RestartAsync();

        log = host.Log(Topic);
        Assert.Equal(termBetween ? epoch + 2 : epoch + 1, log.LeaderEpoch);
        Assert.Equal(termBetween ? 5 : 3, log.HighWatermark);
    }

    [Fact]
    public async Task An_open_adopts_the_WAL_chain_a_crashed_leader_left_unsealed_seals_it_and_knows_its_producers()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        _ = await host.CreateTopicAsync(Topic);
        byte[] idempotent;
        using (var b = new RecordBatchBuilder { ProducerId = 7, ProducerEpoch = 0, BaseSequence = 0 })
        {
            b.Add(null, "p-0"u8.ToArray(), Batches.Epoch2023);
            idempotent = b.Build();
        }
        await WriteWalAsync(host, (3, AsAppended(0, 3, Batches.Make(2, "x"))));
        await WriteWalAsync(host, (3, AsAppended(2, 3, idempotent, Batches.Make(2, "y"))));

        await host.RestartAsync();
        var log = host.Log(Topic);

        Assert.Equal(5, log.HighWatermark);
        Assert.Equal(5, Batches.Records([.. (await ReadAllAsync(host, log)).SelectMany(b => b)]));
        // Sealed at once, though segment.ms is ten minutes.
        await TestExtensions.UntilAsync(async () => (await host.SegmentBasesAsync(Topic)).Count > 0, "the adopted chain is sealed");
        Assert.Equal(0L, (await host.SegmentBasesAsync(Topic))[0]);
        // The producer's retry of the adopted batch is a duplicate, answered with its offset.
        var retry = log.AppendBlob(idempotent);
        Assert.Equal(0, retry.ErrorCode);
        Assert.Equal(2, retry.BaseOffset);
        Assert.Equal(0, await retry.DurableAsync());
        Assert.Equal(5, log.HighWatermark);
    }

    [Fact]
    public async Task A_higher_epoch_wins_an_overlap_a_lower_epoch_after_it_is_ignored_and_the_chain_stops_at_a_gap()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        _ = await host.CreateTopicAsync(Topic);
        await WriteWalAsync(host, (5, AsAppended(0, 5, Batches.Make(2, "e5"))));
        // A deposed epoch-5 leader's late write of offsets 2-3, and the epoch-7 leader's own.
        await WriteWalAsync(host, (5, AsAppended(2, 5, Batches.Make(2, "late"))));
        await WriteWalAsync(host, (7, AsAppended(2, 7, Batches.Make(2, "e7"))));
        // Lower than 7 after 7: ignored.
        await WriteWalAsync(host, (6, AsAppended(4, 6, Batches.Make(2, "e6"))));
        // Beyond a gap at 4-5: never acknowledged.
        await WriteWalAsync(host, (7, AsAppended(6, 7, Batches.Make(2, "after-gap"))));

        await host.RestartAsync();
        var log = host.Log(Topic);

        Assert.Equal(4, log.HighWatermark);
        var read = await ReadAllAsync(host, log);
        Assert.Equal([Batches.Make(2, "e5"), Batches.Make(2, "e7")], read.Select(Batches.AsProduced));
        var next = log.AppendBlob(Batches.Make(1, "new"));
        Assert.Equal(4, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
    }

    [Fact]
    public async Task A_deposed_leaders_upload_landing_after_the_next_epoch_began_is_never_adopted_later()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var log = (await host.CreateTopicAsync(Topic))[0];
        int first = log.LeaderEpoch;
        Assert.Equal(0, await log.AppendBlob(Batches.Make(2, "acked")).DurableAsync());
        // The next epoch begins at 2 and writes nothing.
        await host.RestartAsync();
        int second = host.Log(Topic).LeaderEpoch;
        Assert.True(second > first);
        Assert.Equal(2, host.Log(Topic).HighWatermark);
        // Only now does the first epoch's upload of offsets 2-3 land (its leader was paused mid-upload).
        await WriteWalAsync(host, (first, AsAppended(2, first, Batches.Make(2, "late"))));

        await host.RestartAsync();
        log = host.Log(Topic);

        Assert.Equal(2, log.HighWatermark);
        Assert.Equal([Batches.Make(2, "acked")], (await ReadAllAsync(host, log)).Select(Batches.AsProduced));
        var kv = await host.Metadata.GetAsync($"/kafscale/topics/{Topic}/partitions/0/epoch_starts", CancellationToken.None);
        Assert.Equal($"{first}:0 {second}:2 {log.LeaderEpoch}:2", System.Text.Encoding.ASCII.GetString(kv!.Value));
    }

    [Fact]
    public async Task A_takeover_reads_only_the_WAL_footers_of_brokers_that_led_an_epoch_the_chain_may_use()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        _ = await host.CreateTopicAsync(Topic);
        int epoch = host.Log(Topic).LeaderEpoch;
        int me = host.Runtime.Wal!.BrokerId;
        string writersKey = $"/kafscale/topics/{Topic}/partitions/0/epoch_writers";
        var writers = EpochWriters.Parse((await host.Metadata.GetAsync(writersKey, CancellationToken.None))?.Value);
        Assert.True(writers.TryGetValue(epoch, out var recorded), "the open recorded who writes its epoch");
        Assert.Equal(me, recorded.Broker);

        // What this broker's crashed process left under that epoch: adopted.
        string mine = await WriteWalAsync(host, (epoch, AsAppended(0, epoch, Batches.Make(2, "x"))));
        // A broker that never led the partition, and an object of this one stamped before the
        // epoch began: neither can hold a chunk that counts, so neither footer is read (had they
        // been, offsets 2-3 would have been adopted).
        string foreign = await WriteWalAsync(host, 0, me + 7, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), (epoch, AsAppended(2, epoch, Batches.Make(2, "f"))));
        string before = await WriteWalAsync(host, 0, me, recorded.SinceMs - 1, (epoch, AsAppended(2, epoch, Batches.Make(2, "b"))));
        host.Store.ClearRangeReads();

        await host.RestartAsync();

        Assert.Equal(2, host.Log(Topic).HighWatermark);
        Assert.Contains(mine, host.Store.Reads);
        Assert.DoesNotContain(foreign, host.Store.Reads);
        Assert.DoesNotContain(before, host.Store.Reads);
        // Keys are time first: the listing itself starts where the epoch began.
        Assert.Contains(WalKeys.StartAfter(host.Namespace, recorded.SinceMs), host.Store.ListStartAfters);
        writers = EpochWriters.Parse((await host.Metadata.GetAsync(writersKey, CancellationToken.None))?.Value);
        var starts = EpochStarts.Parse((await host.Metadata.GetAsync($"/kafscale/topics/{Topic}/partitions/0/epoch_starts", CancellationToken.None))?.Value);
        Assert.Equal(starts.Select(e => e.Epoch), writers.Keys.Order());
        Assert.All(writers.Values, w => Assert.Equal(me, w.Broker));
    }

    [Fact]
    public async Task A_takeover_of_partitions_whose_chunks_share_WAL_objects_reads_each_object_once()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var logs = await host.CreateTopicAsync(Topic, 3);
        Assert.True(host.Logs.TryGetTopic(Topic, out var topic));
        int me = host.Runtime.Wal!.BrokerId;
        // What a crashed process of this broker left: each flush held a chunk of every partition.
        var keys = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            long seq = Interlocked.Increment(ref _sequence);
            long created = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var builder = new WalObjectBuilder(me, created, seq);
            for (int p = 0; p < 3; p++)
                builder.AddChunk(topic.Id, Topic, p, logs[p].LeaderEpoch, AsAppended(2 * i, logs[p].LeaderEpoch, Batches.Make(2, $"p{p}-{i}")));
            string key = WalKeys.Key(host.Namespace, created, seq, me);
            await host.Store.Inner.PutAsync(key, builder.Build().Bytes, CancellationToken.None);
            keys.Add(key);
        }
        host.Store.ClearRangeReads();

        await host.RestartAsync();

        for (int p = 0; p < 3; p++)
        {
            var log = host.Log(Topic, p);
            Assert.Equal(8, log.HighWatermark);
            Assert.Equal(Enumerable.Range(0, 4).Select(i => Batches.Make(2, $"p{p}-{i}")), (await ReadAllAsync(host, log)).Select(Batches.AsProduced));
        }
        // One GET per object gave its footer and the chunks of all three partitions.
        Assert.Equal(keys.Order(StringComparer.Ordinal), host.Store.Reads.Where(k => k.StartsWith(WalKeys.Prefix(host.Namespace), StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Epoch_writers_name_the_brokers_of_every_epoch_from_the_newest_that_began_at_or_below_the_sealed_end()
    {
        List<EpochStart> starts = [new(1, 0), new(2, 10), new(3, 10), new(4, 25)];
        var writers = EpochWriters.Parse("1:0:100 2:1:200 3:2:300 4:1:400 junk 5:x:1"u8.ToArray());
        Assert.Equal(4, writers.Count);

        // From 12: epoch 3 began at or below it (and 2, older, is fenced there by 3), so epochs 3 and 4.
        Assert.Equal(new Dictionary<int, long> { [2] = 300, [1] = 400 }, EpochWriters.Since(starts, writers, 12));
        // From 5: epochs 1 to 4; a broker that led two of them from its earliest start.
        Assert.Equal(new Dictionary<int, long> { [0] = 100, [1] = 200, [2] = 300 }, EpochWriters.Since(starts, writers, 5));
        // An epoch that may matter without a recorded writer (a broker of an older release): every object.
        writers.Remove(4);
        Assert.Null(EpochWriters.Since(starts, writers, 12));
        // No recorded epoch began at or below the sealed end (the history was cut): every object.
        Assert.Null(EpochWriters.Since([new(7, 50)], writers, 12));

        var many = Enumerable.Range(1, 40).ToDictionary(e => e, e => (e % 3, 1000L * e));
        var kept = EpochWriters.Parse(EpochWriters.Format(many));
        Assert.Equal(Enumerable.Range(9, 32), kept.Keys.Order());
        Assert.Equal((40 % 3, 40_000L), kept[40]);
    }

    [Fact]
    public async Task The_footer_of_a_WAL_object_this_broker_wrote_is_known_without_reading_it()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var log = (await host.CreateTopicAsync(Topic))[0];
        int before = host.Storage.CachedWalFooters;
        Assert.Equal(0, await log.AppendBlob(Batches.Make(2, "a")).DurableAsync());
        Assert.Equal(before + 1, host.Storage.CachedWalFooters);
        Assert.Empty(host.Store.Reads);
    }

    [Fact]
    public async Task A_WAL_object_seen_torn_while_it_was_being_written_is_read_again_once_whole()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        _ = await host.CreateTopicAsync(Topic);
        string key = await WriteWalAsync(host, (1, AsAppended(0, 1, Batches.Make(2, "whole"))));
        long size = (await host.ListAsync(key)).Single().Size;

        // A store whose listing shows a PUT in progress: first 0 bytes, then a part of it.
        Assert.Null(await host.Storage.WalFooterAsync(new KafScale.Storage.ObjectInfo(key, 0), CancellationToken.None));
        Assert.Null(await host.Storage.WalFooterAsync(new KafScale.Storage.ObjectInfo(key, size / 2), CancellationToken.None));
        // Whole now: this broker must not remember the earlier verdict.
        var footer = await host.Storage.WalFooterAsync(new KafScale.Storage.ObjectInfo(key, size), CancellationToken.None);
        Assert.NotNull(footer);
        Assert.Equal(2, footer!.Chunks[0].LastOffset + 1);
    }

    [Fact]
    public async Task A_torn_or_corrupt_WAL_object_is_skipped_and_the_chain_goes_on_without_it()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        _ = await host.CreateTopicAsync(Topic);
        await WriteWalAsync(host, (1, AsAppended(0, 1, Batches.Make(2, "whole"))));
        string torn = await WriteWalAsync(host, (1, AsAppended(2, 1, Batches.Make(2, "torn"))));
        byte[] bytes = (await host.Store.Inner.GetAsync(torn, CancellationToken.None))!;
        await host.Store.Inner.PutAsync(torn, bytes.AsMemory(0, bytes.Length - 5), CancellationToken.None);
        string garbage = WalKeys.Key(host.Namespace, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 999_999, 9);
        await host.Store.Inner.PutAsync(garbage, "not a WAL object at all"u8.ToArray(), CancellationToken.None);

        await host.RestartAsync();
        var log = host.Log(Topic);

        Assert.Equal(2, log.HighWatermark);
        Assert.Equal([Batches.Make(2, "whole")], (await ReadAllAsync(host, log)).Select(Batches.AsProduced));
    }

    [Fact]
    public async Task Chunks_of_a_deleted_topic_do_not_reappear_in_a_new_topic_of_that_name()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        var old = (await host.CreateTopicAsync(Topic))[0];
        Assert.Equal(0, await old.AppendBlob(Batches.Make(3, "old")).DurableAsync());
        Assert.Equal(0, (await host.Logs.DeleteTopicAsync(Topic, CancellationToken.None)).ErrorCode);

        var again = (await host.CreateTopicAsync(Topic))[0];

        Assert.Equal(0, again.HighWatermark);
        Assert.Empty(await ReadAllAsync(host, again));
    }

    [Fact]
    public async Task The_sweep_deletes_objects_whose_chunks_are_all_sealed_and_keeps_the_others()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        _ = await host.CreateTopicAsync(Topic);
        // A crashed broker's object: adopted and sealed by the next leader (this one, after the restart).
        string adopted = await WriteWalAsync(host, (1, AsAppended(0, 1, Batches.Make(2, "crashed"))));
        await host.RestartAsync();
        var log = host.Log(Topic);
        await TestExtensions.UntilAsync(() => log.UnsealedBytes == 0, "the adopted chain is sealed");
        // Our own object, durable but not sealed yet (segment.ms is ten minutes).
        Assert.Equal(0, await log.AppendBlob(Batches.Make(1, "unsealed")).DurableAsync());
        var ours = (await host.ListAsync(WalKeys.Prefix(host.Namespace))).Select(o => o.Key).Single(k => k != adopted);
        // A deleted topic's object.
        _ = await host.CreateTopicAsync("gone");
        Assert.True(host.Logs.TryGetTopic("gone", out var gone));
        var builder = new WalObjectBuilder(9, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 77);
        builder.AddChunk(gone.Id, "gone", 0, 1, AsAppended(0, 1, Batches.Make(1, "gone")));
        string goneKey = WalKeys.Key(host.Namespace, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), 77, 9);
        await host.Store.Inner.PutAsync(goneKey, builder.Build().Bytes, CancellationToken.None);
        Assert.Equal(0, (await host.Logs.DeleteTopicAsync("gone", CancellationToken.None)).ErrorCode);

        var age = WalSweeper.MinimumAge;
        WalSweeper.MinimumAge = TimeSpan.Zero;
        try { Assert.Equal(2, await host.Logs.WalSweeper.SweepAsync(CancellationToken.None)); }
        finally { WalSweeper.MinimumAge = age; }

        Assert.Equal([ours], (await host.ListAsync(WalKeys.Prefix(host.Namespace))).Select(o => o.Key));
    }
}
