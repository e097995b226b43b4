using System.Text;

namespace KafScale.Groups.Tests;

/// <summary>Coordinator failover: a new shard leader loads the groups; members carry on or rejoin; offsets survive.</summary>
public sealed class PersistenceTests : IAsyncLifetime
{
    private GroupsHost _host = null!;

    public async Task InitializeAsync() => _host = await GroupsHost.StartAsync();
    public async Task DisposeAsync() => await _host.DisposeAsync();

    /// <summary>A stable generation of two: dynamic "a" and static "b" (which joins first and leads).</summary>
    private async Task<(string Leader, string Follower, int Generation)> StableGroupOfTwoAsync(string group)
    {
        var groups = _host.Groups;
        string a = (await groups.JoinGroupAsync(GroupsHost.Join(group, clientId: "a"))).MemberId;
        // a's pending id holds the join phase open until a is back.
        var joinB = groups.JoinGroupAsync(GroupsHost.Join(group, instanceId: "static-b", clientId: "b"));
        var joinA = groups.JoinGroupAsync(GroupsHost.Join(group, a, clientId: "a"));
        var (ra, rb) = (await joinA.WaitAsync(TimeSpan.FromSeconds(10)), await joinB.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((1, 1, rb.MemberId), (ra.GenerationId, rb.GenerationId, rb.LeaderId));
        var syncs = new[]
        {
            groups.SyncGroupAsync(new SyncGroupInput(group, 1, a, null, null, null, [])),
            groups.SyncGroupAsync(new SyncGroupInput(group, 1, rb.MemberId, "static-b", null, null,
                [new(rb.MemberId, Encoding.UTF8.GetBytes("L")), new(a, Encoding.UTF8.GetBytes("F"))])),
        };
        Assert.All(await Task.WhenAll(syncs).WaitAsync(TimeSpan.FromSeconds(10)), s => Assert.Equal(ErrorCode.None, s.Error));
        return (rb.MemberId, a, 1);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_reloaded_coordinator_has_the_stable_generation_its_members_and_assignments_and_the_committed_offsets(bool reopenStore)
    {
        var (leader, follower, generation) = await StableGroupOfTwoAsync("g");
        var commit = new OffsetCommitInput("g", generation, leader, null, [new OffsetCommitEntry("orders", 0, 100, 4, "checkpoint"), new OffsetCommitEntry("orders", 1, 200, -1, null)]);
        Assert.Equal([ErrorCode.None, ErrorCode.None], await _host.Groups.CommitOffsetsAsync(commit));
        await _host.Groups.CommitOffsetsAsync(GroupsHost.Commit("simple-group", -1, "", ("orders", 0, 9)));

        await _host.ReloadAsync(reopenStore);
        var groups = _host.Groups;

        var description = await groups.DescribeGroupAsync("g");
        Assert.Equal(("Stable", "consumer", "range"), (description.State, description.ProtocolType, description.ProtocolData));
        Assert.Equal(new[] { follower, leader }.Order(), description.Members.Select(m => m.MemberId).Order());
        Assert.Equal("L", Encoding.UTF8.GetString(description.Members.Single(m => m.MemberId == leader).Assignment));
        Assert.Equal("F", Encoding.UTF8.GetString(description.Members.Single(m => m.MemberId == follower).Assignment));
        Assert.Equal("static-b", description.Members.Single(m => m.MemberId == leader).GroupInstanceId);

        var offsets = await groups.FetchOffsetsAsync("g", null);
        Assert.Equal([(0, 100L, 4, "checkpoint"), (1, 200L, -1, "")], offsets.Offsets.Select(o => (o.Partition, o.Offset, o.LeaderEpoch, o.Metadata)));
        Assert.Equal(9, (await groups.FetchOffsetsAsync("simple-group", [new("orders", 0)])).Offsets[0].Offset);

        // The members carry on with the generation they had.
        string? followerInstance = null;
        Assert.Equal(ErrorCode.None, await groups.HeartbeatAsync("g", follower, followerInstance, generation));
        var sync = await groups.SyncGroupAsync(new SyncGroupInput("g", generation, follower, followerInstance, null, null, []));
        Assert.Equal("F", Encoding.UTF8.GetString(sync.Assignment));
        Assert.Equal([ErrorCode.None], await groups.CommitOffsetsAsync(GroupsHost.Commit("g", generation, follower, ("orders", 2, 1))));

        // And the group rebalances on from there.
        var left = await groups.LeaveGroupAsync("g", [new LeavingMember(leader, "static-b")]);
        Assert.Equal(ErrorCode.None, left.Members[0].Error);
        var rejoined = await groups.JoinGroupAsync(GroupsHost.Join("g", follower, followerInstance)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal((ErrorCode.None, generation + 1, follower), (rejoined.Error, rejoined.GenerationId, rejoined.LeaderId));
    }

    [Fact]
    public async Task Members_that_do_not_come_back_after_a_reload_expire_and_the_group_goes_Empty_with_its_offsets()
    {
        var groups = _host.Groups;
        string id = (await groups.JoinGroupAsync(GroupsHost.Join("g", sessionMs: 300))).MemberId;
        var joined = await groups.JoinGroupAsync(GroupsHost.Join("g", id, sessionMs: 300));
        await groups.SyncGroupAsync(new SyncGroupInput("g", joined.GenerationId, id, null, null, null, []));
        await groups.CommitOffsetsAsync(GroupsHost.Commit("g", joined.GenerationId, id, ("orders", 0, 5)));

        await _host.ReloadAsync(reopenStore: true);
        await GroupsHost.EventuallyAsync(async () => (await _host.Groups.DescribeGroupAsync("g")).State == "Empty", "the group to go Empty");
        Assert.Equal(5, (await _host.Groups.FetchOffsetsAsync("g", [new("orders", 0)])).Offsets[0].Offset);

        await _host.ReloadAsync(reopenStore: true);
        var reloaded = await _host.Groups.DescribeGroupAsync("g");
        Assert.Equal(("Empty", "consumer"), (reloaded.State, reloaded.ProtocolType));
        // A new member continues from the stored generation.
        string next = (await _host.Groups.JoinGroupAsync(GroupsHost.Join("g"))).MemberId;
        Assert.Equal(joined.GenerationId + 2, (await _host.Groups.JoinGroupAsync(GroupsHost.Join("g", next))).GenerationId);
    }
}
