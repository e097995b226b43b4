using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Groups;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// OffsetCommit (8): stores committed offsets in the metadata store (upstream's key and JSON).
/// Members commit with their generation; generation -1 with no member id is a "simple" commit
/// (the admin client, or a consumer that assigns partitions itself), accepted while the group
/// has no members. Partitions that do not exist get UNKNOWN_TOPIC_OR_PARTITION. Needs READ on the
/// group (GROUP_AUTHORIZATION_FAILED for every partition otherwise) and READ on each topic
/// (TOPIC_AUTHORIZATION_FAILED for its partitions).
/// </summary>
internal sealed class OffsetCommitHandler(Cluster cluster) : ApiHandler<OffsetCommitRequest, OffsetCommitResponse>
{
    public override short ApiKey => OffsetCommitRequest.ApiKey;
    public override string Name => "OffsetCommit";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => OffsetCommitRequest.HighestSupportedVersion;

    protected override async ValueTask<OffsetCommitResponse?> HandleAsync(RequestContext context, OffsetCommitRequest request, short version)
    {
        if (!context.Authorize(AclOperation.Read, AclResourceType.Group, request.GroupId)) return ErrorResponse(request, ErrorCodes.GroupAuthorizationFailed);
        var response = new OffsetCommitResponse();
        var entries = new List<OffsetCommitEntry>();
        var slots = new List<OffsetCommitResponse.OffsetCommitResponsePartition>();
        foreach (var topic in request.Topics)
        {
            var t = new OffsetCommitResponse.OffsetCommitResponseTopic { Name = topic.Name };
            response.Topics.Add(t);
            bool readable = context.Authorize(AclOperation.Read, AclResourceType.Topic, topic.Name);
            foreach (var p in topic.Partitions)
            {
                var result = new OffsetCommitResponse.OffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex };
                t.Partitions.Add(result);
                if (!readable) { result.ErrorCode = ErrorCodes.TopicAuthorizationFailed; continue; }
                short exists = cluster.PartitionExists(topic.Name, p.PartitionIndex);
                if (exists != ErrorCodes.None)
                {
                    result.ErrorCode = exists;
                    continue;
                }
                entries.Add(new OffsetCommitEntry(topic.Name, p.PartitionIndex, p.CommittedOffset, version >= 6 ? p.CommittedLeaderEpoch : -1, p.CommittedMetadata));
                slots.Add(result);
            }
        }
        if (entries.Count == 0) return response;

        var input = new OffsetCommitInput(
            request.GroupId,
            request.GenerationIdOrMemberEpoch,
            request.MemberId,
            version >= 7 ? request.GroupInstanceId : null,
            entries,
            MissingGroupIsNotFound: version >= 9);
        var errors = await cluster.Groups.CommitOffsetsAsync(input).ConfigureAwait(false);
        for (int i = 0; i < slots.Count; i++) slots[i].ErrorCode = (short)errors[i];
        return response;
    }

    protected override OffsetCommitResponse ErrorResponse(OffsetCommitRequest request, short errorCode)
    {
        var response = new OffsetCommitResponse();
        foreach (var topic in request.Topics)
        {
            var t = new OffsetCommitResponse.OffsetCommitResponseTopic { Name = topic.Name };
            foreach (var p in topic.Partitions) t.Partitions.Add(new OffsetCommitResponse.OffsetCommitResponsePartition { PartitionIndex = p.PartitionIndex, ErrorCode = errorCode });
            response.Topics.Add(t);
        }
        return response;
    }
}
