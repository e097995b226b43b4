namespace KafScale.Groups;

/// <summary>A topic partition, as committed offsets are keyed.</summary>
public readonly record struct TopicPartition(string Topic, int Partition);

/// <summary>One protocol a member supports (for consumers: an assignor and its subscription).</summary>
public sealed record GroupProtocol(string Name, byte[] Metadata);

/// <summary>A JoinGroup, whatever its version; the version-dependent rules come in as flags.</summary>
/// <param name="RequireKnownMemberId">v4+: a member without an id is sent one with MEMBER_ID_REQUIRED first (KIP-394).</param>
/// <param name="SupportsSkipAssignment">v9+: a static leader rejoining a stable group is told so and skips assigning (KIP-814).</param>
public sealed record JoinGroupInput(
    string GroupId,
    string MemberId,
    string? GroupInstanceId,
    string ClientId,
    string ClientHost,
    int SessionTimeoutMs,
    int RebalanceTimeoutMs,
    string ProtocolType,
    IReadOnlyList<GroupProtocol> Protocols,
    bool RequireKnownMemberId,
    bool SupportsSkipAssignment,
    string? Reason = null);

public sealed record MemberAssignment(string MemberId, byte[] Assignment);

/// <summary>A SyncGroup. ProtocolType and ProtocolName are null before v5 (not checked).</summary>
public sealed record SyncGroupInput(
    string GroupId,
    int GenerationId,
    string MemberId,
    string? GroupInstanceId,
    string? ProtocolType,
    string? ProtocolName,
    IReadOnlyList<MemberAssignment> Assignments);

/// <summary>One member a LeaveGroup removes: by member id, or (v3+, admin removal) by instance id alone.</summary>
public sealed record LeavingMember(string MemberId, string? GroupInstanceId, string? Reason = null);

public sealed record OffsetCommitEntry(string Topic, int Partition, long Offset, int LeaderEpoch, string? Metadata);

/// <summary>
/// An OffsetCommit. Generation -1 with no member id is a "simple" commit, accepted while the
/// group has no members.
/// </summary>
/// <param name="MissingGroupIsNotFound">v9+: a commit with a generation to a group that does not exist gets GROUP_ID_NOT_FOUND rather than ILLEGAL_GENERATION.</param>
public sealed record OffsetCommitInput(
    string GroupId,
    int GenerationId,
    string MemberId,
    string? GroupInstanceId,
    IReadOnlyList<OffsetCommitEntry> Offsets,
    bool MissingGroupIsNotFound = false);
