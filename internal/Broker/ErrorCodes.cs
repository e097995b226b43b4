using KafScale.Protocol;

namespace KafScale.Broker;

/// <summary>
/// The Kafka error codes the broker answers with, as the int16 the generated messages carry
/// (constants, so they can be used in switch patterns).
/// </summary>
internal static class ErrorCodes
{
    public const short None = (short)ErrorCode.None;
    public const short OffsetOutOfRange = (short)ErrorCode.OffsetOutOfRange;
    public const short CorruptMessage = (short)ErrorCode.CorruptMessage;
    public const short UnknownTopicOrPartition = (short)ErrorCode.UnknownTopicOrPartition;
    public const short InvalidFetchSize = (short)ErrorCode.InvalidFetchSize;
    public const short FetchSessionIdNotFound = (short)ErrorCode.FetchSessionIdNotFound;
    public const short InvalidFetchSessionEpoch = (short)ErrorCode.InvalidFetchSessionEpoch;
    public const short FetchSessionTopicIdError = (short)ErrorCode.FetchSessionTopicIdError;
    public const short LeaderNotAvailable = (short)ErrorCode.LeaderNotAvailable;
    public const short NotLeaderOrFollower = (short)ErrorCode.NotLeaderOrFollower;
    public const short RequestTimedOut = (short)ErrorCode.RequestTimedOut;
    public const short MessageTooLarge = (short)ErrorCode.MessageTooLarge;
    public const short InvalidTopicException = (short)ErrorCode.InvalidTopicException;
    public const short RecordListTooLarge = (short)ErrorCode.RecordListTooLarge;
    public const short InvalidRequiredAcks = (short)ErrorCode.InvalidRequiredAcks;
    public const short InvalidTimestamp = (short)ErrorCode.InvalidTimestamp;
    public const short UnsupportedSaslMechanism = (short)ErrorCode.UnsupportedSaslMechanism;
    public const short UnsupportedVersion = (short)ErrorCode.UnsupportedVersion;
    public const short TopicAlreadyExists = (short)ErrorCode.TopicAlreadyExists;
    public const short InvalidPartitions = (short)ErrorCode.InvalidPartitions;
    public const short InvalidReplicationFactor = (short)ErrorCode.InvalidReplicationFactor;
    public const short InvalidReplicaAssignment = (short)ErrorCode.InvalidReplicaAssignment;
    public const short InvalidRequest = (short)ErrorCode.InvalidRequest;
    public const short UnsupportedForMessageFormat = (short)ErrorCode.UnsupportedForMessageFormat;
    public const short PolicyViolation = (short)ErrorCode.PolicyViolation;
    public const short InvalidConfig = (short)ErrorCode.InvalidConfig;
    public const short InvalidRecord = (short)ErrorCode.InvalidRecord;
    public const short KafkaStorageError = (short)ErrorCode.KafkaStorageError;
    public const short UnknownServerError = (short)ErrorCode.UnknownServerError;
    public const short ClusterAuthorizationFailed = (short)ErrorCode.ClusterAuthorizationFailed;
    public const short TopicAuthorizationFailed = (short)ErrorCode.TopicAuthorizationFailed;
    public const short SecurityDisabled = (short)ErrorCode.SecurityDisabled;
    public const short TransactionalIdAuthorizationFailed = (short)ErrorCode.TransactionalIdAuthorizationFailed;
    public const short GroupAuthorizationFailed = (short)ErrorCode.GroupAuthorizationFailed;
    public const short CoordinatorNotAvailable = (short)ErrorCode.CoordinatorNotAvailable;
    public const short NotCoordinator = (short)ErrorCode.NotCoordinator;
    public const short InvalidGroupId = (short)ErrorCode.InvalidGroupId;
    public const short UnknownTopicId = (short)ErrorCode.UnknownTopicId;
    public const short FencedLeaderEpoch = (short)ErrorCode.FencedLeaderEpoch;
    public const short UnknownLeaderEpoch = (short)ErrorCode.UnknownLeaderEpoch;
    public const short ThrottlingQuotaExceeded = (short)ErrorCode.ThrottlingQuotaExceeded;
    public const short PreferredLeaderNotAvailable = (short)ErrorCode.PreferredLeaderNotAvailable;
    public const short EligibleLeadersNotAvailable = (short)ErrorCode.EligibleLeadersNotAvailable;
    public const short ElectionNotNeeded = (short)ErrorCode.ElectionNotNeeded;
    public const short NoReassignmentInProgress = (short)ErrorCode.NoReassignmentInProgress;
    public const short OffsetNotAvailable = (short)ErrorCode.OffsetNotAvailable;
    public const short TopicDeletionDisabled = (short)ErrorCode.TopicDeletionDisabled;
    public const short IllegalSaslState = (short)ErrorCode.IllegalSaslState;
    public const short SaslAuthenticationFailed = (short)ErrorCode.SaslAuthenticationFailed;
    public const short InvalidProducerEpoch = (short)ErrorCode.InvalidProducerEpoch;
    public const short UnknownProducerId = (short)ErrorCode.UnknownProducerId;
    public const short OutOfOrderSequenceNumber = (short)ErrorCode.OutOfOrderSequenceNumber;
    public const short DuplicateSequenceNumber = (short)ErrorCode.DuplicateSequenceNumber;
    public const short ResourceNotFound = (short)ErrorCode.ResourceNotFound;
    public const short OffsetMetadataTooLarge = (short)ErrorCode.OffsetMetadataTooLarge;
    public const short CoordinatorLoadInProgress = (short)ErrorCode.CoordinatorLoadInProgress;
    public const short IllegalGeneration = (short)ErrorCode.IllegalGeneration;
    public const short InconsistentGroupProtocol = (short)ErrorCode.InconsistentGroupProtocol;
    public const short UnknownMemberId = (short)ErrorCode.UnknownMemberId;
    public const short InvalidSessionTimeout = (short)ErrorCode.InvalidSessionTimeout;
    public const short RebalanceInProgress = (short)ErrorCode.RebalanceInProgress;
    public const short NonEmptyGroup = (short)ErrorCode.NonEmptyGroup;
    public const short GroupIdNotFound = (short)ErrorCode.GroupIdNotFound;
    public const short MemberIdRequired = (short)ErrorCode.MemberIdRequired;
    public const short GroupMaxSizeReached = (short)ErrorCode.GroupMaxSizeReached;
    public const short FencedInstanceId = (short)ErrorCode.FencedInstanceId;
    public const short GroupSubscribedToTopic = (short)ErrorCode.GroupSubscribedToTopic;
    public const short UnstableOffsetCommit = (short)ErrorCode.UnstableOffsetCommit;

    /// <summary>
    /// The error a request of this API gets, for every entity it names, when the metadata store
    /// cannot serve it (etcd unreachable, the embedded log failed). The one table for all
    /// handlers; docs/protocol.md, "Errors when the metadata store is unavailable", lists it and
    /// docs/decisions.md says why. Every code is retriable, and none claims a write did not happen
    /// where it may have (a store write can fail after it was applied).
    /// </summary>
    public static short WhenMetadataStoreUnavailable(short apiKey) => apiKey switch
    {
        // Group APIs: the coordinator cannot reach its state; clients look the coordinator up again and retry.
        ApiKeys.OffsetCommit or ApiKeys.OffsetFetch or ApiKeys.FindCoordinator or ApiKeys.JoinGroup or ApiKeys.Heartbeat
            or ApiKeys.LeaveGroup or ApiKeys.SyncGroup or ApiKeys.DescribeGroups or ApiKeys.ListGroups
            or ApiKeys.DeleteGroups or ApiKeys.OffsetDelete => CoordinatorNotAvailable,
        // Reads of partition data: refresh metadata and retry, as after a leadership change.
        ApiKeys.Fetch or ApiKeys.ListOffsets or ApiKeys.OffsetForLeaderEpoch => NotLeaderOrFollower,
        // Metadata: only auto-creation touches the store; Kafka answers a topic being created with this.
        ApiKeys.Metadata => LeaderNotAvailable,
        // InitProducerId: Kafka's answer while a broker has no block of producer ids from the controller.
        ApiKeys.InitProducerId => CoordinatorLoadInProgress,
        // Produce and the admin APIs (CreateTopics, DeleteTopics, DeleteRecords, CreatePartitions, the
        // config APIs, DescribeCluster): Kafka's answer when the controller did not confirm in time,
        // which leaves the outcome open; the client retries and learns what happened.
        _ => RequestTimedOut,
    };
}
