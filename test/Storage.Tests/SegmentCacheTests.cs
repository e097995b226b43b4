namespace KafScale.Storage.Tests;

public class SegmentCacheTests
{
    private static ReadOnlyMemory<byte> Seg(int size, byte fill = 0) => Enumerable.Repeat(fill, size).ToArray();

    [Fact]
    public void Least_recently_used_segments_are_evicted_when_bytes_exceed_the_capacity()
    {
        var cache = new SegmentCache(1000);
        Assert.True(cache.Add("t", 0, 0, Seg(400)));
        Assert.True(cache.Add("t", 0, 10, Seg(400)));
        Assert.True(cache.TryGet("t", 0, 0, out _)); // 0 is now more recent than 10
        Assert.True(cache.Add("t", 0, 20, Seg(400)));

        Assert.False(cache.TryGet("t", 0, 10, out _));
        Assert.True(cache.TryGet("t", 0, 0, out _));
        Assert.True(cache.TryGet("t", 0, 20, out _));
        Assert.Equal(800, cache.CurrentBytes);
        Assert.Equal(2, cache.Count);
        Assert.Equal(1, cache.Evictions);
    }

    [Fact]
    public void One_large_add_evicts_as_many_as_needed()
    {
        var cache = new SegmentCache(1000);
        for (int i = 0; i < 10; i++)
            cache.Add("t", 0, i, Seg(100));
        Assert.Equal(1000, cache.CurrentBytes);
        cache.Add("t", 1, 0, Seg(750));
        Assert.Equal(3, cache.Count);
        Assert.Equal(950, cache.CurrentBytes);
        Assert.True(cache.TryGet("t", 0, 8, out _));
        Assert.True(cache.TryGet("t", 0, 9, out _));
        Assert.False(cache.TryGet("t", 0, 7, out _));
    }

    [Fact]
    public void A_segment_larger_than_the_cache_is_not_cached()
    {
        var cache = new SegmentCache(100);
        cache.Add("t", 0, 0, Seg(50));
        Assert.False(cache.Add("t", 0, 1, Seg(101)));
        Assert.True(cache.TryGet("t", 0, 0, out _));
        Assert.Equal(50, cache.CurrentBytes);
    }

    [Fact]
    public void Hits_and_misses_are_counted_and_the_stored_bytes_come_back()
    {
        var cache = new SegmentCache(1 << 20);
        cache.Add("t", 3, 42, Seg(10, 7));
        Assert.True(cache.TryGet("t", 3, 42, out ReadOnlyMemory<byte> m));
        Assert.Equal(Seg(10, 7).ToArray(), m.ToArray());
        Assert.False(cache.TryGet("t", 3, 43, out _));
        Assert.False(cache.TryGet("u", 3, 42, out _));
        Assert.Equal(1, cache.Hits);
        Assert.Equal(2, cache.Misses);
    }

    [Fact]
    public void Replacing_an_entry_updates_the_byte_count()
    {
        var cache = new SegmentCache(1000);
        cache.Add("t", 0, 0, Seg(300));
        cache.Add("t", 0, 0, Seg(100));
        Assert.Equal(100, cache.CurrentBytes);
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void Partitions_and_topics_can_be_dropped()
    {
        var cache = new SegmentCache(1 << 20);
        cache.Add("a", 0, 0, Seg(10));
        cache.Add("a", 0, 5, Seg(10));
        cache.Add("a", 1, 0, Seg(10));
        cache.Add("b", 0, 0, Seg(10));
        Assert.Equal(2, cache.RemovePartition("a", 0));
        Assert.Equal(2, cache.Count);
        Assert.Equal(1, cache.RemoveTopic("a"));
        Assert.True(cache.TryGet("b", 0, 0, out _));
        Assert.Equal(10, cache.CurrentBytes);
    }

    [Fact]
    public async Task Concurrent_use_keeps_the_byte_bound()
    {
        var cache = new SegmentCache(10_000);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 2000; i++)
            {
                cache.Add("t", t, i, Seg(100 + i % 50));
                cache.TryGet("t", t, i - 3, out _);
                Assert.True(cache.CurrentBytes <= 10_000);
            }
        })));
        Assert.True(cache.CurrentBytes <= 10_000);
        Assert.Equal(2000 * 8, cache.Hits + cache.Misses);
    }
}
