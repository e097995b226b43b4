using System.Text;
using System.Text.Json;

namespace KafScale.Groups.Tests;

/// <summary>OffsetCommit, OffsetFetch and OffsetDelete as Kafka answers them.</summary>
public sealed class OffsetTests : IAsyncLifetime
{
    private GroupsHost _host = null!;
    private GroupCoordinatorService Groups => _host.Groups;

    public async Task InitializeAsync() => _host = await GroupsHost.StartAsync();
    public async Task DisposeAsync() => await _host.DisposeAsync();

    private async Task<TestConsumer> StableMemberAsync(string group, params string[] topics)
    {
        var c = new TestConsumer(Groups, group, topics: topics.Length == 0 ? null : topics);
        await GroupsHost.EventuallyAsync(() => c.State.Generation > 0, "the member to settle");
        return c;
    }

    [Fact]
    public async Task A_simple_commit_with_generation_minus_one_creates_a_group_and_is_refused_once_the_group_has_members()
    {
        Assert.Equal([ErrorCode.None, ErrorCode.None], await Groups.CommitOffsetsAsync(GroupsHost.Commit("simple", -1, "", ("orders", 0, 5), ("orders", 1, 7))));
        var fetched = await Groups.FetchOffsetsAsync("simple", [new("orders", 0), new("orders", 1)]);
        Assert.Equal([5L, 7L], fetched.Offsets.Select(o => o.Offset));
        Assert.All(fetched.Offsets, o => Assert.Equal("meta", o.Metadata));
        var listed = Assert.Single(Groups.ListGroups().Groups);
        Assert.Equal(("simple", "", GroupState.Empty), (listed.GroupId, listed.ProtocolType, listed.State));

        await using var member = await StableMemberAsync("simple");
        Assert.Equal([ErrorCode.UnknownMemberId], await Groups.CommitOffsetsAsync(GroupsHost.Commit("simple", -1, "", ("orders", 0, 9))));
        Assert.Equal([ErrorCode.None], await Groups.CommitOffsetsAsync(GroupsHost.Commit("simple", member.State.Generation, member.State.MemberId, ("orders", 0, 9))));
        Assert.Equal([ErrorCode.IllegalGeneration], await Groups.CommitOffsetsAsync(GroupsHost.Commit("simple", member.State.Generation + 1, member.State.MemberId, ("orders", 0, 10))));
        Assert.Equal([ErrorCode.UnknownMemberId], await Groups.CommitOffsetsAsync(GroupsHost.Commit("simple", member.State.Generation, "stranger", ("orders", 0, 10))));
        Assert.Equal(9, (await Groups.FetchOffsetsAsync("simple", [new("orders", 0)])).Offsets[0].Offset);
    }

    [Fact]
    public async Task A_commit_with_a_generation_to_a_group_that_does_not_exist_is_ILLEGAL_GENERATION_or_from_v9_GROUP_ID_NOT_FOUND()
    {
        Assert.Equal([ErrorCode.IllegalGeneration], await Groups.CommitOffsetsAsync(GroupsHost.Commit("nobody", 3, "m", ("orders", 0, 1))));
        Assert.Equal([ErrorCode.GroupIdNotFound], await Groups.CommitOffsetsAsync(GroupsHost.Commit("nobody", 3, "m", ("orders", 0, 1)) with { MissingGroupIsNotFound = true }));
        Assert.Empty(Groups.ListGroups().Groups);
    }

    [Fact]
    public async Task Commit_metadata_longer_than_the_limit_is_refused_for_its_partition_only()
    {
        var input = new OffsetCommitInput("g", -1, "", null,
            [new OffsetCommitEntry("orders", 0, 1, -1, new string('x', 4097)), new OffsetCommitEntry("orders", 1, 2, 3, null)]);
        Assert.Equal([ErrorCode.OffsetMetadataTooLarge, ErrorCode.None], await Groups.CommitOffsetsAsync(input));
        var fetched = await Groups.FetchOffsetsAsync("g", null);
        var only = Assert.Single(fetched.Offsets);
        Assert.Equal(("orders", 1, 2L, 3, ""), (only.Topic, only.Partition, only.Offset, only.LeaderEpoch, only.Metadata));
    }

    [Fact]
    public async Task Fetching_a_partition_without_a_commit_gives_offset_minus_one_and_no_error_even_for_an_unknown_group()
    {
        await Groups.CommitOffsetsAsync(GroupsHost.Commit("g", -1, "", ("orders", 0, 11)));
        var fetched = await Groups.FetchOffsetsAsync("g", [new("orders", 0), new("orders", 1), new("other", 0)]);
        Assert.Equal(ErrorCode.None, fetched.Error);
        Assert.Equal([11L, -1L, -1L], fetched.Offsets.Select(o => o.Offset));
        Assert.All(fetched.Offsets, o => Assert.Equal(ErrorCode.None, o.Error));
        Assert.Equal(-1, fetched.Offsets[1].LeaderEpoch);

        var unknown = await Groups.FetchOffsetsAsync("no-such-group", [new("orders", 0)]);
        Assert.Equal((ErrorCode.None, -1L, ErrorCode.None), (unknown.Error, unknown.Offsets[0].Offset, unknown.Offsets[0].Error));
        Assert.Empty((await Groups.FetchOffsetsAsync("no-such-group", null)).Offsets);
    }

    [Fact]
    public async Task Offsets_of_several_groups_on_different_shards_are_fetched_each_with_their_own_and_null_topics_mean_all()
    {
        string[] groups = Enumerable.Range(0, 40).Select(i => "group-" + i).GroupBy(Groups.ShardOf).Select(g => g.First()).Take(3).ToArray();
        Assert.Equal(3, groups.Select(Groups.ShardOf).Distinct().Count());
        for (int i = 0; i < groups.Length; i++)
            await Groups.CommitOffsetsAsync(GroupsHost.Commit(groups[i], -1, "", ("b-topic", 1, 100 + i), ("a-topic", 0, 200 + i), ("b-topic", 0, 300 + i)));

        for (int i = 0; i < groups.Length; i++)
        {
            var all = await Groups.FetchOffsetsAsync(groups[i], null);
            Assert.Equal([("a-topic", 0, 200L + i), ("b-topic", 0, 300L + i), ("b-topic", 1, 100L + i)], all.Offsets.Select(o => (o.Topic, o.Partition, o.Offset)));
        }
    }

    [Fact]
    public async Task Committed_offsets_are_stored_under_upstreams_key_as_its_JSON()
    {
        var input = new OffsetCommitInput("my-group", -1, "", null, [new OffsetCommitEntry("orders", 3, 1234, 5, "hello")]);
        await Groups.CommitOffsetsAsync(input);
        var kv = await _host.Store.GetAsync("/kafscale/consumers/my-group/offsets/orders/3", CancellationToken.None);
        Assert.NotNull(kv);
        using var json = JsonDocument.Parse(kv.Value);
        Assert.Equal(1234, json.RootElement.GetProperty("offset").GetInt64());
        Assert.Equal("hello", json.RootElement.GetProperty("metadata").GetString());
        string committedAt = json.RootElement.GetProperty("committed_at").GetString()!;
        Assert.EndsWith("Z", committedAt);
        Assert.True(DateTimeOffset.UtcNow - DateTimeOffset.Parse(committedAt, System.Globalization.CultureInfo.InvariantCulture) < TimeSpan.FromMinutes(1));
        Assert.Equal(5, json.RootElement.GetProperty("leader_epoch").GetInt32());
    }

    [Fact]
    public async Task Offsets_written_by_upstream_are_read_including_nanosecond_timestamps()
    {
        await _host.Store.PutAsync("/kafscale/consumers/upstream-group/offsets/orders/0",
            Encoding.UTF8.GetBytes("""{"offset":77,"metadata":"from go","committed_at":"2024-05-06T07:08:09.123456789Z"}"""), 0, CancellationToken.None);
        await _host.ReloadAsync(reopenStore: false);
        var o = Assert.Single((await _host.Groups.FetchOffsetsAsync("upstream-group", null)).Offsets);
        Assert.Equal((77L, "from go", -1), (o.Offset, o.Metadata, o.LeaderEpoch));
    }

    [Fact]
    public async Task OffsetDelete_deletes_an_empty_groups_offsets_and_refuses_topics_a_consumer_group_subscribes_to()
    {
        Assert.Equal(ErrorCode.GroupIdNotFound, (await Groups.DeleteOffsetsAsync("missing", [new("orders", 0)])).Error);

        await Groups.CommitOffsetsAsync(GroupsHost.Commit("empty", -1, "", ("orders", 0, 1), ("orders", 1, 2)));
        var deleted = await Groups.DeleteOffsetsAsync("empty", [new("orders", 0)]);
        Assert.Equal(ErrorCode.None, deleted.Error);
        Assert.Equal(ErrorCode.None, Assert.Single(deleted.Partitions).Error);
        Assert.Equal([-1L, 2L], (await Groups.FetchOffsetsAsync("empty", [new("orders", 0), new("orders", 1)])).Offsets.Select(o => o.Offset));
        // Deleting the last offsets of an empty group deletes the group.
        await Groups.DeleteOffsetsAsync("empty", [new("orders", 1)]);
        Assert.DoesNotContain(Groups.ListGroups().Groups, g => g.GroupId == "empty");

        await using var member = await StableMemberAsync("busy", "orders");
        await Groups.CommitOffsetsAsync(GroupsHost.Commit("busy", member.State.Generation, member.State.MemberId, ("orders", 0, 5), ("old-topic", 0, 6)));
        var partial = await Groups.DeleteOffsetsAsync("busy", [new("orders", 0), new("old-topic", 0)]);
        Assert.Equal(ErrorCode.None, partial.Error);
        Assert.Equal([ErrorCode.GroupSubscribedToTopic, ErrorCode.None], partial.Partitions.OrderBy(p => p.Partition.Topic == "old-topic").Select(p => p.Error));
        Assert.Equal([5L, -1L], (await Groups.FetchOffsetsAsync("busy", [new("orders", 0), new("old-topic", 0)])).Offsets.Select(o => o.Offset));
        Assert.Null(await _host.Store.GetAsync("/kafscale/consumers/busy/offsets/old-topic/0", CancellationToken.None));
    }

    [Fact]
    public async Task OffsetDelete_on_a_group_with_members_of_another_protocol_type_is_NON_EMPTY_GROUP()
    {
        string id = (await Groups.JoinGroupAsync(GroupsHost.Join("connect-group", protocolType: "connect", metadata: [1]))).MemberId;
        var joined = await Groups.JoinGroupAsync(GroupsHost.Join("connect-group", id, protocolType: "connect", metadata: [1]));
        Assert.Equal(ErrorCode.None, joined.Error);
        Assert.Equal(ErrorCode.NonEmptyGroup, (await Groups.DeleteOffsetsAsync("connect-group", [new("orders", 0)])).Error);
    }

    [Fact]
    public async Task Offsets_of_an_empty_group_expire_after_the_retention_and_the_group_with_them()
    {
        await using var host = await GroupsHost.StartAsync(GroupsHost.FastOptions with { OffsetsRetention = TimeSpan.FromMilliseconds(200), OffsetsRetentionCheckInterval = TimeSpan.FromMilliseconds(100) });
        await host.Groups.CommitOffsetsAsync(GroupsHost.Commit("short-lived", -1, "", ("orders", 0, 1)));
        Assert.Single((await host.Groups.FetchOffsetsAsync("short-lived", null)).Offsets);
        await GroupsHost.EventuallyAsync(async () => (await host.Groups.FetchOffsetsAsync("short-lived", null)).Offsets.Count == 0, "the offsets to expire");
        await GroupsHost.EventuallyAsync(() => host.Groups.ListGroups().Groups.Count == 0, "the group to go");
        Assert.Empty((await host.Store.GetPrefixAsync("/kafscale/consumers/short-lived/", CancellationToken.None)).Kvs);
    }

    [Fact]
    public async Task Deleting_a_topic_drops_every_groups_commits_for_it_and_keeps_the_rest()
    {
        await Groups.CommitOffsetsAsync(GroupsHost.Commit("g1", -1, "", ("doomed", 0, 1), ("kept", 0, 2)));
        await Groups.CommitOffsetsAsync(GroupsHost.Commit("g2", -1, "", ("doomed", 3, 4)));
        await Groups.DeleteTopicOffsetsAsync(["doomed"]);
        Assert.Equal([("kept", 2L)], (await Groups.FetchOffsetsAsync("g1", null)).Offsets.Select(o => (o.Topic, o.Offset)));
        Assert.Empty((await Groups.FetchOffsetsAsync("g2", null)).Offsets);
        Assert.Empty((await _host.Store.GetPrefixAsync("/kafscale/consumers/g2/", CancellationToken.None)).Kvs);
    }
}
