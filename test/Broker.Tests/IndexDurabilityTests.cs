using KafScale.Storage;

namespace KafScale.Broker.Tests;

/// <summary>
/// The .index is written without fsync (it can be rebuilt from its .kfs), so after a crash it
/// may be missing, empty or cut short; a restart must repair it and keep the segment.
/// </summary>
public class IndexDurabilityTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(20)]
    public async Task An_index_left_empty_or_cut_short_by_a_crash_is_rebuilt_and_the_segment_kept(int keepBytes)
    {
        await using var host = await LogHost.StartAsync();
        var log = (await host.CreateTopicAsync("idx"))[0];
        Assert.Equal(0, await log.AppendBlob(Batches.Make(150)).DurableAsync());
        await host.SealedAsync();
        string indexKey = host.IndexKey("idx", 0, 0);
        var original = await host.Store.Inner.GetAsync(indexKey, CancellationToken.None);
        Assert.NotNull(original);
        string path = Path.Combine(host.Store.Inner.RootDirectory, indexKey);
        File.WriteAllBytes(path, original![..keepBytes]);

        await host.RestartAsync();

        Assert.Equal(150, host.Log("idx").HighWatermark);
        var rebuilt = await host.Store.Inner.GetAsync(indexKey, CancellationToken.None);
        Assert.Equal(original, rebuilt);
    }

    [Fact]
    public async Task The_directory_store_writes_a_rebuildable_object_atomically()
    {
        string root = Path.Combine(Path.GetTempPath(), "kafscale-idx-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = new LocalDirectoryObjectStore(root);
            await ((IObjectStore)store).PutRebuildableAsync("a/b.index", new byte[] { 1, 2, 3 }, CancellationToken.None);
            Assert.Equal(new byte[] { 1, 2, 3 }, await store.GetAsync("a/b.index", CancellationToken.None));
            Assert.Equal(["a/b.index"], (await store.ListAsync("a/", CancellationToken.None).ToListAsync()).Select(o => o.Key));
        }
        finally { Directory.Delete(root, recursive: true); }
    }
}
