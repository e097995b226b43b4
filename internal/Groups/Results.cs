using KafScale.Protocol;

namespace KafScale.Groups;

public sealed record JoinedMember(string MemberId, string? GroupInstanceId, byte[] Metadata);

/// <summary>
/// The answer to a JoinGroup. The leader gets every member with its metadata for the chosen
/// protocol; the others get an empty member list.
/// </summary>
public sealed record JoinGroupResult(
    ErrorCode Error,
    string MemberId,
    int GenerationId,
    string? ProtocolType,
    string? ProtocolName,
    string LeaderId,
    bool SkipAssignment,
    IReadOnlyList<JoinedMember> Members)
{
    public static JoinGroupResult Failed(string memberId, ErrorCode error) => new(error, memberId, -1, null, null, "", false, []);
}

public sealed record SyncGroupResult(ErrorCode Error, string? ProtocolType, string? ProtocolName, byte[] Assignment)
{
    public static SyncGroupResult Failed(ErrorCode error) => new(error, null, null, []);
}

public sealed record LeftMember(string MemberId, string? GroupInstanceId, ErrorCode Error);

public sealed record LeaveGroupResult(ErrorCode Error, IReadOnlyList<LeftMember> Members);

/// <summary>A committed offset as the coordinator holds it (and upstream's JSON stores it).</summary>
public sealed record CommittedOffset(long Offset, int LeaderEpoch, string Metadata, DateTimeOffset CommittedAt);

/// <summary>An OffsetFetch answer for one partition: offset -1 and error NONE when nothing is committed.</summary>
public sealed record FetchedOffset(string Topic, int Partition, long Offset, int LeaderEpoch, string Metadata, ErrorCode Error);

public sealed record OffsetFetchResult(ErrorCode Error, IReadOnlyList<FetchedOffset> Offsets);

public sealed record PartitionResult(TopicPartition Partition, ErrorCode Error);

/// <summary>An OffsetDelete answer: a group-level error, or one result per partition.</summary>
public sealed record OffsetDeleteResult(ErrorCode Error, IReadOnlyList<PartitionResult> Partitions);

public sealed record DescribedMember(string MemberId, string? GroupInstanceId, string ClientId, string ClientHost, byte[] Metadata, byte[] Assignment);

/// <summary>
/// A group as DescribeGroups shows it. Metadata and assignments are given only while the group
/// is Stable (ProtocolData is then the chosen protocol), as Kafka does. A group that does not
/// exist is Dead with no error (DescribeGroups v0-v5).
/// </summary>
public sealed record GroupDescription(ErrorCode Error, string GroupId, string State, string ProtocolType, string ProtocolData, IReadOnlyList<DescribedMember> Members)
{
    public static GroupDescription Failed(string groupId, ErrorCode error) => new(error, groupId, "", "", "", []);
    public static GroupDescription Dead(string groupId) => new(ErrorCode.None, groupId, GroupStates.Name(GroupState.Dead), "", "", []);
}

/// <summary>A group as ListGroups shows it. Every group here uses the classic protocol.</summary>
public sealed record GroupListing(string GroupId, string ProtocolType, GroupState State)
{
    public const string ClassicType = "classic";
    public string StateName => GroupStates.Name(State);
}

public sealed record ListGroupsResult(ErrorCode Error, IReadOnlyList<GroupListing> Groups);

/// <summary>One committed offset of one group, for lag.</summary>
public readonly record struct GroupOffset(string GroupId, string Topic, int Partition, long Offset);
