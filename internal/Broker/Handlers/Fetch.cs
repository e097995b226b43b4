using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// Fetch (1). Returns whole batches below the high watermark, from the segment cache or the
/// object store, honouring max_bytes and partition max bytes but always at least one whole
/// batch (KIP-74). When less than min_bytes is available it waits, on the in-process "new
/// data" signal, until enough arrives or max_wait_ms passes. Sessions are not kept (session
/// id 0), so clients send full fetch requests, which Kafka allows.
/// </summary>
internal sealed class FetchHandler(Cluster cluster) : ApiHandler<FetchRequest, FetchResponse>
{
    public override short ApiKey => FetchRequest.ApiKey;
    public override string Name => "Fetch";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => FetchRequest.HighestSupportedVersion;

    private sealed class Slot
    {
        public PartitionLog? Log;
        public FetchResponse.PartitionData Response = null!;
        public long FetchOffset;
        public int MaxBytes;
    }

    protected override async ValueTask<FetchResponse?> HandleAsync(RequestContext context, FetchRequest request, short version)
    {
        var response = new FetchResponse { SessionId = 0 };
        var slots = new List<Slot>();
        foreach (var topic in request.Topics)
        {
            TopicState? state = null;
            short topicError = 0;
            if (version >= 13)
            {
                state = cluster.Logs.FindById(topic.TopicId);
                if (state is null) topicError = ErrorCodes.UnknownTopicId;
            }
            else if (!cluster.Logs.TryGetTopic(topic.Topic, out state!)) { state = null; topicError = ErrorCodes.UnknownTopicOrPartition; }
            var tr = new FetchResponse.FetchableTopicResponse { Topic = topic.Topic, TopicId = topic.TopicId };
            response.Responses.Add(tr);
            foreach (var p in topic.Partitions)
            {
                var pd = new FetchResponse.PartitionData { PartitionIndex = p.Partition, HighWatermark = -1, LastStableOffset = -1, LogStartOffset = -1, PreferredReadReplica = -1, Records = ReadOnlyMemory<byte>.Empty };
                tr.Partitions.Add(pd);
                var slot = new Slot { Response = pd, FetchOffset = p.FetchOffset, MaxBytes = p.PartitionMaxBytes };
                if (topicError != 0) pd.ErrorCode = topicError;
                else if (p.Partition < 0 || p.Partition >= state!.Partitions.Length) pd.ErrorCode = ErrorCodes.UnknownTopicOrPartition;
                else slot.Log = state.Partitions[p.Partition];
                slots.Add(slot);
            }
        }

        long deadline = Environment.TickCount64 + Math.Max(0, request.MaxWaitMs);
        int responseMax = version >= 3 ? request.MaxBytes : int.MaxValue;
        if (responseMax <= 0) responseMax = int.MaxValue;
        while (true)
        {
            // Take the signal before reading, so data landing in between still wakes us.
            var signal = cluster.Logs.Runtime.DataSignal;
            long total = await ReadAllAsync(slots, responseMax).ConfigureAwait(false);
            bool anyError = slots.Exists(s => s.Response.ErrorCode != 0);
            long remaining = deadline - Environment.TickCount64;
            if (total >= request.MinBytes || anyError || remaining <= 0 || total > 0 && request.MinBytes <= 1) break;
            await Task.WhenAny(signal, Task.Delay(TimeSpan.FromMilliseconds(remaining))).ConfigureAwait(false);
        }
        return response;
    }

    private async ValueTask<long> ReadAllAsync(List<Slot> slots, int responseMax)
    {
        long total = 0;
        foreach (var slot in slots)
        {
            var log = slot.Log;
            if (log is null) continue;
            var pd = slot.Response;
            long hw = log.HighWatermark;
            long start = log.LogStartOffset;
            pd.ErrorCode = 0;
            pd.HighWatermark = hw;
            pd.LastStableOffset = hw;
            pd.LogStartOffset = start;
            pd.Records = ReadOnlyMemory<byte>.Empty;
            pd.CurrentLeader.LeaderId = cluster.BrokerId;
            pd.CurrentLeader.LeaderEpoch = log.LeaderEpoch;
            if (slot.FetchOffset < start || slot.FetchOffset > hw)
            {
                pd.ErrorCode = ErrorCodes.OffsetOutOfRange;
                continue;
            }
            if (slot.FetchOffset == hw) continue;
            int budget = (int)Math.Min(slot.MaxBytes, responseMax - total);
            bool mustReturnOne = total == 0;
            if (budget <= 0 && !mustReturnOne) continue;
            var records = await cluster.Logs.Storage.ReadAsync(log, slot.FetchOffset, Math.Max(budget, 0), mustReturnOne).ConfigureAwait(false);
            if (records.Length == 0) continue;
            pd.Records = records;
            total += records.Length;
            cluster.Metrics.BytesOut.Add(records.Length);
        }
        return total;
    }

    protected override FetchResponse ErrorResponse(FetchRequest request, short errorCode)
    {
        var response = new FetchResponse { ErrorCode = errorCode };
        foreach (var t in request.Topics)
        {
            var tr = new FetchResponse.FetchableTopicResponse { Topic = t.Topic, TopicId = t.TopicId };
            foreach (var p in t.Partitions)
                tr.Partitions.Add(new FetchResponse.PartitionData { PartitionIndex = p.Partition, ErrorCode = errorCode, HighWatermark = -1, LastStableOffset = -1, LogStartOffset = -1, PreferredReadReplica = -1, Records = ReadOnlyMemory<byte>.Empty });
            response.Responses.Add(tr);
        }
        return response;
    }
}
