using System.Text;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Storage.S3.Tests;

/// <summary>The object-store contract against a real S3 server (s3rver).</summary>
public sealed class S3ObjectStoreTests(S3rverFixture fixture) : IClassFixture<S3rverFixture>, IAsyncLifetime
{
    private readonly string _prefix = $"t-{Guid.NewGuid():N}/";
    private S3ObjectStore _store = null!;

    public async Task InitializeAsync() =>
        _store = await S3ObjectStore.OpenAsync(fixture.Server.OptionsFor(S3rverFixture.Bucket), NullLogger.Instance, CancellationToken.None);

    public async Task DisposeAsync() => await _store.DisposeAsync();

    private static CancellationToken Ct => CancellationToken.None;

    private static byte[] Bytes(int length, int seed = 1)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public void The_store_calls_itself_s3()
    {
        Assert.Equal("s3", _store.Kind);
        Assert.Equal(S3rverFixture.Bucket, _store.Bucket);
    }

    [Fact]
    public async Task Put_then_get_returns_the_same_bytes()
    {
        byte[] data = Bytes(10_000);
        await _store.PutAsync(_prefix + "a/segment.kfs", data, Ct);
        Assert.Equal(data, await _store.GetAsync(_prefix + "a/segment.kfs", Ct));
    }

    [Fact]
    public async Task Put_of_a_slice_writes_only_the_slice()
    {
        byte[] data = Bytes(100);
        await _store.PutAsync(_prefix + "slice", data.AsMemory(10, 20), Ct);
        Assert.Equal(data[10..30], await _store.GetAsync(_prefix + "slice", Ct));
    }

    [Fact]
    public async Task An_empty_object_round_trips()
    {
        await _store.PutAsync(_prefix + "empty", ReadOnlyMemory<byte>.Empty, Ct);
        Assert.Equal(Array.Empty<byte>(), await _store.GetAsync(_prefix + "empty", Ct));
        Assert.Equal(0, await _store.GetSizeAsync(_prefix + "empty", Ct));
        Assert.Equal(0, await _store.ReadRangeAsync(_prefix + "empty", 0, new byte[8], Ct));
    }

    [Fact]
    public async Task Put_replaces_an_existing_object()
    {
        await _store.PutAsync(_prefix + "k", "first"u8.ToArray(), Ct);
        await _store.PutAsync(_prefix + "k", "second"u8.ToArray(), Ct);
        Assert.Equal("second", Encoding.UTF8.GetString((await _store.GetAsync(_prefix + "k", Ct))!));
    }

    [Fact]
    public async Task Get_of_a_missing_key_returns_null()
    {
        Assert.Null(await _store.GetAsync(_prefix + "missing", Ct));
    }

    [Fact]
    public async Task ReadRange_returns_the_requested_slice()
    {
        byte[] data = Bytes(4096);
        await _store.PutAsync(_prefix + "r", data, Ct);
        var buffer = new byte[100];
        Assert.Equal(100, await _store.ReadRangeAsync(_prefix + "r", 1000, buffer, Ct));
        Assert.Equal(data[1000..1100], buffer);
    }

    [Fact]
    public async Task ReadRange_that_runs_past_the_end_returns_only_the_bytes_that_exist()
    {
        byte[] data = Bytes(500);
        await _store.PutAsync(_prefix + "r", data, Ct);
        var buffer = new byte[200];
        Assert.Equal(100, await _store.ReadRangeAsync(_prefix + "r", 400, buffer, Ct));
        Assert.Equal(data[400..], buffer[..100]);
    }

    [Theory]
    [InlineData(500)]
    [InlineData(501)]
    [InlineData(10_000)]
    public async Task ReadRange_at_or_after_the_end_returns_zero_bytes(long offset)
    {
        await _store.PutAsync(_prefix + "r", Bytes(500), Ct);
        Assert.Equal(0, await _store.ReadRangeAsync(_prefix + "r", offset, new byte[10], Ct));
    }

    [Fact]
    public async Task ReadRange_of_a_missing_key_throws_ObjectNotFoundException()
    {
        var e = await Assert.ThrowsAsync<ObjectNotFoundException>(() => _store.ReadRangeAsync(_prefix + "missing", 0, new byte[10], Ct));
        Assert.Equal(_prefix + "missing", e.Key);
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => _store.ReadRangeAsync(_prefix + "missing", 0, Memory<byte>.Empty, Ct));
    }

    [Fact]
    public async Task GetSize_returns_the_length_or_null_when_missing()
    {
        await _store.PutAsync(_prefix + "s", Bytes(1234), Ct);
        Assert.Equal(1234, await _store.GetSizeAsync(_prefix + "s", Ct));
        Assert.Null(await _store.GetSizeAsync(_prefix + "missing", Ct));
    }

    [Fact]
    public async Task List_returns_the_keys_under_the_prefix_in_ascending_order_with_sizes()
    {
        string[] keys = ["orders/0/segment-00000000000000000200.kfs", "orders/0/segment-00000000000000000000.kfs", "orders/0/segment-00000000000000000100.kfs", "orders/0/segment-00000000000000000000.index"];
        for (int i = 0; i < keys.Length; i++)
            await _store.PutAsync(_prefix + keys[i], Bytes(10 + i), Ct);
        await _store.PutAsync(_prefix + "orders/1/segment-00000000000000000000.kfs", Bytes(1), Ct);
        await _store.PutAsync(_prefix + "ordersX", Bytes(1), Ct);

        List<ObjectInfo> listed = await ToListAsync(_store.ListAsync(_prefix + "orders/0/", Ct));

        Assert.Equal(keys.Select(k => _prefix + k).Order(StringComparer.Ordinal), listed.Select(o => o.Key));
        for (int i = 0; i < keys.Length; i++)
            Assert.Equal(10 + i, listed.Single(o => o.Key == _prefix + keys[i]).Size);
        Assert.Empty(await ToListAsync(_store.ListAsync(_prefix + "nothing/", Ct)));
    }

    [Fact]
    public async Task List_pages_through_more_objects_than_one_page()
    {
        await using S3ObjectStore smallPages = await S3ObjectStore.OpenAsync(
            fixture.Server.OptionsFor(S3rverFixture.Bucket) with { ListMaxKeys = 3 }, NullLogger.Instance, Ct);
        var expected = new List<string>();
        foreach (int i in Enumerable.Range(0, 11).Reverse())
        {
            string key = $"{_prefix}p/segment-{i * 10:D20}.kfs";
            expected.Add(key);
            await smallPages.PutAsync(key, Bytes(i + 1), Ct);
        }
        expected.Sort(StringComparer.Ordinal);

        List<ObjectInfo> listed = await ToListAsync(smallPages.ListAsync(_prefix + "p/", Ct));

        Assert.Equal(expected, listed.Select(o => o.Key));
        Assert.Equal(Enumerable.Range(1, 11).Select(i => (long)i), listed.Select(o => o.Size));
    }

    [Fact]
    public async Task Delete_removes_the_object_and_deleting_a_missing_key_is_not_an_error()
    {
        await _store.PutAsync(_prefix + "d", Bytes(10), Ct);
        await _store.DeleteAsync(_prefix + "d", Ct);
        Assert.Null(await _store.GetAsync(_prefix + "d", Ct));
        Assert.Null(await _store.GetSizeAsync(_prefix + "d", Ct));
        await _store.DeleteAsync(_prefix + "d", Ct);
        await _store.DeleteAsync(_prefix + "never-existed", Ct);
    }

    [Fact]
    public async Task Put_above_the_multipart_threshold_uploads_in_parts_and_reads_back_whole()
    {
        var logger = new ListLogger();
        await using S3ObjectStore store = await S3ObjectStore.OpenAsync(
            fixture.Server.OptionsFor(S3rverFixture.Bucket) with { MultipartThresholdBytes = 64 * 1024, PartSizeBytes = 40 * 1024, MultipartConcurrency = 2 },
            logger, Ct);
        byte[] data = Bytes(150 * 1024 + 7, seed: 42);

        await store.PutAsync(_prefix + "big.kfs", data, Ct);

        Assert.Equal(data, await store.GetAsync(_prefix + "big.kfs", Ct));
        Assert.Equal(data.Length, await store.GetSizeAsync(_prefix + "big.kfs", Ct));
        var across = new byte[1000];
        Assert.Equal(1000, await store.ReadRangeAsync(_prefix + "big.kfs", 40 * 1024 - 500, across, Ct));
        Assert.Equal(data.AsSpan(40 * 1024 - 500, 1000).ToArray(), across);
        // The parts are not objects of their own.
        Assert.Equal([_prefix + "big.kfs"], (await ToListAsync(store.ListAsync(_prefix, Ct))).Select(o => o.Key));
    }

    [Fact]
    public async Task A_cancelled_request_throws_OperationCanceledException()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _store.PutAsync(_prefix + "c", Bytes(10), cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _store.GetAsync(_prefix + "c", cancelled.Token));
    }

    internal static async Task<List<T>> ToListAsync<T>(IAsyncEnumerable<T> items)
    {
        var list = new List<T>();
        await foreach (T item in items)
            list.Add(item);
        return list;
    }
}
