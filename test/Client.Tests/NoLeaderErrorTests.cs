using KafScale.Protocol;

namespace KafScale.Client.Tests;

/// <summary>
/// The error a request gets for a partition without a leader to send to: a partition that exists
/// but has no leader (its broker died, a leader is being elected) is LEADER_NOT_AVAILABLE, which
/// callers retry, never UNKNOWN_TOPIC_OR_PARTITION, which tells them it does not exist.
/// </summary>
public sealed class NoLeaderErrorTests
{
    private static TopicMetadata Topic(ErrorCode topicError, params PartitionMetadata[] partitions) =>
        new("orders", Guid.NewGuid(), topicError, partitions);

    [Fact]
    public void A_partition_reported_with_leader_minus_1_is_LEADER_NOT_AVAILABLE()
    {
        var topic = Topic(ErrorCode.None, new PartitionMetadata(0, 1, 3, ErrorCode.None), new PartitionMetadata(1, -1, -1, ErrorCode.LeaderNotAvailable));
        Assert.False(topic.TryGetLeader(1, out _));
        Assert.Equal(ErrorCode.LeaderNotAvailable, topic.NoLeaderError(1));
    }

    [Fact]
    public void A_partition_without_a_leader_and_without_an_error_is_LEADER_NOT_AVAILABLE_too()
    {
        var topic = Topic(ErrorCode.None, new PartitionMetadata(0, -1, -1, ErrorCode.None));
        Assert.Equal(ErrorCode.LeaderNotAvailable, topic.NoLeaderError(0));
    }

    [Fact]
    public void A_partition_the_topic_does_not_have_is_UNKNOWN_TOPIC_OR_PARTITION_and_a_topic_error_comes_first()
    {
        var topic = Topic(ErrorCode.None, new PartitionMetadata(0, 1, 3, ErrorCode.None));
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, topic.NoLeaderError(5));
        Assert.Equal(ErrorCode.TopicAuthorizationFailed, Topic(ErrorCode.TopicAuthorizationFailed).NoLeaderError(0));
    }
}
