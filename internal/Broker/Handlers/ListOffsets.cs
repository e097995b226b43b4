using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;

namespace KafScale.Broker.Handlers;

/// <summary>
/// ListOffsets (2): -2 earliest (log start offset), -1 latest (high watermark), -3 the record
/// with the largest timestamp (KIP-734), and otherwise the first record whose timestamp is at
/// or after the given time. There are no transactions, so read_committed sees the same end.
/// Needs DESCRIBE on each topic (TOPIC_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class ListOffsetsHandler(Cluster cluster) : ApiHandler<ListOffsetsRequest, ListOffsetsResponse>
{
    public override short ApiKey => ListOffsetsRequest.ApiKey;
    public override string Name => "ListOffsets";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => ListOffsetsRequest.HighestSupportedVersion;

    protected override async ValueTask<ListOffsetsResponse?> HandleAsync(RequestContext context, ListOffsetsRequest request, short version)
    {
        var response = new ListOffsetsResponse();
        foreach (var topic in request.Topics)
        {
            var tr = new ListOffsetsResponse.ListOffsetsTopicResponse { Name = topic.Name };
            response.Topics.Add(tr);
            bool described = context.Authorize(AclOperation.Describe, AclResourceType.Topic, topic.Name);
            foreach (var p in topic.Partitions)
            {
                var pr = new ListOffsetsResponse.ListOffsetsPartitionResponse { PartitionIndex = p.PartitionIndex, Timestamp = -1, Offset = -1, LeaderEpoch = -1 };
                tr.Partitions.Add(pr);
                if (!described) { pr.ErrorCode = ErrorCodes.TopicAuthorizationFailed; continue; }
                short error = cluster.TryGetPartition(topic.Name, p.PartitionIndex, out var log);
                if (error != 0) { pr.ErrorCode = error; continue; }
                pr.LeaderEpoch = log.LeaderEpoch;
                switch (p.Timestamp)
                {
                    case -2: pr.Offset = log.LogStartOffset; break;
                    case -1: pr.Offset = log.HighWatermark; break;
                    case -4: pr.Offset = log.LogStartOffset; break; // earliest local (KIP-405): all storage is "local" here
                    case -5: pr.Offset = log.LogStartOffset; break; // earliest pending upload (KIP-1023): nothing is tiered
                    case -3:
                        (pr.Offset, pr.Timestamp) = await FindAsync(log, long.MinValue, max: true).ConfigureAwait(false);
                        break;
                    default:
                        if (p.Timestamp < 0) { pr.ErrorCode = ErrorCodes.InvalidRequest; break; }
                        (pr.Offset, pr.Timestamp) = await FindAsync(log, p.Timestamp, max: false).ConfigureAwait(false);
                        break;
                }
            }
        }
        return response;
    }

    /// <summary>
    /// Scans segments from the log start: by time, the first record with timestamp >= target;
    /// with max, the record with the largest timestamp (the earliest such). (-1, -1) if none.
    /// </summary>
    private async Task<(long Offset, long Timestamp)> FindAsync(PartitionLog log, long target, bool max)
    {
        await log.OlderSegmentsLoaded.ConfigureAwait(false);
        long start = log.LogStartOffset;
        var segments = new List<SegmentRef>();
        log.SegmentsFrom(start, segments);
        long bestOffset = -1, bestTs = -1;
        foreach (var segment in segments)
        {
            if (!max && segment.MaxTimestamp >= 0 && segment.MaxTimestamp < target) continue;
            var body = await cluster.Logs.Storage.GetBodyAsync(log, segment).ConfigureAwait(false);
            if (Scan(body.Span, start, target, max, ref bestOffset, ref bestTs))
                return (bestOffset, bestTs);
        }
        return (bestOffset, bestTs);
    }

    private static bool Scan(ReadOnlySpan<byte> body, long start, long target, bool max, ref long bestOffset, ref long bestTs)
    {
        foreach (var batch in RecordBatch.EnumerateBatches(body))
        {
            var header = new RecordBatchHeader(batch);
            if (header.LastOffset < start) continue;
            if (!max && header.MaxTimestamp < target) continue;
            if (max && header.MaxTimestamp <= bestTs) continue;
            using var reader = new RecordBatchReader(batch);
            while (reader.TryReadNext(out var record))
            {
                if (record.Offset < start) continue;
                if (max)
                {
                    if (record.Timestamp > bestTs) { bestTs = record.Timestamp; bestOffset = record.Offset; }
                }
                else if (record.Timestamp >= target)
                {
                    bestOffset = record.Offset;
                    bestTs = record.Timestamp;
                    return true;
                }
            }
        }
        return false;
    }

    protected override ListOffsetsResponse ErrorResponse(ListOffsetsRequest request, short errorCode)
    {
        var response = new ListOffsetsResponse();
        foreach (var t in request.Topics)
        {
            var tr = new ListOffsetsResponse.ListOffsetsTopicResponse { Name = t.Name };
            foreach (var p in t.Partitions)
                tr.Partitions.Add(new ListOffsetsResponse.ListOffsetsPartitionResponse { PartitionIndex = p.PartitionIndex, ErrorCode = errorCode, Timestamp = -1, Offset = -1, LeaderEpoch = -1 });
            response.Topics.Add(tr);
        }
        return response;
    }
}
