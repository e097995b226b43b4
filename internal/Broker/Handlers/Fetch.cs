using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Broker.Quotas;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Records;

namespace KafScale.Broker.Handlers;

/// <summary>
/// Fetch (1). Returns whole batches below the high watermark, from the segment cache or the
/// object store, honouring max_bytes and partition max bytes but always at least one whole
/// batch (KIP-74). When less than min_bytes is available it waits on the in-process "new data"
/// signal until enough arrives or max_wait_ms passes. Sessions are not kept (session id 0), so
/// clients send full fetch requests, which Kafka allows. Stored batches are copied into the
/// response frame as they are, never re-encoded. With the authorizer on, a consumer needs READ on
/// each topic and a follower (replica id set) CLUSTER_ACTION; other partitions answer
/// TOPIC_AUTHORIZATION_FAILED.
/// </summary>
internal sealed class FetchHandler(Cluster cluster) : ApiHandler
{
    public override short ApiKey => FetchRequest.ApiKey;
    public override string Name => "Fetch";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => FetchRequest.HighestSupportedVersion;

    private readonly LegacyFetch _errors = new();

    private struct Slot
    {
        public PartitionLog? Log;
        public int Partition;
        public short Error;
        public long FetchOffset;
        public int MaxBytes;
        public long HighWatermark;
        public long LogStartOffset;
        public int SliceStart;
        public int SliceCount;
        public int Length;
    }

    private sealed class State
    {
        public Slot[] Slots = new Slot[16];
        public (TopicState? Topic, string? Name, Guid Id, int First, int Count)[] Topics = new (TopicState?, string?, Guid, int, int)[4];
        public readonly List<ReadOnlyMemory<byte>> Slices = [];
        /// <summary>Buffers of ranged segment reads that Slices point into; back to the pool once the response is written.</summary>
        public readonly List<byte[]> Rented = [];
        public readonly FetchRequest Request = new();
        /// <summary>What the long poll waits on; kept with the state, so no wait allocates or leaves a timer.</summary>
        public readonly FetchWaiter Waiter = new();

        public void ReturnRented()
        {
            foreach (var buffer in Rented) BufferPools.Reads.Return(buffer);
            Rented.Clear();
        }
    }

    private static readonly ConcurrentStack<State> States = new();

    public override ValueTask<ResponseFrame?> RunAsync(RequestContext context, long startTimestamp)
    {
        short version = context.Version;
        if (version < ServedMinVersion || version > MaxVersion) return _errors.RunAsync(context, startTimestamp);
        if (!States.TryPop(out var state)) state = new State();
        try
        {
            var reader = new KafkaReader(context.Body);
            state.Request.Read(ref reader, version);
        }
        catch (KafkaProtocolException)
        {
            States.Push(state);
            return _errors.RunAsync(context, startTimestamp);
        }
        return ServeAsync(context, state, startTimestamp);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ResponseFrame?> ServeAsync(RequestContext context, State state, long startTimestamp)
    {
        try
        {
            var request = state.Request;
            short version = context.Version;
            int topicCount = Resolve(context, state, request, version);
            int slotCount = topicCount == 0 ? 0 : state.Topics[topicCount - 1].First + state.Topics[topicCount - 1].Count;

            long deadline = Environment.TickCount64 + Math.Max(0, request.MaxWaitMs);
            int responseMax = version >= 3 && request.MaxBytes > 0 ? request.MaxBytes : int.MaxValue;
            var quotas = context.Dispatcher.Quotas?.For(context.Client);
            // Kafka caps a fetch to what the quota allows over the measured window, so one
            // response cannot take many windows' worth of bytes (a first batch still goes, KIP-74).
            if (quotas?.Sensor(QuotaKey.ConsumerByteRate) is not null)
                responseMax = (int)Math.Clamp(quotas.Bound(QuotaKey.ConsumerByteRate) * (QuotaManager.Samples - 1) * QuotaManager.SampleWindowMs / 1000, 1, responseMax);
            bool waits = request.MaxWaitMs > 0 && request.MinBytes > 0;
            while (true)
            {
                // Register with the partitions before reading them, so data landing in between
                // still wakes this fetch; only its own partitions wake it.
                if (waits)
                {
                    state.Waiter.Arm();
                    for (int i = 0; i < slotCount; i++) state.Slots[i].Log?.AddWaiter(state.Waiter);
                }
                state.Slices.Clear();
                state.ReturnRented();
                long total = 0;
                bool anyError = false;
                for (int i = 0; i < slotCount; i++)
                {
                    total += await ReadAsync(state, i, (int)Math.Min(int.MaxValue, responseMax - total), total == 0).ConfigureAwait(false);
                    anyError |= state.Slots[i].Error != 0;
                }
                long remaining = deadline - Environment.TickCount64;
                bool done = total >= request.MinBytes || anyError || remaining <= 0;
                if (!done)
                {
                    bool byData = await state.Waiter.WaitAsync(remaining).ConfigureAwait(false);
                    state.Waiter.Disarm();
                    if (byData) cluster.Metrics.FetchWakeups.Increment();
                }
                if (waits)
                    for (int i = 0; i < slotCount; i++) state.Slots[i].Log?.RemoveWaiter(state.Waiter);
                if (done) break;
            }

            int throttleMs = 0;
            if (quotas is { Any: true })
            {
                long responseBytes = 0;
                for (int i = 0; i < slotCount; i++) responseBytes += state.Slots[i].Length;
                long now = Environment.TickCount64;
                long throttle = quotas.RecordBytes(QuotaKey.ConsumerByteRate, responseBytes, now, out var cause);
                if (throttle > 0)
                {
                    throttleMs = (int)Math.Min(throttle, int.MaxValue);
                    context.Client.Throttle(throttle);
                    cluster.Metrics.Throttled(cause);
                    // As Kafka: a throttled fetch returns no data, and the bytes it would have
                    // sent are taken back, so the client re-reads them after its mute.
                    quotas.Sensor(QuotaKey.ConsumerByteRate)?.Unrecord(responseBytes, now);
                    topicCount = 0;
                }
            }

            var frame = ResponseFrame.Rent();
            var w = frame.Fetch;
            w.Begin(version, context.Header.CorrelationId, throttleMs, 0, 0, topicCount);
            long bytesOut = 0, records = 0;
            for (int t = 0; t < topicCount; t++)
            {
                var (topic, name, id, first, count) = state.Topics[t];
                if (version >= 13) w.BeginTopic(id, count);
                else w.BeginTopic(topic?.NameUtf8 ?? System.Text.Encoding.UTF8.GetBytes(name ?? ""), count);
                for (int i = first; i < first + count; i++)
                {
                    ref var s = ref state.Slots[i];
                    w.Partition(s.Partition, s.Error, s.HighWatermark, s.HighWatermark, s.LogStartOffset, -1, s.Length);
                    for (int k = s.SliceStart; k < s.SliceStart + s.SliceCount; k++)
                    {
                        var slice = state.Slices[k].Span;
                        w.WriteRecords(slice);
                        foreach (var batch in RecordBatch.EnumerateBatches(slice)) records += new RecordBatchHeader(batch).RecordCount;
                    }
                    bytesOut += s.Length;
                }
                w.EndTopic();
            }
            w.End();
            cluster.Metrics.BytesOut.Add(bytesOut);
            cluster.Metrics.RecordsOut.Add(records);
            cluster.Metrics.FetchRate.Add(records);
            Metrics(context).Record(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, true);
            return frame;
        }
        finally
        {
            // The frame holds its own copy of the records by now.
            state.Slices.Clear();
            state.ReturnRented();
            Array.Clear(state.Topics);
            state.Waiter.Disarm();
            for (int i = 0; i < state.Slots.Length; i++)
            {
                // A read that threw left the waiter registered.
                state.Slots[i].Log?.RemoveWaiter(state.Waiter);
                state.Slots[i].Log = null;
            }
            States.Push(state);
        }
    }

    /// <summary>Resolves every requested partition to its log, or to the error the client gets.</summary>
    private int Resolve(RequestContext context, State state, FetchRequest request, short version)
    {
        int topicCount = 0, p = 0;
        // A follower's fetch (replica id >= 0) needs CLUSTER_ACTION, a consumer's READ on each topic (Kafka's rules).
        int replicaId = version >= 15 ? request.ReplicaState.ReplicaId : request.ReplicaId;
        bool follower = replicaId >= 0;
        bool followerAllowed = follower && context.AuthorizeCluster(AclOperation.ClusterAction);
        foreach (var topic in request.Topics)
        {
            TopicState? t;
            short topicError = 0;
            if (version >= 13)
            {
                t = cluster.Logs.FindById(topic.TopicId);
                if (t is null) topicError = ErrorCodes.UnknownTopicId;
                else if (follower ? !followerAllowed : !context.Authorize(AclOperation.Read, AclResourceType.Topic, t.Name)) topicError = ErrorCodes.TopicAuthorizationFailed;
            }
            else if (follower ? !followerAllowed : !context.Authorize(AclOperation.Read, AclResourceType.Topic, topic.Topic)) { t = null; topicError = ErrorCodes.TopicAuthorizationFailed; }
            else if (!cluster.Logs.TryGetTopic(topic.Topic, out t!)) { t = null; topicError = ErrorCodes.UnknownTopicOrPartition; }
            if (topicCount == state.Topics.Length) Array.Resize(ref state.Topics, topicCount * 2);
            state.Topics[topicCount++] = (t, topic.Topic, topic.TopicId, p, topic.Partitions.Count);
            foreach (var part in topic.Partitions)
            {
                if (p == state.Slots.Length) Array.Resize(ref state.Slots, p * 2);
                ref var s = ref state.Slots[p++];
                s = new Slot { Partition = part.Partition, FetchOffset = part.FetchOffset, MaxBytes = part.PartitionMaxBytes, HighWatermark = -1, LogStartOffset = -1, Error = topicError };
                if (topicError == 0)
                {
                    var logs = t!.Logs;
                    if (part.Partition < 0 || part.Partition >= logs.Length) s.Error = ErrorCodes.UnknownTopicOrPartition;
                    else if (logs[part.Partition] is { } log) s.Log = log;
                    else s.Error = ErrorCodes.NotLeaderOrFollower;
                }
            }
        }
        return topicCount;
    }

    private async ValueTask<int> ReadAsync(State state, int i, int responseBudget, bool firstWithData)
    {
        var log = state.Slots[i].Log;
        if (log is null) return 0;
        if (log.IsClosed)
        {
            // Handed over (or the lease lapsed) while this fetch waited.
            state.Slots[i].Error = ErrorCodes.NotLeaderOrFollower;
            state.Slots[i].SliceStart = state.Slices.Count;
            state.Slots[i].SliceCount = 0;
            state.Slots[i].Length = 0;
            return 0;
        }
        long hw = log.HighWatermark;
        long start = log.LogStartOffset;
        long offset = state.Slots[i].FetchOffset;
        ref var s = ref state.Slots[i];
        s.HighWatermark = hw;
        s.LogStartOffset = start;
        s.Error = 0;
        s.SliceStart = state.Slices.Count;
        s.SliceCount = 0;
        s.Length = 0;
        if (offset < start || offset > hw) { s.Error = ErrorCodes.OffsetOutOfRange; return 0; }
        if (offset == hw) return 0;
        int budget = Math.Min(s.MaxBytes, responseBudget);
        if (budget <= 0 && !firstWithData) return 0;
        int before = state.Slices.Count;
        int length = await cluster.Logs.Storage.ReadAsync(log, offset, Math.Max(budget, 0), firstWithData, state.Slices, state.Rented).ConfigureAwait(false);
        s = ref state.Slots[i];
        s.SliceCount = state.Slices.Count - before;
        s.Length = length;
        return length;
    }

    /// <summary>Fetch through the generated codec, for versions below the floor and bodies that do not decode.</summary>
    private sealed class LegacyFetch : ApiHandler<FetchRequest, FetchResponse>
    {
        public override short ApiKey => FetchRequest.ApiKey;
        public override string Name => "Fetch";
        public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
        public override short MaxVersion => FetchRequest.HighestSupportedVersion;

        protected override ValueTask<FetchResponse?> HandleAsync(RequestContext context, FetchRequest request, short version) =>
            ValueTask.FromResult<FetchResponse?>(ErrorResponse(request, ErrorCodes.CorruptMessage));

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
}
