using System.Diagnostics.CodeAnalysis;
using KafScale.Protocol.Messages;

namespace KafScale.Protocol.HotPath;

/// <summary>One partition of a Fetch request, as <see cref="FetchRequestReader.NextPartition"/> reads it.</summary>
public readonly struct FetchPartition
{
    public FetchPartition(int partition, int currentLeaderEpoch, long fetchOffset, int lastFetchedEpoch, long logStartOffset, int partitionMaxBytes, Guid replicaDirectoryId)
    {
        Partition = partition;
        CurrentLeaderEpoch = currentLeaderEpoch;
        FetchOffset = fetchOffset;
        LastFetchedEpoch = lastFetchedEpoch;
        LogStartOffset = logStartOffset;
        PartitionMaxBytes = partitionMaxBytes;
        ReplicaDirectoryId = replicaDirectoryId;
    }

    public int Partition { get; }

    /// <summary>v9+; -1 before.</summary>
    public int CurrentLeaderEpoch { get; }

    public long FetchOffset { get; }

    /// <summary>v12+; -1 before.</summary>
    public int LastFetchedEpoch { get; }

    /// <summary>v5+; -1 before.</summary>
    public long LogStartOffset { get; }

    public int PartitionMaxBytes { get; }

    /// <summary>Tagged field 0 of a v17+ partition; empty when absent.</summary>
    public Guid ReplicaDirectoryId { get; }
}

/// <summary>
/// Walks a Fetch request body (the bytes after the request header) without allocating: topic
/// names stay UTF-8 spans of the body, topic ids are read as <see cref="Guid"/>s, and partitions
/// come out as <see cref="FetchPartition"/> values. Same wire rules as the generated
/// <see cref="FetchRequest"/> for the versions the broker serves, v4-v17 (checked by tests):
/// forgotten topics from v7, rack id from v11, compact encodings and tagged fields from v12, topic
/// ids instead of names from v13, the replica id moved into the ReplicaState tagged field from v15.
/// Anything malformed throws <see cref="KafkaProtocolException"/>.
/// <para>
/// In flexible versions the request's own tagged fields (ClusterId, and from v15 ReplicaState,
/// which carries the replica id) come after everything else, so they are read by an explicit
/// <see cref="Finish"/> once the caller has walked the topics (and, if it wants them, the forgotten
/// topics). That keeps the walk to one pass over the body: the alternative, a skip pass in the
/// constructor to reach the trailing fields first, would read every topic and partition twice.
/// A caller that needs the replica id before acting (authorization) resolves the topics while
/// walking, calls <see cref="Finish"/>, and only then decides. <see cref="ReplicaId"/>,
/// <see cref="ReplicaEpoch"/>, <see cref="ClusterIdUtf8"/> and <see cref="RackIdUtf8"/> throw
/// <see cref="InvalidOperationException"/> when read before <see cref="Finish"/> in the versions
/// where they are not known yet.
/// </para>
/// </summary>
/// <example>
/// <code>
/// var fetch = new FetchRequestReader(body, version);
/// while (fetch.NextTopic(out ReadOnlySpan&lt;byte&gt; name, out Guid id))
///     while (fetch.NextPartition(out FetchPartition p))
///         Resolve(name, id, p);
/// while (fetch.NextForgottenTopic(out name, out id))
///     while (fetch.NextForgottenPartition(out int partition))
///         Forget(name, id, partition);
/// fetch.Finish();
/// Authorize(fetch.ReplicaId);
/// </code>
/// </example>
public ref struct FetchRequestReader
{
    /// <summary>Fetch v0-v3 are below Kafka 4.0's floor (KIP-896); KafScale answers them through the generated codec.</summary>
    public const short LowestVersion = 4;

    public const short HighestVersion = FetchRequest.HighestSupportedVersion;

    /// <summary>Topics are named by id instead of name from this version (KIP-516).</summary>
    public const short FirstTopicIdVersion = 13;

    private const short FirstSessionVersion = 7;
    private const short FirstRackVersion = 11;
    private const short FirstReplicaStateVersion = 15;
    private const short FirstReplicaDirectoryVersion = 17;

    private enum Phase : byte
    {
        Topics,
        ForgottenTopics,
        Finished,
    }

    private KafkaReader _reader;
    private readonly bool _flexible;
    private readonly bool _topicIds;
    private readonly int _minTopicSize;
    private readonly int _minPartitionSize;
    private Phase _phase;
    private int _topicsRemaining;
    private int _partitionsRemaining;
    private int _forgottenRemaining;
    private int _forgottenPartitionsRemaining;
    private bool _inTopic;
    private bool _inForgottenTopic;
    private int _replicaId;
    private long _replicaEpoch;
    private ReadOnlySpan<byte> _clusterId;
    private bool _clusterIdIsNull;
    private ReadOnlySpan<byte> _rackId;

    public FetchRequestReader(ReadOnlySpan<byte> body, short version)
    {
        if (version < LowestVersion || version > HighestVersion)
        {
            KafkaProtocolException.ThrowUnsupportedVersion(nameof(FetchRequest), version);
        }

        Version = version;
        _flexible = version >= FetchRequest.FlexibleVersionsFrom;
        _topicIds = version >= FirstTopicIdVersion;
        // Smallest encodings, so a forged count is refused before it is walked (each bound is what
        // the fields of that version take at least: lengths, ints, a uuid, an empty tag section).
        _minTopicSize = _topicIds ? 16 + 1 + 1 : _flexible ? 1 + 1 + 1 : 2 + 4;
        _minPartitionSize = 4 + 8 + 4 + (version >= 5 ? 8 : 0) + (version >= 9 ? 4 : 0) + (_flexible ? 4 + 1 : 0);
        _reader = new KafkaReader(body);
        _replicaId = version < FirstReplicaStateVersion ? _reader.ReadInt32() : -1;
        _replicaEpoch = -1;
        MaxWaitMs = _reader.ReadInt32();
        MinBytes = _reader.ReadInt32();
        MaxBytes = _reader.ReadInt32();
        IsolationLevel = _reader.ReadInt8();
        if (version >= FirstSessionVersion)
        {
            SessionId = _reader.ReadInt32();
            SessionEpoch = _reader.ReadInt32();
        }
        else
        {
            SessionId = 0;
            SessionEpoch = -1;
        }

        int topics = _reader.ReadArrayLength(_flexible, _minTopicSize);
        if (topics < 0)
        {
            KafkaProtocolException.ThrowUnexpectedNull("Topics");
        }

        TopicCount = topics;
        _topicsRemaining = topics;
        _phase = Phase.Topics;
        _partitionsRemaining = 0;
        _forgottenRemaining = 0;
        _forgottenPartitionsRemaining = 0;
        _inTopic = false;
        _inForgottenTopic = false;
        _clusterId = default;
        _clusterIdIsNull = true;
        _rackId = default;
        PartitionCount = 0;
        ForgottenTopicCount = 0;
        ForgottenPartitionCount = 0;
    }

    public short Version { get; }

    /// <summary>True from v13: topics carry ids, and their names are empty.</summary>
    public readonly bool UsesTopicIds => _topicIds;

    public int MaxWaitMs { get; }

    public int MinBytes { get; }

    public int MaxBytes { get; }

    public sbyte IsolationLevel { get; }

    /// <summary>v7+; 0 before.</summary>
    public int SessionId { get; }

    /// <summary>v7+; -1 before.</summary>
    public int SessionEpoch { get; }

    public int TopicCount { get; }

    /// <summary>Number of partitions of the topic returned by the last <see cref="NextTopic"/>.</summary>
    public int PartitionCount { get; private set; }

    /// <summary>Number of forgotten topics (v7+), known once the topics are walked (0 before).</summary>
    public int ForgottenTopicCount { get; private set; }

    /// <summary>Number of partitions of the forgotten topic returned by the last <see cref="NextForgottenTopic"/>.</summary>
    public int ForgottenPartitionCount { get; private set; }

    /// <summary>True once <see cref="Finish"/> has read the end of the body.</summary>
    public readonly bool IsFinished => _phase == Phase.Finished;

    /// <summary>Bytes of the body consumed so far.</summary>
    public readonly int Position => _reader.Position;

    /// <summary>
    /// The follower's broker id, -1 for a consumer: a field of its own before v15, from v15 the
    /// ReplicaState tagged field at the end of the body, so only after <see cref="Finish"/>.
    /// </summary>
    public readonly int ReplicaId
    {
        get
        {
            if (Version >= FirstReplicaStateVersion)
            {
                RequireFinished();
            }

            return _replicaId;
        }
    }

    /// <summary>ReplicaState's epoch (v15+, after <see cref="Finish"/>); -1 when absent or before v15.</summary>
    public readonly long ReplicaEpoch
    {
        get
        {
            RequireFinished();
            return _replicaEpoch;
        }
    }

    /// <summary>True when the request carried no cluster id, or a null one (after <see cref="Finish"/>).</summary>
    public readonly bool ClusterIdIsNull
    {
        get
        {
            RequireFinished();
            return _clusterIdIsNull;
        }
    }

    /// <summary>The ClusterId tagged field (v12+) as UTF-8, after <see cref="Finish"/>; empty when null.</summary>
    public readonly ReadOnlySpan<byte> ClusterIdUtf8
    {
        get
        {
            RequireFinished();
            return _clusterId;
        }
    }

    /// <summary>The consumer's rack (v11+) as UTF-8, after <see cref="Finish"/>; empty before v11.</summary>
    public readonly ReadOnlySpan<byte> RackIdUtf8
    {
        get
        {
            RequireFinished();
            return _rackId;
        }
    }

    /// <summary>
    /// Moves to the next topic, skipping any partitions of the current one not yet read. Before v13
    /// <paramref name="topicNameUtf8"/> is the name and <paramref name="topicId"/> empty; from v13 the
    /// other way round. Returns false after the last topic, and once the walk has moved past the topics.
    /// </summary>
    public bool NextTopic(out ReadOnlySpan<byte> topicNameUtf8, out Guid topicId)
    {
        topicNameUtf8 = default;
        topicId = default;
        if (_phase != Phase.Topics)
        {
            return false;
        }

        FinishTopic();
        if (_topicsRemaining == 0)
        {
            StartForgottenTopics();
            return false;
        }

        _topicsRemaining--;
        ReadTopicIdentity(out topicNameUtf8, out topicId);
        int partitions = _reader.ReadArrayLength(_flexible, _minPartitionSize);
        if (partitions < 0)
        {
            KafkaProtocolException.ThrowUnexpectedNull("Partitions");
        }

        PartitionCount = partitions;
        _partitionsRemaining = partitions;
        _inTopic = true;
        return true;
    }

    /// <summary>Reads the next partition of the current topic; false after its last one.</summary>
    public bool NextPartition(out FetchPartition partition)
    {
        if (!_inTopic || _partitionsRemaining == 0)
        {
            partition = default;
            return false;
        }

        _partitionsRemaining--;
        short version = Version;
        int index = _reader.ReadInt32();
        int currentLeaderEpoch = version >= 9 ? _reader.ReadInt32() : -1;
        long fetchOffset = _reader.ReadInt64();
        int lastFetchedEpoch = version >= 12 ? _reader.ReadInt32() : -1;
        long logStartOffset = version >= 5 ? _reader.ReadInt64() : -1;
        int partitionMaxBytes = _reader.ReadInt32();
        Guid replicaDirectoryId = default;
        if (_flexible)
        {
            int tagged = _reader.ReadTaggedFieldCount();
            for (int t = 0; t < tagged; t++)
            {
                uint tag = _reader.ReadUnsignedVarInt();
                int size = _reader.ReadTaggedFieldSize();
                if (tag == 0 && version >= FirstReplicaDirectoryVersion)
                {
                    // Read within the field's declared size; bytes after the uuid are ignored, as the codec does.
                    KafkaReader field = _reader.ReadSubReader(size);
                    replicaDirectoryId = field.ReadUuid();
                }
                else
                {
                    _reader.Skip(size);
                }
            }
        }

        partition = new FetchPartition(index, currentLeaderEpoch, fetchOffset, lastFetchedEpoch, logStartOffset, partitionMaxBytes, replicaDirectoryId);
        return true;
    }

    /// <summary>
    /// Moves to the next forgotten topic (v7+, KIP-227), first skipping whatever of the topics was
    /// not read. Names and ids as in <see cref="NextTopic"/>. Returns false after the last one (and
    /// always before v7).
    /// </summary>
    public bool NextForgottenTopic(out ReadOnlySpan<byte> topicNameUtf8, out Guid topicId)
    {
        topicNameUtf8 = default;
        topicId = default;
        SkipTopics();
        if (_phase != Phase.ForgottenTopics)
        {
            return false;
        }

        FinishForgottenTopic();
        if (_forgottenRemaining == 0)
        {
            return false;
        }

        _forgottenRemaining--;
        ReadTopicIdentity(out topicNameUtf8, out topicId);
        int partitions = _reader.ReadArrayLength(_flexible, 4);
        if (partitions < 0)
        {
            KafkaProtocolException.ThrowUnexpectedNull("Partitions");
        }

        ForgottenPartitionCount = partitions;
        _forgottenPartitionsRemaining = partitions;
        _inForgottenTopic = true;
        return true;
    }

    /// <summary>Reads the next partition index of the current forgotten topic; false after its last one.</summary>
    public bool NextForgottenPartition(out int partition)
    {
        if (!_inForgottenTopic || _forgottenPartitionsRemaining == 0)
        {
            partition = -1;
            return false;
        }

        _forgottenPartitionsRemaining--;
        partition = _reader.ReadInt32();
        return true;
    }

    /// <summary>
    /// Reads the rest of the body: skips whatever of the topics and forgotten topics was not read,
    /// then reads the rack id (v11+) and the request's tagged fields (v12+: ClusterId, and from v15
    /// ReplicaState). Afterwards <see cref="ReplicaId"/> is final. Calling it again does nothing.
    /// </summary>
    public void Finish()
    {
        if (_phase == Phase.Finished)
        {
            return;
        }

        SkipTopics();
        while (NextForgottenTopic(out _, out _))
        {
        }

        if (Version >= FirstRackVersion)
        {
            _rackId = _reader.ReadStringUtf8(_flexible, out bool isNull);
            if (isNull)
            {
                KafkaProtocolException.ThrowUnexpectedNull("RackId");
            }
        }

        if (_flexible)
        {
            ReadRequestTaggedFields();
        }

        _phase = Phase.Finished;
    }

    private void ReadRequestTaggedFields()
    {
        int tagged = _reader.ReadTaggedFieldCount();
        for (int t = 0; t < tagged; t++)
        {
            uint tag = _reader.ReadUnsignedVarInt();
            int size = _reader.ReadTaggedFieldSize();
            switch (tag)
            {
                case 0:
                {
                    // ClusterId: a compact nullable string read within the field's size.
                    KafkaReader field = _reader.ReadSubReader(size);
                    _clusterId = field.ReadStringUtf8(compact: true, out _clusterIdIsNull);
                    break;
                }

                case 1 when Version >= FirstReplicaStateVersion:
                {
                    // ReplicaState: ReplicaId, ReplicaEpoch and tagged fields of its own.
                    KafkaReader field = _reader.ReadSubReader(size);
                    _replicaId = field.ReadInt32();
                    _replicaEpoch = field.ReadInt64();
                    field.SkipTaggedFields();
                    break;
                }

                default:
                    _reader.Skip(size);
                    break;
            }
        }
    }

    private void ReadTopicIdentity(out ReadOnlySpan<byte> topicNameUtf8, out Guid topicId)
    {
        if (_topicIds)
        {
            topicNameUtf8 = default;
            topicId = _reader.ReadUuid();
            return;
        }

        topicId = default;
        topicNameUtf8 = _reader.ReadStringUtf8(_flexible, out bool isNull);
        if (isNull)
        {
            KafkaProtocolException.ThrowUnexpectedNull("topic name");
        }
    }

    private void FinishTopic()
    {
        if (!_inTopic)
        {
            return;
        }

        while (NextPartition(out _))
        {
        }

        if (_flexible)
        {
            _reader.SkipTaggedFields();
        }

        _inTopic = false;
    }

    private void SkipTopics()
    {
        while (NextTopic(out _, out _))
        {
        }
    }

    private void StartForgottenTopics()
    {
        _phase = Phase.ForgottenTopics;
        if (Version < FirstSessionVersion)
        {
            return;
        }

        int count = _reader.ReadArrayLength(_flexible, _minTopicSize);
        if (count < 0)
        {
            KafkaProtocolException.ThrowUnexpectedNull("ForgottenTopicsData");
        }

        ForgottenTopicCount = count;
        _forgottenRemaining = count;
    }

    private void FinishForgottenTopic()
    {
        if (!_inForgottenTopic)
        {
            return;
        }

        while (NextForgottenPartition(out _))
        {
        }

        if (_flexible)
        {
            _reader.SkipTaggedFields();
        }

        _inForgottenTopic = false;
    }

    private readonly void RequireFinished()
    {
        if (_phase != Phase.Finished)
        {
            ThrowNotFinished();
        }
    }

    [DoesNotReturn]
    private static void ThrowNotFinished() =>
        throw new InvalidOperationException("Read after Finish(): this field comes at the end of the Fetch request body.");
}
