using KafScale.Broker.Log;
using KafScale.Metadata.Embedded;
using KafScale.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests;

/// <summary>docs/architecture.md, "The write path" and "Leadership and fencing": a new leader walks the chain of segments in the store and adopts what is complete.</summary>
public class RecoveryTests
{
    private const string Topic = "orders";

    /// <summary>Writes one segment per blob (each awaited and sealed) and returns the base offsets.</summary>
    private static async Task<List<long>> WriteSegmentsAsync(PartitionLog log, params byte[][] blobs)
    {
        var bases = new List<long>();
        foreach (var blob in blobs)
        {
            var append = log.AppendBlob(blob);
            Assert.Equal(0, await append.DurableAsync());
            // segment.ms 0 here: each durable chunk becomes its own segment, just after the ack.
            await TestExtensions.UntilAsync(() => log.UnsealedBytes == 0, "the chunk is sealed");
            bases.Add(append.BaseOffset);
        }
        return bases;
    }

    private static async Task<List<byte[]>> ReadAllAsync(LogHost host, PartitionLog log, long from = 0)
    {
        var slices = new List<ReadOnlyMemory<byte>>();
        await host.Storage.ReadAsync(log, from, int.MaxValue, atLeastOne: true, slices);
        return slices.SelectMany(s => Batches.Split(s.Span)).ToList();
    }

    /// <summary>A partition storage of a broker that knows nothing yet: only the object store.</summary>
    private static PartitionStorage FreshStorage(LogHost host)
    {
        var config = new BrokerConfig();
        var runtime = new LogRuntime(config, LogHost.NewMetrics(), NullLogger.Instance);
        return new PartitionStorage(host.Store, host.Namespace, runtime, NullLogger.Instance);
    }

    [Fact]
    public async Task A_restart_adopts_every_complete_segment_and_the_next_append_continues_after_them()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        var bases = await WriteSegmentsAsync(log, Batches.Make(3, "a"), Batches.Blob(Batches.Make(2, "b"), Batches.Make(2, "c")), Batches.Make(5, "d"));
        var before = await ReadAllAsync(host, log);

        await host.RestartAsync();
        log = host.Log(Topic);

        Assert.Equal(12, log.HighWatermark);
        Assert.Equal(12, log.NextOffset);
        Assert.Equal(bases, log.SegmentsSnapshot().Select(s => s.BaseOffset));
        Assert.Equal(before, await ReadAllAsync(host, log));
        var next = log.AppendBlob(Batches.Make(1, "e"));
        Assert.Equal(12, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
        Assert.Equal([0L, 3L, 7L, 12L], await host.SegmentBasesAsync(Topic));
    }

    [Fact]
    public async Task Recovery_reports_each_segment_with_its_offsets_and_size()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        await WriteSegmentsAsync(log, Batches.Make(3, "a"), Batches.Make(4, "b"));

        var chain = (await FreshStorage(host).RecoverAsync(Topic, 0, lastSegmentHint: 0, CancellationToken.None)).Chain;

        Assert.Equal([(0L, 2L), (3L, 6L)], chain.Select(s => (s.BaseOffset, s.LastOffset)));
        foreach (var s in chain)
            Assert.Equal(await host.Store.Inner.GetSizeAsync(host.SegmentKey(Topic, 0, s.BaseOffset), CancellationToken.None), s.Size);
    }

    [Fact]
    public async Task A_missing_index_is_rebuilt_byte_identical_to_the_one_the_writer_made()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        // 250 records in 5 batches: the index (one entry per 100 records) has several entries.
        byte[] blob = Batches.Blob([.. Enumerable.Range(0, 5).Select(i => Batches.Make(50, $"i{i}"))]);
        await WriteSegmentsAsync(log, Batches.Make(1, "first"), blob);
        string indexKey = host.IndexKey(Topic, 0, 1);
        byte[] original = (await host.Store.Inner.GetAsync(indexKey, CancellationToken.None))!;
        Assert.True(SegmentIndex.Parse(original).Count > 1);
        await host.Store.Inner.DeleteAsync(indexKey, CancellationToken.None);

        var chain = (await FreshStorage(host).RecoverAsync(Topic, 0, 0, CancellationToken.None)).Chain;

        Assert.Equal([0L, 1L], chain.Select(s => s.BaseOffset));
        Assert.Equal(original, await host.Store.Inner.GetAsync(indexKey, CancellationToken.None));
    }

    [Fact]
    public async Task A_restart_finishes_a_segment_whose_writer_died_between_the_kfs_and_the_index()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        await WriteSegmentsAsync(log, Batches.Make(2, "a"), Batches.Make(2, "b"));
        byte[] original = (await host.Store.Inner.GetAsync(host.IndexKey(Topic, 0, 2), CancellationToken.None))!;
        await host.Store.Inner.DeleteAsync(host.IndexKey(Topic, 0, 2), CancellationToken.None);

        await host.RestartAsync();

        Assert.Equal(4, host.Log(Topic).HighWatermark);
        Assert.Equal(original, await host.Store.Inner.GetAsync(host.IndexKey(Topic, 0, 2), CancellationToken.None));
    }

    [Fact]
    public async Task A_truncated_segment_and_everything_after_it_are_deleted_and_their_offsets_are_reused()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        var bases = await WriteSegmentsAsync(log, Batches.Make(2, "a"), Batches.Make(3, "b"), Batches.Make(4, "c"), Batches.Make(1, "d"));
        Assert.Equal([0L, 2L, 5L, 9L], bases);
        string torn = host.SegmentKey(Topic, 0, 5);
        byte[] whole = (await host.Store.Inner.GetAsync(torn, CancellationToken.None))!;
        await host.Store.Inner.PutAsync(torn, whole.AsMemory(0, whole.Length - 7), CancellationToken.None);

        await host.RestartAsync();
        log = host.Log(Topic);

        Assert.Equal(5, log.HighWatermark);
        Assert.Equal([0L, 2L], await host.SegmentBasesAsync(Topic));
        foreach (long gone in new long[] { 5, 9 })
        {
            Assert.False(await host.ExistsAsync(host.SegmentKey(Topic, 0, gone)));
            Assert.False(await host.ExistsAsync(host.IndexKey(Topic, 0, gone)));
        }
        var next = log.AppendBlob(Batches.Make(2, "new"));
        Assert.Equal(5, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
        Assert.Equal(7, log.HighWatermark);
        var stored = await host.StoredBatchesAsync(Topic, 0, 5);
        Assert.Equal(Batches.Make(2, "new"), Batches.AsProduced(Assert.Single(stored)));
    }

    [Fact]
    public async Task A_segment_without_index_whose_body_fails_its_checksum_was_never_acknowledged_and_is_deleted()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        await WriteSegmentsAsync(log, Batches.Make(2, "a"), Batches.Make(2, "b"), Batches.Make(2, "c"));
        string damaged = host.SegmentKey(Topic, 0, 2);
        byte[] bytes = (await host.Store.Inner.GetAsync(damaged, CancellationToken.None))!;
        bytes[SegmentFormat.HeaderSize + 70] ^= 0x5A; // inside the body: the footer still ends in END!
        await host.Store.Inner.PutAsync(damaged, bytes, CancellationToken.None);
        await host.Store.Inner.DeleteAsync(host.IndexKey(Topic, 0, 2), CancellationToken.None);

        await host.RestartAsync();
        log = host.Log(Topic);

        Assert.Equal(2, log.HighWatermark);
        Assert.Equal([0L], await host.SegmentBasesAsync(Topic));
        var next = log.AppendBlob(Batches.Make(1, "new"));
        Assert.Equal(2, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
    }

    [Fact]
    public async Task A_segment_shorter_than_header_and_footer_is_deleted_with_everything_after_it()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        await WriteSegmentsAsync(log, Batches.Make(2, "a"), Batches.Make(2, "b"), Batches.Make(2, "c"));
        await host.Store.Inner.PutAsync(host.SegmentKey(Topic, 0, 2), new byte[SegmentFormat.MinimumSegmentSize - 1], CancellationToken.None);

        var chain = (await FreshStorage(host).RecoverAsync(Topic, 0, 0, CancellationToken.None)).Chain;

        Assert.Equal([0L], chain.Select(s => s.BaseOffset));
        Assert.Equal([0L], await host.SegmentBasesAsync(Topic));
    }

    [Fact]
    public async Task A_gap_in_the_chain_deletes_every_segment_beyond_it()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        await WriteSegmentsAsync(log, Batches.Make(2, "a"), Batches.Make(2, "b"), Batches.Make(2, "c"), Batches.Make(2, "d"));
        await host.Store.Inner.DeleteAsync(host.SegmentKey(Topic, 0, 2), CancellationToken.None);
        await host.Store.Inner.DeleteAsync(host.IndexKey(Topic, 0, 2), CancellationToken.None);

        await host.RestartAsync();
        log = host.Log(Topic);

        Assert.Equal(2, log.HighWatermark);
        Assert.Equal([0L], await host.SegmentBasesAsync(Topic));
        Assert.Equal([host.IndexKey(Topic, 0, 0), host.SegmentKey(Topic, 0, 0)],
            (await host.ListAsync(SegmentKeys.PartitionPrefix(host.Namespace, Topic, 0))).Select(o => o.Key).Order(StringComparer.Ordinal));
        var next = log.AppendBlob(Batches.Make(3, "after"));
        Assert.Equal(2, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
    }

    [Fact]
    public async Task Each_open_bumps_the_leader_epoch_and_new_batches_carry_it()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        int created = log.LeaderEpoch;
        await WriteSegmentsAsync(log, Batches.Make(1, "a"));

        await host.RestartAsync();
        int second = host.Log(Topic).LeaderEpoch;
        await host.RestartAsync();
        log = host.Log(Topic);
        await WriteSegmentsAsync(log, Batches.Make(1, "b"));

        Assert.Equal(created + 1, second);
        Assert.Equal(created + 2, log.LeaderEpoch);
        var stored = await host.AllStoredBatchesAsync(Topic);
        Assert.Equal([created, created + 2], stored.Select(b => Batches.Header(b).PartitionLeaderEpoch));
        var persisted = await host.Metadata.GetAsync(MetadataKeys.LeaderEpoch(Topic, 0), CancellationToken.None);
        Assert.Equal((created + 2).ToString(System.Globalization.CultureInfo.InvariantCulture), System.Text.Encoding.ASCII.GetString(persisted!.Value));
    }

    [Fact]
    public async Task Recovery_over_an_empty_store_yields_an_empty_log()
    {
        await using var host = await LogHost.StartAsync();

        var chain = (await FreshStorage(host).RecoverAsync("never-written", 0, 0, CancellationToken.None)).Chain;

        Assert.Empty(chain);
    }

    [Fact]
    public async Task A_broker_with_a_fresh_metadata_store_sees_no_topics_and_leaves_the_segments_alone()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        await WriteSegmentsAsync(log, Batches.Make(2, "a"));
        string otherMetadata = Path.Combine(host.Root, "other-metadata");

        await using (var meta = await EmbeddedMetadataStore.OpenAsync(otherMetadata, CancellationToken.None))
        {
            var storage = FreshStorage(host);
            var config = new BrokerConfig();
            await using var logs = await LogManager.OpenAsync(meta, storage,
                new LogRuntime(config, LogHost.NewMetrics(), NullLogger.Instance),
                config, NullLogger.Instance, CancellationToken.None);
            Assert.Empty(logs.Topics);
        }

        Assert.Equal([0L], await host.SegmentBasesAsync(Topic));
    }

    [Fact]
    public async Task An_open_from_the_last_segment_hint_checks_only_the_segments_from_it_and_finds_the_older_ones_afterwards()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        var bases = await WriteSegmentsAsync(log, [.. Enumerable.Range(0, 6).Select(i => Batches.Make(2 + i, $"s{i}"))]);
        var storage = FreshStorage(host);
        host.Store.ClearRangeReads();

        var (chain, olderBelow) = await storage.RecoverAsync(Topic, 0, lastSegmentHint: bases[4], CancellationToken.None);

        Assert.True(olderBelow);
        Assert.Equal(bases[4..], chain.Select(s => s.BaseOffset));
        Assert.Equal(log.HighWatermark, chain[^1].LastOffset + 1);
        Assert.Equal([host.SegmentKey(Topic, 0, bases[4]), host.SegmentKey(Topic, 0, bases[5])], host.Store.RangeReads);

        var older = await storage.RecoverOlderAsync(Topic, 0, bases[4], CancellationToken.None);
        Assert.Equal(bases[..4], older.Select(s => s.BaseOffset));
        Assert.Equal(bases[4], older[^1].LastOffset + 1);
    }

    [Fact]
    public async Task A_last_segment_hint_naming_a_segment_the_store_lacks_falls_back_to_listing_the_whole_partition()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        var bases = await WriteSegmentsAsync(log, Batches.Make(3, "a"), Batches.Make(4, "b"), Batches.Make(2, "c"));

        // Offset 5 lies inside the second segment: no segment starts there.
        var (chain, olderBelow) = await FreshStorage(host).RecoverAsync(Topic, 0, lastSegmentHint: 5, CancellationToken.None);

        Assert.False(olderBelow);
        Assert.Equal(bases, chain.Select(s => s.BaseOffset));
    }

    [Fact]
    public async Task A_stray_segment_inside_the_older_chain_is_deleted_and_the_older_chain_still_ends_where_the_open_started()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        var bases = await WriteSegmentsAsync(log, Batches.Make(4, "a"), Batches.Make(4, "b"), Batches.Make(4, "c"));
        // A deposed leader's late upload at offset 2, inside the first segment.
        string stray = host.SegmentKey(Topic, 0, 2);
        await host.Store.Inner.PutAsync(stray, WalUploadTests.ForeignSegment(2, Batches.Make(3, "late")), CancellationToken.None);

        var older = await FreshStorage(host).RecoverOlderAsync(Topic, 0, bases[2], CancellationToken.None);

        Assert.Equal(bases[..2], older.Select(s => s.BaseOffset));
        Assert.False(await host.ExistsAsync(stray));
    }

    [Fact]
    public async Task After_a_restart_that_opens_from_the_hint_every_record_is_read_from_offset_0_and_appends_continue()
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync(Topic))[0];
        var bases = await WriteSegmentsAsync(log, [.. Enumerable.Range(0, 5).Select(i => Batches.Make(3, $"r{i}"))]);
        var before = await ReadAllAsync(host, log);
        // The hints go to the metadata store about once a second, off the produce path.
        string lastSegment = MetadataKeys.LastSegment(Topic, 0);
        await TestExtensions.UntilAsync(async () => await host.Metadata.GetAsync(lastSegment, CancellationToken.None) is { } kv
            && System.Text.Encoding.ASCII.GetString(kv.Value) == bases[^1].ToString(System.Globalization.CultureInfo.InvariantCulture), "the last_segment hint is written");
        host.Store.ClearRangeReads();

        await host.RestartAsync();
        log = host.Log(Topic);

        // The open checked the newest segment first (the one the hint names), not the oldest.
        Assert.Equal(host.SegmentKey(Topic, 0, bases[^1]), host.Store.RangeReads[0]);
        Assert.Equal(15, log.HighWatermark);
        // Read before the older segments are known: the read waits for them.
        Assert.Equal(before, await ReadAllAsync(host, log));
        await log.OlderSegmentsLoaded;
        Assert.Equal(bases, log.SegmentsSnapshot().Select(s => s.BaseOffset));
        Assert.Equal(0, log.LogStartOffset);
        var next = log.AppendBlob(Batches.Make(1, "after"));
        Assert.Equal(15, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
    }
}
