using KafScale.Broker.Log;

namespace KafScale.Broker.Tests;

/// <summary>retention.ms, retention.bytes and DeleteRecords: the log start moves forward and whole segments go.</summary>
public class RetentionTests
{
    private const string Topic = "events";
    private static readonly CancellationToken None = CancellationToken.None;
    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private static long HoursAgo(int hours) => Now - hours * 3_600_000L;

    private static async Task<PartitionLog> TopicAsync(LogHost host, string? retentionMs = null, string? retentionBytes = null)
    {
        var configs = new Dictionary<string, string?>();
        if (retentionMs is not null) configs[TopicConfig.RetentionMs] = retentionMs;
        if (retentionBytes is not null) configs[TopicConfig.RetentionBytes] = retentionBytes;
        return (await host.CreateTopicAsync(Topic, 1, configs))[0];
    }

    private static async Task SegmentAsync(PartitionLog log, int records, long timestampMs, string tag = "r")
    {
        Assert.Equal(0, await log.AppendBlob(Batches.Make(records, tag, timestampMs)).DurableAsync());
        // segment.ms 0 here: the data becomes a segment of its own just after the ack.
        await TestExtensions.UntilAsync(() => log.UnsealedBytes == 0, "the data is sealed");
    }

    [Fact]
    public async Task Retention_ms_deletes_the_whole_segments_whose_newest_record_is_older()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host, retentionMs: "3600000");
        await SegmentAsync(log, 2, HoursAgo(3));
        await SegmentAsync(log, 2, HoursAgo(2));
        // Mixed: an old record and a recent one; the segment stays.
        Assert.Equal(0, await log.AppendBlob(Batches.Blob(Batches.Make(1, "o", HoursAgo(5)), Batches.Make(1, "n", Now))).DurableAsync());
        await SegmentAsync(log, 2, Now);

        await host.Logs.EnforceRetentionAsync(None);

        Assert.Equal(4, log.LogStartOffset);
        Assert.Equal(8, log.HighWatermark);
        Assert.Equal([4L, 6L], await host.SegmentBasesAsync(Topic));
        Assert.False(await host.ExistsAsync(host.IndexKey(Topic, 0, 0)));
        Assert.Equal([4L, 6L], log.SegmentsSnapshot().Select(s => s.BaseOffset));
    }

    [Fact]
    public async Task Retention_ms_stops_at_the_first_segment_that_is_not_expired()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host, retentionMs: "3600000");
        await SegmentAsync(log, 1, HoursAgo(3));
        await SegmentAsync(log, 1, Now);
        await SegmentAsync(log, 1, HoursAgo(3));

        await host.Logs.EnforceRetentionAsync(None);

        Assert.Equal(1, log.LogStartOffset);
        Assert.Equal([1L, 2L], await host.SegmentBasesAsync(Topic));
    }

    [Fact]
    public async Task Retention_ms_of_minus_one_keeps_everything()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host, retentionMs: "-1");
        await SegmentAsync(log, 1, 0);
        await SegmentAsync(log, 1, 1);

        await host.Logs.EnforceRetentionAsync(None);

        Assert.Equal(0, log.LogStartOffset);
        Assert.Equal([0L, 1L], await host.SegmentBasesAsync(Topic));
    }

    [Fact]
    public async Task Retention_ms_after_a_restart_reads_segment_timestamps_from_the_store()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host, retentionMs: "3600000");
        await SegmentAsync(log, 2, HoursAgo(3));
        await SegmentAsync(log, 2, Now);
        await host.RestartAsync();
        log = host.Log(Topic);

        await host.Logs.EnforceRetentionAsync(None);

        Assert.Equal(2, log.LogStartOffset);
        Assert.Equal([2L], await host.SegmentBasesAsync(Topic));
    }

    [Fact]
    public async Task When_every_segment_has_expired_the_log_start_stops_at_the_high_watermark_and_offsets_are_never_reused()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host, retentionMs: "3600000");
        await SegmentAsync(log, 3, HoursAgo(3));
        await SegmentAsync(log, 2, HoursAgo(2));

        await host.Logs.EnforceRetentionAsync(None);

        Assert.Equal(5, log.LogStartOffset);
        Assert.Equal(5, log.HighWatermark);
        Assert.Empty(await host.SegmentBasesAsync(Topic));
        var slices = new List<ReadOnlyMemory<byte>>();
        Assert.Equal(0, await host.Storage.ReadAsync(log, 0, int.MaxValue, true, slices));

        await host.RestartAsync();
        log = host.Log(Topic);
        Assert.Equal(5, log.LogStartOffset);
        Assert.Equal(5, log.HighWatermark);
        var next = log.AppendBlob(Batches.Make(1, "after", Now));
        Assert.Equal(5, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
    }

    [Fact]
    public async Task Retention_leaves_a_segment_that_is_still_uploading_alone()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host, retentionMs: "3600000");
        await SegmentAsync(log, 2, HoursAgo(3));
        var gate = host.HoldNextWal();
        var uploading = log.AppendBlob(Batches.Make(2, "late", HoursAgo(3)));
        await gate.Arrived.Within();

        await host.Logs.EnforceRetentionAsync(None);

        Assert.Equal(2, log.LogStartOffset);
        gate.Release();
        Assert.Equal(0, await uploading.DurableAsync());
        Assert.Equal(4, log.HighWatermark);
        Assert.Equal([2L], await host.SegmentBasesAsync(Topic));
        var slices = new List<ReadOnlyMemory<byte>>();
        Assert.True(await host.Storage.ReadAsync(log, 2, int.MaxValue, true, slices) > 0);
    }

    [Fact]
    public async Task Retention_bytes_keeps_the_newest_segments_that_fit_within_the_limit()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host);
        for (int i = 0; i < 4; i++) await SegmentAsync(log, 2, Now, $"s{i}");
        var sizes = log.SegmentsSnapshot().Select(s => s.Size).ToList();
        Assert.Single(sizes.Distinct());
        long size = sizes[0];

        await host.Logs.SetConfigsAsync(Topic, new Dictionary<string, string?> { [TopicConfig.RetentionBytes] = (2 * size).ToString(System.Globalization.CultureInfo.InvariantCulture) }, false, None);
        await host.Logs.EnforceRetentionAsync(None);

        Assert.Equal(4, log.LogStartOffset);
        Assert.Equal([4L, 6L], await host.SegmentBasesAsync(Topic));

        await host.Logs.SetConfigsAsync(Topic, new Dictionary<string, string?> { [TopicConfig.RetentionBytes] = (2 * size - 1).ToString(System.Globalization.CultureInfo.InvariantCulture) }, false, None);
        await host.Logs.EnforceRetentionAsync(None);

        Assert.Equal(6, log.LogStartOffset);
        Assert.Equal([6L], await host.SegmentBasesAsync(Topic));
        Assert.Equal(8, log.HighWatermark);
    }

    [Fact]
    public async Task Delete_records_moves_the_log_start_and_deletes_only_segments_wholly_below_it()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host);
        await SegmentAsync(log, 3, Now, "a");
        await SegmentAsync(log, 3, Now, "b");
        await SegmentAsync(log, 3, Now, "c");

        var (error, low) = await host.Logs.DeleteRecordsAsync(log, 4, None);

        Assert.Equal(0, error);
        Assert.Equal(4, low);
        Assert.Equal(4, log.LogStartOffset);
        Assert.Equal([3L, 6L], await host.SegmentBasesAsync(Topic));
        Assert.False(await host.ExistsAsync(host.IndexKey(Topic, 0, 0)));

        await host.RestartAsync();
        Assert.Equal(4, host.Log(Topic).LogStartOffset);
        Assert.Equal(9, host.Log(Topic).HighWatermark);
    }

    [Theory]
    [InlineData(10L)]
    [InlineData(-2L)]
    public async Task Delete_records_beyond_the_high_watermark_or_negative_is_OFFSET_OUT_OF_RANGE(long offset)
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host);
        await SegmentAsync(log, 9, Now);

        var (error, _) = await host.Logs.DeleteRecordsAsync(log, offset, None);

        Assert.Equal(ErrorCodes.OffsetOutOfRange, error);
        Assert.Equal(0, log.LogStartOffset);
        Assert.Equal([0L], await host.SegmentBasesAsync(Topic));
    }

    [Fact]
    public async Task Delete_records_to_minus_one_means_the_high_watermark()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host);
        await SegmentAsync(log, 2, Now, "a");
        await SegmentAsync(log, 3, Now, "b");

        var (error, low) = await host.Logs.DeleteRecordsAsync(log, -1, None);

        Assert.Equal(0, error);
        Assert.Equal(5, low);
        Assert.Equal(5, log.LogStartOffset);
        Assert.Empty(await host.SegmentBasesAsync(Topic));
        var next = log.AppendBlob(Batches.Make(1));
        Assert.Equal(5, next.BaseOffset);
        Assert.Equal(0, await next.DurableAsync());
    }

    [Fact]
    public async Task Delete_records_below_the_log_start_changes_nothing()
    {
        await using var host = await LogHost.StartAsync();
        var log = await TopicAsync(host);
        await SegmentAsync(log, 3, Now, "a");
        await SegmentAsync(log, 3, Now, "b");
        await host.Logs.DeleteRecordsAsync(log, 4, None);

        var (error, low) = await host.Logs.DeleteRecordsAsync(log, 1, None);

        Assert.Equal(0, error);
        Assert.Equal(4, low);
        Assert.Equal(4, log.LogStartOffset);
        Assert.Equal([3L], await host.SegmentBasesAsync(Topic));
    }
}
