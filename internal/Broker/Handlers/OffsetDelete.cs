using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Groups;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// OffsetDelete (47, KIP-496): deletes a group's committed offsets for some partitions. Allowed
/// for an empty group, and for topics a consumer group does not subscribe to
/// (GROUP_SUBSCRIBED_TO_TOPIC otherwise); other groups with members get NON_EMPTY_GROUP. Needs
/// DELETE on the group (GROUP_AUTHORIZATION_FAILED) and READ on each topic (TOPIC_AUTHORIZATION_FAILED).
/// </summary>
internal sealed class OffsetDeleteHandler(Cluster cluster) : ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse>
{
    public override short ApiKey => OffsetDeleteRequest.ApiKey;
    public override string Name => "OffsetDelete";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => OffsetDeleteRequest.HighestSupportedVersion;

    protected override async ValueTask<OffsetDeleteResponse?> HandleAsync(RequestContext context, OffsetDeleteRequest request, short version)
    {
        if (!context.Authorize(AclOperation.Delete, AclResourceType.Group, request.GroupId)) return ErrorResponse(request, ErrorCodes.GroupAuthorizationFailed);
        var unknown = new List<TopicPartition>();
        var unauthorized = new List<TopicPartition>();
        var partitions = new List<TopicPartition>();
        foreach (var t in request.Topics)
        {
            bool readable = context.Authorize(AclOperation.Read, AclResourceType.Topic, t.Name);
            foreach (var p in t.Partitions)
            {
                var tp = new TopicPartition(t.Name, p.PartitionIndex);
                if (!readable) unauthorized.Add(tp);
                else if (cluster.PartitionExists(t.Name, p.PartitionIndex) == ErrorCodes.None) partitions.Add(tp);
                else unknown.Add(tp);
            }
        }
        var result = await cluster.Groups.DeleteOffsetsAsync(request.GroupId, partitions).ConfigureAwait(false);
        var response = new OffsetDeleteResponse { ErrorCode = (short)result.Error };
        if (result.Error != ErrorCode.None) return response;

        var topics = new Dictionary<string, OffsetDeleteResponse.OffsetDeleteResponseTopic>(StringComparer.Ordinal);
        void Add(TopicPartition tp, ErrorCode error)
        {
            if (!topics.TryGetValue(tp.Topic, out var topic))
            {
                topic = new OffsetDeleteResponse.OffsetDeleteResponseTopic { Name = tp.Topic };
                topics[tp.Topic] = topic;
                response.Topics.Add(topic);
            }
            topic.Partitions.Add(new OffsetDeleteResponse.OffsetDeleteResponsePartition { PartitionIndex = tp.Partition, ErrorCode = (short)error });
        }
        foreach (var r in result.Partitions) Add(r.Partition, r.Error);
        foreach (var tp in unknown) Add(tp, ErrorCode.UnknownTopicOrPartition);
        foreach (var tp in unauthorized) Add(tp, ErrorCode.TopicAuthorizationFailed);
        return response;
    }

    protected override OffsetDeleteResponse ErrorResponse(OffsetDeleteRequest request, short errorCode) => new() { ErrorCode = errorCode };
}
