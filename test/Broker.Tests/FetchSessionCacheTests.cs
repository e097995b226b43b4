using KafScale.Broker.Handlers;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace KafScale.Broker.Tests;

/// <summary>The fetch session cache and a session's partitions (docs/protocol.md, "Fetch sessions").</summary>
public sealed class FetchSessionCacheTests
{
    [Fact]
    public void Sessions_get_distinct_nonzero_ids_and_are_found_until_removed()
    {
        var cache = new FetchSessionCache(10, new FakeTimeProvider());
        var a = cache.TryCreate(3, usesTopicIds: true, privileged: false)!;
        var b = cache.TryCreate(3, usesTopicIds: false, privileged: false)!;
        Assert.NotEqual(0, a.Id);
        Assert.NotEqual(a.Id, b.Id);
        Assert.Same(a, cache.Get(a.Id));
        Assert.True(cache.Remove(a.Id));
        Assert.Null(cache.Get(a.Id));
        Assert.False(cache.Remove(a.Id));
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void A_full_cache_makes_no_session_until_one_is_stale_then_evicts_the_stalest()
    {
        var time = new FakeTimeProvider();
        var cache = new FetchSessionCache(2, time);
        var first = cache.TryCreate(1, true, false)!;
        time.Advance(TimeSpan.FromSeconds(1));
        var second = cache.TryCreate(1, true, false)!;
        Assert.Null(cache.TryCreate(1, true, false));

        time.Advance(TimeSpan.FromMilliseconds(FetchSessionCache.EvictionMs));
        Assert.NotNull(cache.Get(second.Id)); // used now: no longer stale
        var third = cache.TryCreate(1, true, false);
        Assert.NotNull(third);
        Assert.Null(cache.Get(first.Id));
        Assert.NotNull(cache.Get(second.Id));
    }

    [Fact]
    public void Without_stale_sessions_a_bigger_session_evicts_the_smallest_old_enough_one_and_never_a_followers_for_a_consumer()
    {
        var time = new FakeTimeProvider();
        var cache = new FetchSessionCache(3, time);
        var small = cache.TryCreate(0, true, false)!;
        Fill(small, 2);
        var big = cache.TryCreate(0, true, false)!;
        Fill(big, 50);
        var follower = cache.TryCreate(0, true, privileged: true)!;
        Fill(follower, 1);

        // Too young to be evicted.
        Assert.Null(cache.TryCreate(100, true, false));

        time.Advance(TimeSpan.FromMilliseconds(FetchSessionCache.EvictionMs + 1));
        foreach (var s in new[] { small, big, follower }) cache.Get(s.Id);
        // A one-partition consumer session is worth less than every old one.
        Assert.Null(cache.TryCreate(1, true, false));
        // Five partitions beat the two-partition consumer session, not the follower's.
        var five = cache.TryCreate(5, true, false);
        Assert.NotNull(five);
        Assert.Null(cache.Get(small.Id));
        Assert.NotNull(cache.Get(follower.Id));
    }

    [Fact]
    public void A_cache_of_size_zero_makes_no_sessions()
    {
        Assert.Null(new FetchSessionCache(0, new FakeTimeProvider()).TryCreate(1, true, false));
    }

    [Fact]
    public void A_session_adds_updates_and_forgets_partitions_keyed_by_id_or_by_name()
    {
        var byId = new FetchSession(1, usesTopicIds: true, privileged: false, 0);
        var t = Guid.NewGuid();
        var first = byId.Upsert("ignored-name", t, 0, 10, 1000);
        Assert.Same(first, byId.Upsert("another-name", t, 0, 20, 2000));
        Assert.Equal(1, byId.Count);
        Assert.Equal(20, byId[0].FetchOffset);
        Assert.Equal(2000, byId[0].MaxBytes);
        byId.Upsert(null, t, 1, 0, 1000);
        byId.Forget(null, Guid.NewGuid(), 0); // not held: nothing happens
        byId.Forget(null, t, 0);
        Assert.Equal(1, byId.Count);
        Assert.Equal(1, byId[0].Partition);

        var byName = new FetchSession(2, usesTopicIds: false, privileged: false, 0);
        byName.Upsert("a", Guid.Empty, 0, 1, 1);
        byName.Upsert("b", Guid.Empty, 0, 1, 1);
        byName.Forget("a", Guid.Empty, 0);
        Assert.Equal("b", Assert.Single(Partitions(byName)).TopicName);
    }

    [Fact]
    public void Partitions_that_returned_records_move_to_the_back_in_order()
    {
        var s = new FetchSession(1, false, false, 0);
        Fill(s, 5);
        s.RotateReturned([true, false, true, false, false]);
        Assert.Equal([1, 3, 4, 0, 2], Partitions(s).Select(p => p.Partition));
        s.RotateReturned([false, false, false, false, false]);
        Assert.Equal([1, 3, 4, 0, 2], Partitions(s).Select(p => p.Partition));
    }

    [Fact]
    public void A_partition_must_respond_on_records_a_moved_watermark_or_log_start_or_an_error()
    {
        var p = new SessionPartition();
        Assert.True(p.MustRespond(0, 5, 0, 0)); // never sent
        p.Sent(5, 0, 0);
        Assert.False(p.MustRespond(0, 5, 0, 0));
        Assert.True(p.MustRespond(100, 5, 0, 0));
        Assert.True(p.MustRespond(0, 6, 0, 0));
        Assert.True(p.MustRespond(0, 5, 1, 0));
        Assert.True(p.MustRespond(0, 5, 0, 6));
        p.Sent(5, 0, 6); // after an error the next answer goes out whatever it says
        Assert.True(p.MustRespond(0, 5, 0, 0));
    }

    [Fact]
    public void Epochs_count_from_one_and_one_request_at_a_time_holds_a_session()
    {
        var s = new FetchSession(1, false, false, 0);
        Assert.Equal(1, s.NextEpoch);
        s.AdvanceEpoch();
        Assert.Equal(2, s.NextEpoch);
        Assert.True(s.TryAcquire());
        Assert.False(s.TryAcquire());
        s.Release();
        Assert.True(s.TryAcquire());
    }

    private static void Fill(FetchSession s, int partitions)
    {
        for (int i = 0; i < partitions; i++) s.Upsert("t", Guid.Empty, i, 0, 1000);
    }

    private static List<SessionPartition> Partitions(FetchSession s) => [.. Enumerable.Range(0, s.Count).Select(i => s[i])];
}
