using System.Collections.Concurrent;
using System.Diagnostics;
using KafScale.Broker.Clustering;
using KafScale.Metadata;
using KafScale.Metadata.Embedded;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests;

/// <summary>
/// The reconciler of lease-held slots on its own, over a real embedded metadata store with real
/// leases: a slot kind that records what the reconciler asks of it, and memberships the test
/// steers (who is live, when the lease lapses).
/// </summary>
public sealed class LeaseSlotReconcilerTests : IAsyncDisposable
{
    private const int SlotCount = 12;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kafscale-reconciler-tests", Guid.NewGuid().ToString("N"));
    private readonly List<IAsyncDisposable> _owned = [];
    private EmbeddedMetadataStore _meta = null!;

    /// <summary>When each broker settles, as every membership of a test sees it (absent: settled long ago).</summary>
    private readonly ConcurrentDictionary<int, long> _settlesAt = new();

    private sealed class Membership(int id, long lease, int[] live, ConcurrentDictionary<int, long> settlesAt) : IClusterMembership
    {
        public long SettlesAt(int brokerId) => settlesAt.GetValueOrDefault(brokerId, long.MinValue);
        public int BrokerId { get; } = id;
        public long LeaseId { get; } = lease;
        public int[] LiveIds { get; private set; } = live;
        public LeaseGuard Guard { get; } = Holding();
        public event Action? Changed;
        public event Action? LeaseLost;

        private static LeaseGuard Holding()
        {
            var guard = LeaseGuard.Create();
            guard.Extend(Stopwatch.GetTimestamp(), TimeSpan.FromMinutes(5), TimeSpan.Zero);
            return guard;
        }

        public void SetLive(params int[] ids)
        {
            LiveIds = ids;
            Changed?.Invoke();
        }

        /// <summary>What the registry does when the lease deadline passes.</summary>
        public void Lapse()
        {
            Guard.Lapse();
            LeaseLost?.Invoke();
        }

        /// <summary>What the registry does when a keep-alive succeeds again.</summary>
        public void Confirm()
        {
            Guard.Extend(Stopwatch.GetTimestamp(), TimeSpan.FromMinutes(5), TimeSpan.Zero);
            Changed?.Invoke();
        }
    }

    /// <summary>Slots 0..11 under /test/slots/, each desired where rendezvous hashing puts it; records every call.</summary>
    private sealed class RecordingSlots(IMetadataStore meta) : ILeaseSlotKind<int, string>
    {
        public ConcurrentDictionary<int, string> Open { get; } = new();
        public ConcurrentQueue<string> Calls { get; } = new();

        public string KeyPrefix => "/test/slots/";
        public bool TryParseKey(string key, out int slot) => int.TryParse(key.AsSpan(KeyPrefix.Length), out slot);
        public string KeyOf(int slot) => KeyPrefix + slot;
        public string Describe(int slot) => $"slot {slot}";
        public string Describe(int slot, string handle) => handle;
        public int OpenBatch => 4;

        public IEnumerable<int> Slots() => Enumerable.Range(0, SlotCount);
        public int Pick(int slot, int[] brokers) => Rendezvous.Pick("test", slot, brokers);

        public async Task<SlotClaim?> ClaimAsync(int slot, int me, long lease, CancellationToken ct)
        {
            var txn = await meta.TxnAsync(new TxnRequest([Compare.KeyMissing(KeyOf(slot))], [TxnOp.Put(KeyOf(slot), PartitionSlots.LeaderValue(me, 1), lease)], []), ct);
            Calls.Enqueue($"claim {slot}");
            return txn.Succeeded ? new SlotClaim(new LeaderInfo(me, 1, lease), txn.Revision) : null;
        }

        public async Task<SlotClaim?> RetakeAsync(int slot, LeaderInfo holder, int me, long lease, CancellationToken ct)
        {
            var txn = await meta.TxnAsync(new TxnRequest([new Compare(KeyOf(slot), CompareTarget.Lease, CompareResult.Equal, lease)], [TxnOp.Put(KeyOf(slot), PartitionSlots.LeaderValue(me, holder.Epoch + 1), lease)], []), ct);
            Calls.Enqueue($"retake {slot}");
            return txn.Succeeded ? new SlotClaim(new LeaderInfo(me, holder.Epoch + 1, lease), txn.Revision) : null;
        }

        /// <summary>When set, opens wait for it and then fail (an open that outlives a lapse).</summary>
        public TaskCompletionSource? FailingOpens { get; set; }

        public async Task<IReadOnlyList<string>> OpenAsync(IReadOnlyList<(int Slot, LeaderInfo Holder)> batch, CancellationToken ct)
        {
            foreach (var (slot, _) in batch) Calls.Enqueue($"open {slot}");
            if (FailingOpens is { } gate)
            {
                await gate.Task;
                foreach (var (slot, _) in batch) Calls.Enqueue($"open failed {slot}");
                throw new IOException("the store failed the open");
            }
            return [.. batch.Select(b => $"handle {b.Slot}")];
        }

        public bool Activate(string handle) => Open.TryAdd(int.Parse(handle["handle ".Length..]), handle);
        public void Discard(string handle) => Calls.Enqueue("discard " + handle);
        public bool HasEnded(string handle) => false;

        public Task HandOffAsync(int slot, string handle)
        {
            Open.TryRemove(slot, out _);
            Calls.Enqueue($"handoff {slot}");
            return Task.CompletedTask;
        }

        public void Drop(int slot, string? handle, bool open)
        {
            Open.TryRemove(slot, out _);
            Calls.Enqueue(open ? $"drop {slot} {handle}" : $"drop {slot}");
        }
    }

    private async Task<(Membership Members, RecordingSlots Slots, LeaseSlotReconciler<int, string> Reconciler)> StartBrokerAsync(int id, params int[] live)
    {
        _meta ??= await EmbeddedMetadataStore.OpenAsync(Path.Combine(_root, "metadata"), CancellationToken.None);
        long lease = await _meta.GrantLeaseAsync(TimeSpan.FromMinutes(5), CancellationToken.None);
        var members = new Membership(id, lease, live, _settlesAt);
        var slots = new RecordingSlots(_meta);
        var reconciler = new LeaseSlotReconciler<int, string>(_meta, members, slots, NullLogger.Instance);
        members.Changed += reconciler.Poke;
        members.LeaseLost += () => reconciler.DropAll();
        _owned.Add(reconciler);
        reconciler.Start();
        await reconciler.Synced.Within();
        reconciler.Poke();
        return (members, slots, reconciler);
    }

    private static IEnumerable<int> DesiredOf(int broker, int[] live) =>
        Enumerable.Range(0, SlotCount).Where(s => Rendezvous.Pick("test", s, live) == broker);

    private async Task<Dictionary<int, long>> KeyLeasesAsync()
    {
        var kvs = (await _meta.GetPrefixAsync("/test/slots/", CancellationToken.None)).Kvs;
        return kvs.ToDictionary(kv => int.Parse(kv.Key["/test/slots/".Length..]), kv => kv.Lease);
    }

    [Fact]
    public async Task Each_broker_claims_the_slots_it_is_desired_for_and_opens_only_those()
    {
        int[] live = [0, 1];
        var a = await StartBrokerAsync(0, live);
        var b = await StartBrokerAsync(1, live);

        await TestExtensions.UntilAsync(() => a.Slots.Open.Count + b.Slots.Open.Count == SlotCount, "every slot is open somewhere");

        Assert.Equal(DesiredOf(0, live).Order(), a.Slots.Open.Keys.Order());
        Assert.Equal(DesiredOf(1, live).Order(), b.Slots.Open.Keys.Order());
        var leases = await KeyLeasesAsync();
        Assert.All(Enumerable.Range(0, SlotCount), s => Assert.Equal(a.Slots.Open.ContainsKey(s) ? a.Members.LeaseId : b.Members.LeaseId, leases[s]));
        Assert.All(Enumerable.Range(0, SlotCount), s => Assert.Equal(a.Reconciler.HolderOf(s), b.Reconciler.HolderOf(s)));
        Assert.Equal(a.Slots.Open.Count, a.Reconciler.Leading);
    }

    [Fact]
    public async Task A_broker_hands_over_and_releases_the_slots_it_is_no_longer_desired_for()
    {
        var a = await StartBrokerAsync(0, 0);
        await TestExtensions.UntilAsync(() => a.Slots.Open.Count == SlotCount, "the only broker opens every slot");

        int[] both = [0, 1];
        var b = await StartBrokerAsync(1, both);
        a.Members.SetLive(both);

        var moving = DesiredOf(1, both).ToList();
        Assert.NotEmpty(moving);
        await TestExtensions.UntilAsync(() => b.Slots.Open.Count == moving.Count, "the newcomer opens what it wins");
        Assert.Equal(moving.Order(), b.Slots.Open.Keys.Order());
        Assert.Equal(DesiredOf(0, both).Order(), a.Slots.Open.Keys.Order());
        // Handed over (then released) before the newcomer could claim: each moving slot once.
        Assert.Equal(moving.Select(s => $"handoff {s}").Order(), a.Slots.Calls.Where(c => c.StartsWith("handoff", StringComparison.Ordinal)).Order());
        var leases = await KeyLeasesAsync();
        Assert.All(moving, s => Assert.Equal(b.Members.LeaseId, leases[s]));
    }

    [Fact]
    public async Task A_broker_within_its_rebalance_delay_gets_no_vacant_slot_and_its_share_once_it_settles()
    {
        int[] all = [0, 1, 2];
        _settlesAt[1] = long.MaxValue; // broker 1 has just (re)joined
        var a = await StartBrokerAsync(0, all);
        var b = await StartBrokerAsync(1, all);
        var c = await StartBrokerAsync(2, all);

        // Every slot is vacant: the settled brokers take all of them, the ones broker 1 would win too.
        await TestExtensions.UntilAsync(() => a.Slots.Open.Count + c.Slots.Open.Count == SlotCount, "the settled brokers open every slot");
        int[] settled = [0, 2];
        Assert.Equal(DesiredOf(0, settled).Order(), a.Slots.Open.Keys.Order());
        Assert.Equal(DesiredOf(2, settled).Order(), c.Slots.Open.Keys.Order());
        Assert.Empty(b.Slots.Open);
        Assert.DoesNotContain(b.Slots.Calls, c => c.StartsWith("claim", StringComparison.Ordinal));

        // Its delay ends (nobody pokes: the reconcilers wake for it): its share moves to it by handover.
        _settlesAt[1] = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5;
        var moving = DesiredOf(1, all).ToList();
        Assert.NotEmpty(moving);
        await TestExtensions.UntilAsync(() => b.Slots.Open.Count == moving.Count, "broker 1 opens its share");
        Assert.Equal(moving.Order(), b.Slots.Open.Keys.Order());
        Assert.Equal(DesiredOf(0, all).Order(), a.Slots.Open.Keys.Order());
        Assert.Equal(DesiredOf(2, all).Order(), c.Slots.Open.Keys.Order());
        var handedOver = a.Slots.Calls.Concat(c.Slots.Calls).Where(x => x.StartsWith("handoff", StringComparison.Ordinal));
        Assert.Equal(moving.Select(m => $"handoff {m}").Order(), handedOver.Order());
    }

    [Fact]
    public async Task When_no_broker_is_settled_every_live_broker_counts_and_a_broker_holding_slots_keeps_them()
    {
        // A cluster starting: everyone is new, and the first broker takes every slot.
        _settlesAt[0] = _settlesAt[1] = long.MaxValue;
        var a = await StartBrokerAsync(0, 0);
        await TestExtensions.UntilAsync(() => a.Slots.Open.Count == SlotCount, "the only broker opens every slot");

        // Broker 1 joins. Both are new, but broker 0 holds slots, which makes it settled: it
        // keeps them all (were it not, broker 1's share would be handed over now).
        int[] both = [0, 1];
        var b = await StartBrokerAsync(1, both);
        long passes = a.Reconciler.Passes;
        a.Members.SetLive(both);
        await TestExtensions.UntilAsync(() => a.Reconciler.Passes > passes + 1, "broker 0 reconciled twice since");
        Assert.Equal(SlotCount, a.Slots.Open.Count);
        Assert.DoesNotContain(a.Slots.Calls, x => x.StartsWith("handoff", StringComparison.Ordinal));
        Assert.Empty(b.Slots.Open);

        // Broker 2 joins too. Once broker 1 settles, what it wins among all three moves to it;
        // what broker 2 will win stays where it is (no interim move to broker 1).
        int[] all = [0, 1, 2];
        _settlesAt[2] = long.MaxValue;
        var c = await StartBrokerAsync(2, all);
        a.Members.SetLive(all);
        b.Members.SetLive(all);
        _settlesAt[1] = long.MinValue;
        b.Reconciler.Poke();
        a.Reconciler.Poke();
        await TestExtensions.UntilAsync(() => b.Slots.Open.Count == DesiredOf(1, all).Count(), "broker 1 opens its share");
        Assert.Equal(DesiredOf(1, all).Order(), b.Slots.Open.Keys.Order());
        Assert.Equal(DesiredOf(0, all).Concat(DesiredOf(2, all)).Order(), a.Slots.Open.Keys.Order());

        // Broker 2 settles: its share moves straight from broker 0, each slot once.
        _settlesAt[2] = long.MinValue;
        a.Reconciler.Poke();
        c.Reconciler.Poke();
        await TestExtensions.UntilAsync(() => c.Slots.Open.Count == DesiredOf(2, all).Count(), "broker 2 opens its share");
        Assert.Equal(DesiredOf(0, all).Order(), a.Slots.Open.Keys.Order());
        Assert.Equal(DesiredOf(1, all).Concat(DesiredOf(2, all)).Select(x => $"handoff {x}").Order(), a.Slots.Calls.Where(x => x.StartsWith("handoff", StringComparison.Ordinal)).Order());
        Assert.DoesNotContain(b.Slots.Calls, x => x.StartsWith("handoff", StringComparison.Ordinal));
    }

    [Fact]
    public async Task At_the_lease_deadline_every_slot_is_dropped_and_taken_up_again_by_a_retake_not_a_new_claim_once_confirmed()
    {
        var a = await StartBrokerAsync(0, 0);
        await TestExtensions.UntilAsync(() => a.Slots.Open.Count == SlotCount, "every slot is open");
        int claims = a.Slots.Calls.Count(c => c.StartsWith("claim", StringComparison.Ordinal));

        a.Members.Lapse();

        // Synchronously, before anything else could be acknowledged.
        Assert.Empty(a.Slots.Open);
        Assert.Equal(0, a.Reconciler.Leading);
        Assert.Equal(SlotCount, a.Slots.Calls.Count(c => c.StartsWith("drop", StringComparison.Ordinal)));
        // The keys are still bound to the lease (it may not have expired in the store); nothing reopens while it is in doubt.
        a.Reconciler.Poke();
        await Task.Yield();
        Assert.Empty(a.Slots.Open);

        a.Members.Confirm();
        await TestExtensions.UntilAsync(() => a.Slots.Open.Count == SlotCount, "every slot is open again");
        Assert.Equal(claims, a.Slots.Calls.Count(c => c.StartsWith("claim", StringComparison.Ordinal)));
        Assert.Equal(Enumerable.Range(0, SlotCount).Select(s => $"retake {s}").Order(), a.Slots.Calls.Where(c => c.StartsWith("retake", StringComparison.Ordinal)).Order());
    }

    [Fact]
    public async Task An_open_that_fails_after_a_lapse_leaves_the_slot_a_later_pass_leads_alone()
    {
        var a = await StartBrokerAsync(0, 0);
        await TestExtensions.UntilAsync(() => a.Slots.Open.Count == SlotCount, "every slot is open");

        // Taken up again after a lapse, but the opens hang, and the lease lapses again meanwhile.
        a.Members.Lapse();
        var stuck = new TaskCompletionSource();
        a.Slots.FailingOpens = stuck;
        a.Members.Confirm();
        await TestExtensions.UntilAsync(() => a.Slots.Calls.Count(c => c.StartsWith("open ", StringComparison.Ordinal) && !c.StartsWith("open failed", StringComparison.Ordinal)) == 2 * SlotCount, "the second opens started");
        a.Members.Lapse();

        // Confirmed again: this time the opens succeed and every slot is led.
        a.Slots.FailingOpens = null;
        a.Members.Confirm();
        await TestExtensions.UntilAsync(() => a.Reconciler.Leading == SlotCount, "every slot is led again");

        // The hung opens of the earlier pass fail only now; their slots are gone, and the slots
        // led now keep their handles: the next lapse drops every one of them.
        stuck.SetResult();
        await TestExtensions.UntilAsync(() => a.Slots.Calls.Count(c => c.StartsWith("open failed", StringComparison.Ordinal)) == SlotCount, "the hung opens failed");
        Assert.Equal(SlotCount, a.Reconciler.Leading);
        int before = a.Slots.Calls.Count(c => c.StartsWith("drop", StringComparison.Ordinal));
        a.Members.Lapse();
        var drops = a.Slots.Calls.Where(c => c.StartsWith("drop", StringComparison.Ordinal)).Skip(before).ToList();
        Assert.Equal(Enumerable.Range(0, SlotCount).Select(s => $"drop {s} handle {s}").Order(), drops.Order());
    }

    [Fact]
    public async Task Partitions_and_coordinator_shards_both_end_when_the_lease_lapses_and_come_back_when_it_is_confirmed()
    {
        await using var host = await LogHost.StartAsync();
        var logs = await host.CreateTopicAsync("orders", 3);
        var node = host.Node;
        Assert.True(node.Leadership.ShardsLed > 0);
        int[] epochsBefore = [.. logs.Select(l => l.LeaderEpoch)];

        node.Registry.Lapse("the test says so");

        Assert.All(logs, l => Assert.True(l.IsClosed));
        Assert.True(node.Logs.TryGetTopic("orders", out var topic));
        Assert.All(topic.Logs, l => Assert.Null(l));
        Assert.Equal(0, node.Leadership.ShardsLed);
        Assert.All(Enumerable.Range(0, node.Groups.ShardCount), s => Assert.False(node.Groups.Leads(s)));

        // The next keep-alive confirms the lease again: both kinds are taken up again.
        await TestExtensions.UntilAsync(() => topic.Logs.All(l => l is { IsClosed: false }) && node.Leadership.ShardsLed == node.Groups.ShardCount,
            "partitions and shards are led again");
        // Each partition is taken up under a new leader epoch, so a late upload of the earlier term is fenced.
        for (int p = 0; p < 3; p++)
            Assert.True(topic.Logs[p]!.LeaderEpoch > epochsBefore[p], $"partition {p}: epoch {topic.Logs[p]!.LeaderEpoch} after the lapse, {epochsBefore[p]} before");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var o in _owned) await o.DisposeAsync();
        if (_meta is not null) await _meta.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
