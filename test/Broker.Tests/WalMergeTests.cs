using KafScale.Broker.Log;
using KafScale.Records;
using KafScale.Storage;
using KafScale.Storage.Wal;

namespace KafScale.Broker.Tests;

/// <summary>
/// docs/decisions.md, "Merging small WAL objects on S3": a broker rewrites runs of its small WAL
/// objects into one from memory and deletes them, so a takeover reads one object where it read
/// one per flush; nothing acknowledged is ever out of the store meanwhile, and an open that finds
/// a listed object gone lists again instead of ending the chain there.
/// </summary>
public class WalMergeTests
{
    private const string Topic = "orders";
    private const int Run = 8;

    private static bool IsWal(string key) => key.Contains("/!wal/", StringComparison.Ordinal);

    private static async Task<List<ObjectInfo>> WalObjectsAsync(LogHost host)
    {
        var list = new List<ObjectInfo>();
        await foreach (var o in host.Store.Inner.ListAsync(WalKeys.Prefix(host.Namespace), CancellationToken.None)) list.Add(o);
        return list;
    }

    /// <summary>What an open of the partition would adopt from the WAL alone (no sealed segments here).</summary>
    private static async Task<List<byte[]>> RecoveredBatchesAsync(LogHost host, int partition)
    {
        Assert.True(host.Logs.TryGetTopic(Topic, out var topic));
        var refs = await host.Storage.RecoverWalAsync(topic.Id, Topic, partition, 0, -1, null, CancellationToken.None);
        return [.. refs.SelectMany(r => Batches.Split(r.UnsealedBody.Span))];
    }

    [Fact]
    public async Task Runs_of_small_WAL_objects_are_merged_and_the_store_still_holds_every_acknowledged_batch()
    {
        await using var host = await LogHost.StartAsync(c => { c.SegmentMs = 600_000; c.WalMergeObjects = Run; });
        var logs = await host.CreateTopicAsync(Topic, 3);
        var appended = new List<byte[]>[3];
        for (int p = 0; p < 3; p++) appended[p] = [];
        // One WAL object per append (one upload at a time, each awaited).
        for (int i = 0; i < 5 * Run; i++)
        {
            int p = i % 3;
            byte[] blob = Batches.Make(1 + i % 4, $"r{i}");
            Assert.Equal(0, await logs[p].AppendBlob(blob).DurableAsync());
            appended[p].Add(blob);
        }
        await TestExtensions.UntilAsync(() => host.Runtime.Metrics.WalObjectsMerged.Value >= 3 * Run, "three merges");

        var objects = await WalObjectsAsync(host);
        Assert.True(objects.Count <= 5 * Run - 3 * (Run - 1), $"{objects.Count} WAL objects left of {5 * Run} written");
        Assert.Equal(objects.Count, host.Runtime.Wal!.Outstanding);
        for (int p = 0; p < 3; p++)
        {
            // The offsets each append got, then the batches as an open would adopt them.
            var recovered = await RecoveredBatchesAsync(host, p);
            Assert.Equal(appended[p].Sum(Batches.Records), recovered.Sum(b => new RecordBatchHeader(b).RecordCount));
            Assert.Equal(logs[p].HighWatermark, new RecordBatchHeader(recovered[^1]).LastOffset + 1);
            Assert.Equal(appended[p].Select(Convert.ToHexString), recovered.Select(b => Convert.ToHexString(Batches.AsProduced(b))));
        }
    }

    [Fact]
    public async Task Sealing_after_a_merge_deletes_the_merged_objects_too()
    {
        await using var host = await LogHost.StartAsync(c => { c.SegmentMs = 600_000; c.WalMergeObjects = Run; });
        var logs = await host.CreateTopicAsync(Topic, 2);
        for (int i = 0; i < 3 * Run; i++) Assert.Equal(0, await logs[i % 2].AppendBlob(Batches.Make(2, $"s{i}")).DurableAsync());
        await TestExtensions.UntilAsync(() => host.Runtime.Metrics.WalObjectsMerged.Value >= Run, "a merge");

        foreach (var log in logs) log.MaybeSeal(host.Runtime.NowMs, force: true);

        await TestExtensions.UntilAsync(async () => (await WalObjectsAsync(host)).Count == 0, "every WAL object collected once all is sealed");
        Assert.Equal(0, host.Runtime.Wal!.Outstanding);
        for (int p = 0; p < 2; p++) Assert.Equal(3 * Run / 2 * 2, Batches.Records([.. (await host.AllStoredBatchesAsync(Topic, p)).SelectMany(b => b)]));
    }

    [Fact]
    public async Task Runs_that_do_not_fit_one_merged_object_are_left_alone()
    {
        await using var host = await LogHost.StartAsync(c => { c.SegmentMs = 600_000; c.SegmentBytes = 64 << 20; c.WalMergeObjects = 2; });
        var log = (await host.CreateTopicAsync(Topic))[0];
        for (int i = 0; i < 4; i++)
            Assert.Equal(0, await log.AppendBlob(Batches.Make(1, $"big{i}", valueBytes: (int)WalFlusher.MergeMaxBytes / 2 + 1)).DurableAsync());

        Assert.Equal(0, host.Runtime.Metrics.WalObjectsMerged.Value);
        Assert.Equal(4, (await WalObjectsAsync(host)).Count);
    }

    [Fact]
    public async Task An_open_that_finds_a_listed_WAL_object_deleted_lists_again_and_reads_the_object_that_replaced_it()
    {
        await using var host = await LogHost.StartAsync(c => c.SegmentMs = 600_000);
        _ = await host.CreateTopicAsync(Topic);
        Assert.True(host.Logs.TryGetTopic(Topic, out var topic));
        int broker = host.Runtime.Wal!.BrokerId;
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        byte[] first = Batches.Make(2, "first"), second = Batches.Make(3, "second");
        RecordBatch.PatchBaseOffset(first, 0);
        RecordBatch.PatchBaseOffset(second, 2);
        foreach (var batch in new[] { first, second }) RecordBatch.SetPartitionLeaderEpoch(batch, 4);

        async Task<string> PutAsync(long created, long sequence, params byte[][] batches)
        {
            var builder = new WalObjectBuilder(broker, created, sequence);
            builder.AddChunk(topic.Id, Topic, 0, 4, [.. batches.Select(b => (ReadOnlyMemory<byte>)b)]);
            string key = WalKeys.Key(host.Namespace, created, sequence, broker);
            await host.Store.Inner.PutAsync(key, builder.Build().Bytes, CancellationToken.None);
            return key;
        }
        // A crashed leader's two flushes; its merge of both lands (and they are deleted) just
        // as this open reads the first: the listing it holds shows neither the merge nor the loss.
        string a = await PutAsync(now, 1, first);
        string b = await PutAsync(now, 2, second);
        int merges = 0;
        host.Store.BeforeRead = async key =>
        {
            if (key != a || Interlocked.Exchange(ref merges, 1) != 0) return;
            await PutAsync(now + 1, 3, first, second);
            await host.Store.Inner.DeleteAsync(a, CancellationToken.None);
            await host.Store.Inner.DeleteAsync(b, CancellationToken.None);
        };

        var refs = await host.Storage.RecoverWalAsync(topic.Id, Topic, 0, 0, -1, null, CancellationToken.None);

        Assert.Equal(1, merges);
        Assert.Equal(5, refs.Sum(r => Batches.Split(r.UnsealedBody.Span).Sum(x => new RecordBatchHeader(x).RecordCount)));
        Assert.Equal(4, refs[^1].LastOffset);
    }
}
