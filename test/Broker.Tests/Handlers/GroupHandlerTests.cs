using KafScale.Protocol.Messages;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>Group requests as a consumer sends them, over the harness's raw connection.</summary>
internal static class GroupRequests
{
    public static readonly byte[] Subscription = [0, 1, 0, 0, 0, 0, 255, 255, 255, 255];

    /// <summary>
    /// Joins a new member the way a v9 consumer does (MEMBER_ID_REQUIRED, then again with the id)
    /// and returns the member id and generation once the join phase ends (the initial delay, 3 s).
    /// </summary>
    public static async Task<(string MemberId, int Generation)> JoinAsync(HandlerHarness broker, string groupId)
    {
        var first = await broker.SendAsync<JoinGroupResponse>(Join(groupId, ""), 9);
        Assert.Equal(ErrorCodes.MemberIdRequired, first.ErrorCode);
        var joined = await broker.SendAsync<JoinGroupResponse>(Join(groupId, first.MemberId), 9);
        Assert.Equal(ErrorCodes.None, joined.ErrorCode);
        return (joined.MemberId, joined.GenerationId);
    }

    public static JoinGroupRequest Join(string groupId, string memberId, int sessionTimeoutMs = 10_000) => new()
    {
        GroupId = groupId,
        SessionTimeoutMs = sessionTimeoutMs,
        RebalanceTimeoutMs = 10_000,
        MemberId = memberId,
        ProtocolType = "consumer",
        Protocols = [new JoinGroupRequest.JoinGroupRequestProtocol { Name = "range", Metadata = Subscription }],
    };

    /// <summary>An offset commit outside any generation (generation -1, no member), as admin tools send.</summary>
    public static OffsetCommitRequest Commit(string groupId, string topic, int partition, long offset) => new()
    {
        GroupId = groupId,
        GenerationIdOrMemberEpoch = -1,
        MemberId = "",
        Topics = [new OffsetCommitRequest.OffsetCommitRequestTopic { Name = topic, Partitions = [new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = partition, CommittedOffset = offset, CommittedLeaderEpoch = -1, CommittedMetadata = "" }] }],
    };

    public static async Task CommitAsync(HandlerHarness broker, string groupId, string topic, int partition, long offset)
    {
        var response = await broker.SendAsync<OffsetCommitResponse>(Commit(groupId, topic, partition, offset), 8);
        Assert.Equal(ErrorCodes.None, response.Topics.Single().Partitions.Single().ErrorCode);
    }
}

public sealed class FindCoordinatorHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_finding_the_coordinator_from_the_leader_keys_in_memory()
    {
        FindCoordinatorResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<FindCoordinatorResponse>(new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = ["g1", "g2"] }, 6);
        Assert.All(response.Coordinators, c => Assert.Equal((ErrorCodes.None, broker.BrokerId), (c.ErrorCode, c.NodeId)));
    }

    [Fact]
    public async Task An_unknown_key_type_is_INVALID_REQUEST()
    {
        var response = await broker.SendAsync<FindCoordinatorResponse>(new FindCoordinatorRequest { KeyType = 7, CoordinatorKeys = ["g"] }, 6);
        Assert.Equal(ErrorCodes.InvalidRequest, response.Coordinators.Single().ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_is_UNSUPPORTED_VERSION()
    {
        // v4+ carry errors per key; a request that cannot be read has no keys to carry it, and names no coordinator.
        var response = await broker.SendWithHeaderVersionAsync<FindCoordinatorResponse>(new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = ["g"] }, headerVersion: 7, bodyVersion: 6, responseVersion: 6);
        Assert.Empty(response.Coordinators);
        var v3 = await broker.SendWithHeaderVersionAsync<FindCoordinatorResponse>(new FindCoordinatorRequest { Key = "g" }, headerVersion: 3, bodyVersion: 3, responseVersion: 3);
        Assert.Equal(ErrorCodes.None, v3.ErrorCode);
    }
}

public sealed class OffsetCommitHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_answers_COORDINATOR_NOT_AVAILABLE_for_every_partition_and_keeps_the_old_offset()
    {
        string topic = await broker.CreateTopicAsync("oc-o");
        string group = HandlerHarness.Unique("g-oc");
        await GroupRequests.CommitAsync(broker, group, topic, 0, 5);
        OffsetCommitResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.SendAsync<OffsetCommitResponse>(GroupRequests.Commit(group, topic, 0, 9), 8);
        Assert.Equal(ErrorCodes.CoordinatorNotAvailable, during.Topics.Single().Partitions.Single().ErrorCode);

        var fetched = await broker.SendAsync<OffsetFetchResponse>(OffsetFetchHandlerTests.Fetch(group, topic, 0), 9);
        Assert.Equal(5, fetched.Groups.Single().Topics.Single().Partitions.Single().CommittedOffset);
    }

    [Fact]
    public async Task An_unknown_topic_or_partition_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        string topic = await broker.CreateTopicAsync("oc-u");
        string group = HandlerHarness.Unique("g-oc");
        var unknownTopic = await broker.SendAsync<OffsetCommitResponse>(GroupRequests.Commit(group, HandlerHarness.Unique("oc-x"), 0, 1), 8);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownTopic.Topics.Single().Partitions.Single().ErrorCode);
        var unknownPartition = await broker.SendAsync<OffsetCommitResponse>(GroupRequests.Commit(group, topic, 4, 1), 8);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, unknownPartition.Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task A_commit_with_a_generation_the_group_never_had_is_ILLEGAL_GENERATION()
    {
        string topic = await broker.CreateTopicAsync("oc-g");
        var request = GroupRequests.Commit(HandlerHarness.Unique("g-oc"), topic, 0, 1);
        request.GenerationIdOrMemberEpoch = 3;
        request.MemberId = "nobody";
        var response = await broker.SendAsync<OffsetCommitResponse>(request, 8);
        Assert.Equal(ErrorCodes.IllegalGeneration, response.Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task Version_1_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION_for_every_partition()
    {
        string topic = await broker.CreateTopicAsync("oc-v");
        var response = await broker.SendAsync<OffsetCommitResponse>(GroupRequests.Commit(HandlerHarness.Unique("g-oc"), topic, 0, 1), 1);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.Topics.Single().Partitions.Single().ErrorCode);
    }
}

public sealed class OffsetFetchHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    internal static OffsetFetchRequest Fetch(string group, string topic, int partition) => new()
    {
        Groups = [new OffsetFetchRequest.OffsetFetchRequestGroup { GroupId = group, MemberId = null, MemberEpoch = -1, Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = topic, PartitionIndexes = [partition] }] }],
    };

    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_answering_committed_offsets_from_memory()
    {
        string topic = await broker.CreateTopicAsync("of-o");
        string group = HandlerHarness.Unique("g-of");
        await GroupRequests.CommitAsync(broker, group, topic, 0, 7);
        OffsetFetchResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<OffsetFetchResponse>(Fetch(group, topic, 0), 9);
        var g = response.Groups.Single();
        Assert.Equal(ErrorCodes.None, g.ErrorCode);
        Assert.Equal(7, g.Topics.Single().Partitions.Single().CommittedOffset);
    }

    [Fact]
    public async Task A_partition_without_a_committed_offset_answers_offset_minus_1()
    {
        var response = await broker.SendAsync<OffsetFetchResponse>(Fetch(HandlerHarness.Unique("g-of"), HandlerHarness.Unique("of-x"), 0), 9);
        var p = response.Groups.Single().Topics.Single().Partitions.Single();
        Assert.Equal((ErrorCodes.None, -1L), (p.ErrorCode, p.CommittedOffset));
    }

    [Fact]
    public async Task Version_0_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION_for_every_partition()
    {
        var request = new OffsetFetchRequest { GroupId = "g", Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = "t", PartitionIndexes = [0, 1] }] };
        var response = await broker.SendAsync<OffsetFetchResponse>(request, 0);
        Assert.Equal(2, response.Topics.Single().Partitions.Count);
        Assert.All(response.Topics.Single().Partitions, p => Assert.Equal(ErrorCodes.UnsupportedVersion, p.ErrorCode));
    }
}

public sealed class OffsetDeleteHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static OffsetDeleteRequest Request(string group, string topic, int partition) => new()
    {
        GroupId = group,
        Topics = [new OffsetDeleteRequest.OffsetDeleteRequestTopic { Name = topic, Partitions = [new OffsetDeleteRequest.OffsetDeleteRequestPartition { PartitionIndex = partition }] }],
    };

    [Fact]
    public async Task A_metadata_store_outage_answers_COORDINATOR_NOT_AVAILABLE_and_the_offset_stays()
    {
        string topic = await broker.CreateTopicAsync("od-o");
        string group = HandlerHarness.Unique("g-od");
        await GroupRequests.CommitAsync(broker, group, topic, 0, 3);
        OffsetDeleteResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.SendAsync<OffsetDeleteResponse>(Request(group, topic, 0), 0);
        Assert.Equal(ErrorCodes.CoordinatorNotAvailable, during.ErrorCode);
        var fetched = await broker.SendAsync<OffsetFetchResponse>(OffsetFetchHandlerTests.Fetch(group, topic, 0), 9);
        Assert.Equal(3, fetched.Groups.Single().Topics.Single().Partitions.Single().CommittedOffset);
    }

    [Fact]
    public async Task An_unknown_group_is_GROUP_ID_NOT_FOUND()
    {
        var response = await broker.SendAsync<OffsetDeleteResponse>(Request(HandlerHarness.Unique("g-od"), "t", 0), 0);
        Assert.Equal(ErrorCodes.GroupIdNotFound, response.ErrorCode);
    }

    [Fact]
    public async Task An_unknown_partition_is_UNKNOWN_TOPIC_OR_PARTITION()
    {
        string topic = await broker.CreateTopicAsync("od-u");
        string group = HandlerHarness.Unique("g-od");
        await GroupRequests.CommitAsync(broker, group, topic, 0, 3);
        var response = await broker.SendAsync<OffsetDeleteResponse>(Request(group, topic, 6), 0);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        Assert.Equal(ErrorCodes.UnknownTopicOrPartition, response.Topics.Single().Partitions.Single().ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_is_UNSUPPORTED_VERSION()
    {
        var response = await broker.SendWithHeaderVersionAsync<OffsetDeleteResponse>(Request("g", "t", 0), headerVersion: 1, bodyVersion: 0, responseVersion: 0);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.ErrorCode);
    }
}

public sealed class DeleteGroupsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_answers_COORDINATOR_NOT_AVAILABLE_and_the_group_stays()
    {
        string topic = await broker.CreateTopicAsync("dg-o");
        string group = HandlerHarness.Unique("g-dg");
        await GroupRequests.CommitAsync(broker, group, topic, 0, 3);
        DeleteGroupsResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.SendAsync<DeleteGroupsResponse>(new DeleteGroupsRequest { GroupsNames = [group] }, 2);
        Assert.Equal(ErrorCodes.CoordinatorNotAvailable, during.Results.Single().ErrorCode);
        var after = await broker.SendAsync<DeleteGroupsResponse>(new DeleteGroupsRequest { GroupsNames = [group] }, 2);
        Assert.Equal(ErrorCodes.None, after.Results.Single().ErrorCode);
    }

    [Fact]
    public async Task An_unknown_group_is_GROUP_ID_NOT_FOUND()
    {
        var response = await broker.SendAsync<DeleteGroupsResponse>(new DeleteGroupsRequest { GroupsNames = [HandlerHarness.Unique("g-dg")] }, 2);
        Assert.Equal(ErrorCodes.GroupIdNotFound, response.Results.Single().ErrorCode);
    }

    [Fact]
    public async Task A_group_with_members_is_NON_EMPTY_GROUP()
    {
        string group = HandlerHarness.Unique("g-dg");
        await GroupRequests.JoinAsync(broker, group);
        var response = await broker.SendAsync<DeleteGroupsResponse>(new DeleteGroupsRequest { GroupsNames = [group] }, 2);
        Assert.Equal(ErrorCodes.NonEmptyGroup, response.Results.Single().ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_gets_a_well_formed_answer_that_reports_no_success()
    {
        var response = await broker.SendWithHeaderVersionAsync<DeleteGroupsResponse>(new DeleteGroupsRequest { GroupsNames = ["g"] }, headerVersion: 3, bodyVersion: 2, responseVersion: 2);
        Assert.Empty(response.Results);
    }
}

public sealed class DescribeGroupsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_describing_groups_from_memory()
    {
        string topic = await broker.CreateTopicAsync("dsg-o");
        string group = HandlerHarness.Unique("g-ds");
        await GroupRequests.CommitAsync(broker, group, topic, 0, 1);
        DescribeGroupsResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<DescribeGroupsResponse>(new DescribeGroupsRequest { Groups = [group] }, 5);
        var g = response.Groups.Single();
        Assert.Equal((ErrorCodes.None, "Empty"), (g.ErrorCode, g.GroupState));
    }

    [Fact]
    public async Task An_unknown_group_is_described_as_Dead_without_an_error_as_Kafka_does()
    {
        var response = await broker.SendAsync<DescribeGroupsResponse>(new DescribeGroupsRequest { Groups = [HandlerHarness.Unique("g-ds")] }, 5);
        var g = response.Groups.Single();
        Assert.Equal((ErrorCodes.None, "Dead"), (g.ErrorCode, g.GroupState));
    }

    [Fact]
    public async Task A_version_above_the_highest_gets_a_well_formed_answer_that_reports_no_success()
    {
        var response = await broker.SendWithHeaderVersionAsync<DescribeGroupsResponse>(new DescribeGroupsRequest { Groups = ["g"] }, headerVersion: 6, bodyVersion: 5, responseVersion: 5);
        Assert.Empty(response.Groups);
    }
}

public sealed class ListGroupsHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_listing_groups_from_memory()
    {
        string topic = await broker.CreateTopicAsync("lg-o");
        string group = HandlerHarness.Unique("g-lg");
        await GroupRequests.CommitAsync(broker, group, topic, 0, 1);
        ListGroupsResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<ListGroupsResponse>(new ListGroupsRequest(), 5);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        Assert.Contains(response.Groups, g => g.GroupId == group);
    }

    [Fact]
    public async Task A_state_filter_that_matches_nothing_lists_nothing()
    {
        var response = await broker.SendAsync<ListGroupsResponse>(new ListGroupsRequest { StatesFilter = ["NoSuchState"] }, 5);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        Assert.Empty(response.Groups);
    }

    [Fact]
    public async Task A_version_above_the_highest_is_UNSUPPORTED_VERSION()
    {
        var response = await broker.SendWithHeaderVersionAsync<ListGroupsResponse>(new ListGroupsRequest(), headerVersion: 6, bodyVersion: 5, responseVersion: 5);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.ErrorCode);
    }
}

public sealed class JoinGroupHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_a_join_phase_which_stores_nothing_until_the_leader_syncs()
    {
        string group = HandlerHarness.Unique("g-jg");
        (string MemberId, int Generation) joined;
        using (broker.MetadataStoreOutage())
            joined = await GroupRequests.JoinAsync(broker, group);
        Assert.Equal(1, joined.Generation);
    }

    [Fact]
    public async Task A_session_timeout_below_the_minimum_is_INVALID_SESSION_TIMEOUT()
    {
        var response = await broker.SendAsync<JoinGroupResponse>(GroupRequests.Join(HandlerHarness.Unique("g-jg"), "", sessionTimeoutMs: 100), 9);
        Assert.Equal(ErrorCodes.InvalidSessionTimeout, response.ErrorCode);
    }

    [Fact]
    public async Task An_empty_group_id_is_INVALID_GROUP_ID()
    {
        var response = await broker.SendAsync<JoinGroupResponse>(GroupRequests.Join("", ""), 9);
        Assert.Equal(ErrorCodes.InvalidGroupId, response.ErrorCode);
    }

    [Fact]
    public async Task Version_1_below_the_Kafka_4_floor_is_UNSUPPORTED_VERSION()
    {
        var response = await broker.SendAsync<JoinGroupResponse>(GroupRequests.Join(HandlerHarness.Unique("g-jg"), ""), 1);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.ErrorCode);
    }
}

public sealed class SyncGroupHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static SyncGroupRequest Sync(string group, string member, int generation) => new()
    {
        GroupId = group,
        GenerationId = generation,
        MemberId = member,
        ProtocolType = "consumer",
        ProtocolName = "range",
        Assignments = [new SyncGroupRequest.SyncGroupRequestAssignment { MemberId = member, Assignment = [0, 1, 0, 0, 0, 0, 255, 255, 255, 255] }],
    };

    [Fact]
    public async Task A_metadata_store_outage_answers_the_leaders_sync_with_COORDINATOR_NOT_AVAILABLE()
    {
        string group = HandlerHarness.Unique("g-sg");
        var (member, generation) = await GroupRequests.JoinAsync(broker, group);
        SyncGroupResponse during;
        using (broker.MetadataStoreOutage())
            during = await broker.SendAsync<SyncGroupResponse>(Sync(group, member, generation), 5);
        Assert.Equal(ErrorCodes.CoordinatorNotAvailable, during.ErrorCode);
    }

    [Fact]
    public async Task An_unknown_member_is_UNKNOWN_MEMBER_ID()
    {
        string group = HandlerHarness.Unique("g-sg");
        var (_, generation) = await GroupRequests.JoinAsync(broker, group);
        var response = await broker.SendAsync<SyncGroupResponse>(Sync(group, "stranger", generation), 5);
        Assert.Equal(ErrorCodes.UnknownMemberId, response.ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_is_UNSUPPORTED_VERSION()
    {
        var response = await broker.SendWithHeaderVersionAsync<SyncGroupResponse>(Sync("g", "m", 1), headerVersion: 6, bodyVersion: 5, responseVersion: 5);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.ErrorCode);
    }
}

public sealed class HeartbeatHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    [Fact]
    public async Task A_metadata_store_outage_does_not_stop_heartbeats_which_store_nothing()
    {
        string group = HandlerHarness.Unique("g-hb");
        var (member, generation) = await GroupRequests.JoinAsync(broker, group);
        HeartbeatResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<HeartbeatResponse>(new HeartbeatRequest { GroupId = group, MemberId = member, GenerationId = generation }, 4);
        // The group waits for the leader's SyncGroup (CompletingRebalance), where a heartbeat is in order.
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
    }

    [Fact]
    public async Task An_unknown_member_is_UNKNOWN_MEMBER_ID()
    {
        string group = HandlerHarness.Unique("g-hb");
        var (_, generation) = await GroupRequests.JoinAsync(broker, group);
        var response = await broker.SendAsync<HeartbeatResponse>(new HeartbeatRequest { GroupId = group, MemberId = "stranger", GenerationId = generation }, 4);
        Assert.Equal(ErrorCodes.UnknownMemberId, response.ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_is_UNSUPPORTED_VERSION()
    {
        var response = await broker.SendWithHeaderVersionAsync<HeartbeatResponse>(new HeartbeatRequest { GroupId = "g", MemberId = "m" }, headerVersion: 5, bodyVersion: 4, responseVersion: 4);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.ErrorCode);
    }
}

public sealed class LeaveGroupHandlerTests(HandlerHarness broker) : IClassFixture<HandlerHarness>
{
    private static LeaveGroupRequest Leave(string group, string member) => new()
    {
        GroupId = group,
        Members = [new LeaveGroupRequest.MemberIdentity { MemberId = member, GroupInstanceId = null, Reason = "test" }],
    };

    [Fact]
    public async Task A_metadata_store_outage_still_lets_a_member_leave_because_leaving_needs_no_stored_state()
    {
        string group = HandlerHarness.Unique("g-lv");
        var (member, _) = await GroupRequests.JoinAsync(broker, group);
        LeaveGroupResponse response;
        using (broker.MetadataStoreOutage())
            response = await broker.SendAsync<LeaveGroupResponse>(Leave(group, member), 5);
        Assert.Equal(ErrorCodes.None, response.ErrorCode);
        Assert.Equal(ErrorCodes.None, response.Members.Single().ErrorCode);
    }

    [Fact]
    public async Task An_unknown_member_is_UNKNOWN_MEMBER_ID()
    {
        string group = HandlerHarness.Unique("g-lv");
        await GroupRequests.JoinAsync(broker, group);
        var response = await broker.SendAsync<LeaveGroupResponse>(Leave(group, "stranger"), 5);
        Assert.Equal(ErrorCodes.UnknownMemberId, response.Members.Single().ErrorCode);
    }

    [Fact]
    public async Task A_version_above_the_highest_is_UNSUPPORTED_VERSION()
    {
        var response = await broker.SendWithHeaderVersionAsync<LeaveGroupResponse>(Leave("g", "m"), headerVersion: 6, bodyVersion: 5, responseVersion: 5);
        Assert.Equal(ErrorCodes.UnsupportedVersion, response.ErrorCode);
    }
}
