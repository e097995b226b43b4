using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace KafScale.Groups.Tests;

/// <summary>The classic protocol: JoinGroup, SyncGroup, Heartbeat and LeaveGroup as Kafka runs them.</summary>
public sealed class MembershipTests : IAsyncLifetime
{
    private GroupsHost _host = null!;
    private GroupCoordinatorService Groups => _host.Groups;

    public async Task InitializeAsync() => _host = await GroupsHost.StartAsync();
    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<string> MemberIdAsync(string group, string clientId = "c")
    {
        var first = await Groups.JoinGroupAsync(GroupsHost.Join(group, clientId: clientId));
        Assert.Equal(ErrorCode.MemberIdRequired, first.Error);
        Assert.StartsWith(clientId + "-", first.MemberId);
        Assert.Equal(-1, first.GenerationId);
        return first.MemberId;
    }

    [Fact]
    public async Task Three_members_get_one_generation_the_leader_sees_everyones_metadata_and_each_gets_the_leaders_assignment_for_it()
    {
        // Member ids handed out with MEMBER_ID_REQUIRED hold the join phase open until they come back.
        string[] ids = [await MemberIdAsync("g", "a"), await MemberIdAsync("g", "b"), await MemberIdAsync("g", "c")];
        byte[][] metadata = [GroupsHost.Subscription("t1"), GroupsHost.Subscription("t2"), GroupsHost.Subscription("t1", "t2")];
        string[] clients = ["a", "b", "c"];
        var joins = ids.Select((id, i) => Groups.JoinGroupAsync(GroupsHost.Join("g", id, metadata: metadata[i], clientId: clients[i]))).ToArray();
        var results = await Task.WhenAll(joins).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.All(results, r => Assert.Equal(ErrorCode.None, r.Error));
        Assert.All(results, r => Assert.Equal(1, r.GenerationId));
        Assert.All(results, r => Assert.Equal("range", r.ProtocolName));
        Assert.All(results, r => Assert.Equal("consumer", r.ProtocolType));
        Assert.Single(results.Select(r => r.LeaderId).Distinct());
        var leader = Assert.Single(results, r => r.LeaderId == r.MemberId);
        Assert.All(results.Where(r => r != leader), r => Assert.Empty(r.Members));
        Assert.Equal(ids.Order(), leader.Members.Select(m => m.MemberId).Order());
        for (int i = 0; i < ids.Length; i++)
            Assert.Equal(metadata[i], leader.Members.Single(m => m.MemberId == ids[i]).Metadata);

        // Followers sync first and wait for the leader's assignments.
        var followers = results.Where(r => r != leader)
            .Select(r => (r.MemberId, Sync: Groups.SyncGroupAsync(new SyncGroupInput("g", 1, r.MemberId, null, "consumer", "range", [])))).ToArray();
        await Task.Delay(50);
        Assert.All(followers, f => Assert.False(f.Sync.IsCompleted));
        var leaderSync = await Groups.SyncGroupAsync(new SyncGroupInput("g", 1, leader.MemberId, null, "consumer", "range",
            [.. ids.Select(id => new MemberAssignment(id, Encoding.UTF8.GetBytes("for " + id)))]));
        Assert.Equal(ErrorCode.None, leaderSync.Error);
        Assert.Equal("for " + leader.MemberId, Encoding.UTF8.GetString(leaderSync.Assignment));
        foreach (var (memberId, sync) in followers)
        {
            var r = await sync.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(ErrorCode.None, r.Error);
            Assert.Equal(("consumer", "range"), (r.ProtocolType, r.ProtocolName));
            Assert.Equal("for " + memberId, Encoding.UTF8.GetString(r.Assignment));
        }

        var description = await Groups.DescribeGroupAsync("g");
        Assert.Equal(("Stable", "consumer", "range"), (description.State, description.ProtocolType, description.ProtocolData));
        Assert.Equal(3, description.Members.Count);
        Assert.All(description.Members, m => Assert.Equal("for " + m.MemberId, Encoding.UTF8.GetString(m.Assignment)));
        Assert.All(description.Members, m => Assert.Equal("/127.0.0.1", m.ClientHost));
        Assert.Equal(["a", "b", "c"], description.Members.Select(m => m.ClientId).Order());
        Assert.Equal(metadata[0], description.Members.Single(m => m.MemberId == ids[0]).Metadata);
        foreach (var id in ids) Assert.Equal(ErrorCode.None, await Groups.HeartbeatAsync("g", id, null, 1));
    }

    [Fact]
    public async Task A_member_id_handed_out_with_MEMBER_ID_REQUIRED_is_the_one_to_rejoin_with_and_expires_unused()
    {
        string id = await MemberIdAsync("g");
        var joined = await Groups.JoinGroupAsync(GroupsHost.Join("g", id));
        Assert.Equal((ErrorCode.None, id, 1, id), (joined.Error, joined.MemberId, joined.GenerationId, joined.LeaderId));

        // An id the coordinator never handed out is refused.
        var stranger = await Groups.JoinGroupAsync(GroupsHost.Join("g", "made-up-id"));
        Assert.Equal(ErrorCode.UnknownMemberId, stranger.Error);

        // A pending id whose member never comes back expires with its session timeout, and the group is forgotten.
        var pending = await Groups.JoinGroupAsync(GroupsHost.Join("other", sessionMs: 100));
        Assert.Equal(ErrorCode.MemberIdRequired, pending.Error);
        Assert.Contains(Groups.ListGroups().Groups, g => g.GroupId == "other");
        await GroupsHost.EventuallyAsync(() => Groups.ListGroups().Groups.All(g => g.GroupId != "other"), "the unused group to go");
        Assert.Equal(ErrorCode.UnknownMemberId, (await Groups.JoinGroupAsync(GroupsHost.Join("other", pending.MemberId, sessionMs: 100))).Error);
    }

    [Fact]
    public async Task A_new_member_rebalances_the_group_and_the_others_learn_of_it_from_their_heartbeats()
    {
        await using var a = new TestConsumer(Groups, "g");
        await using var b = new TestConsumer(Groups, "g");
        await GroupsHost.EventuallyAsync(() => a.State.Generation > 0 && a.State.Generation == b.State.Generation && a.State.LeaderSaw.Count + b.State.LeaderSaw.Count == 2, "two members in one generation");
        int before = a.State.Generation;

        await using var c = new TestConsumer(Groups, "g");
        await GroupsHost.EventuallyAsync(() => new[] { a, b, c }.All(x => x.State.Generation > before && x.State.Generation == c.State.Generation)
            && a.State.LeaderSaw.Count + b.State.LeaderSaw.Count + c.State.LeaderSaw.Count == 3, "three members in a new generation");
        foreach (var x in new[] { a, b, c }) Assert.Equal($"{x.State.MemberId}@{x.State.Generation}", x.State.Assignment);
    }

    [Fact]
    public async Task A_leaving_member_rebalances_the_group_and_when_the_last_leaves_it_is_Empty_and_keeps_its_offsets()
    {
        await using var a = new TestConsumer(Groups, "g");
        await using var b = new TestConsumer(Groups, "g");
        await GroupsHost.EventuallyAsync(() => a.State.Generation > 0 && a.State.Generation == b.State.Generation && a.State.LeaderSaw.Count + b.State.LeaderSaw.Count == 2, "two members in one generation");
        var committed = await Groups.CommitOffsetsAsync(GroupsHost.Commit("g", a.State.Generation, a.State.MemberId, ("orders", 0, 42)));
        Assert.Equal([ErrorCode.None], committed);
        int before = a.State.Generation;

        var left = await b.LeaveAsync();
        Assert.Equal(ErrorCode.None, left.Error);
        Assert.Equal(ErrorCode.None, Assert.Single(left.Members).Error);
        await GroupsHost.EventuallyAsync(() => a.State.Generation > before && a.State.LeaderSaw.Count == 1, "the remaining member alone in a new generation");
        Assert.Equal(ErrorCode.UnknownMemberId, await Groups.HeartbeatAsync("g", b.State.MemberId, null, a.State.Generation));

        await a.LeaveAsync();
        var description = await Groups.DescribeGroupAsync("g");
        Assert.Equal(("Empty", "consumer"), (description.State, description.ProtocolType));
        Assert.Empty(description.Members);
        Assert.Equal(42, Assert.Single((await Groups.FetchOffsetsAsync("g", [new("orders", 0)])).Offsets).Offset);
    }

    [Fact]
    public async Task LeaveGroup_takes_a_batch_and_an_admin_may_remove_a_static_member_by_instance_id_alone()
    {
        await using var a = new TestConsumer(Groups, "g", instanceId: "i-a");
        await using var b = new TestConsumer(Groups, "g", instanceId: "i-b");
        await GroupsHost.EventuallyAsync(() => a.State.Generation > 0 && a.State.Generation == b.State.Generation && a.State.LeaderSaw.Count + b.State.LeaderSaw.Count == 2, "two members in one generation");
        await b.CrashAsync();

        var result = await Groups.LeaveGroupAsync("g", [new LeavingMember("", "i-b"), new LeavingMember("", "i-nobody"), new LeavingMember("no-such-member", null)]);
        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal([ErrorCode.None, ErrorCode.UnknownMemberId, ErrorCode.UnknownMemberId], result.Members.Select(m => m.Error));
        Assert.Equal("i-b", result.Members[0].GroupInstanceId);
        await GroupsHost.EventuallyAsync(() => a.State.LeaderSaw.Count == 1 && a.State.Generation > b.State.Generation, "a alone in a new generation");
        Assert.Equal(ErrorCode.UnknownMemberId, (await Groups.LeaveGroupAsync("no-such-group", [new LeavingMember("m", null)])).Error);
    }

    [Fact]
    public async Task A_member_that_stops_heartbeating_is_removed_after_its_session_timeout_and_the_group_rebalances()
    {
        // The coordinator's clock is a fake one: the session timeout passes when the test says so,
        // not after a sleep that a slow machine could stretch past a live member's heartbeats.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await GroupsHost.StartAsync(time: time);
        await using var a = new TestConsumer(host.Groups, "g", sessionMs: 10_000);
        await using var b = new TestConsumer(host.Groups, "g", sessionMs: 10_000);
        await GroupsHost.EventuallyAsync(() => a.State.Generation > 0 && a.State.Generation == b.State.Generation && a.State.LeaderSaw.Count + b.State.LeaderSaw.Count == 2, "two members in one generation");
        int before = a.State.Generation;

        await b.CrashAsync();
        // A second at a time, each step only after a has heartbeated, so a's session stays alive and b's runs out.
        for (int second = 0; second < 11 && a.State.Generation == before; second++)
        {
            int beats = a.Heartbeats;
            time.Advance(TimeSpan.FromSeconds(1));
            await GroupsHost.EventuallyAsync(() => a.Heartbeats > beats || a.State.Generation > before, "a heartbeat from the live member");
        }
        await GroupsHost.EventuallyAsync(() => a.State.Generation > before && a.State.LeaderSaw.Count == 1, "the survivor alone in a new generation");
        var description = await host.Groups.DescribeGroupAsync("g");
        Assert.Equal(a.State.MemberId, Assert.Single(description.Members).MemberId);
    }

    [Fact]
    public async Task A_member_that_does_not_rejoin_within_the_rebalance_timeout_is_left_out_of_the_new_generation()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await GroupsHost.StartAsync(time: time);
        var groups = host.Groups;
        // A misbehaving member: it keeps its session alive but never rejoins.
        var first = await groups.JoinGroupAsync(GroupsHost.Join("g", clientId: "stuck"));
        string stuck = first.MemberId;
        first = await groups.JoinGroupAsync(GroupsHost.Join("g", stuck, rebalanceMs: 10_000));
        Assert.Equal(ErrorCode.None, first.Error);
        Assert.Equal(ErrorCode.None, (await groups.SyncGroupAsync(new SyncGroupInput("g", first.GenerationId, stuck, null, null, null, []))).Error);

        await using var newcomer = new TestConsumer(groups, "g", rebalanceMs: 10_000);
        await GroupsHost.EventuallyAsync(async () => await groups.HeartbeatAsync("g", stuck, null, first.GenerationId) == ErrorCode.RebalanceInProgress, "the newcomer's join to start a rebalance");
        // The join phase waits up to the rebalance timeout (10 s) for the stuck member, whose heartbeats keep its session.
        for (int second = 0; second < 11 && newcomer.State.Generation <= first.GenerationId; second++)
        {
            await groups.HeartbeatAsync("g", stuck, null, first.GenerationId);
            time.Advance(TimeSpan.FromSeconds(1));
        }
        await GroupsHost.EventuallyAsync(() => newcomer.State.Generation > first.GenerationId && newcomer.State.LeaderSaw.Count == 1, "the newcomer alone in the next generation");
        Assert.Equal(ErrorCode.UnknownMemberId, await groups.HeartbeatAsync("g", stuck, null, first.GenerationId));
    }

    [Fact]
    public async Task A_static_member_restarting_takes_a_new_member_id_and_its_old_assignment_without_a_rebalance_and_fences_the_old_id()
    {
        await using var a = new TestConsumer(Groups, "g", instanceId: "instance-a");
        await using var b = new TestConsumer(Groups, "g", instanceId: "instance-b");
        await GroupsHost.EventuallyAsync(() => a.State.Generation > 0 && a.State.Generation == b.State.Generation && a.State.LeaderSaw.Count + b.State.LeaderSaw.Count == 2, "two static members in one generation");
        var before = b.State;
        int generation = a.State.Generation, rebalances = a.State.Rebalances;
        await b.CrashAsync();

        await using var restarted = new TestConsumer(Groups, "g", instanceId: "instance-b");
        await GroupsHost.EventuallyAsync(() => restarted.State.Generation > 0, "the restarted member to settle");
        Assert.Equal(generation, restarted.State.Generation);
        Assert.NotEqual(before.MemberId, restarted.State.MemberId);
        Assert.StartsWith("instance-b-", restarted.State.MemberId);
        Assert.Equal(before.Assignment, restarted.State.Assignment);
        await Task.Delay(200);
        Assert.Equal(generation, a.State.Generation);
        Assert.Equal(rebalances, a.State.Rebalances);

        // The previous incarnation is fenced (KIP-345).
        Assert.Equal(ErrorCode.FencedInstanceId, await Groups.HeartbeatAsync("g", before.MemberId, "instance-b", generation));
        var description = await Groups.DescribeGroupAsync("g");
        Assert.Contains(description.Members, m => m.MemberId == restarted.State.MemberId && m.GroupInstanceId == "instance-b");
    }

    [Fact]
    public async Task A_static_leader_restarting_is_told_to_skip_the_assignment_from_v9()
    {
        string? leaderInstance = null;
        await using var a = new TestConsumer(Groups, "g", instanceId: "instance-a");
        await GroupsHost.EventuallyAsync(() => a.State.Generation > 0, "the leader to settle");
        leaderInstance = "instance-a";
        await a.CrashAsync();

        var rejoin = await Groups.JoinGroupAsync(GroupsHost.Join("g", instanceId: leaderInstance, skipAssignment: true));
        Assert.Equal(ErrorCode.None, rejoin.Error);
        Assert.True(rejoin.SkipAssignment);
        Assert.Equal(rejoin.MemberId, rejoin.LeaderId);
        Assert.Equal(a.State.Generation, rejoin.GenerationId);
        Assert.Equal(rejoin.MemberId, Assert.Single(rejoin.Members).MemberId);

        // Before v9 the leader is given its old id as the leader's, so it does not assign.
        var older = await Groups.JoinGroupAsync(GroupsHost.Join("g", instanceId: leaderInstance, skipAssignment: false));
        Assert.Equal(ErrorCode.None, older.Error);
        Assert.False(older.SkipAssignment);
        Assert.Equal(rejoin.MemberId, older.LeaderId);
        Assert.NotEqual(older.MemberId, older.LeaderId);
        Assert.Empty(older.Members);
    }

    [Fact]
    public async Task Joins_and_syncs_that_do_not_fit_the_group_get_Kafkas_errors()
    {
        string id = await MemberIdAsync("g");
        var joined = await Groups.JoinGroupAsync(GroupsHost.Join("g", id));
        Assert.Equal(ErrorCode.None, joined.Error);

        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await Groups.JoinGroupAsync(GroupsHost.Join("g", protocolType: "connect"))).Error);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await Groups.JoinGroupAsync(GroupsHost.Join("g", protocol: "roundrobin"))).Error);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await Groups.JoinGroupAsync(GroupsHost.Join("fresh") with { Protocols = [] })).Error);
        Assert.Equal(ErrorCode.InvalidSessionTimeout, (await Groups.JoinGroupAsync(GroupsHost.Join("g", sessionMs: 1))).Error);
        Assert.Equal(ErrorCode.InvalidGroupId, (await Groups.JoinGroupAsync(GroupsHost.Join(""))).Error);

        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await Groups.SyncGroupAsync(new SyncGroupInput("g", 1, id, null, "consumer", "roundrobin", []))).Error);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await Groups.SyncGroupAsync(new SyncGroupInput("g", 1, id, null, "connect", null, []))).Error);
        Assert.Equal(ErrorCode.IllegalGeneration, (await Groups.SyncGroupAsync(new SyncGroupInput("g", 7, id, null, null, null, []))).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await Groups.SyncGroupAsync(new SyncGroupInput("g", 1, "nobody", null, null, null, []))).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await Groups.SyncGroupAsync(new SyncGroupInput("missing", 1, id, null, null, null, []))).Error);
        Assert.Equal(ErrorCode.IllegalGeneration, await Groups.HeartbeatAsync("g", id, null, 0));
        Assert.Equal(ErrorCode.UnknownMemberId, await Groups.HeartbeatAsync("g", "nobody", null, 1));
        Assert.Equal(ErrorCode.UnknownMemberId, await Groups.HeartbeatAsync("g", id, "not-a-static-member", 1));

        // The leader's SyncGroup settles the group; a rejoin with the same metadata then changes nothing.
        Assert.Equal(ErrorCode.None, (await Groups.SyncGroupAsync(new SyncGroupInput("g", 1, id, null, "consumer", "range", [new(id, [1, 2])]))).Error);
        Assert.Equal([1, 2], (await Groups.SyncGroupAsync(new SyncGroupInput("g", 1, id, null, null, null, []))).Assignment);
    }

    [Fact]
    public async Task Heartbeats_during_a_rebalance_answer_REBALANCE_IN_PROGRESS_and_a_pending_SyncGroup_is_told_to_rejoin()
    {
        string a = await MemberIdAsync("g", "a");
        var joinA = await Groups.JoinGroupAsync(GroupsHost.Join("g", a));
        Assert.Equal(1, joinA.GenerationId);

        // b arrives before a syncs: a's SyncGroup would carry an outdated membership.
        string b = await MemberIdAsync("g", "b");
        var joinB = Groups.JoinGroupAsync(GroupsHost.Join("g", b));
        Assert.Equal(ErrorCode.RebalanceInProgress, await Groups.HeartbeatAsync("g", a, null, 1));
        Assert.Equal(ErrorCode.RebalanceInProgress, (await Groups.SyncGroupAsync(new SyncGroupInput("g", 1, a, null, null, null, []))).Error);
        Assert.False(joinB.IsCompleted);

        var rejoinA = await Groups.JoinGroupAsync(GroupsHost.Join("g", a));
        var resultB = await joinB.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((2, 2), (rejoinA.GenerationId, resultB.GenerationId));
        Assert.Equal(2, (rejoinA.LeaderId == a ? rejoinA : resultB).Members.Count);
    }

    [Fact]
    public async Task Unloading_a_shard_answers_its_parked_joins_NOT_COORDINATOR_and_other_shards_are_not_coordinated_here()
    {
        var partial = new GroupCoordinatorService(_host.Store, GroupsHost.FastOptions);
        int shard = partial.ShardOf("g");
        await partial.LoadShardAsync(shard, null, CancellationToken.None);
        string other = Enumerable.Range(0, 100).Select(i => "group-" + i).First(g => partial.ShardOf(g) != shard);
        Assert.True(partial.IsCoordinatorFor("g"));
        Assert.False(partial.IsCoordinatorFor(other));
        Assert.Equal(ErrorCode.NotCoordinator, (await partial.JoinGroupAsync(GroupsHost.Join(other))).Error);
        Assert.Equal(ErrorCode.NotCoordinator, (await partial.FetchOffsetsAsync(other, null)).Error);

        string id = (await partial.JoinGroupAsync(GroupsHost.Join("g"))).MemberId;
        Assert.Equal(ErrorCode.None, (await partial.JoinGroupAsync(GroupsHost.Join("g", id))).Error);
        string second = (await partial.JoinGroupAsync(GroupsHost.Join("g"))).MemberId;
        var parked = partial.JoinGroupAsync(GroupsHost.Join("g", second));
        Assert.False(parked.IsCompleted);
        await partial.UnloadShardAsync(shard);
        Assert.Equal(ErrorCode.NotCoordinator, (await parked.WaitAsync(TimeSpan.FromSeconds(10))).Error);
        Assert.Equal(ErrorCode.NotCoordinator, await partial.HeartbeatAsync("g", id, null, 1));
        await partial.DisposeAsync();
    }
}
