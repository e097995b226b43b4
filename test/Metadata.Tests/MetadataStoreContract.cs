using System.Text;

namespace KafScale.Metadata.Tests;

/// <summary>
/// What every IMetadataStore must do, written against the interface only, so that the embedded
/// store and etcd answer the same spec. Each test works under its own key prefix.
/// </summary>
public abstract class MetadataStoreContract : IAsyncLifetime
{
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private IMetadataStore? _store;

    protected IMetadataStore Store => _store ?? throw new InvalidOperationException("The store is not open.");

    protected string P { get; } = $"/test/{Guid.NewGuid():N}/";

    protected static CancellationToken Ct => CancellationToken.None;

    /// <summary>The shortest lease TTL the implementation honours as asked.</summary>
    protected virtual TimeSpan ShortTtl => TimeSpan.FromSeconds(1);

    protected abstract Task<IMetadataStore> OpenStoreAsync();

    /// <summary>Lets lease time pass: real time for etcd, the fake clock of the embedded store.</summary>
    protected virtual Task PassAsync(TimeSpan span) => Task.Delay(span);

    protected static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    protected static string S(byte[] b) => Encoding.UTF8.GetString(b);

    public virtual async Task InitializeAsync() => _store = await OpenStoreAsync();

    public virtual async Task DisposeAsync()
    {
        if (_store is null) return;
        // Leased keys left behind would expire during a later test and move the shared revision.
        try { await _store.DeletePrefixAsync(P, Ct); } catch (ObjectDisposedException) { }
        await _store.DisposeAsync();
    }

    [Fact]
    public async Task Put_creates_a_key_with_version_one_and_create_and_mod_revision_equal_to_the_returned_revision()
    {
        long revision = await Store.PutAsync(P + "a", B("1"), 0, Ct);
        KeyValue? kv = await Store.GetAsync(P + "a", Ct);
        Assert.NotNull(kv);
        Assert.Equal(P + "a", kv.Key);
        Assert.Equal("1", S(kv.Value));
        Assert.Equal(1, kv.Version);
        Assert.Equal(revision, kv.CreateRevision);
        Assert.Equal(revision, kv.ModRevision);
        Assert.Equal(0, kv.Lease);
    }

    [Fact]
    public async Task Put_over_an_existing_key_bumps_version_and_mod_revision_and_keeps_create_revision()
    {
        long first = await Store.PutAsync(P + "a", B("1"), 0, Ct);
        long second = await Store.PutAsync(P + "a", B("2"), 0, Ct);
        Assert.True(second > first);
        KeyValue kv = (await Store.GetAsync(P + "a", Ct))!;
        Assert.Equal("2", S(kv.Value));
        Assert.Equal(2, kv.Version);
        Assert.Equal(first, kv.CreateRevision);
        Assert.Equal(second, kv.ModRevision);
    }

    [Fact]
    public async Task Get_of_a_missing_key_returns_null()
    {
        Assert.Null(await Store.GetAsync(P + "missing", Ct));
    }

    [Fact]
    public async Task Empty_values_are_stored_as_empty()
    {
        await Store.PutAsync(P + "empty", [], 0, Ct);
        KeyValue kv = (await Store.GetAsync(P + "empty", Ct))!;
        Assert.Empty(kv.Value);
    }

    [Fact]
    public async Task GetPrefix_returns_only_keys_under_the_prefix_in_key_order_with_the_store_revision()
    {
        await Store.PutAsync(P + "b/2", B("b2"), 0, Ct);
        await Store.PutAsync(P + "a", B("a"), 0, Ct);
        await Store.PutAsync(P + "b/1", B("b1"), 0, Ct);
        await Store.PutAsync(P + "b", B("b"), 0, Ct);
        long last = await Store.PutAsync(P + "c", B("c"), 0, Ct);

        RangeResult range = await Store.GetPrefixAsync(P + "b", Ct);
        Assert.Equal([P + "b", P + "b/1", P + "b/2"], range.Kvs.Select(kv => kv.Key));
        Assert.True(range.Revision >= last);

        RangeResult all = await Store.GetPrefixAsync(P, Ct);
        Assert.Equal([P + "a", P + "b", P + "b/1", P + "b/2", P + "c"], all.Kvs.Select(kv => kv.Key));
        Assert.Empty((await Store.GetPrefixAsync(P + "zzz", Ct)).Kvs);
    }

    [Fact]
    public async Task Keys_are_ordered_by_their_utf8_bytes_as_etcd_orders_them()
    {
        string[] keys = [P + "\uFF5E", P + "\U0001F600", P + "a", P + "\u00E9"];
        foreach (string key in keys) await Store.PutAsync(key, B("x"), 0, Ct);
        RangeResult range = await Store.GetPrefixAsync(P, Ct);
        Assert.Equal([P + "a", P + "\u00E9", P + "\uFF5E", P + "\U0001F600"], range.Kvs.Select(kv => kv.Key));
        Assert.Equal("x", S((await Store.GetAsync(P + "\U0001F600", Ct))!.Value));
    }

    [Fact]
    public async Task Delete_removes_the_key_and_returns_one_and_deleting_a_missing_key_returns_zero_without_a_new_revision()
    {
        await Store.PutAsync(P + "a", B("1"), 0, Ct);
        Assert.Equal(1, await Store.DeleteAsync(P + "a", Ct));
        Assert.Null(await Store.GetAsync(P + "a", Ct));

        long before = (await Store.GetPrefixAsync(P, Ct)).Revision;
        Assert.Equal(0, await Store.DeleteAsync(P + "a", Ct));
        Assert.Equal(before, (await Store.GetPrefixAsync(P, Ct)).Revision);
    }

    [Fact]
    public async Task DeletePrefix_removes_exactly_the_keys_under_the_prefix_in_one_revision()
    {
        await Store.PutAsync(P + "x/1", B("1"), 0, Ct);
        await Store.PutAsync(P + "x/2", B("2"), 0, Ct);
        await Store.PutAsync(P + "y/1", B("3"), 0, Ct);
        long before = (await Store.GetPrefixAsync(P, Ct)).Revision;

        Assert.Equal(2, await Store.DeletePrefixAsync(P + "x/", Ct));
        Assert.Equal([P + "y/1"], (await Store.GetPrefixAsync(P, Ct)).Kvs.Select(kv => kv.Key));
        Assert.Equal(before + 1, (await Store.GetPrefixAsync(P, Ct)).Revision);
        Assert.Equal(0, await Store.DeletePrefixAsync(P + "x/", Ct));
    }

    [Fact]
    public async Task A_key_put_again_after_its_delete_starts_over_at_version_one_with_a_new_create_revision()
    {
        long created = await Store.PutAsync(P + "a", B("1"), 0, Ct);
        await Store.PutAsync(P + "a", B("2"), 0, Ct);
        await Store.DeleteAsync(P + "a", Ct);
        long recreated = await Store.PutAsync(P + "a", B("3"), 0, Ct);
        KeyValue kv = (await Store.GetAsync(P + "a", Ct))!;
        Assert.Equal(1, kv.Version);
        Assert.Equal(recreated, kv.CreateRevision);
        Assert.True(recreated > created);
    }

    [Fact]
    public async Task Every_write_gets_the_next_store_revision()
    {
        long r1 = await Store.PutAsync(P + "a", B("1"), 0, Ct);
        long r2 = await Store.PutAsync(P + "b", B("1"), 0, Ct);
        await Store.DeleteAsync(P + "a", Ct);
        long r4 = await Store.PutAsync(P + "c", B("1"), 0, Ct);
        Assert.True(r2 > r1);
        Assert.True(r4 > r2 + 1);
        Assert.True((await Store.GetPrefixAsync(P, Ct)).Revision >= r4);
    }

    [Fact]
    public async Task Concurrent_puts_all_land_with_distinct_revisions()
    {
        const int writers = 200;
        long[] revisions = await Task.WhenAll(Enumerable.Range(0, writers)
            .Select(i => Task.Run(() => Store.PutAsync($"{P}k/{i:D4}", B(i.ToString()), 0, Ct))));
        Assert.Equal(writers, revisions.Distinct().Count());
        RangeResult range = await Store.GetPrefixAsync(P + "k/", Ct);
        Assert.Equal(writers, range.Kvs.Count);
        Assert.All(range.Kvs, kv => Assert.Equal(kv.CreateRevision, kv.ModRevision));
        Assert.Equal(revisions.Order(), range.Kvs.Select(kv => kv.ModRevision).Order());
    }

    [Fact]
    public async Task Txn_create_if_absent_has_exactly_one_winner_among_concurrent_claimants()
    {
        const int claimants = 32;
        string key = P + "leader";
        using var start = new ManualResetEventSlim();
        Task<TxnResult>[] claims = Enumerable.Range(0, claimants).Select(i => Task.Run(async () =>
        {
            start.Wait();
            return await Store.TxnAsync(new TxnRequest(
                [Compare.KeyMissing(key)],
                [TxnOp.Put(key, B($"broker-{i}"))],
                [TxnOp.Get(key)]), Ct);
        })).ToArray();
        start.Set();
        TxnResult[] results = await Task.WhenAll(claims);

        TxnResult winner = Assert.Single(results, r => r.Succeeded);
        KeyValue stored = (await Store.GetAsync(key, Ct))!;
        Assert.Equal(1, stored.Version);
        Assert.Equal(winner.Revision, stored.ModRevision);
        Assert.All(results.Where(r => !r.Succeeded), r =>
        {
            KeyValue seen = Assert.Single(Assert.Single(r.Gets));
            Assert.Equal(stored.Value, seen.Value);
        });
    }

    [Fact]
    public async Task Txn_compares_on_a_missing_key_see_zero_revisions_and_version_and_fail_on_value()
    {
        string k = P + "missing";
        async Task<bool> Holds(Compare c) => (await Store.TxnAsync(new TxnRequest([c], [], []), Ct)).Succeeded;

        Assert.True(await Holds(new Compare(k, CompareTarget.Version, CompareResult.Equal, 0)));
        Assert.True(await Holds(new Compare(k, CompareTarget.CreateRevision, CompareResult.Equal, 0)));
        Assert.True(await Holds(new Compare(k, CompareTarget.ModRevision, CompareResult.Equal, 0)));
        Assert.True(await Holds(new Compare(k, CompareTarget.Lease, CompareResult.Equal, 0)));
        Assert.False(await Holds(new Compare(k, CompareTarget.Value, CompareResult.Equal, 0, [])));
        Assert.False(await Holds(new Compare(k, CompareTarget.Value, CompareResult.NotEqual, 0, B("x"))));
        Assert.False(await Holds(new Compare(k, CompareTarget.Value, CompareResult.Greater, 0, [])));
    }

    [Fact]
    public async Task Txn_compares_on_an_existing_key_follow_etcd()
    {
        string k = P + "k";
        long created = await Store.PutAsync(k, B("m"), 0, Ct);
        long modified = await Store.PutAsync(k, B("n"), 0, Ct);
        async Task<bool> Holds(Compare c) => (await Store.TxnAsync(new TxnRequest([c], [], []), Ct)).Succeeded;

        Assert.True(await Holds(Compare.ValueEquals(k, B("n"))));
        Assert.False(await Holds(Compare.ValueEquals(k, B("m"))));
        Assert.True(await Holds(new Compare(k, CompareTarget.Value, CompareResult.Greater, 0, B("m"))));
        Assert.True(await Holds(new Compare(k, CompareTarget.Value, CompareResult.Less, 0, B("na"))));
        Assert.True(await Holds(new Compare(k, CompareTarget.Value, CompareResult.NotEqual, 0, B("x"))));
        Assert.True(await Holds(new Compare(k, CompareTarget.Version, CompareResult.Equal, 2)));
        Assert.True(await Holds(new Compare(k, CompareTarget.Version, CompareResult.Greater, 1)));
        Assert.True(await Holds(new Compare(k, CompareTarget.Version, CompareResult.Less, 3)));
        Assert.True(await Holds(new Compare(k, CompareTarget.CreateRevision, CompareResult.Equal, created)));
        Assert.True(await Holds(Compare.ModRevisionEquals(k, modified)));
        Assert.False(await Holds(Compare.ModRevisionEquals(k, created)));
        Assert.False(await Holds(Compare.KeyMissing(k)));
        Assert.True(await Holds(new Compare(k, CompareTarget.Lease, CompareResult.Equal, 0)));
    }

    [Fact]
    public async Task Txn_runs_all_compares_as_a_conjunction_and_picks_the_branch_atomically()
    {
        string a = P + "a", b = P + "b";
        await Store.PutAsync(a, B("1"), 0, Ct);

        TxnResult failed = await Store.TxnAsync(new TxnRequest(
            [Compare.ValueEquals(a, B("1")), Compare.ValueEquals(b, B("1"))],
            [TxnOp.Put(a, B("success"))],
            [TxnOp.Put(b, B("failure")), TxnOp.Get(a), TxnOp.Get(b)]), Ct);
        Assert.False(failed.Succeeded);
        Assert.Equal(2, failed.Gets.Count);
        Assert.Equal("1", S(Assert.Single(failed.Gets[0]).Value));
        KeyValue bSeen = Assert.Single(failed.Gets[1]);
        Assert.Equal("failure", S(bSeen.Value));
        Assert.Equal(failed.Revision, bSeen.ModRevision);
        Assert.Equal("1", S((await Store.GetAsync(a, Ct))!.Value));
    }

    [Fact]
    public async Task Txn_writes_share_one_revision_and_its_reads_see_its_earlier_writes()
    {
        await Store.PutAsync(P + "old/1", B("x"), 0, Ct);
        await Store.PutAsync(P + "old/2", B("x"), 0, Ct);
        TxnResult result = await Store.TxnAsync(new TxnRequest(
            [],
            [TxnOp.Put(P + "n/1", B("1")), TxnOp.Put(P + "n/2", B("2")), TxnOp.DeletePrefix(P + "old/"), TxnOp.GetPrefix(P), TxnOp.Get(P + "old/1")],
            []), Ct);
        Assert.True(result.Succeeded);
        Assert.Equal([P + "n/1", P + "n/2"], result.Gets[0].Select(kv => kv.Key));
        Assert.All(result.Gets[0], kv => Assert.Equal(result.Revision, kv.ModRevision));
        Assert.Empty(result.Gets[1]);
        Assert.Equal(result.Revision, (await Store.GetAsync(P + "n/2", Ct))!.ModRevision);
    }

    [Fact]
    public async Task Txn_that_only_reads_does_not_create_a_revision()
    {
        long revision = await Store.PutAsync(P + "a", B("1"), 0, Ct);
        TxnResult result = await Store.TxnAsync(new TxnRequest([], [TxnOp.Get(P + "a")], []), Ct);
        Assert.True(result.Revision >= revision);
        Assert.True((await Store.GetPrefixAsync(P, Ct)).Revision >= result.Revision);
        Assert.Equal(revision, Assert.Single(result.Gets[0]).ModRevision);
    }

    [Fact]
    public async Task Txn_that_puts_one_key_twice_is_rejected_as_etcd_rejects_it()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Store.TxnAsync(new TxnRequest(
            [], [TxnOp.Put(P + "a", B("1")), TxnOp.Put(P + "a", B("2"))], []), Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Store.TxnAsync(new TxnRequest(
            [], [TxnOp.DeletePrefix(P), TxnOp.Put(P + "a", B("2"))], []), Ct));
        Assert.Null(await Store.GetAsync(P + "a", Ct));
    }

    [Fact]
    public async Task Lease_expiry_deletes_its_keys_and_watchers_see_the_deletes()
    {
        long lease = await Store.GrantLeaseAsync(ShortTtl, Ct);
        Assert.NotEqual(0, lease);
        long put = await Store.PutAsync(P + "broker/1", B("alive"), lease, Ct);
        await Store.PutAsync(P + "plain", B("stays"), 0, Ct);
        Assert.Equal(lease, (await Store.GetAsync(P + "broker/1", Ct))!.Lease);

        await using WatchProbe watch = WatchProbe.Start(Store, P + "broker/", put + 1);
        await PassAsync(ShortTtl * 2);
        WatchEvent deleted = await watch.NextAsync(Patience);
        Assert.Equal(WatchEventType.Delete, deleted.Type);
        Assert.Equal(P + "broker/1", deleted.Kv.Key);
        Assert.True(deleted.Kv.ModRevision > put);
        Assert.Null(await Store.GetAsync(P + "broker/1", Ct));
        Assert.NotNull(await Store.GetAsync(P + "plain", Ct));
        Assert.Null(await Store.KeepAliveAsync(lease, Ct));
    }

    [Fact]
    public async Task KeepAlive_keeps_a_lease_and_its_keys_past_its_ttl()
    {
        long lease = await Store.GrantLeaseAsync(ShortTtl, Ct);
        await Store.PutAsync(P + "broker/1", B("alive"), lease, Ct);
        for (int i = 0; i < 12; i++) // three TTLs
        {
            TimeSpan? ttl = await Store.KeepAliveAsync(lease, Ct);
            Assert.NotNull(ttl);
            Assert.True(ttl >= ShortTtl);
            await PassAsync(ShortTtl / 4);
        }
        Assert.NotNull(await Store.GetAsync(P + "broker/1", Ct));
    }

    [Fact]
    public async Task Revoke_deletes_the_leases_keys_and_later_keepalives_return_null()
    {
        long lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(30), Ct);
        await Store.PutAsync(P + "a", B("1"), lease, Ct);
        await Store.PutAsync(P + "b", B("1"), lease, Ct);
        await Store.RevokeLeaseAsync(lease, Ct);
        Assert.Empty((await Store.GetPrefixAsync(P, Ct)).Kvs);
        Assert.Null(await Store.KeepAliveAsync(lease, Ct));
        await Store.RevokeLeaseAsync(lease, Ct); // gone already: not an error
    }

    [Fact]
    public async Task Put_over_a_leased_key_without_a_lease_detaches_it()
    {
        long lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(30), Ct);
        await Store.PutAsync(P + "a", B("1"), lease, Ct);
        await Store.PutAsync(P + "a", B("2"), 0, Ct);
        await Store.RevokeLeaseAsync(lease, Ct);
        KeyValue kv = (await Store.GetAsync(P + "a", Ct))!;
        Assert.Equal("2", S(kv.Value));
        Assert.Equal(0, kv.Lease);
    }

    [Fact]
    public async Task Put_with_an_unknown_lease_fails_with_LeaseNotFound()
    {
        long lease = await Store.GrantLeaseAsync(TimeSpan.FromSeconds(30), Ct);
        await Store.RevokeLeaseAsync(lease, Ct);
        await Assert.ThrowsAsync<LeaseNotFoundException>(() => Store.PutAsync(P + "a", B("1"), lease, Ct));
        await Assert.ThrowsAsync<LeaseNotFoundException>(() => Store.TxnAsync(new TxnRequest([], [TxnOp.Put(P + "a", B("1"), lease)], []), Ct));
        Assert.Null(await Store.GetAsync(P + "a", Ct));
    }

    [Fact]
    public async Task Watch_from_a_past_revision_replays_the_events_since_then_in_order_and_then_follows_live()
    {
        await Store.PutAsync(P + "a", B("1"), 0, Ct);
        long from = await Store.PutAsync(P + "b", B("1"), 0, Ct);
        await Store.PutAsync(P + "a", B("2"), 0, Ct);
        await Store.DeleteAsync(P + "b", Ct);

        await using WatchProbe watch = WatchProbe.Start(Store, P, from);
        WatchEvent e1 = await watch.NextAsync(), e2 = await watch.NextAsync(), e3 = await watch.NextAsync();
        Assert.Equal((WatchEventType.Put, P + "b", from), (e1.Type, e1.Kv.Key, e1.Kv.ModRevision));
        Assert.Equal((WatchEventType.Put, P + "a", "2", 2L), (e2.Type, e2.Kv.Key, S(e2.Kv.Value), e2.Kv.Version));
        Assert.Equal((WatchEventType.Delete, P + "b"), (e3.Type, e3.Kv.Key));
        Assert.True(e1.Kv.ModRevision < e2.Kv.ModRevision && e2.Kv.ModRevision < e3.Kv.ModRevision);

        long live = await Store.PutAsync(P + "c", B("1"), 0, Ct);
        WatchEvent e4 = await watch.NextAsync();
        Assert.Equal((WatchEventType.Put, P + "c", live), (e4.Type, e4.Kv.Key, e4.Kv.ModRevision));
    }

    [Fact]
    public async Task Watch_sees_only_keys_under_its_prefix()
    {
        long from = (await Store.GetPrefixAsync(P, Ct)).Revision + 1;
        await using WatchProbe watch = WatchProbe.Start(Store, P + "in/", from);
        await Store.PutAsync(P + "out/1", B("x"), 0, Ct);
        await Store.PutAsync(P + "in/1", B("y"), 0, Ct);
        await Store.PutAsync(P + "inx", B("z"), 0, Ct);
        WatchEvent e = await watch.NextAsync();
        Assert.Equal(P + "in/1", e.Kv.Key);
        Assert.True(await watch.IsQuietForAsync(TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public async Task Watch_of_a_txn_delivers_its_events_in_op_order_with_one_revision()
    {
        long from = (await Store.GetPrefixAsync(P, Ct)).Revision + 1;
        await Store.PutAsync(P + "gone", B("x"), 0, Ct);
        await using WatchProbe watch = WatchProbe.Start(Store, P, from);
        Assert.Equal(P + "gone", (await watch.NextAsync()).Kv.Key);

        TxnResult txn = await Store.TxnAsync(new TxnRequest([], [TxnOp.Put(P + "z", B("1")), TxnOp.Delete(P + "gone"), TxnOp.Put(P + "a", B("1"))], []), Ct);
        WatchEvent[] events = [await watch.NextAsync(), await watch.NextAsync(), await watch.NextAsync()];
        Assert.Equal([P + "z", P + "gone", P + "a"], events.Select(e => e.Kv.Key));
        Assert.Equal([WatchEventType.Put, WatchEventType.Delete, WatchEventType.Put], events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal(txn.Revision, e.Kv.ModRevision));
    }

    [Fact]
    public async Task Watch_from_zero_starts_at_the_present()
    {
        await Store.PutAsync(P + "before", B("x"), 0, Ct);
        await using WatchProbe watch = WatchProbe.Start(Store, P, 0);
        await Task.Delay(500); // a watch from "now" is established asynchronously, as in etcd
        await Store.PutAsync(P + "after", B("y"), 0, Ct);
        Assert.Equal(P + "after", (await watch.NextAsync()).Kv.Key);
    }

    [Fact]
    public async Task Watch_ends_with_OperationCanceled_when_its_token_is_cancelled()
    {
        using var cts = new CancellationTokenSource();
        IAsyncEnumerator<WatchEvent> watch = Store.WatchAsync(P, 0, cts.Token).GetAsyncEnumerator();
        ValueTask<bool> next = watch.MoveNextAsync();
        await Task.Delay(200);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await next);
        await watch.DisposeAsync();
    }
}
