namespace KafScale.Groups.Tests;

/// <summary>DescribeGroups, ListGroups and DeleteGroups.</summary>
public sealed class AdminTests : IAsyncLifetime
{
    private GroupsHost _host = null!;
    private GroupCoordinatorService Groups => _host.Groups;

    public async Task InitializeAsync() => _host = await GroupsHost.StartAsync();
    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task DeleteGroups_refuses_a_group_with_members_and_deletes_an_empty_one_with_its_offsets()
    {
        Assert.Equal(ErrorCode.GroupIdNotFound, await Groups.DeleteGroupAsync("nobody"));

        await using var member = new TestConsumer(Groups, "g");
        await GroupsHost.EventuallyAsync(() => member.State.Generation > 0, "the member to settle");
        await Groups.CommitOffsetsAsync(GroupsHost.Commit("g", member.State.Generation, member.State.MemberId, ("orders", 0, 3), ("orders", 1, 4)));
        Assert.Equal(ErrorCode.NonEmptyGroup, await Groups.DeleteGroupAsync("g"));

        await member.LeaveAsync();
        Assert.Equal("Empty", (await Groups.DescribeGroupAsync("g")).State);
        Assert.NotEmpty((await _host.Store.GetPrefixAsync("/kafscale/groups/g/", CancellationToken.None)).Kvs);
        Assert.Equal(ErrorCode.None, await Groups.DeleteGroupAsync("g"));

        Assert.Empty((await _host.Store.GetPrefixAsync("/kafscale/consumers/g/", CancellationToken.None)).Kvs);
        Assert.Empty((await _host.Store.GetPrefixAsync("/kafscale/groups/g/", CancellationToken.None)).Kvs);
        Assert.Equal(-1, (await Groups.FetchOffsetsAsync("g", [new("orders", 0)])).Offsets[0].Offset);
        Assert.Equal("Dead", (await Groups.DescribeGroupAsync("g")).State);
        Assert.Equal(ErrorCode.GroupIdNotFound, await Groups.DeleteGroupAsync("g"));

        // The name can be used again from scratch.
        await using var again = new TestConsumer(Groups, "g");
        await GroupsHost.EventuallyAsync(() => again.State.Generation > 0, "a new group of the same name");
    }

    [Fact]
    public async Task ListGroups_filters_by_state_case_insensitively()
    {
        await Groups.CommitOffsetsAsync(GroupsHost.Commit("empty-group", -1, "", ("orders", 0, 1)));
        await using var member = new TestConsumer(Groups, "stable-group");
        await GroupsHost.EventuallyAsync(() => member.State.Generation > 0, "the member to settle");

        Assert.Equal(["empty-group", "stable-group"], Groups.ListGroups().Groups.Select(g => g.GroupId));
        Assert.Equal(["stable-group"], Groups.ListGroups(["stable"]).Groups.Select(g => g.GroupId));
        Assert.Equal(["empty-group"], Groups.ListGroups(["EMPTY"]).Groups.Select(g => g.GroupId));
        Assert.Equal(["empty-group", "stable-group"], Groups.ListGroups(["Empty", "Stable"]).Groups.Select(g => g.GroupId));
        Assert.Empty(Groups.ListGroups(["PreparingRebalance"]).Groups);
        Assert.Empty(Groups.ListGroups(["no-such-state"]).Groups);
        var stable = Groups.ListGroups(["stable"]).Groups[0];
        Assert.Equal(("consumer", "Stable"), (stable.ProtocolType, stable.StateName));
    }

    [Fact]
    public async Task DescribeGroups_shows_metadata_and_assignments_only_while_Stable_and_an_unknown_group_as_Dead()
    {
        var dead = await Groups.DescribeGroupAsync("nobody");
        Assert.Equal((ErrorCode.None, "Dead", "", ""), (dead.Error, dead.State, dead.ProtocolType, dead.ProtocolData));

        string id = (await Groups.JoinGroupAsync(GroupsHost.Join("g", clientId: "client-1"))).MemberId;
        var joined = await Groups.JoinGroupAsync(GroupsHost.Join("g", id, clientId: "client-1", metadata: [7, 7]));
        var completing = await Groups.DescribeGroupAsync("g");
        Assert.Equal(("CompletingRebalance", ""), (completing.State, completing.ProtocolData));
        var m = Assert.Single(completing.Members);
        Assert.Equal((id, "client-1", "/127.0.0.1"), (m.MemberId, m.ClientId, m.ClientHost));
        Assert.Empty(m.Metadata);

        await Groups.SyncGroupAsync(new SyncGroupInput("g", joined.GenerationId, id, null, null, null, [new(id, [9])]));
        var stable = await Groups.DescribeGroupAsync("g");
        Assert.Equal(("Stable", "range"), (stable.State, stable.ProtocolData));
        Assert.Equal(new byte[] { 7, 7 }, stable.Members[0].Metadata);
        Assert.Equal(new byte[] { 9 }, stable.Members[0].Assignment);
    }
}
