using System.Diagnostics;
using System.Text;
using KafScale.Metadata.Embedded;
using Microsoft.Extensions.Time.Testing;

namespace KafScale.Metadata.Tests;

/// <summary>What only the embedded store does: persistence, recovery, the directory lock, its watch history.</summary>
public sealed class EmbeddedMetadataStoreTests : IDisposable
{
    private static readonly CancellationToken Ct = CancellationToken.None;
    private readonly TempDirectory _dir = new();

    private string MetadataDir => Path.Combine(_dir.Path, "metadata");

    private string LogPath => Path.Combine(MetadataDir, "wal");

    public void Dispose() => _dir.Dispose();

    private Task<EmbeddedMetadataStore> OpenAsync(EmbeddedMetadataStoreOptions? options = null) =>
        EmbeddedMetadataStore.OpenAsync(MetadataDir, options ?? new EmbeddedMetadataStoreOptions(), Ct);

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task A_fresh_store_is_at_revision_one_and_its_first_write_gets_two_as_in_etcd()
    {
        await using EmbeddedMetadataStore store = await OpenAsync();
        Assert.Equal("embedded", store.Kind);
        Assert.Equal(1, (await store.GetPrefixAsync("", Ct)).Revision);
        Assert.Equal(2, await store.PutAsync("/a", B("1"), 0, Ct));
    }

    [Fact]
    public async Task Reopening_keeps_every_key_with_its_versions_and_the_store_revision()
    {
        long revision;
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            await store.PutAsync("/a", B("1"), 0, Ct);
            await store.PutAsync("/a", B("2"), 0, Ct);
            await store.PutAsync("/b", B("3"), 0, Ct);
            await store.DeleteAsync("/b", Ct);
            revision = await store.PutAsync("/c", B("4"), 0, Ct);
        }
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            RangeResult all = await store.GetPrefixAsync("/", Ct);
            Assert.Equal(revision, all.Revision);
            Assert.Equal(["/a", "/c"], all.Kvs.Select(kv => kv.Key));
            KeyValue a = all.Kvs[0];
            Assert.Equal(("2", 2L, 2L, 3L), (Encoding.UTF8.GetString(a.Value), a.Version, a.CreateRevision, a.ModRevision));
            Assert.Equal(5, store.Recovery.RecordsReplayed);
            Assert.Equal(revision + 1, await store.PutAsync("/d", B("5"), 0, Ct));
        }
    }

    [Fact]
    public async Task Reopening_forgets_the_old_leases_and_deletes_their_keys_in_one_new_revision()
    {
        long revision;
        long lease;
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            lease = await store.GrantLeaseAsync(TimeSpan.FromMinutes(5), Ct);
            await store.PutAsync("/brokers/1", B("b1"), lease, Ct);
            await store.PutAsync("/leaders/t/0", B("1"), lease, Ct);
            revision = await store.PutAsync("/topics/t", B("cfg"), 0, Ct);
        }
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            Assert.Equal(2, store.Recovery.LeasedKeysDeleted);
            RangeResult all = await store.GetPrefixAsync("/", Ct);
            Assert.Equal(["/topics/t"], all.Kvs.Select(kv => kv.Key));
            Assert.Equal(revision + 1, all.Revision);
            Assert.Null(await store.KeepAliveAsync(lease, Ct));
            await Assert.ThrowsAsync<LeaseNotFoundException>(() => store.PutAsync("/brokers/1", B("b1"), lease, Ct));

            await using WatchProbe watch = WatchProbe.Start(store, "/", revision + 1);
            WatchEvent first = await watch.NextAsync(), second = await watch.NextAsync();
            Assert.Equal([("/brokers/1", WatchEventType.Delete), ("/leaders/t/0", WatchEventType.Delete)],
                new[] { first, second }.Select(e => (e.Kv.Key, e.Type)));
        }
    }

    [Fact]
    public async Task Leases_expire_by_the_clock_the_options_give_and_keepalives_move_the_deadline_on()
    {
        var clock = new FakeTimeProvider();
        await using EmbeddedMetadataStore store = await OpenAsync(new EmbeddedMetadataStoreOptions { TimeProvider = clock });
        long lease = await store.GrantLeaseAsync(TimeSpan.FromMinutes(10), Ct);
        long put = await store.PutAsync("/brokers/1", B("b1"), lease, Ct);
        await using WatchProbe watch = WatchProbe.Start(store, "/brokers/", put + 1);

        clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal(TimeSpan.FromMinutes(10), await store.KeepAliveAsync(lease, Ct));
        clock.Advance(TimeSpan.FromMinutes(9));
        Assert.True(await watch.IsQuietForAsync(TimeSpan.FromMilliseconds(300)));
        Assert.NotNull(await store.GetAsync("/brokers/1", Ct));

        clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        WatchEvent deleted = await watch.NextAsync();
        Assert.Equal(("/brokers/1", WatchEventType.Delete), (deleted.Kv.Key, deleted.Type));
        Assert.Null(await store.KeepAliveAsync(lease, Ct));
    }

    [Fact]
    public async Task A_torn_last_record_is_dropped_and_everything_before_it_is_kept()
    {
        long kept;
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            await store.PutAsync("/a", B("1"), 0, Ct);
            kept = await store.PutAsync("/b", B("2"), 0, Ct);
            await store.PutAsync("/c", B("a value long enough to be torn in its middle"), 0, Ct);
        }
        long length = new FileInfo(LogPath).Length;
        using (var log = new FileStream(LogPath, FileMode.Open)) log.SetLength(length - 5);

        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            Assert.True(store.Recovery.TornBytesDropped > 0);
            RangeResult all = await store.GetPrefixAsync("/", Ct);
            Assert.Equal(["/a", "/b"], all.Kvs.Select(kv => kv.Key));
            Assert.Equal(kept, all.Revision);
            Assert.Equal(kept + 1, await store.PutAsync("/d", B("4"), 0, Ct));
        }
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            Assert.Equal(0, store.Recovery.TornBytesDropped);
            Assert.Equal(["/a", "/b", "/d"], (await store.GetPrefixAsync("/", Ct)).Kvs.Select(kv => kv.Key));
        }
    }

    [Fact]
    public async Task A_zero_filled_or_garbage_tail_is_dropped()
    {
        await using (EmbeddedMetadataStore store = await OpenAsync())
            await store.PutAsync("/a", B("1"), 0, Ct);
        using (var log = new FileStream(LogPath, FileMode.Append))
        {
            log.Write(new byte[4096]);
            log.Write(B("\x30\0\0\0garbage that is not a record"));
        }
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            Assert.True(store.Recovery.TornBytesDropped > 4096);
            Assert.NotNull(await store.GetAsync("/a", Ct));
        }
    }

    [Fact]
    public async Task A_log_torn_inside_its_header_starts_over_empty()
    {
        System.IO.Directory.CreateDirectory(MetadataDir);
        await File.WriteAllBytesAsync(LogPath, B("KSM"));
        await using EmbeddedMetadataStore store = await OpenAsync();
        Assert.Equal(3, store.Recovery.TornBytesDropped);
        Assert.Equal(2, await store.PutAsync("/a", B("1"), 0, Ct));
    }

    [Fact]
    public async Task A_file_that_is_not_a_metadata_log_is_refused_rather_than_overwritten()
    {
        System.IO.Directory.CreateDirectory(MetadataDir);
        await File.WriteAllTextAsync(LogPath, "this is somebody else's file");
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => OpenAsync());
        Assert.Contains("not a kafscale metadata log", error.Message);
        Assert.Equal("this is somebody else's file", await File.ReadAllTextAsync(LogPath));
        // The failed open released the directory: trying again fails the same way, not with "locked".
        await Assert.ThrowsAsync<InvalidDataException>(() => OpenAsync());
    }

    [Fact]
    public async Task The_log_is_compacted_into_a_snapshot_and_reopening_restores_the_same_state()
    {
        var options = new EmbeddedMetadataStoreOptions { CompactionThresholdBytes = 4096 };
        var expected = new Dictionary<string, (string Value, long Version)>();
        long revision = 0;
        await using (EmbeddedMetadataStore store = await OpenAsync(options))
        {
            for (int i = 0; i < 300; i++)
            {
                string key = $"/offsets/g/t/{i % 37}";
                revision = await store.PutAsync(key, B($"offset-{i}"), 0, Ct);
                expected[key] = ($"offset-{i}", (expected.TryGetValue(key, out var old) ? old.Version : 0) + 1);
            }
            await store.DeleteAsync("/offsets/g/t/0", Ct);
            expected.Remove("/offsets/g/t/0");
            revision++;
            Assert.True(store.Compactions > 0);
        }
        Assert.True(File.Exists(Path.Combine(MetadataDir, "snapshot")));
        Assert.True(new FileInfo(LogPath).Length < 4096 + 1024);

        await using (EmbeddedMetadataStore store = await OpenAsync(options))
        {
            Assert.True(store.Recovery.SnapshotRevision > 1);
            RangeResult all = await store.GetPrefixAsync("/offsets/", Ct);
            Assert.Equal(revision, all.Revision);
            Assert.Equal(expected.Count, all.Kvs.Count);
            foreach (KeyValue kv in all.Kvs)
                Assert.Equal(expected[kv.Key], (Encoding.UTF8.GetString(kv.Value), kv.Version));
            await Assert.ThrowsAsync<CompactedRevisionException>(async () =>
            {
                await foreach (WatchEvent _ in store.WatchAsync("/", 2, Ct)) { }
            });
        }
    }

    [Fact]
    public async Task A_second_open_of_the_same_directory_in_this_process_fails_naming_the_directory()
    {
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            var error = await Assert.ThrowsAsync<MetadataStoreLockedException>(() => OpenAsync());
            Assert.Contains(MetadataDir, error.Message);
            Assert.Contains("another kafscale process", error.Message);
            await store.PutAsync("/still/works", B("1"), 0, Ct);
        }
        await using EmbeddedMetadataStore reopened = await OpenAsync();
        Assert.NotNull(await reopened.GetAsync("/still/works", Ct));
    }

    [Fact]
    public async Task An_open_fails_while_another_process_holds_the_lock()
    {
        System.IO.Directory.CreateDirectory(MetadataDir);
        string lockPath = Path.Combine(MetadataDir, "LOCK");
        using var holder = Process.Start(new ProcessStartInfo("flock", ["--exclusive", lockPath, "sh", "-c", "echo locked; sleep 60"])
        {
            RedirectStandardOutput = true,
        })!;
        try
        {
            Assert.Equal("locked", await holder.StandardOutput.ReadLineAsync());
            var error = await Assert.ThrowsAsync<MetadataStoreLockedException>(() => OpenAsync());
            Assert.Contains(MetadataDir, error.Message);
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            await holder.WaitForExitAsync();
        }
        // The kernel drops the lock once the holder's processes are gone (their teardown may take a moment).
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await using EmbeddedMetadataStore store = await OpenAsync();
                return;
            }
            catch (MetadataStoreLockedException) when (attempt < 100)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task Watch_from_a_revision_older_than_the_history_fails_with_CompactedRevision()
    {
        await using EmbeddedMetadataStore store = await OpenAsync(new EmbeddedMetadataStoreOptions { WatchHistoryEvents = 4 });
        for (int i = 0; i < 10; i++) await store.PutAsync($"/k/{i}", B("v"), 0, Ct);
        var error = await Assert.ThrowsAsync<CompactedRevisionException>(async () =>
        {
            await foreach (WatchEvent _ in store.WatchAsync("/k/", 3, Ct)) { }
        });
        Assert.Equal(3, error.RequestedRevision);
        Assert.Equal(7, error.CompactedRevision);

        await using WatchProbe watch = WatchProbe.Start(store, "/k/", 8);
        Assert.Equal(["/k/6", "/k/7", "/k/8", "/k/9"],
            new[] { await watch.NextAsync(), await watch.NextAsync(), await watch.NextAsync(), await watch.NextAsync() }.Select(e => e.Kv.Key));
    }

    [Fact]
    public async Task A_watcher_that_falls_a_whole_history_behind_gets_CompactedRevision_and_never_holds_up_writers()
    {
        await using EmbeddedMetadataStore store = await OpenAsync(new EmbeddedMetadataStoreOptions { WatchHistoryEvents = 16 });
        await using IAsyncEnumerator<WatchEvent> slow = store.WatchAsync("/", 0, Ct).GetAsyncEnumerator();
        ValueTask<bool> first = slow.MoveNextAsync();
        await store.PutAsync("/first", B("x"), 0, Ct);
        Assert.True(await first);

        Task writers = Task.WhenAll(Enumerable.Range(0, 100).Select(i => store.PutAsync($"/k/{i}", B("v"), 0, Ct)));
        Assert.Same(writers, await Task.WhenAny(writers, Task.Delay(TimeSpan.FromSeconds(10))));

        await Assert.ThrowsAsync<CompactedRevisionException>(async () =>
        {
            while (await slow.MoveNextAsync()) { }
        });
    }

    [Fact]
    public async Task A_watch_resumes_after_a_restart_from_a_revision_still_in_the_log()
    {
        long from;
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            await store.PutAsync("/a", B("1"), 0, Ct);
            from = await store.PutAsync("/b", B("2"), 0, Ct);
            await store.PutAsync("/c", B("3"), 0, Ct);
        }
        await using (EmbeddedMetadataStore store = await OpenAsync())
        {
            await using WatchProbe watch = WatchProbe.Start(store, "/", from);
            Assert.Equal("/b", (await watch.NextAsync()).Kv.Key);
            Assert.Equal("/c", (await watch.NextAsync()).Kv.Key);
            await store.PutAsync("/d", B("4"), 0, Ct);
            Assert.Equal("/d", (await watch.NextAsync()).Kv.Key);
        }
    }

    [Fact]
    public async Task Concurrent_writers_share_fsyncs()
    {
        await using EmbeddedMetadataStore store = await OpenAsync();
        long before = store.Flushes;
        const int writers = 1000;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(i => Task.Run(() => store.PutAsync($"/offsets/g/t/{i}", B("{\"offset\":1}"), 0, Ct))));
        long flushes = store.Flushes - before;
        Assert.True(flushes < writers / 2, $"{writers} concurrent puts took {flushes} fsyncs");
    }

    [Fact]
    public async Task The_store_keeps_its_own_copy_of_a_value()
    {
        await using EmbeddedMetadataStore store = await OpenAsync();
        byte[] buffer = B("original");
        await store.PutAsync("/a", buffer, 0, Ct);
        buffer[0] = (byte)'X';
        Assert.Equal("original", Encoding.UTF8.GetString((await store.GetAsync("/a", Ct))!.Value));
    }

    [Fact]
    public async Task Disposing_ends_watches_and_later_calls_with_ObjectDisposed()
    {
        EmbeddedMetadataStore store = await OpenAsync();
        IAsyncEnumerator<WatchEvent> watch = store.WatchAsync("/", 0, Ct).GetAsyncEnumerator();
        ValueTask<bool> next = watch.MoveNextAsync();
        await store.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await next);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.GetAsync("/a", Ct));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => store.PutAsync("/a", B("1"), 0, Ct));
        await store.DisposeAsync();
    }

    [Fact]
    public async Task Keys_that_cannot_be_stored_as_utf8_are_rejected()
    {
        await using EmbeddedMetadataStore store = await OpenAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => store.PutAsync("/bad\uD800", B("1"), 0, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => store.PutAsync("", B("1"), 0, Ct));
    }
}
