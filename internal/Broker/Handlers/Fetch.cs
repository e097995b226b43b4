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
/// Fetch (1). Returns whole batches below the high watermark, from the segment cache or the
/// object store, honouring max_bytes and partition max bytes but always at least one whole
/// batch (KIP-74). When less than min_bytes is available it waits until one of its partitions has
/// news or max_wait_ms passes. Incremental fetch sessions (KIP-227) are kept in
/// <see cref="FetchSessionCache"/> (docs/protocol.md, "Fetch sessions"). Stored batches are copied into the
/// response frame as they are, never re-encoded. With the authorizer on, a consumer needs READ on
/// each topic and a follower (replica id set) CLUSTER_ACTION; other partitions answer
/// TOPIC_AUTHORIZATION_FAILED.
/// Like Produce, this is a hot path held to zero allocations once warm: the request is walked in
/// place (<see cref="FetchRequestReader"/>, no message objects or strings), topics are looked up
/// by their UTF-8 name or their id, the per-request state is pooled, and the response is written
/// straight into a pooled frame.
/// </summary>
internal sealed class FetchHandler(Cluster cluster) : ApiHandler
{
    public override short ApiKey => FetchRequest.ApiKey;
    public override string Name => "Fetch";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => FetchRequestReader.HighestVersion;

    private readonly LegacyFetch _errors = new();

    /// <summary>Record slices at least this long are sent from where they are stored rather than copied into the frame.</summary>
    internal const int DirectSliceBytes = 4096;

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

        /// <summary>In an incremental fetch, the partition's place in the session.</summary>
        public int SessionIndex;
    }

    /// <summary>
    /// A requested topic: its state (null when unknown, or before v13 when not authorized), where
    /// its name lies in the request body (before v13; the body outlives the request, as the
    /// connection returns its buffer only once the response is written), its id (v13+), and its
    /// partitions' slots.
    /// </summary>
    private struct TopicEntry
    {
        public TopicState? Topic;
        public int NameOffset;
        public int NameLength;
        public Guid Id;
        /// <summary>The name as UTF-8 when it comes from a fetch session rather than the request body.</summary>
        public byte[]? NameUtf8;
        public int First;
        public int Count;
    }

    /// <summary>A forgotten partition of the request (KIP-227): the name's place in the body before v13, the id after.</summary>
    private struct Forgotten
    {
        public int NameOffset;
        public int NameLength;
        public Guid Id;
        public int Partition;
    }

    private sealed class State
    {
        public Slot[] Slots = new Slot[16];
        public TopicEntry[] Topics = new TopicEntry[4];
        public int MaxWaitMs;
        public int MinBytes;
        public int MaxBytes;
        public int SessionId;
        public int SessionEpoch;
        public Forgotten[] Forgotten = new Forgotten[4];
        public int ForgottenCount;
        /// <summary>The session of an incremental fetch, held (TryAcquire) until the response is written.</summary>
        public FetchSession? Session;
        /// <summary>A full fetch with epoch 0: make a session of its partitions once served.</summary>
        public bool CreateSession;
        /// <summary>FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH or FETCH_SESSION_TOPIC_ID_ERROR for the whole request.</summary>
        public short SessionError;
        /// <summary>Per slot: whether the partition goes into the response (always, without an incremental session).</summary>
        public bool[] Included = new bool[16];

        /// <summary>Indexed like the session: the partitions that returned records (they move to the back).</summary>
        public bool[] Returned = new bool[16];

        /// <summary>The partitions a waiting fetch registered with: exactly these are left again.</summary>
        public readonly List<PartitionLog> Watched = [];
        public readonly List<ReadOnlyMemory<byte>> Slices = [];
        /// <summary>Buffers of ranged segment reads that Slices point into; back to the pool once the response is written.</summary>
        public readonly List<byte[]> Rented = [];
        /// <summary>Scratch list of a partition's segments for the storage read, reused so a read allocates none.</summary>
        public readonly List<SegmentRef> Segments = [];
        /// <summary>What the long poll waits on; kept with the state, so no wait allocates or leaves a timer.</summary>
        public readonly FetchWaiter Waiter = new();
        /// <summary>Whether <see cref="Waiter"/> is registered with the slots' partitions (between a long poll's registration and its removal).</summary>
        public bool Registered;

        public void ReturnRented()
        {
            foreach (var buffer in Rented) BufferPools.Reads.Return(buffer);
            Rented.Clear();
        }
    }

    /// <summary>
    /// Idle states. A queue, not a stack: ConcurrentStack allocates a node on every push, while a
    /// ConcurrentQueue cycles through the slots of its segment and allocates nothing once warm.
    /// </summary>
    private static readonly ConcurrentQueue<State> States = new();

    public override ValueTask<ResponseFrame?> RunAsync(RequestContext context, long startTimestamp)
    {
        short version = context.Version;
        if (version < ServedMinVersion || version > MaxVersion) return _errors.RunAsync(context, startTimestamp);
        if (!States.TryDequeue(out var state)) state = new State();
        int topicCount, replicaId;
        try
        {
            topicCount = Walk(context.Body.Span, version, state, out replicaId);
        }
        catch (KafkaProtocolException)
        {
            // A body the reader cannot walk goes through the generated codec, which answers with
            // an error for whatever it could decode.
            Array.Clear(state.Topics);
            States.Enqueue(state);
            return _errors.RunAsync(context, startTimestamp);
        }
        return ServeAsync(context, state, topicCount, replicaId, startTimestamp);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ResponseFrame?> ServeAsync(RequestContext context, State state, int topicCount, int replicaId, long startTimestamp)
    {
        try
        {
            short version = context.Version;
            topicCount = UseSession(context, state, topicCount, version);
            if (state.SessionError != 0) return SessionErrorResponse(context, state.SessionError, startTimestamp);
            var session = state.Session;
            if (session is null) Resolve(context, state, topicCount, replicaId, version);
            EnsureFlags(state);
            int slotCount = SlotCount(state, topicCount);
            int maxWaitMs = state.MaxWaitMs, minBytes = state.MinBytes;

            long deadline = Environment.TickCount64 + Math.Max(0, maxWaitMs);
            int responseMax = state.MaxBytes > 0 ? state.MaxBytes : int.MaxValue;
            var quotas = context.Dispatcher.Quotas?.For(context.Client);
            // Kafka caps a fetch to what the quota allows over the measured window, so one
            // response cannot take many windows' worth of bytes (a first batch still goes, KIP-74).
            if (quotas?.Sensor(QuotaKey.ConsumerByteRate) is not null)
                responseMax = (int)Math.Clamp(quotas.Bound(QuotaKey.ConsumerByteRate) * (QuotaManager.Samples - 1) * QuotaManager.SampleWindowMs / 1000, 1, responseMax);
            bool waits = maxWaitMs > 0 && minBytes > 0;
            while (true)
            {
                // Register with the partitions before reading them, so data landing in between
                // still wakes this fetch; only its own partitions wake it.
                if (waits)
                {
                    state.Waiter.Arm();
                    state.Registered = true;
                    if (session is null)
                        for (int i = 0; i < slotCount; i++) Watch(state, state.Slots[i].Log);
                    else
                        for (int i = 0; i < session.Count; i++) Watch(state, session[i].Log);
                }
                // An incremental fetch serves only the session's partitions that may have news
                // (docs/protocol.md, "Fetch sessions"), chosen after registering, so news that
                // lands on a partition left out still wakes the wait; chosen again after a wake.
                if (session is not null)
                {
                    topicCount = Select(context, state, session, replicaId, version);
                    Resolve(context, state, topicCount, replicaId, version);
                    slotCount = SlotCount(state, topicCount);
                    for (int i = 0; i < slotCount; i++)
                    {
                        ref var s = ref state.Slots[i];
                        var held = session[s.SessionIndex];
                        if (ReferenceEquals(held.Log, s.Log)) continue;
                        if (waits) Watch(state, s.Log);
                        held.Log = s.Log;
                    }
                }
                state.Slices.Clear();
                state.ReturnRented();
                long total = 0;
                bool anyError = false;
                for (int i = 0; i < slotCount; i++)
                {
                    // Most partitions of a large fetch have nothing new: that is answered here,
                    // without starting an asynchronous read.
                    if (Prepare(state, i, (int)Math.Min(int.MaxValue, responseMax - total), total == 0, out int budget))
                        total += await ReadStoredAsync(state, i, budget, total == 0).ConfigureAwait(false);
                    anyError |= state.Slots[i].Error != 0;
                }
                long remaining = deadline - Environment.TickCount64;
                bool done = total >= minBytes || anyError || remaining <= 0;
                if (!done)
                {
                    bool byData = await state.Waiter.WaitAsync(remaining).ConfigureAwait(false);
                    state.Waiter.Disarm();
                    if (byData) cluster.Metrics.FetchWakeups.Increment();
                }
                if (waits)
                {
                    Unwatch(state);
                    state.Registered = false;
                }
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

            // Which partitions go out: all of a full fetch, only those with news in an incremental one.
            int responseTopics = 0;
            for (int t = 0; t < topicCount; t++)
            {
                ref var topic = ref state.Topics[t];
                int included = 0;
                for (int i = topic.First; i < topic.First + topic.Count; i++)
                {
                    ref var s = ref state.Slots[i];
                    bool include = session is null || session[s.SessionIndex].MustRespond(s.Length, s.HighWatermark, s.LogStartOffset, s.Error);
                    state.Included[i] = include;
                    if (include) included++;
                }
                if (included > 0) responseTopics++;
            }
            int sessionId = session?.Id ?? 0;
            if (state.CreateSession && throttleMs == 0) sessionId = CreateSession(context, state, topicCount, replicaId >= 0, version);

            var frame = ResponseFrame.Rent();
            var w = frame.Fetch;
            w.Begin(version, context.Header.CorrelationId, throttleMs, 0, sessionId, responseTopics);
            long bytesOut = 0, records = 0;
            var body = context.Body.Span;
            for (int t = 0; t < topicCount; t++)
            {
                ref var topic = ref state.Topics[t];
                int first = topic.First, count = 0;
                for (int i = first; i < first + topic.Count; i++) if (state.Included[i]) count++;
                if (count == 0) continue;
                // Before v13 the name goes back as the client sent it (the same bytes as a known topic's name).
                if (version >= FetchRequestReader.FirstTopicIdVersion) w.BeginTopic(topic.Id, count);
                else w.BeginTopic(topic.NameUtf8 ?? body.Slice(topic.NameOffset, topic.NameLength), count);
                for (int i = first; i < first + topic.Count; i++)
                {
                    if (!state.Included[i]) continue;
                    ref var s = ref state.Slots[i];
                    w.Partition(s.Partition, s.Error, s.HighWatermark, s.HighWatermark, s.LogStartOffset, -1, s.Length);
                    for (int k = s.SliceStart; k < s.SliceStart + s.SliceCount; k++)
                    {
                        var slice = state.Slices[k];
                        // Large slices go from the stored bytes straight to the connection; small
                        // ones are cheaper to copy than to name.
                        if (slice.Length >= DirectSliceBytes)
                        {
                            w.SkipRecords(slice.Length);
                            frame.AddSlice(slice);
                        }
                        else w.WriteRecords(slice.Span);
                        foreach (var batch in RecordBatch.EnumerateBatches(slice.Span)) records += new RecordBatchHeader(batch).RecordCount;
                    }
                    bytesOut += s.Length;
                }
                w.EndTopic();
            }
            w.End();
            // Slices may point into pooled read buffers: they now go back to the pool with the frame.
            frame.Hold(state.Rented);
            if (session is not null && topicCount > 0) Remember(state, session, slotCount);
            cluster.Metrics.BytesOut.Add(bytesOut);
            cluster.Metrics.RecordsOut.Add(records);
            cluster.Metrics.FetchRate.Add(records);
            Metrics(context).Record(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, true);
            return frame;
        }
        finally
        {
            // The frame holds the records by now (copied, or with the buffers they are in).
            state.Session?.Release();
            state.Session = null;
            state.Slices.Clear();
            state.ReturnRented();
            Array.Clear(state.Topics);
            state.Waiter.Disarm();
            // A read that threw left the waiter registered.
            if (state.Registered) Unwatch(state);
            for (int i = 0; i < state.Slots.Length; i++) state.Slots[i].Log = null;
            state.Registered = false;
            States.Enqueue(state);
        }
    }

    /// <summary>
    /// Walks the request once (<see cref="FetchRequestReader"/>): each topic is looked up as it
    /// comes (by its UTF-8 name before v13, by id after, neither making a string) and each
    /// partition gets a slot. Nothing is authorized yet: from v15 the replica id, which decides
    /// between the follower's and the consumer's rule, is a tagged field at the end of the body,
    /// so <see cref="Resolve"/> decides once the whole body has been read. Throws
    /// <see cref="KafkaProtocolException"/> for a body that does not decode.
    /// </summary>
    private int Walk(ReadOnlySpan<byte> body, short version, State state, out int replicaId)
    {
        var request = new FetchRequestReader(body, version);
        state.MaxWaitMs = request.MaxWaitMs;
        state.MinBytes = request.MinBytes;
        state.MaxBytes = request.MaxBytes;
        var logs = cluster.Logs;
        int topicCount = 0, p = 0;
        while (request.NextTopic(out var name, out var id))
        {
            if (topicCount == state.Topics.Length) Array.Resize(ref state.Topics, topicCount * 2);
            ref var entry = ref state.Topics[topicCount++];
            entry = new TopicEntry { Id = id, First = p, Count = request.PartitionCount };
            if (request.UsesTopicIds) entry.Topic = logs.FindById(id);
            else
            {
                body.Overlaps(name, out entry.NameOffset);
                entry.NameLength = name.Length;
                entry.Topic = logs.TryGetTopic(name, out var topic) ? topic : null;
            }
            while (request.NextPartition(out var part))
            {
                if (p == state.Slots.Length) Array.Resize(ref state.Slots, p * 2);
                state.Slots[p++] = new Slot { Partition = part.Partition, FetchOffset = part.FetchOffset, MaxBytes = part.PartitionMaxBytes, HighWatermark = -1, LogStartOffset = -1 };
            }
        }
        state.ForgottenCount = 0;
        while (request.NextForgottenTopic(out var name, out var id))
        {
            body.Overlaps(name, out int nameOffset);
            while (request.NextForgottenPartition(out int partition))
            {
                if (state.ForgottenCount == state.Forgotten.Length) Array.Resize(ref state.Forgotten, state.ForgottenCount * 2);
                state.Forgotten[state.ForgottenCount++] = new Forgotten { NameOffset = nameOffset, NameLength = name.Length, Id = id, Partition = partition };
            }
        }
        request.Finish();
        state.SessionId = request.SessionId;
        state.SessionEpoch = request.SessionEpoch;
        replicaId = request.ReplicaId;
        return topicCount;
    }

    /// <summary>Authorizes each topic and resolves every requested partition to its log, or to the error the client gets.</summary>
    private void Resolve(RequestContext context, State state, int topicCount, int replicaId, short version)
    {
        // A follower's fetch (replica id >= 0) needs CLUSTER_ACTION, a consumer's READ on each topic (Kafka's rules).
        bool follower = replicaId >= 0;
        bool followerAllowed = follower && context.AuthorizeCluster(AclOperation.ClusterAction);
        var body = context.Body.Span;
        for (int t = 0; t < topicCount; t++)
        {
            ref var entry = ref state.Topics[t];
            var topic = entry.Topic;
            short topicError = 0;
            if (version >= FetchRequestReader.FirstTopicIdVersion)
            {
                if (topic is null) topicError = ErrorCodes.UnknownTopicId;
                else if (follower ? !followerAllowed : !context.Authorize(AclOperation.Read, AclResourceType.Topic, topic.Name)) topicError = ErrorCodes.TopicAuthorizationFailed;
            }
            // Before v13 READ is checked before existence, so an unauthorized client learns nothing about the topic (as Kafka).
            else if (follower ? !followerAllowed : !context.Authorizer.AuthorizeUtf8(context.Client, AclOperation.Read, AclResourceType.Topic, entry.NameUtf8 ?? body.Slice(entry.NameOffset, entry.NameLength)))
            {
                entry.Topic = topic = null;
                topicError = ErrorCodes.TopicAuthorizationFailed;
            }
            else if (topic is null) topicError = ErrorCodes.UnknownTopicOrPartition;
            for (int i = entry.First; i < entry.First + entry.Count; i++)
            {
                ref var s = ref state.Slots[i];
                s.Error = topicError;
                if (topicError != 0) continue;
                var logs = topic!.Logs;
                if (s.Partition < 0 || s.Partition >= logs.Length) s.Error = ErrorCodes.UnknownTopicOrPartition;
                else if (logs[s.Partition] is { } log) s.Log = log;
                else s.Error = ErrorCodes.NotLeaderOrFollower;
            }
        }
    }

    /// <summary>
    /// Applies the request's session id and epoch (docs/protocol.md, "Fetch sessions"): closes a
    /// session a full fetch names, marks a full fetch with epoch 0 for a new session, and for an
    /// incremental fetch updates its session with the request's partitions and forgotten topics and
    /// puts the session's partitions, in its order, in place of the request's. Returns the number of
    /// topics to serve; sets <see cref="State.SessionError"/> instead when the session cannot be used.
    /// </summary>
    private int UseSession(RequestContext context, State state, int topicCount, short version)
    {
        state.Session = null;
        state.CreateSession = false;
        state.SessionError = 0;
        if (version < 7) return topicCount;
        var cache = cluster.FetchSessions;
        int id = state.SessionId, epoch = state.SessionEpoch;
        if (epoch is -1 or 0)
        {
            if (id != 0) cache.Remove(id);
            state.CreateSession = epoch == 0;
            return topicCount;
        }
        bool byId = version >= FetchRequestReader.FirstTopicIdVersion;
        if (cache.Get(id) is not { } session) { state.SessionError = ErrorCodes.FetchSessionIdNotFound; return 0; }
        if (!session.TryAcquire()) { state.SessionError = ErrorCodes.InvalidFetchSessionEpoch; return 0; }
        if (session.NextEpoch != epoch || session.UsesTopicIds != byId)
        {
            session.Release();
            state.SessionError = session.NextEpoch != epoch ? ErrorCodes.InvalidFetchSessionEpoch : ErrorCodes.FetchSessionTopicIdError;
            return 0;
        }
        var body = context.Body.Span;
        AddRequested(session, state, topicCount, body, byId, sent: false);
        for (int f = 0; f < state.ForgottenCount; f++)
        {
            ref var forgotten = ref state.Forgotten[f];
            string? name = byId ? null : System.Text.Encoding.UTF8.GetString(body.Slice(forgotten.NameOffset, forgotten.NameLength));
            session.Forget(name, forgotten.Id, forgotten.Partition);
        }
        if (session.Count == 0)
        {
            // Nothing left: the session ends and the request is served as it came, as Kafka does.
            cache.Remove(session.Id);
            session.Release();
            return topicCount;
        }
        session.AdvanceEpoch();
        state.Session = session;
        if (state.Returned.Length < session.Count) state.Returned = new bool[Math.Max(session.Count, state.Returned.Length * 2)];
        return 0;
    }

    private static int SlotCount(State state, int topicCount) =>
        topicCount == 0 ? 0 : state.Topics[topicCount - 1].First + state.Topics[topicCount - 1].Count;

    private static void Watch(State state, PartitionLog? log)
    {
        if (log is null) return;
        log.AddWaiter(state.Waiter);
        state.Watched.Add(log);
    }

    private static void Unwatch(State state)
    {
        foreach (var log in state.Watched) log.RemoveWaiter(state.Waiter);
        state.Watched.Clear();
    }

    /// <summary>
    /// The session's partitions that may have news, as the request's topics and slots (neighbours
    /// of one topic grouped). A partition is left out when it is quiet: the client may read its
    /// topic, it is still served by the log the session last used, and that log's high watermark
    /// and log start are what the last response said, with the client's position at the high
    /// watermark. Such a partition would be read as nothing and answered with nothing, so leaving it
    /// out changes no response; it spares an incremental fetch the work of every partition that did
    /// not move.
    /// </summary>
    private int Select(RequestContext context, State state, FetchSession session, int replicaId, short version)
    {
        var logs = cluster.Logs;
        bool byId = version >= FetchRequestReader.FirstTopicIdVersion;
        bool follower = replicaId >= 0;
        bool followerAllowed = follower && context.AuthorizeCluster(AclOperation.ClusterAction);
        if (state.Slots.Length < session.Count) Array.Resize(ref state.Slots, Math.Max(session.Count, state.Slots.Length * 2));
        int topicCount = 0, slotCount = 0;
        bool inRun = false, runHasEntry = false, mayBeQuiet = false;
        Guid runId = default;
        byte[]? runName = null;
        TopicState? topic = null;
        for (int i = 0; i < session.Count; i++)
        {
            var p = session[i];
            if (!inRun || (byId ? runId != p.TopicId : !ReferenceEquals(runName, p.NameUtf8)))
            {
                inRun = true;
                runHasEntry = false;
                runId = p.TopicId;
                runName = p.NameUtf8;
                topic = byId ? logs.FindById(p.TopicId) : logs.TryGetTopic(p.NameUtf8!, out var named) ? named : null;
                // Partitions of a topic the client may not read (or that is gone) all carry their error.
                mayBeQuiet = topic is not null && (follower ? followerAllowed : context.Authorize(AclOperation.Read, AclResourceType.Topic, topic.Name));
            }
            if (mayBeQuiet && IsQuiet(p, topic!)) continue;
            if (!runHasEntry)
            {
                if (topicCount == state.Topics.Length) Array.Resize(ref state.Topics, topicCount * 2);
                state.Topics[topicCount++] = new TopicEntry { Topic = topic, Id = p.TopicId, NameUtf8 = byId ? null : p.NameUtf8, First = slotCount, Count = 0 };
                runHasEntry = true;
            }
            state.Topics[topicCount - 1].Count++;
            state.Slots[slotCount++] = new Slot { Partition = p.Partition, FetchOffset = p.FetchOffset, MaxBytes = p.MaxBytes, HighWatermark = -1, LogStartOffset = -1, SessionIndex = i };
        }
        EnsureFlags(state);
        return topicCount;
    }

    /// <summary>Whether a session partition has nothing to tell the client (see <see cref="Select"/>).</summary>
    private static bool IsQuiet(SessionPartition p, TopicState topic)
    {
        var log = p.Log;
        if (log is null || log.IsClosed) return false;
        var logs = topic.Logs;
        if ((uint)p.Partition >= (uint)logs.Length || !ReferenceEquals(logs[p.Partition], log)) return false;
        long hw = log.HighWatermark;
        return hw == p.SentHighWatermark && p.FetchOffset == hw && log.LogStartOffset == p.SentLogStartOffset;
    }

    private static void EnsureFlags(State state)
    {
        if (state.Included.Length < state.Slots.Length) state.Included = new bool[state.Slots.Length];
    }

    /// <summary>A new session of the partitions a full fetch asked for, told what this response says; its id, or 0 when the cache has no room.</summary>
    private int CreateSession(RequestContext context, State state, int topicCount, bool follower, short version)
    {
        bool byId = version >= FetchRequestReader.FirstTopicIdVersion;
        int slotCount = topicCount == 0 ? 0 : state.Topics[topicCount - 1].First + state.Topics[topicCount - 1].Count;
        if (cluster.FetchSessions.TryCreate(slotCount, byId, follower) is not { } session) return 0;
        AddRequested(session, state, topicCount, context.Body.Span, byId, sent: true);
        return session.Id;
    }

    /// <summary>
    /// Adds the request's partitions to a session or updates those it holds; with
    /// <paramref name="sent"/>, also records what the full response being written tells the client.
    /// Before v13 the session is keyed by name: a known topic's own string and bytes, so the usual
    /// request makes none.
    /// </summary>
    private static void AddRequested(FetchSession session, State state, int topicCount, ReadOnlySpan<byte> body, bool byId, bool sent)
    {
        for (int t = 0; t < topicCount; t++)
        {
            ref var entry = ref state.Topics[t];
            string? name = byId ? null : entry.Topic?.Name ?? System.Text.Encoding.UTF8.GetString(body.Slice(entry.NameOffset, entry.NameLength));
            byte[]? nameUtf8 = null;
            for (int i = entry.First; i < entry.First + entry.Count; i++)
            {
                ref var s = ref state.Slots[i];
                var p = session.Upsert(name, entry.Id, s.Partition, s.FetchOffset, s.MaxBytes);
                if (!byId) p.NameUtf8 ??= nameUtf8 ??= entry.Topic?.NameUtf8 ?? body.Slice(entry.NameOffset, entry.NameLength).ToArray();
                if (!sent) continue;
                p.Sent(s.HighWatermark, s.LogStartOffset, s.Error);
                p.Log = s.Error == 0 ? s.Log : null;
            }
        }
    }

    /// <summary>Records what an incremental response told the client, and moves partitions that returned records to the back.</summary>
    private static void Remember(State state, FetchSession session, int slotCount)
    {
        var returned = state.Returned.AsSpan(0, session.Count);
        returned.Clear();
        for (int i = 0; i < slotCount; i++)
        {
            ref var s = ref state.Slots[i];
            if (state.Included[i]) session[s.SessionIndex].Sent(s.HighWatermark, s.LogStartOffset, s.Error);
            if (s.Length > 0) returned[s.SessionIndex] = true;
        }
        session.RotateReturned(returned);
    }

    /// <summary>A top-level session error: no topics, session id 0.</summary>
    private ResponseFrame SessionErrorResponse(RequestContext context, short error, long startTimestamp)
    {
        var frame = ResponseFrame.Rent();
        var w = frame.Fetch;
        w.Begin(context.Version, context.Header.CorrelationId, 0, error, 0, 0);
        w.End();
        Metrics(context).Record(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, true);
        return frame;
    }

    /// <summary>
    /// Fills a slot's high watermark, log start and error from its partition, and says whether
    /// records must be read from the log (the fetch offset is below the high watermark and the
    /// budget allows a batch), with the budget for that read.
    /// </summary>
    private static bool Prepare(State state, int i, int responseBudget, bool firstWithData, out int budget)
    {
        ref var s = ref state.Slots[i];
        budget = 0;
        s.SliceStart = state.Slices.Count;
        s.SliceCount = 0;
        s.Length = 0;
        var log = s.Log;
        if (log is null) return false;
        if (log.IsClosed)
        {
            // Handed over (or the lease lapsed) while this fetch waited.
            s.Error = ErrorCodes.NotLeaderOrFollower;
            return false;
        }
        long hw = log.HighWatermark;
        long start = log.LogStartOffset;
        s.HighWatermark = hw;
        s.LogStartOffset = start;
        s.Error = 0;
        if (s.FetchOffset < start || s.FetchOffset > hw) { s.Error = ErrorCodes.OffsetOutOfRange; return false; }
        if (s.FetchOffset == hw) return false;
        budget = Math.Min(s.MaxBytes, responseBudget);
        return budget > 0 || firstWithData;
    }

    /// <summary>Reads a slot's records from the log (cache, unsealed data or the store) into the state's slices; returns their length.</summary>
    private async ValueTask<int> ReadStoredAsync(State state, int i, int budget, bool firstWithData)
    {
        var log = state.Slots[i].Log!;
        int before = state.Slices.Count;
        int length = await cluster.Logs.Storage.ReadAsync(log, state.Slots[i].FetchOffset, Math.Max(budget, 0), firstWithData, state.Slices, state.Rented, state.Segments).ConfigureAwait(false);
        ref var s = ref state.Slots[i];
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
