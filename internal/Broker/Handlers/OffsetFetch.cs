using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Groups;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// OffsetFetch (9): committed offsets of a group; of several groups at once from v8 (KIP-709).
/// A partition without a commit answers offset -1 with no error, as Kafka does (consumers then
/// apply auto.offset.reset). Null topics (v2+) mean every partition the group has committed.
/// Needs READ on the group (GROUP_AUTHORIZATION_FAILED) and, as Kafka, DESCRIBE on each topic:
/// a named partition of a topic without it answers TOPIC_AUTHORIZATION_FAILED, and "every
/// partition" leaves such topics out.
/// </summary>
internal sealed class OffsetFetchHandler(Cluster cluster) : ApiHandler<OffsetFetchRequest, OffsetFetchResponse>
{
    public override short ApiKey => OffsetFetchRequest.ApiKey;
    public override string Name => "OffsetFetch";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => OffsetFetchRequest.HighestSupportedVersion;

    protected override async ValueTask<OffsetFetchResponse?> HandleAsync(RequestContext context, OffsetFetchRequest request, short version)
    {
        var response = new OffsetFetchResponse();
        if (version >= 8)
        {
            foreach (var g in request.Groups)
            {
                if (!context.Authorize(AclOperation.Read, AclResourceType.Group, g.GroupId))
                {
                    response.Groups.Add(new OffsetFetchResponse.OffsetFetchResponseGroup { GroupId = g.GroupId, ErrorCode = ErrorCodes.GroupAuthorizationFailed });
                    continue;
                }
                var partitions = g.Topics is null ? null : Partitions(g.Topics.Select(t => (t.Name, t.PartitionIndexes)));
                var result = await cluster.Groups.FetchOffsetsAsync(g.GroupId, partitions).ConfigureAwait(false);
                var group = new OffsetFetchResponse.OffsetFetchResponseGroup { GroupId = g.GroupId, ErrorCode = (short)result.Error };
                foreach (var (topic, groupOffsets) in ByTopic(Authorized(context, result.Offsets, all: partitions is null)))
                {
                    var t = new OffsetFetchResponse.OffsetFetchResponseTopics { Name = topic };
                    foreach (var o in groupOffsets)
                        t.Partitions.Add(new OffsetFetchResponse.OffsetFetchResponsePartitions { PartitionIndex = o.Partition, CommittedOffset = o.Offset, CommittedLeaderEpoch = o.LeaderEpoch, Metadata = o.Metadata, ErrorCode = (short)o.Error });
                    group.Topics.Add(t);
                }
                response.Groups.Add(group);
            }
            return response;
        }

        if (!context.Authorize(AclOperation.Read, AclResourceType.Group, request.GroupId)) return ErrorResponse(request, ErrorCodes.GroupAuthorizationFailed);
        var requested = request.Topics is null ? null : Partitions(request.Topics.Select(t => (t.Name, t.PartitionIndexes)));
        var fetched = await cluster.Groups.FetchOffsetsAsync(request.GroupId, requested).ConfigureAwait(false);
        IReadOnlyList<FetchedOffset> offsets = fetched.Offsets;
        if (fetched.Error != ErrorCode.None)
        {
            // v2+ carry the group's error at the top; v1 only has partitions to put it on.
            response.ErrorCode = (short)fetched.Error;
            offsets = [.. (requested ?? []).Select(tp => new FetchedOffset(tp.Topic, tp.Partition, -1, -1, "", fetched.Error))];
        }
        foreach (var (topic, list) in ByTopic(Authorized(context, offsets, all: requested is null)))
        {
            var t = new OffsetFetchResponse.OffsetFetchResponseTopic { Name = topic };
            foreach (var o in list)
                t.Partitions.Add(new OffsetFetchResponse.OffsetFetchResponsePartition { PartitionIndex = o.Partition, CommittedOffset = o.Offset, CommittedLeaderEpoch = o.LeaderEpoch, Metadata = o.Metadata, ErrorCode = (short)o.Error });
            response.Topics.Add(t);
        }
        return response;
    }

    /// <summary>
    /// Offsets of topics the principal may DESCRIBE as they are; of the others, left out when the
    /// request asked for every partition, else answered TOPIC_AUTHORIZATION_FAILED.
    /// </summary>
    private static IReadOnlyList<FetchedOffset> Authorized(RequestContext context, IReadOnlyList<FetchedOffset> offsets, bool all)
    {
        if (!context.Authorizer.Enabled) return offsets;
        var result = new List<FetchedOffset>(offsets.Count);
        var decisions = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var o in offsets)
        {
            if (!decisions.TryGetValue(o.Topic, out bool allowed))
            {
                allowed = all ? context.Authorizer.Check(context.Client, AclOperation.Describe, AclResourceType.Topic, o.Topic)
                    : context.Authorize(AclOperation.Describe, AclResourceType.Topic, o.Topic);
                decisions[o.Topic] = allowed;
            }
            if (allowed) result.Add(o);
            else if (!all) result.Add(new FetchedOffset(o.Topic, o.Partition, -1, -1, "", ErrorCode.TopicAuthorizationFailed));
        }
        return result;
    }

    private static List<TopicPartition> Partitions(IEnumerable<(string Name, List<int> Partitions)> topics)
    {
        var list = new List<TopicPartition>();
        foreach (var (name, partitions) in topics)
            foreach (int p in partitions) list.Add(new TopicPartition(name, p));
        return list;
    }

    /// <summary>Offsets grouped by topic, topics in the order they first appear.</summary>
    private static List<(string Topic, List<FetchedOffset> Offsets)> ByTopic(IReadOnlyList<FetchedOffset> offsets)
    {
        var result = new List<(string, List<FetchedOffset>)>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var o in offsets)
        {
            if (!index.TryGetValue(o.Topic, out int i))
            {
                i = result.Count;
                index[o.Topic] = i;
                result.Add((o.Topic, []));
            }
            result[i].Item2.Add(o);
        }
        return result;
    }

    protected override OffsetFetchResponse ErrorResponse(OffsetFetchRequest request, short errorCode)
    {
        var response = new OffsetFetchResponse { ErrorCode = errorCode };
        foreach (var g in request.Groups) response.Groups.Add(new OffsetFetchResponse.OffsetFetchResponseGroup { GroupId = g.GroupId, ErrorCode = errorCode });
        foreach (var t in request.Topics ?? [])
        {
            var topic = new OffsetFetchResponse.OffsetFetchResponseTopic { Name = t.Name };
            foreach (int p in t.PartitionIndexes) topic.Partitions.Add(new OffsetFetchResponse.OffsetFetchResponsePartition { PartitionIndex = p, CommittedOffset = -1, Metadata = "", ErrorCode = errorCode });
            response.Topics.Add(topic);
        }
        return response;
    }
}
