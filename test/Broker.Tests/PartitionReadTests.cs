using KafScale.Broker.Log;

namespace KafScale.Broker.Tests;

/// <summary>docs/architecture.md, "The read path": Fetch returns whole stored batches below the high watermark.</summary>
public class PartitionReadTests
{
    private const string Topic = "reads";

    /// <summary>Three segments: [0-2, 3-4], [5-8], [9, 10]; returns the stored batches in order.</summary>
    private static async Task<(PartitionLog Log, List<byte[]> Stored)> ThreeSegmentsAsync(LogHost host)
    {
        var log = (await host.CreateTopicAsync(Topic))[0];
        byte[][] blobs =
        [
            Batches.Blob(Batches.Make(3, "a"), Batches.Make(2, "b")),
            Batches.Make(4, "c"),
            Batches.Blob(Batches.Make(1, "d"), Batches.Make(1, "e")),
        ];
        foreach (var blob in blobs) Assert.Equal(0, await log.AppendBlob(blob).DurableAsync());
        var stored = await host.AllStoredBatchesAsync(Topic);
        Assert.Equal([0L, 3L, 5L, 9L, 10L], stored.Select(s => Batches.Header(s).BaseOffset));
        return (log, stored);
    }

    private static async Task<(int Total, List<byte[]> Batches, int Slices)> ReadAsync(LogHost host, PartitionLog log, long from, int maxBytes, bool atLeastOne = true)
    {
        var slices = new List<ReadOnlyMemory<byte>>();
        int total = await host.Storage.ReadAsync(log, from, maxBytes, atLeastOne, slices);
        Assert.Equal(total, slices.Sum(s => s.Length));
        return (total, slices.SelectMany(s => Batches.Split(s.Span)).ToList(), slices.Count);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_read_from_the_start_returns_every_batch_across_segment_boundaries(bool withCache)
    {
        await using var host = await LogHost.StartAsync(withCache: withCache);
        var (log, stored) = await ThreeSegmentsAsync(host);

        var read = await ReadAsync(host, log, 0, int.MaxValue);

        Assert.Equal(stored, read.Batches);
        Assert.Equal(3, read.Slices);
    }

    [Theory]
    [InlineData(0, 0L)]
    [InlineData(2, 0L)]
    [InlineData(4, 3L)]
    [InlineData(5, 5L)]
    [InlineData(8, 5L)]
    [InlineData(10, 10L)]
    public async Task A_read_starts_at_the_batch_that_holds_the_offset(long from, long firstBase)
    {
        await using var host = await LogHost.StartAsync();
        var (log, stored) = await ThreeSegmentsAsync(host);

        var read = await ReadAsync(host, log, from, int.MaxValue);

        Assert.Equal(firstBase, Batches.Header(read.Batches[0]).BaseOffset);
        Assert.Equal(stored.SkipWhile(s => Batches.Header(s).BaseOffset != firstBase), read.Batches);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Reads_of_sealed_segments_count_store_bytes_or_cache_hits(bool withCache)
    {
        await using var host = await LogHost.StartAsync(withCache: withCache);
        var (log, stored) = await ThreeSegmentsAsync(host);
        var metrics = host.Runtime.Metrics;
        long bytesBefore = metrics.ReadBytesFromStore.Value, hitsBefore = host.Runtime.SegmentCache?.Hits ?? 0;

        var read = await ReadAsync(host, log, 0, int.MaxValue);

        Assert.Equal(stored, read.Batches);
        if (withCache)
        {
            // Every segment a seal made durable is in the cache: nothing comes from the store.
            Assert.Equal(3, host.Runtime.SegmentCache!.Hits - hitsBefore);
            Assert.Equal(bytesBefore, metrics.ReadBytesFromStore.Value);
        }
        else Assert.True(metrics.ReadBytesFromStore.Value - bytesBefore >= read.Total, $"{metrics.ReadBytesFromStore.Value - bytesBefore} bytes counted for a read of {read.Total}");
    }

    [Fact]
    public async Task A_read_at_the_high_watermark_returns_nothing()
    {
        await using var host = await LogHost.StartAsync();
        var (log, _) = await ThreeSegmentsAsync(host);

        var read = await ReadAsync(host, log, log.HighWatermark, int.MaxValue);

        Assert.Equal(0, read.Total);
        Assert.Equal(0, read.Slices);
    }

    [Fact]
    public async Task A_read_returns_only_whole_batches_within_max_bytes_even_across_segments()
    {
        await using var host = await LogHost.StartAsync();
        var (log, stored) = await ThreeSegmentsAsync(host);
        int[] sizes = [.. stored.Select(s => s.Length)];

        var twoBatches = await ReadAsync(host, log, 0, sizes[0] + sizes[1] + sizes[2] - 1);
        var threeBatches = await ReadAsync(host, log, 0, sizes[0] + sizes[1] + sizes[2]);
        var fromMiddle = await ReadAsync(host, log, 3, sizes[1] + sizes[2] + sizes[3]);

        Assert.Equal(stored.Take(2), twoBatches.Batches);
        Assert.Equal(stored.Take(3), threeBatches.Batches);
        Assert.Equal(2, threeBatches.Slices);
        Assert.Equal(stored.Skip(1).Take(3), fromMiddle.Batches);
        Assert.Equal(3, fromMiddle.Slices);
    }

    [Fact]
    public async Task A_first_batch_larger_than_max_bytes_is_returned_whole_when_at_least_one_is_asked()
    {
        await using var host = await LogHost.StartAsync();
        var (log, stored) = await ThreeSegmentsAsync(host);

        var atLeastOne = await ReadAsync(host, log, 5, 10, atLeastOne: true);
        var strict = await ReadAsync(host, log, 5, 10, atLeastOne: false);

        Assert.Equal([stored[2]], atLeastOne.Batches);
        Assert.Equal(stored[2].Length, atLeastOne.Total);
        Assert.Equal(0, strict.Total);
        Assert.Empty(strict.Batches);
    }

    [Fact]
    public async Task A_read_never_returns_data_of_a_segment_that_is_not_yet_durable()
    {
        await using var host = await LogHost.StartAsync(c => c.MaxWalUploads = 2);
        var (log, stored) = await ThreeSegmentsAsync(host);
        var gate = host.HoldNextWal();
        var held = log.AppendBlob(Batches.Make(2, "held"));
        await gate.Arrived.Within();
        var signal = log.NextChange();
        var later = log.AppendBlob(Batches.Make(2, "later"));
        await signal.Within();

        var read = await ReadAsync(host, log, 0, int.MaxValue);
        var atEnd = await ReadAsync(host, log, 11, int.MaxValue);

        Assert.Equal(stored, read.Batches);
        Assert.Equal(0, atEnd.Total);
        gate.Release();
        Assert.Equal(0, await held.DurableAsync());
        Assert.Equal(0, await later.DurableAsync());
        Assert.Equal(2, (await ReadAsync(host, log, 11, int.MaxValue)).Batches.Count);
    }

    /// <summary>
    /// Ranged reads of sealed segments (docs/architecture.md, "The read path"): a segment of
    /// several MiB, with batches of many records (so the .index is sparse), one batch larger
    /// than a read window, then a second segment. Every read must return exactly the whole
    /// batches the rule asks for, whatever the start offset and byte limit. With the segment cache
    /// the sealed segments are read from it whole; without, from the store by range.
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(false, true)]
    public async Task Ranged_reads_of_large_segments_return_exactly_the_batches_a_whole_read_would(bool ranged, bool readAhead)
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentBytes = 16 << 20, withCache: !ranged, readAheadBytes: readAhead ? 64L << 20 : 0);
        var log = (await host.CreateTopicAsync(Topic))[0];
        // Today's timestamps: the default retention.ms must not delete the segments mid-test.
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var first = new List<byte[]>();
        for (int i = 0; i < 30; i++) first.Add(Batches.Make(50, $"a{i}", now, valueBytes: 2000));
        first.Add(Batches.OfSize(PartitionStorage.ReadWindowBytes + 500_000, "big", now));
        for (int i = 0; i < 10; i++) first.Add(Batches.Make(3, $"b{i}", now));
        for (int i = 0; i < 10; i++) first.Add(Batches.Make(50, $"c{i}", now, valueBytes: 2000));
        Assert.Equal(0, await log.AppendBlob(Batches.Blob([.. first])).DurableAsync());
        Assert.Equal(0, await log.AppendBlob(Batches.Blob(Batches.Make(4, "d", now), Batches.Make(5, "e", now))).DurableAsync());
        Assert.True(await log.FlushUntilDurableAsync(TimeSpan.FromSeconds(30)));
        var stored = await host.AllStoredBatchesAsync(Topic);
        Assert.Equal(first.Count + 2, stored.Count);
        Assert.Equal(2, log.SegmentsSnapshot().Count(s => s.IsSealed));

        long[] starts = [0, 1, 49, 50, 149, 1500, 1501, 1505, 1530, 1531, log.HighWatermark - 1];
        int[] limits = [1, 150_000, PartitionStorage.ReadWindowBytes, 2_500_000, int.MaxValue];
        host.Store.ClearRangeReads();
        foreach (long from in starts)
            foreach (int maxBytes in limits)
                foreach (bool atLeastOne in new[] { true, false })
                {
                    var expected = new List<byte[]>();
                    long total = 0;
                    foreach (var b in stored.Where(b => Batches.Header(b).LastOffset >= from))
                    {
                        if (total + b.Length > maxBytes && !(expected.Count == 0 && atLeastOne)) break;
                        expected.Add(b);
                        total += b.Length;
                    }
                    var read = await ReadAsync(host, log, from, maxBytes, atLeastOne);
                    string what = $"from {from}, max {maxBytes}, at least one {atLeastOne}";
                    Assert.True(expected.Count == read.Batches.Count, $"{what}: {read.Batches.Count} batches, expected {expected.Count}");
                    // Span comparison: xunit's element-by-element one takes minutes over these megabytes.
                    for (int i = 0; i < expected.Count; i++)
                        Assert.True(expected[i].AsSpan().SequenceEqual(read.Batches[i]), $"{what}: batch {i} differs");
                    Assert.Equal(total, read.Total);
                }
        // The path under test was taken: ranged reads of the .kfs, never whole ones.
        Assert.Equal(ranged, host.Store.RangeReads.Any(k => k.EndsWith(".kfs", StringComparison.Ordinal)));
    }

    /// <summary>A 12 MiB sealed segment of 64 KiB batches, one partition; returns the log and the segment's body length.</summary>
    private static async Task<(PartitionLog Log, long Bytes)> BigSegmentAsync(LogHost host, string topic)
    {
        var log = (await host.CreateTopicAsync(topic))[0];
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var batches = new List<byte[]>();
        for (int i = 0; i < 192; i++) batches.Add(Batches.Make(32, $"{topic}{i}", now, valueBytes: 2000));
        Assert.Equal(0, await log.AppendBlob(Batches.Blob([.. batches])).DurableAsync());
        Assert.True(await log.FlushUntilDurableAsync(TimeSpan.FromSeconds(30)));
        Assert.Single(log.SegmentsSnapshot(), s => s.IsSealed);
        return (log, batches.Sum(b => (long)b.Length));
    }

    /// <summary>Reads the whole partition as a consumer does, 1 MiB a fetch; returns the bytes read.</summary>
    private static async Task<long> CatchUpAsync(LogHost host, PartitionLog log, long from = 0)
    {
        long read = 0;
        while (from < log.HighWatermark)
        {
            var (total, batches, _) = await ReadAsync(host, log, from, 1 << 20);
            Assert.True(total > 0);
            from = Batches.Header(batches[^1]).LastOffset + 1;
            read += total;
        }
        return read;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_consumer_catching_up_reads_each_byte_once_and_with_read_ahead_makes_one_get_per_window(bool readAhead)
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentBytes = 16 << 20, readAheadBytes: readAhead ? 64L << 20 : 0);
        var (log, bytes) = await BigSegmentAsync(host, Topic);
        host.Store.ClearRangeReads();
        long storeBefore = host.Runtime.Metrics.ReadBytesFromStore.Value;

        Assert.Equal(bytes, await CatchUpAsync(host, log));

        int gets = host.Store.RangeReads.Count(k => k.EndsWith(".kfs", StringComparison.Ordinal));
        long fromStore = host.Runtime.Metrics.ReadBytesFromStore.Value - storeBefore;
        // A window that ends inside a batch is followed by one that starts at that batch: at most
        // one batch per GET is read twice.
        Assert.InRange(fromStore, bytes, bytes + gets * (64L << 10));
        if (readAhead) Assert.Equal(2, gets); // 12 MiB: a window of 8 MiB, then the 4 MiB left (4 MiB windows make 3)
        else Assert.InRange(gets, 12, 14); // a GET of at most 1 MiB per fetch
    }

    [Fact]
    public async Task When_the_read_ahead_budget_is_full_of_windows_in_use_other_partitions_read_only_what_they_need()
    {
        // Room for one window: the first partition takes it, the second (read in turn with the
        // first) must not push it out before it is read, so it reads 1 MiB at a time.
        await using var host = await LogHost.StartAsync(c => c.SegmentBytes = 16 << 20, readAheadBytes: ReadAheadCache.WindowBytes);
        var (a, aBytes) = await BigSegmentAsync(host, "ra-a");
        var (b, bBytes) = await BigSegmentAsync(host, "ra-b");
        host.Store.ClearRangeReads();
        long storeBefore = host.Runtime.Metrics.ReadBytesFromStore.Value;

        long fromA = 0, fromB = 0, read = 0;
        while (fromA < a.HighWatermark || fromB < b.HighWatermark)
        {
            foreach (var (log, isA) in new[] { (a, true), (b, false) })
            {
                long from = isA ? fromA : fromB;
                if (from >= log.HighWatermark) continue;
                var (total, batches, _) = await ReadAsync(host, log, from, 1 << 20);
                read += total;
                if (isA) fromA = Batches.Header(batches[^1]).LastOffset + 1; else fromB = Batches.Header(batches[^1]).LastOffset + 1;
            }
        }

        Assert.Equal(aBytes + bBytes, read);
        int gets = host.Store.RangeReads.Count(k => k.EndsWith(".kfs", StringComparison.Ordinal));
        long fromStore = host.Runtime.Metrics.ReadBytesFromStore.Value - storeBefore;
        Assert.InRange(fromStore, read, read + gets * (64L << 10));
        Assert.InRange(host.Runtime.ReadAhead!.Bytes, 0, ReadAheadCache.WindowBytes);
    }
    [Fact]
    public async Task A_window_read_to_the_end_of_its_segment_makes_room_at_once_for_the_next_reader()
    {
        // Room for one window (the last of a 12 MiB segment runs to its end, up to 5 MiB). The
        // reader of a moves on past its segment's end; b, read right after, must not wait for a's
        // last window to sit idle for a second: it gets windows, not a GET per 1 MiB fetch.
        await using var host = await LogHost.StartAsync(c => c.SegmentBytes = 16 << 20, readAheadBytes: 6L << 20);
        var (a, aBytes) = await BigSegmentAsync(host, "fin-a");
        var (b, bBytes) = await BigSegmentAsync(host, "fin-b");
        host.Store.ClearRangeReads();

        Assert.Equal(aBytes, await CatchUpAsync(host, a));
        int getsA = host.Store.RangeReads.Count(k => k.EndsWith(".kfs", StringComparison.Ordinal));
        Assert.Equal(bBytes, await CatchUpAsync(host, b));
        int getsB = host.Store.RangeReads.Count(k => k.EndsWith(".kfs", StringComparison.Ordinal)) - getsA;

        Assert.InRange(getsA, 3, 4);
        Assert.InRange(getsB, 3, 4);
    }
}
