using System.Diagnostics;
using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;

namespace KafScale.Broker.Handlers;

/// <summary>
/// Produce (0). Every partition blob is validated (magic, lengths, CRC-32C) and appended in
/// request order; acks=1/all are answered only when the segments holding the data, and all
/// before them, are durable in the object store. acks=0 gets no response.
/// </summary>
internal sealed class ProduceHandler(Cluster cluster) : ApiHandler<ProduceRequest, ProduceResponse>
{
    public override short ApiKey => ProduceRequest.ApiKey;
    public override string Name => "Produce";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => ProduceRequest.HighestSupportedVersion;

    protected override async ValueTask<ProduceResponse?> HandleAsync(RequestContext context, ProduceRequest request, short version)
    {
        long start = Stopwatch.GetTimestamp();
        var response = new ProduceResponse();
        short acks = request.Acks;
        short requestError = 0;
        if (acks is not (0 or 1 or -1)) requestError = ErrorCodes.InvalidRequiredAcks;
        else if (request.TransactionalId is not null) requestError = ErrorCodes.TransactionalIdAuthorizationFailed;

        List<(ProduceResponse.PartitionProduceResponse Partition, Task<short> Durable)>? waits = null;
        var metrics = cluster.Metrics;
        foreach (var topicData in request.TopicData)
        {
            var topicResponse = new ProduceResponse.TopicProduceResponse { Name = topicData.Name };
            response.Responses.Add(topicResponse);
            foreach (var partitionData in topicData.PartitionData)
            {
                var pr = new ProduceResponse.PartitionProduceResponse { Index = partitionData.Index, BaseOffset = -1, LogAppendTimeMs = -1, LogStartOffset = -1 };
                topicResponse.PartitionResponses.Add(pr);
                if (requestError != 0) { pr.ErrorCode = requestError; continue; }
                short error = cluster.TryGetPartition(topicData.Name, partitionData.Index, out var log);
                if (error != 0) { pr.ErrorCode = error; continue; }
                if (partitionData.Records is not { } records || records.Length == 0)
                {
                    pr.ErrorCode = ErrorCodes.CorruptMessage;
                    pr.ErrorMessage = "no record batch in the partition data";
                    continue;
                }
                var span = records.Span;
                var validation = RecordBatchValidator.Validate(span, out var summary);
                if (validation != BatchValidationResult.Ok)
                {
                    pr.ErrorCode = validation switch
                    {
                        BatchValidationResult.UnsupportedMagic => ErrorCodes.UnsupportedForMessageFormat,
                        BatchValidationResult.InvalidRecord => ErrorCodes.InvalidRecord,
                        _ => ErrorCodes.CorruptMessage,
                    };
                    pr.ErrorMessage = $"record batch rejected: {validation}";
                    continue;
                }
                if (summary.AnyTransactional || summary.AnyControl)
                {
                    pr.ErrorCode = ErrorCodes.TransactionalIdAuthorizationFailed;
                    pr.ErrorMessage = "transactions are not supported by KafScale";
                    continue;
                }
                int largest = LargestBatch(span);
                if (largest > log.TopicState.Config.MaxMessageBytesValue)
                {
                    pr.ErrorCode = ErrorCodes.MessageTooLarge;
                    pr.ErrorMessage = $"batch of {largest} bytes exceeds max.message.bytes={log.TopicState.Config.MaxMessageBytesValue}";
                    continue;
                }
                var appended = log.Append(span, (int)summary.RecordCount);
                if (appended.ErrorCode != 0) { pr.ErrorCode = appended.ErrorCode; continue; }
                pr.BaseOffset = appended.BaseOffset;
                pr.LogAppendTimeMs = appended.LogAppendTime;
                pr.LogStartOffset = log.LogStartOffset;
                metrics.BytesIn.Add(span.Length);
                metrics.RecordsIn.Add(summary.RecordCount);
                metrics.ProduceRate.Add(summary.RecordCount);
                if (acks != 0 && appended.Durable is { } durable)
                {
                    waits ??= [];
                    waits.Add((pr, durable));
                }
            }
        }

        if (acks == 0) return null;
        if (waits is not null)
        {
            foreach (var (pr, durable) in waits)
            {
                short result = await durable.ConfigureAwait(false);
                if (result != 0)
                {
                    pr.ErrorCode = result;
                    pr.BaseOffset = -1;
                }
            }
        }
        metrics.ProduceLatency.Observe(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        return response;
    }

    private static int LargestBatch(ReadOnlySpan<byte> blob)
    {
        int largest = 0;
        foreach (var batch in RecordBatch.EnumerateBatches(blob)) largest = Math.Max(largest, batch.Length);
        return largest;
    }

    protected override ProduceResponse ErrorResponse(ProduceRequest request, short errorCode)
    {
        var response = new ProduceResponse();
        foreach (var t in request.TopicData)
        {
            var tr = new ProduceResponse.TopicProduceResponse { Name = t.Name };
            foreach (var p in t.PartitionData)
                tr.PartitionResponses.Add(new ProduceResponse.PartitionProduceResponse { Index = p.Index, ErrorCode = errorCode, BaseOffset = -1, LogAppendTimeMs = -1, LogStartOffset = -1 });
            response.Responses.Add(tr);
        }
        return response;
    }
}
