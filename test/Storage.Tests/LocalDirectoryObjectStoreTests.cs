using System.Text;
using KafScale.Common;

namespace KafScale.Storage.Tests;

public sealed class LocalDirectoryObjectStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kafscale-store-test-" + Guid.NewGuid().ToString("N"));
    private readonly LocalDirectoryObjectStore _store;
    private static CancellationToken Ct => CancellationToken.None;

    public LocalDirectoryObjectStoreTests()
    {
        _store = new LocalDirectoryObjectStore(_root);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);

    private async Task<List<ObjectInfo>> List(string prefix)
    {
        var result = new List<ObjectInfo>();
        await foreach (ObjectInfo o in _store.ListAsync(prefix, Ct))
            result.Add(o);
        return result;
    }

    [Fact]
    public async Task Put_then_get_returns_the_bytes_and_put_replaces()
    {
        await _store.PutAsync("default/t/0/a.kfs", Bytes("first"), Ct);
        Assert.Equal(Bytes("first"), await _store.GetAsync("default/t/0/a.kfs", Ct));
        await _store.PutAsync("default/t/0/a.kfs", Bytes("second!"), Ct);
        Assert.Equal(Bytes("second!"), await _store.GetAsync("default/t/0/a.kfs", Ct));
        Assert.Equal(7, await _store.GetSizeAsync("default/t/0/a.kfs", Ct));
        Assert.Equal("dir", _store.Kind);
        Assert.True(_store.SupportsConditionalCreate);
    }

    [Fact]
    public async Task Missing_objects_read_as_null_and_ranges_throw_not_found()
    {
        Assert.Null(await _store.GetAsync("default/none/0/x.kfs", Ct));
        Assert.Null(await _store.GetSizeAsync("default/none/0/x.kfs", Ct));
        var e = await Assert.ThrowsAsync<ObjectNotFoundException>(() => _store.ReadRangeAsync("default/none/0/x.kfs", 0, new byte[4], Ct));
        Assert.Equal("default/none/0/x.kfs", e.Key);
    }

    [Fact]
    public async Task Ranged_reads_return_the_requested_slice_and_stop_at_the_end()
    {
        byte[] data = Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray();
        await _store.PutAsync("k/range", data, Ct);
        byte[] buffer = new byte[100];
        Assert.Equal(100, await _store.ReadRangeAsync("k/range", 250, buffer, Ct));
        Assert.Equal(data.AsSpan(250, 100).ToArray(), buffer);
        Assert.Equal(50, await _store.ReadRangeAsync("k/range", 950, buffer, Ct));
        Assert.Equal(data.AsSpan(950, 50).ToArray(), buffer.AsSpan(0, 50).ToArray());
        Assert.Equal(0, await _store.ReadRangeAsync("k/range", 5000, buffer, Ct));
    }

    [Fact]
    public async Task Listing_is_recursive_in_ascending_key_order_and_honours_partial_prefixes()
    {
        string[] keys =
        [
            SegmentKeys.Segment("default", "orders", 0, 200), SegmentKeys.Segment("default", "orders", 0, 0),
            SegmentKeys.Index("default", "orders", 0, 0), SegmentKeys.Segment("default", "orders", 10, 5),
            SegmentKeys.Segment("default", "orders", 2, 5), SegmentKeys.Segment("default", "orders-x", 0, 0),
            "other/file",
        ];
        foreach (string k in keys)
            await _store.PutAsync(k, Bytes(k), Ct);

        List<ObjectInfo> all = await List("");
        Assert.Equal(keys.OrderBy(k => k, StringComparer.Ordinal), all.Select(o => o.Key));
        Assert.All(all, o => Assert.Equal(Encoding.UTF8.GetByteCount(o.Key), o.Size));

        Assert.Equal(
            [SegmentKeys.Index("default", "orders", 0, 0), SegmentKeys.Segment("default", "orders", 0, 0), SegmentKeys.Segment("default", "orders", 0, 200)],
            (await List(SegmentKeys.PartitionPrefix("default", "orders", 0))).Select(o => o.Key));
        Assert.Equal(5, (await List(SegmentKeys.TopicPrefix("default", "orders"))).Count);
        Assert.Equal(6, (await List("default/orders")).Count); // partial name: includes orders-x
        Assert.Equal(2, (await List("default/orders/0/segment-0000000000000000000")).Count);
        Assert.Empty(await List("nothing/here/"));
    }

    [Fact]
    public async Task Listing_after_a_key_returns_exactly_the_later_keys_of_the_prefix_across_directories()
    {
        // Keys in the root, in nested directories, sharing prefixes with each other and with the
        // StartAfter values below: the listing judges names without building keys, so every
        // boundary (inside a directory name, at a '/', inside a file name) is tried.
        string[] keys =
        [
            "ab", "a0", "a/bc", "a/b0", "a/b/c", "a/b/d0", "a-b/c", "b/a", "b/b/b", "bb",
            SegmentKeys.Segment("default", "orders", 0, 0), SegmentKeys.Segment("default", "orders", 0, 200),
            SegmentKeys.Segment("default", "orders-x", 1, 5),
        ];
        foreach (string k in keys)
            await _store.PutAsync(k, Bytes(k), Ct);
        string[] starts = [.. keys, "", "a", "a/", "a/b", "a/b/", "a/b/c0", "a/b/d", "b", "b/", "b/b", "c", "default/orders/0/", "default/orders/0/segment-00000000000000000100"];
        foreach (string prefix in new[] { "", "a", "a/", "a/b", "b/", "default/orders", "default/orders/0/" })
        {
            foreach (string after in starts)
            {
                var expected = keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && string.CompareOrdinal(k, after) > 0)
                    .Order(StringComparer.Ordinal).ToList();
                var listed = new List<ObjectInfo>();
                await foreach (ObjectInfo o in _store.ListAsync(prefix, after, Ct))
                    listed.Add(o);
                Assert.True(expected.SequenceEqual(listed.Select(o => o.Key)),
                    $"prefix '{prefix}' after '{after}': listed [{string.Join(", ", listed.Select(o => o.Key))}], expected [{string.Join(", ", expected)}]");
                Assert.All(listed, o => Assert.Equal(Encoding.UTF8.GetByteCount(o.Key), o.Size));
            }
        }
    }

    [Fact]
    public async Task Delete_removes_the_object_and_deleting_a_missing_one_is_fine()
    {
        await _store.PutAsync("a/b/c", Bytes("x"), Ct);
        await _store.DeleteAsync("a/b/c", Ct);
        Assert.Null(await _store.GetAsync("a/b/c", Ct));
        await _store.DeleteAsync("a/b/c", Ct);
        await _store.DeleteAsync("never/existed/at/all", Ct);
        Assert.Empty(await List("a/"));
    }

    [Fact]
    public async Task A_garbage_delete_removes_the_object_and_deleting_a_missing_one_is_fine()
    {
        IObjectStore store = _store;
        await store.PutAsync("w/1", Bytes("x"), Ct);
        await store.PutAsync("w/2", Bytes("y"), Ct);
        await store.DeleteGarbageAsync("w/1", Ct);
        await store.DeleteGarbageAsync("w/1", Ct);
        await store.DeleteGarbageAsync("never/existed", Ct);
        Assert.Null(await store.GetAsync("w/1", Ct));
        Assert.Equal(Bytes("y"), await store.GetAsync("w/2", Ct));
        Assert.Equal(["w/2"], (await List("w/")).Select(o => o.Key));
    }

    /// <summary>Sizes around the write-back piece: below, exactly, one byte over, several pieces and a tail.</summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(LocalDirectoryObjectStore.WriteBackPieceBytes - 1)]
    [InlineData(LocalDirectoryObjectStore.WriteBackPieceBytes)]
    [InlineData(LocalDirectoryObjectStore.WriteBackPieceBytes + 1)]
    [InlineData(3 * LocalDirectoryObjectStore.WriteBackPieceBytes + 12345)]
    public async Task Durable_writes_of_any_size_store_exactly_the_bytes(int size)
    {
        byte[] data = RandomBytes(size);
        await _store.PutAsync("big/put", data, Ct);
        Assert.True(await _store.CreateIfAbsentAsync("big/create", data, Ct));
        await _store.PutRebuildableAsync("big/rebuildable", data, Ct);
        foreach (string key in new[] { "big/put", "big/create", "big/rebuildable" })
            await AssertStoredAsync(key, data);
        Assert.DoesNotContain(Directory.EnumerateFiles(Path.Combine(_root, "big")), f => Path.GetFileName(f).StartsWith(".kstmp-", StringComparison.Ordinal));
    }

    /// <summary>
    /// Direct writes: sizes around the alignment and the piece, from parts cut at odd places, so
    /// padding, the cut to the true length and pieces that straddle parts all show in the bytes.
    /// </summary>
    [Theory]
    [InlineData(LocalDirectoryObjectStore.DirectMinBytes)]
    [InlineData(LocalDirectoryObjectStore.DirectMinBytes + LocalDirectoryObjectStore.DirectAlignment - 1)]
    [InlineData(LocalDirectoryObjectStore.DirectMinBytes + LocalDirectoryObjectStore.DirectAlignment)]
    [InlineData(LocalDirectoryObjectStore.DirectMinBytes + LocalDirectoryObjectStore.DirectAlignment + 1)]
    [InlineData(LocalDirectoryObjectStore.DirectPieceBytes - 1)]
    [InlineData(LocalDirectoryObjectStore.DirectPieceBytes)]
    [InlineData(LocalDirectoryObjectStore.DirectPieceBytes + 1)]
    [InlineData(2 * LocalDirectoryObjectStore.DirectPieceBytes + 12345)]
    public async Task Durable_writes_from_many_parts_store_exactly_their_bytes(int size)
    {
        byte[] data = RandomBytes(size);
        var parts = new List<ReadOnlyMemory<byte>>();
        for (int at = 0, cut = 1; at < size; cut = cut * 7 % 1_000_003 + 1)
        {
            int n = Math.Min(cut, size - at);
            parts.Add(data.AsMemory(at, n));
            at += n;
        }
        Assert.True(await _store.CreateIfAbsentAsync("parts/create", parts, Ct));
        await AssertStoredAsync("parts/create", data);
        Assert.Equal(size, new FileInfo(Path.Combine(_root, "parts", "create")).Length);
    }

    private static byte[] RandomBytes(int size)
    {
        var data = new byte[size];
        new Random(size).NextBytes(data);
        return data;
    }

    private async Task AssertStoredAsync(string key, byte[] data)
    {
        byte[]? read = await _store.GetAsync(key, Ct);
        Assert.NotNull(read);
        Assert.Equal(data.Length, read.Length);
        Assert.True(data.AsSpan().SequenceEqual(read), key);
    }

    /// <summary>
    /// Where the file system takes O_DIRECT (the disk file systems the broker runs on do; tmpfs
    /// does not), durable writes of at least <see cref="LocalDirectoryObjectStore.DirectMinBytes"/> use it.
    /// </summary>
    [Fact]
    public async Task Durable_writes_bypass_the_page_cache_where_the_file_system_allows_it()
    {
        string probe = Path.Combine(_root, "probe");
        bool supported;
        using (var handle = File.OpenHandle(probe, FileMode.CreateNew, FileAccess.Write))
            supported = Posix.TryEnableDirectIo(handle);
        File.Delete(probe);
        if (OperatingSystem.IsLinux() && FileSystemOf(_root) is "ext4" or "xfs" or "btrfs")
            Assert.True(supported, $"{FileSystemOf(_root)} refused O_DIRECT");

        long before = LocalDirectoryObjectStore.DirectWrites;
        var data = new byte[LocalDirectoryObjectStore.DirectMinBytes + 1];
        new Random(5).NextBytes(data);
        await _store.PutAsync("direct/put", data, Ct);
        Assert.Equal(supported, LocalDirectoryObjectStore.DirectWrites > before);
        Assert.Equal(data, await _store.GetAsync("direct/put", Ct));
    }

    /// <summary>The type of the file system mounted deepest above <paramref name="path"/>.</summary>
    private static string FileSystemOf(string path)
    {
        string best = "", format = "";
        foreach (var d in DriveInfo.GetDrives())
        {
            string root = d.RootDirectory.FullName;
            if (path.StartsWith(root, StringComparison.Ordinal) && root.Length > best.Length)
            {
                best = root;
                format = d.DriveFormat;
            }
        }
        return format;
    }

    [Fact]
    public async Task Create_if_absent_refuses_an_existing_key()
    {
        Assert.True(await _store.CreateIfAbsentAsync("c/key", Bytes("one"), Ct));
        Assert.False(await _store.CreateIfAbsentAsync("c/key", Bytes("two"), Ct));
        Assert.Equal(Bytes("one"), await _store.GetAsync("c/key", Ct));
    }

    [Fact]
    public async Task Of_many_concurrent_creators_exactly_one_wins_and_its_content_is_stored()
    {
        for (int round = 0; round < 5; round++)
        {
            string key = $"race/{round}/segment";
            using var start = new ManualResetEventSlim(false);
            Task<(int Writer, bool Won)>[] writers = Enumerable.Range(0, 24).Select(w => Task.Run(async () =>
            {
                start.Wait();
                byte[] content = Enumerable.Repeat((byte)w, 64 * 1024 + w).ToArray();
                return (w, await _store.CreateIfAbsentAsync(key, content, Ct));
            })).ToArray();
            start.Set();
            var results = await Task.WhenAll(writers);

            var winner = Assert.Single(results, r => r.Won);
            byte[]? stored = await _store.GetAsync(key, Ct);
            Assert.Equal(Enumerable.Repeat((byte)winner.Writer, 64 * 1024 + winner.Writer).ToArray(), stored);
        }
        Assert.Empty(Directory.EnumerateFiles(_root, TempFilePattern, SearchOption.AllDirectories));
        Assert.All(await List(""), o => Assert.StartsWith("race/", o.Key));
    }

    private const string TempFilePattern = ".kstmp-*";

    [Fact]
    public async Task Temp_files_are_never_listed_and_stale_ones_are_cleaned()
    {
        await _store.PutAsync("t/0/real", Bytes("r"), Ct);
        string dir = Path.Combine(_root, "t", "0");
        string fresh = Path.Combine(dir, ".kstmp-fresh");
        string stale = Path.Combine(dir, ".kstmp-stale");
        File.WriteAllText(fresh, "partial");
        File.WriteAllText(stale, "partial");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-2));

        Assert.Equal(["t/0/real"], (await List("")).Select(o => o.Key));

        await using var reopened = new LocalDirectoryObjectStore(_root); // cleans on open
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
        Assert.Equal(1, reopened.RemoveStaleTempFiles(TimeSpan.Zero));
        Assert.False(File.Exists(fresh));
    }

    [Theory]
    [InlineData("/abs/key")]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    [InlineData("a/./b")]
    [InlineData("a//b")]
    [InlineData("a/b/")]
    [InlineData("a\\b")]
    [InlineData("a/.kstmp-x")]
    [InlineData("")]
    public async Task Unsafe_keys_are_rejected(string key)
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(() => _store.PutAsync(key, Bytes("x"), Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => _store.GetAsync(key, Ct));
    }

    [Fact]
    public async Task Listing_rejects_a_prefix_that_climbs_out_of_the_root()
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await List("../"));
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await List("a/../b"));
    }
}
