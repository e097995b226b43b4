using KafScale.Protocol.Messages;

namespace KafScale.Protocol.HotPath;

/// <summary>
/// Walks a Produce request body (the bytes after the request header) without allocating: topic
/// names stay UTF-8 spans and each partition's records are reported as an offset and length into
/// the body, ready to be validated and appended in place. Same wire rules as the generated
/// <see cref="ProduceRequest"/> (checked by tests): v3+ transactional id, compact encodings and
/// tagged fields from v9. Anything malformed throws <see cref="KafkaProtocolException"/>.
/// </summary>
/// <example>
/// <code>
/// var produce = new ProduceRequestReader(body, version);
/// while (produce.NextTopic(out ReadOnlySpan&lt;byte&gt; topic))
///     while (produce.NextPartition(out int partition, out int offset, out int length))
///         Append(topic, partition, body.Slice(offset, length));
/// </code>
/// </example>
public ref struct ProduceRequestReader
{
    /// <summary>Produce v0-v2 carry message format v0/v1 only, which Kafka 4.0 and KafScale reject (KIP-896, KIP-724).</summary>
    public const short LowestVersion = 3;

    public const short HighestVersion = ProduceRequest.HighestSupportedVersion;

    // A partition is at least an int32 index and a records length.
    private const int MinPartitionSize = 5;

    private readonly ReadOnlySpan<byte> _transactionalId;
    private KafkaReader _reader;
    private readonly bool _flexible;
    private int _topicsRemaining;
    private int _partitionsRemaining;
    private bool _inTopic;
    private bool _finished;

    public ProduceRequestReader(ReadOnlySpan<byte> body, short version)
    {
        if (version < LowestVersion || version > HighestVersion)
        {
            KafkaProtocolException.ThrowUnsupportedVersion(nameof(ProduceRequest), version);
        }

        Version = version;
        _flexible = version >= ProduceRequest.FlexibleVersionsFrom;
        _reader = new KafkaReader(body);
        _transactionalId = _reader.ReadStringUtf8(_flexible, out bool isNull);
        TransactionalIdIsNull = isNull;
        Acks = _reader.ReadInt16();
        TimeoutMs = _reader.ReadInt32();
        int topics = _reader.ReadArrayLength(_flexible, 2);
        if (topics < 0)
        {
            KafkaProtocolException.ThrowUnexpectedNull("TopicData");
        }

        TopicCount = topics;
        _topicsRemaining = topics;
        _partitionsRemaining = 0;
        _inTopic = false;
        _finished = false;
        PartitionCount = 0;
    }

    public short Version { get; }

    public bool TransactionalIdIsNull { get; }

    /// <summary>The transactional id as UTF-8 (empty when null; see <see cref="TransactionalIdIsNull"/>).</summary>
    public readonly ReadOnlySpan<byte> TransactionalIdUtf8 => _transactionalId;

    public short Acks { get; }

    public int TimeoutMs { get; }

    public int TopicCount { get; }

    /// <summary>Number of partitions of the topic returned by the last <see cref="NextTopic"/>.</summary>
    public int PartitionCount { get; private set; }

    /// <summary>Bytes of the body consumed so far.</summary>
    public readonly int Position => _reader.Position;

    /// <summary>
    /// Moves to the next topic, skipping any partitions of the current one not yet read. Returns
    /// false after the last topic (the body's trailing tagged fields are consumed then).
    /// </summary>
    public bool NextTopic(out ReadOnlySpan<byte> topicNameUtf8)
    {
        FinishTopic();
        if (_topicsRemaining == 0)
        {
            if (!_finished)
            {
                if (_flexible)
                {
                    _reader.SkipTaggedFields();
                }

                _finished = true;
            }

            topicNameUtf8 = default;
            return false;
        }

        _topicsRemaining--;
        topicNameUtf8 = _reader.ReadStringUtf8(_flexible, out bool isNull);
        if (isNull)
        {
            KafkaProtocolException.ThrowUnexpectedNull("topic name");
        }

        int partitions = _reader.ReadArrayLength(_flexible, MinPartitionSize);
        if (partitions < 0)
        {
            KafkaProtocolException.ThrowUnexpectedNull("PartitionData");
        }

        PartitionCount = partitions;
        _partitionsRemaining = partitions;
        _inTopic = true;
        return true;
    }

    /// <summary>
    /// Reads the next partition of the current topic. <paramref name="recordsOffset"/> is relative to
    /// the body span given to the constructor; both it and <paramref name="recordsLength"/> are -1
    /// for null records.
    /// </summary>
    public bool NextPartition(out int partitionIndex, out int recordsOffset, out int recordsLength)
    {
        if (!_inTopic || _partitionsRemaining == 0)
        {
            partitionIndex = -1;
            recordsOffset = -1;
            recordsLength = -1;
            return false;
        }

        _partitionsRemaining--;
        partitionIndex = _reader.ReadInt32();
        recordsLength = _reader.ReadRecordsRange(_flexible, out recordsOffset);
        if (_flexible)
        {
            _reader.SkipTaggedFields();
        }

        return true;
    }

    private void FinishTopic()
    {
        if (!_inTopic)
        {
            return;
        }

        while (NextPartition(out _, out _, out _))
        {
        }

        if (_flexible)
        {
            _reader.SkipTaggedFields();
        }

        _inTopic = false;
    }
}
