using System.Text;
using KafScale.Metadata;
using KafScale.Metadata.Embedded;

namespace KafScale.Snapshot.Tests;

/// <summary>The snapshot library in-process: format, durations, prune selection, the embedded reader.</summary>
public sealed class SnapshotLibraryTests
{
    [Theory]
    [InlineData("30s", 30)]
    [InlineData("15m", 900)]
    [InlineData("6h", 21600)]
    [InlineData("7d", 604800)]
    [InlineData("2w", 1209600)]
    [InlineData("1h30m", 5400)]
    public void DurationsParse(string text, int seconds)
    {
        Assert.True(Durations.TryParse(text, out TimeSpan d));
        Assert.Equal(TimeSpan.FromSeconds(seconds), d);
    }

    [Theory]
    [InlineData("")]
    [InlineData("7")]
    [InlineData("d")]
    [InlineData("7 days")]
    [InlineData("-5m")]
    [InlineData("1.5h")]
    public void BadDurationsAreRejected(string text) => Assert.False(Durations.TryParse(text, out _));

    [Fact]
    public void FormatRoundTripsAndDetectsACutFile()
    {
        var kvs = new List<KeyValue>
        {
            new("/kafscale/b", [0, 255, 10], 5, 6, 2, 0),
            new("/kafscale/a", Encoding.UTF8.GetBytes("x\ny"), 3, 3, 1, 0),
            new("/kafscale/brokers/1", [1], 4, 4, 1, 77),
            new("/kafscale/metadata/snapshot", [2], 4, 4, 1, 0),
            new("/other/key", [3], 4, 4, 1, 0),
        };
        (List<KeyValue> kept, long leased, long derived) = SnapshotFormat.Select(kvs);
        Assert.Equal(["/kafscale/a", "/kafscale/b"], kept.Select(k => k.Key));
        Assert.Equal(1, leased);
        Assert.Equal(1, derived);
        var header = new SnapshotHeader("20260101T000000000Z", DateTimeOffset.UnixEpoch, "etcd", "x", 42, SnapshotFormat.Prefix, kept.Count, leased, derived, false);
        byte[] data = SnapshotFormat.Write(header, kept);
        SnapshotContent content = SnapshotFormat.Read(data);
        Assert.Equal(42, content.Header.Revision);
        Assert.Equal(kept.Select(k => k.Key), content.Entries.Select(e => e.Key));
        Assert.Equal(kept.Select(k => k.Value), content.Entries.Select(e => e.Value));

        int lastLine = Array.LastIndexOf(data, (byte)'\n', data.Length - 2) + 1;
        Assert.Throws<SnapshotFormatException>(() => SnapshotFormat.Read(data.AsSpan(0, lastLine)));
    }

    [Fact]
    public void PruneSelection()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var entries = Enumerable.Range(0, 5).Select(i =>
        {
            DateTimeOffset t = now.AddDays(-2 * i);
            string id = SnapshotRepository.NewId(t);
            return new SnapshotEntry(id, t, id, 1, true, null, null, null, null);
        }).OrderBy(e => e.Id).ToList();
        Assert.Equal(3, SnapshotRepository.SelectForPrune(entries, 2, null, now).Count);
        Assert.Equal(2, SnapshotRepository.SelectForPrune(entries, null, TimeSpan.FromDays(5), now).Count); // 6 and 8 days old
        Assert.Equal(2, SnapshotRepository.SelectForPrune(entries, 1, TimeSpan.FromDays(5), now).Count);
        Assert.Single(SnapshotRepository.SelectForPrune(entries, 4, TimeSpan.FromDays(5), now));
    }

    [Fact]
    public async Task RestoreWritesEveryKeyInBatchesAndMovesTheProducerIdBlockOn()
    {
        string dir = Cli.TempDir("snap-restore");
        try
        {
            var entries = Enumerable.Range(0, 250).Select(i => new KeyValuePair<string, byte[]>($"/kafscale/consumers/g/offsets/t/{i}", Encoding.UTF8.GetBytes($"{{\"offset\":{i}}}")))
                .Append(new KeyValuePair<string, byte[]>(MetadataRestore.ProducerIdsKey, Encoding.ASCII.GetBytes("5000")))
                .Append(new KeyValuePair<string, byte[]>("/kafscale/topics/t/partitions/0/leader_epoch", Encoding.ASCII.GetBytes("7")))
                .ToList();
            var header = new SnapshotHeader("20260101T000000000Z", DateTimeOffset.UnixEpoch, "embedded", "x", 9, SnapshotFormat.Prefix, entries.Count, 0, 0, false);
            var content = new SnapshotContent(header, entries);
            await using (EmbeddedMetadataStore store = await EmbeddedMetadataStore.OpenAsync(dir, CancellationToken.None))
            {
                RestoreResult result = await MetadataRestore.RestoreAsync(store, content, force: false, CancellationToken.None);
                Assert.Equal(252, result.KeysWritten);
                Assert.Equal(5000, result.ProducerIdsFrom);
                Assert.Equal(1, result.LeaderEpochsMoved);
                RangeResult all = await store.GetPrefixAsync("/kafscale/", CancellationToken.None);
                Assert.Equal(252, all.Kvs.Count);
                Assert.Equal("1007", Encoding.ASCII.GetString((await store.GetAsync("/kafscale/topics/t/partitions/0/leader_epoch", CancellationToken.None))!.Value));
                Assert.Equal("1005000", Encoding.ASCII.GetString((await store.GetAsync(MetadataRestore.ProducerIdsKey, CancellationToken.None))!.Value));
                Assert.Equal("{\"offset\":7}", Encoding.UTF8.GetString((await store.GetAsync("/kafscale/consumers/g/offsets/t/7", CancellationToken.None))!.Value));

                await Assert.ThrowsAsync<RestoreRefusedException>(() => MetadataRestore.RestoreAsync(store, content, force: false, CancellationToken.None));
                RestoreResult forced = await MetadataRestore.RestoreAsync(store, content, force: true, CancellationToken.None);
                Assert.Equal(252, forced.KeysReplaced);
            }
        }
        finally { Cli.TryDelete(dir); }
    }

    /// <summary>
    /// A writer keeps two keys equal in every transaction while the log compacts often; reads of
    /// the files without the lock (the store is open) always see them equal and never go back.
    /// </summary>
    [Fact]
    public async Task EmbeddedReaderSeesOneRevisionWhileTheStoreWritesAndCompacts()
    {
        string dir = Cli.TempDir("snap-reader");
        try
        {
            var options = new EmbeddedMetadataStoreOptions { CompactionThresholdBytes = 4096 };
            await using EmbeddedMetadataStore store = await EmbeddedMetadataStore.OpenAsync(dir, options, CancellationToken.None);
            using var stop = new CancellationTokenSource();
            Task writer = Task.Run(async () =>
            {
                for (int i = 1; !stop.IsCancellationRequested; i++)
                {
                    byte[] v = Encoding.ASCII.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(40, '0'));
                    await store.TxnAsync(new TxnRequest([], [TxnOp.Put("/kafscale/a", v), TxnOp.Put("/kafscale/b", v)], []), CancellationToken.None);
                }
            });
            long lastRevision = 0;
            int reads = 0;
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(3);
            while (DateTime.UtcNow < until || reads < 50)
            {
                EmbeddedImage image = await EmbeddedStoreReader.ReadAsync(dir, CancellationToken.None);
                Assert.True(image.WhileOpen);
                var map = image.Kvs.ToDictionary(k => k.Key, k => Encoding.ASCII.GetString(k.Value));
                if (map.Count > 0) Assert.Equal(map["/kafscale/a"], map["/kafscale/b"]);
                Assert.True(image.Revision >= lastRevision);
                lastRevision = image.Revision;
                reads++;
            }
            stop.Cancel();
            await writer;
            Assert.True(lastRevision > 10);
        }
        finally { Cli.TryDelete(dir); }
    }
}
