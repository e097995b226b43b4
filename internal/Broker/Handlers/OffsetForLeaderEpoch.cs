using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// OffsetForLeaderEpoch (23, KIP-101/320): clients use it to detect log truncation after a
/// leader change. Logs here are never truncated below the high watermark, so the end offset
/// of any epoch up to the current one is the high watermark; a future epoch is
/// UNKNOWN_LEADER_EPOCH and an older current_leader_epoch is FENCED_LEADER_EPOCH. Needs DESCRIBE on
/// each topic (a follower: CLUSTER_ACTION).
/// </summary>
internal sealed class OffsetForLeaderEpochHandler(Cluster cluster) : ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>
{
    public override short ApiKey => OffsetForLeaderEpochRequest.ApiKey;
    public override string Name => "OffsetForLeaderEpoch";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => OffsetForLeaderEpochRequest.HighestSupportedVersion;

    protected override ValueTask<OffsetForLeaderEpochResponse?> HandleAsync(RequestContext context, OffsetForLeaderEpochRequest request, short version)
    {
        var response = new OffsetForLeaderEpochResponse();
        // A follower (replica id >= 0, v3+) needs CLUSTER_ACTION; a consumer DESCRIBE on each topic.
        bool follower = version >= 3 && request.ReplicaId >= 0;
        bool followerAllowed = follower && context.AuthorizeCluster(AclOperation.ClusterAction);
        foreach (var t in request.Topics)
        {
            var tr = new OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult { Topic = t.Topic };
            response.Topics.Add(tr);
            bool allowed = follower ? followerAllowed : context.Authorize(AclOperation.Describe, AclResourceType.Topic, t.Topic);
            foreach (var p in t.Partitions)
            {
                var pr = new OffsetForLeaderEpochResponse.EpochEndOffset { Partition = p.Partition, LeaderEpoch = -1, EndOffset = -1 };
                tr.Partitions.Add(pr);
                if (!allowed) { pr.ErrorCode = ErrorCodes.TopicAuthorizationFailed; continue; }
                short error = cluster.TryGetPartition(t.Topic, p.Partition, out var log);
                if (error != 0) { pr.ErrorCode = error; continue; }
                int current = log.LeaderEpoch;
                if (p.CurrentLeaderEpoch >= 0 && p.CurrentLeaderEpoch < current) { pr.ErrorCode = ErrorCodes.FencedLeaderEpoch; continue; }
                if (p.CurrentLeaderEpoch > current || p.LeaderEpoch > current) { pr.ErrorCode = ErrorCodes.UnknownLeaderEpoch; continue; }
                pr.LeaderEpoch = p.LeaderEpoch;
                pr.EndOffset = log.HighWatermark;
            }
        }
        return ValueTask.FromResult<OffsetForLeaderEpochResponse?>(response);
    }

    protected override OffsetForLeaderEpochResponse ErrorResponse(OffsetForLeaderEpochRequest request, short errorCode)
    {
        var response = new OffsetForLeaderEpochResponse();
        foreach (var t in request.Topics)
        {
            var tr = new OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult { Topic = t.Topic };
            foreach (var p in t.Partitions) tr.Partitions.Add(new OffsetForLeaderEpochResponse.EpochEndOffset { Partition = p.Partition, ErrorCode = errorCode, LeaderEpoch = -1, EndOffset = -1 });
            response.Topics.Add(tr);
        }
        return response;
    }
}
