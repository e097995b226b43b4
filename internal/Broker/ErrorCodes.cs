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
    public const short InvalidRequest = (short)ErrorCode.InvalidRequest;
    public const short UnsupportedForMessageFormat = (short)ErrorCode.UnsupportedForMessageFormat;
    public const short PolicyViolation = (short)ErrorCode.PolicyViolation;
    public const short InvalidConfig = (short)ErrorCode.InvalidConfig;
    public const short InvalidRecord = (short)ErrorCode.InvalidRecord;
    public const short KafkaStorageError = (short)ErrorCode.KafkaStorageError;
    public const short UnknownServerError = (short)ErrorCode.UnknownServerError;
    public const short ClusterAuthorizationFailed = (short)ErrorCode.ClusterAuthorizationFailed;
    public const short TransactionalIdAuthorizationFailed = (short)ErrorCode.TransactionalIdAuthorizationFailed;
    public const short GroupAuthorizationFailed = (short)ErrorCode.GroupAuthorizationFailed;
    public const short CoordinatorNotAvailable = (short)ErrorCode.CoordinatorNotAvailable;
    public const short NotCoordinator = (short)ErrorCode.NotCoordinator;
    public const short InvalidGroupId = (short)ErrorCode.InvalidGroupId;
    public const short UnknownTopicId = (short)ErrorCode.UnknownTopicId;
    public const short FencedLeaderEpoch = (short)ErrorCode.FencedLeaderEpoch;
    public const short UnknownLeaderEpoch = (short)ErrorCode.UnknownLeaderEpoch;
    public const short ThrottlingQuotaExceeded = (short)ErrorCode.ThrottlingQuotaExceeded;
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
}
