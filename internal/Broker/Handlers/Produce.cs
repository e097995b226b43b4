using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using KafScale.Broker.Log;
using KafScale.Broker.Network;
using KafScale.Broker.Quotas;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.HotPath;
using KafScale.Protocol.Messages;
using KafScale.Records;

namespace KafScale.Broker.Handlers;

/// <summary>
/// Produce (0). Every partition blob is validated (magic, lengths, CRC-32C) and appended in
/// request order; acks=1/all are answered only when the segments holding the data, and all
/// before them, are durable in the object store. acks=0 gets no response.
/// This is the hottest path: the request is walked in place (no message objects), records are
/// copied once into the partition's pending buffer, and the response is written straight into
/// a pooled frame. With the authorizer on, each topic needs WRITE (TOPIC_AUTHORIZATION_FAILED
/// otherwise); the check is a lookup in the in-memory ACL index and allocates nothing.
/// </summary>
internal sealed class ProduceHandler(Cluster cluster) : ApiHandler
{
    public override short ApiKey => ProduceRequest.ApiKey;
    public override string Name => "Produce";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => ProduceRequestReader.HighestVersion;

    private readonly LegacyProduce _legacy = new(cluster);

    /// <summary>Per-partition outcome, kept in a pooled array for the life of one request.</summary>
    private struct PartitionResult
    {
        public int Index;
        public short Error;
        public long BaseOffset;
        public long LogAppendTime;
        public long LogStartOffset;
        public FlushGroup? Group;
    }

    private sealed class State
    {
        public PartitionResult[] Partitions = new PartitionResult[16];
        public (int NameOffset, int NameLength, int First, int Count)[] Topics = new (int, int, int, int)[4];
    }

    private static readonly ConcurrentStack<State> States = new();

    /// <summary>The longest a produce waits for a partition this broker is opening (less if the request's timeout is shorter).</summary>
    internal const int MaxOpenWaitMs = 5000;

    public override ValueTask<ResponseFrame?> RunAsync(RequestContext context, long startTimestamp)
    {
        short version = context.Version;
        if (version < ProduceRequestReader.LowestVersion || version > ProduceRequestReader.HighestVersion)
            return _legacy.RunAsync(context, startTimestamp);
        // A produce for a partition this broker has won and is still opening waits for the open
        // (docs/architecture.md, "Requests for a partition being opened"); later produces on the
        // same connection wait behind it, so appends keep the order the requests came in. In
        // steady state this costs a field read and a volatile read.
        var gate = context.Client.ProduceGate;
        if (gate is { IsCompleted: true }) gate = context.Client.ProduceGate = null;
        Task? opens = null;
        int waitMs = 0;
        if (gate is null && (opens = OpensToAwait(context, out waitMs)) is null) return RunInOrder(context, startTimestamp);
        var appended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        context.Client.ProduceGate = appended.Task;
        return WaitThenRunAsync(context, startTimestamp, gate, opens, waitMs, appended);
    }

    private async ValueTask<ResponseFrame?> WaitThenRunAsync(RequestContext context, long startTimestamp, Task? gate, Task? opens, int waitMs, TaskCompletionSource appended)
    {
        ValueTask<ResponseFrame?> run;
        try
        {
            if (gate is not null)
            {
                await gate.ConfigureAwait(false);
                // Behind an earlier produce of the connection: which opens are under way may have changed.
                opens = OpensToAwait(context, out waitMs);
            }
            // The wait counts from the request's arrival; an open that takes longer ends it, and the
            // partition is answered as before (NOT_LEADER_OR_FOLLOWER, retry).
            var left = TimeSpan.FromMilliseconds(waitMs) - Stopwatch.GetElapsedTime(startTimestamp);
            if (opens is not null && left > TimeSpan.Zero)
            {
                try { await opens.WaitAsync(left).ConfigureAwait(false); }
                catch (TimeoutException) { }
            }
        }
        finally
        {
            // The appends happen synchronously at the start of RunInOrder; the next produce of the connection may go once they are done.
            try { run = RunInOrder(context, startTimestamp); }
            finally { appended.TrySetResult(); }
        }
        return await run.ConfigureAwait(false);
    }

    /// <summary>
    /// The opens under way here that partitions of the request wait for (null: none; rare, so
    /// allocating is fine), and how long the request may wait for them: its timeout_ms, at most
    /// <see cref="MaxOpenWaitMs"/>.
    /// </summary>
    private Task? OpensToAwait(RequestContext context, out int waitMs)
    {
        waitMs = 0;
        var registry = cluster.Logs.Registry;
        if (!registry.AnyOpening) return null;
        List<Task>? waits = null;
        try
        {
            var reader = new ProduceRequestReader(context.Body.Span, context.Version);
            waitMs = reader.TimeoutMs > 0 ? Math.Min(reader.TimeoutMs, MaxOpenWaitMs) : MaxOpenWaitMs;
            while (reader.NextTopic(out var name))
            {
                cluster.Logs.TryGetTopic(name, out var topic);
                while (reader.NextPartition(out int index, out _, out _))
                {
                    var logs = topic?.Logs;
                    if (logs is null || index < 0 || index >= logs.Length || logs[index] is not null) continue;
                    if (registry.Opening(topic!, index) is { } open) (waits ??= []).Add(open);
                }
            }
        }
        // A body the reader cannot walk waits for nothing: RunInOrder answers it.
        catch (KafkaProtocolException) { return null; }
        return waits is null ? null : waits.Count == 1 ? waits[0] : Task.WhenAll(waits);
    }

    private ValueTask<ResponseFrame?> RunInOrder(RequestContext context, long startTimestamp)
    {
        if (!States.TryPop(out var state)) state = new State();
        short acks;
        int topicCount;
        int throttleMs;
        try
        {
            bool appended;
            using (WalFlusher.BeginRequest()) appended = Append(context, state, out acks, out topicCount, out throttleMs);
            if (!appended)
            {
                States.Push(state);
                return _legacy.RunAsync(context, startTimestamp);
            }
        }
        catch (KafkaProtocolException)
        {
            // A body the fast reader cannot walk goes through the generated codec, which answers
            // with an error response for whatever it could decode.
            States.Push(state);
            return _legacy.RunAsync(context, startTimestamp);
        }
        return CompleteAsync(context, state, acks, topicCount, throttleMs, startTimestamp);
    }

    /// <summary>Walks the request and appends every valid partition blob. Synchronous, so appends keep request order.</summary>
    private bool Append(RequestContext context, State state, out short acks, out int topicCount, out int throttleMs)
    {
        var body = context.Body.Span;
        // Walk the whole structure first: a body malformed near its end must not leave earlier
        // partitions appended while the client is told the request failed.
        var check = new ProduceRequestReader(body, context.Version);
        while (check.NextTopic(out _)) while (check.NextPartition(out _, out _, out _)) { }
        var reader = new ProduceRequestReader(body, context.Version);
        acks = reader.Acks;
        topicCount = 0;
        short requestError = acks is not (0 or 1 or -1) ? ErrorCodes.InvalidRequiredAcks
            : !reader.TransactionalIdIsNull ? ErrorCodes.TransactionalIdAuthorizationFailed
            // Backpressure while the object store is unavailable: a retriable error, nothing accepted.
            : cluster.Metrics.Health.LastKnownUnavailable ? ErrorCodes.KafkaStorageError
            // Memory bound: too much produced data is still waiting to be made durable.
            : cluster.Logs.Runtime.OverPendingLimit ? ErrorCodes.KafkaStorageError : (short)0;
        var metrics = cluster.Metrics;
        var authorizer = context.Authorizer;
        int p = 0;
        while (reader.NextTopic(out var name))
        {
            if (topicCount == state.Topics.Length) Array.Resize(ref state.Topics, topicCount * 2);
            body.Overlaps(name, out int nameOffset);
            int first = p;
            cluster.Logs.TryGetTopic(name, out var topic);
            // WRITE on the topic, checked before its existence so an unauthorized client learns nothing about it (as Kafka).
            bool writable = requestError != 0 || authorizer.AuthorizeUtf8(context.Client, AclOperation.Write, AclResourceType.Topic, name);
            while (reader.NextPartition(out int index, out int recordsOffset, out int recordsLength))
            {
                if (p == state.Partitions.Length) Array.Resize(ref state.Partitions, p * 2);
                ref var r = ref state.Partitions[p++];
                r = new PartitionResult { Index = index, BaseOffset = -1, LogAppendTime = -1, LogStartOffset = -1 };
                if (requestError != 0) { r.Error = requestError; continue; }
                if (!writable) { r.Error = ErrorCodes.TopicAuthorizationFailed; continue; }
                var logs = topic?.Logs;
                if (logs is null || index < 0 || index >= logs.Length) { r.Error = ErrorCodes.UnknownTopicOrPartition; continue; }
                // Another broker leads it (or nobody yet): the client refreshes its metadata and retries.
                if (logs[index] is not { } log) { r.Error = ErrorCodes.NotLeaderOrFollower; continue; }
                if (recordsLength <= 0) { r.Error = ErrorCodes.CorruptMessage; continue; }
                var records = body.Slice(recordsOffset, recordsLength);
                var validation = RecordBatchValidator.Validate(records, out var summary);
                if (validation != BatchValidationResult.Ok)
                {
                    r.Error = validation switch
                    {
                        BatchValidationResult.UnsupportedMagic => ErrorCodes.UnsupportedForMessageFormat,
                        BatchValidationResult.InvalidRecord => ErrorCodes.InvalidRecord,
                        _ => ErrorCodes.CorruptMessage,
                    };
                    continue;
                }
                if (summary.AnyTransactional || summary.AnyControl) { r.Error = ErrorCodes.TransactionalIdAuthorizationFailed; continue; }
                if (LargestBatch(records) > log.TopicState.Config.MaxMessageBytesValue) { r.Error = ErrorCodes.MessageTooLarge; continue; }
                var appended = log.Append(records, (int)summary.RecordCount);
                if (appended.ErrorCode != 0) { r.Error = appended.ErrorCode; continue; }
                r.BaseOffset = appended.BaseOffset;
                r.LogAppendTime = appended.LogAppendTime;
                r.LogStartOffset = log.LogStartOffset;
                r.Group = appended.Group;
                metrics.BytesIn.Add(recordsLength);
                metrics.RecordsIn.Add(summary.RecordCount);
                metrics.ProduceRate.Add(summary.RecordCount);
            }
            state.Topics[topicCount++] = (nameOffset, name.Length, first, p - first);
        }
        throttleMs = Throttle(context, body.Length);
        return true;
    }

    /// <summary>
    /// producer_byte_rate counts the request's bytes, as Kafka does; the answer carries the
    /// longer of the byte-rate and request-percentage throttles and the connection is muted for it
    /// (KIP-219; with acks=0 the mute alone slows the client).
    /// </summary>
    private static int Throttle(RequestContext context, int requestBytes)
    {
        if (context.Dispatcher.Quotas is not { } manager) return 0;
        var quotas = manager.For(context.Client);
        if (!quotas.Any) return 0;
        long throttle = quotas.RecordBytes(QuotaKey.ProducerByteRate, requestBytes, Environment.TickCount64, out var cause);
        if (throttle <= 0) return 0;
        context.Client.Throttle(throttle);
        context.Dispatcher.Metrics.Throttled(cause);
        return (int)Math.Min(throttle, int.MaxValue);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ResponseFrame?> CompleteAsync(RequestContext context, State state, short acks, int topicCount, int throttleMs, long startTimestamp)
    {
        try
        {
            int partitions = 0;
            for (int t = 0; t < topicCount; t++) partitions += state.Topics[t].Count;
            bool ok = true;
            for (int i = 0; i < partitions; i++)
            {
                ref var r = ref state.Partitions[i];
                if (r.Group is { } group)
                {
                    short result = acks == 0 ? (short)0 : await group.Durable.ConfigureAwait(false);
                    r = ref state.Partitions[i];
                    r.Group = null;
                    if (result != 0) { r.Error = result; r.BaseOffset = -1; }
                }
                if (r.Error != 0) ok = false;
            }
            double elapsed = Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;
            Metrics(context).Record(elapsed, ok);
            if (acks == 0) return null;
            cluster.Metrics.ProduceLatency.Observe(elapsed);

            var frame = ResponseFrame.Rent();
            var w = frame.Produce;
            var body = context.Body.Span;
            w.Begin(context.Version, context.Header.CorrelationId, topicCount);
            for (int t = 0; t < topicCount; t++)
            {
                var (nameOffset, nameLength, first, count) = state.Topics[t];
                w.BeginTopic(body.Slice(nameOffset, nameLength), count);
                for (int i = first; i < first + count; i++)
                {
                    ref var r = ref state.Partitions[i];
                    w.Partition(r.Index, r.Error, r.BaseOffset, r.LogAppendTime, r.LogStartOffset);
                }
                w.EndTopic();
            }
            w.End(throttleMs);
            return frame;
        }
        finally
        {
            States.Push(state);
        }
    }

    private static int LargestBatch(ReadOnlySpan<byte> blob)
    {
        int largest = 0;
        foreach (var batch in RecordBatch.EnumerateBatches(blob)) largest = Math.Max(largest, batch.Length);
        return largest;
    }

    /// <summary>
    /// Produce through the generated codec, for what the fast path does not take: versions below
    /// the Kafka 4.0 floor (answered UNSUPPORTED_VERSION) and bodies it cannot walk.
    /// </summary>
    private sealed class LegacyProduce(Cluster cluster) : ApiHandler<ProduceRequest, ProduceResponse>
    {
        public override short ApiKey => ProduceRequest.ApiKey;
        public override string Name => "Produce";
        public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
        public override short MaxVersion => ProduceRequestReader.HighestVersion;

        protected override ValueTask<ProduceResponse?> HandleAsync(RequestContext context, ProduceRequest request, short version) =>
            ValueTask.FromResult<ProduceResponse?>(request.Acks == 0 ? null : ErrorResponse(request, ErrorCodes.CorruptMessage));

        protected override ProduceResponse ErrorResponse(ProduceRequest request, short errorCode)
        {
            _ = cluster;
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
}
