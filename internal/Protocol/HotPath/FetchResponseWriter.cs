using KafScale.Protocol.Messages;

namespace KafScale.Protocol.HotPath;

/// <summary>
/// Writes a complete Fetch response frame (size prefix, response header, body) into a
/// <see cref="KafkaWriter"/> without allocating; record bytes are copied in as they are, never
/// re-encoded. Reusable: one per connection. Call order:
/// <see cref="Begin"/>, then per topic <c>BeginTopic</c>, per partition <see cref="Partition"/>
/// followed by <see cref="WriteRecords"/> calls adding up to its records length, <see cref="EndTopic"/>,
/// and finally <see cref="End"/>. The bytes equal what the generated <see cref="FetchResponse"/>
/// writes for the same content (checked by tests for every version): null aborted transactions and
/// no tagged fields.
/// </summary>
public sealed class FetchResponseWriter
{
    private readonly KafkaWriter _writer;
    private short _version;
    private bool _flexible;
    private bool _open;
    private int _frameMark;
    private int _topicCountMark;
    private int _topicsExpected;
    private int _topicsWritten;
    private int _partitionsExpected;
    private int _partitionsWritten;
    private bool _inTopic;
    private bool _inPartition;
    private int _recordsRemaining;
    private int _externalBytes;

    public FetchResponseWriter(KafkaWriter writer)
    {
        _writer = writer;
    }

    public KafkaWriter Writer => _writer;

    /// <summary>Topics are identified by id instead of name from this version (KIP-516).</summary>
    public const short FirstTopicIdVersion = 13;

    public short Version => _version;

    public bool UsesTopicIds => _version >= FirstTopicIdVersion;

    /// <summary>
    /// Starts a response. Pass <paramref name="topicCount"/> when known; with -1 the count is patched
    /// in by <see cref="End"/>.
    /// </summary>
    public void Begin(short version, int correlationId, int throttleTimeMs, short errorCode, int sessionId, int topicCount = -1)
    {
        if (version < FetchResponse.LowestSupportedVersion || version > FetchResponse.HighestSupportedVersion)
        {
            KafkaProtocolException.ThrowUnsupportedVersion(nameof(FetchResponse), version);
        }

        if (_open)
        {
            throw new InvalidOperationException("The previous Fetch response was not ended.");
        }

        _version = version;
        _flexible = version >= FetchResponse.FlexibleVersionsFrom;
        _open = true;
        _topicsExpected = topicCount;
        _topicsWritten = 0;
        _externalBytes = 0;
        _inTopic = false;
        _inPartition = false;

        KafkaWriter w = _writer;
        _frameMark = w.BeginSizePrefix();
        w.WriteInt32(correlationId);
        if (_flexible)
        {
            w.WriteEmptyTaggedFields();
        }

        if (version >= 1)
        {
            w.WriteInt32(throttleTimeMs);
        }

        if (version >= 7)
        {
            w.WriteInt16(errorCode);
            w.WriteInt32(sessionId);
        }

        if (topicCount >= 0)
        {
            w.WriteArrayLength(topicCount, _flexible);
            _topicCountMark = -1;
        }
        else
        {
            _topicCountMark = _flexible ? w.ReserveUnsignedVarInt() : w.ReserveInt32();
        }
    }

    /// <summary>Starts a topic named by UTF-8 name (versions before 13).</summary>
    public void BeginTopic(ReadOnlySpan<byte> topicNameUtf8, int partitionCount)
    {
        if (UsesTopicIds)
        {
            throw new InvalidOperationException($"Fetch v{_version} identifies topics by id.");
        }

        StartTopic();
        _writer.WriteStringUtf8(topicNameUtf8, _flexible);
        StartPartitions(partitionCount);
    }

    /// <summary>Starts a topic named by id (version 13 and later).</summary>
    public void BeginTopic(Guid topicId, int partitionCount)
    {
        if (!UsesTopicIds)
        {
            throw new InvalidOperationException($"Fetch v{_version} identifies topics by name.");
        }

        StartTopic();
        _writer.WriteUuid(topicId);
        StartPartitions(partitionCount);
    }

    /// <summary>Starts a topic with whichever of name and id the version uses.</summary>
    public void BeginTopic(ReadOnlySpan<byte> topicNameUtf8, Guid topicId, int partitionCount)
    {
        StartTopic();
        if (UsesTopicIds)
        {
            _writer.WriteUuid(topicId);
        }
        else
        {
            _writer.WriteStringUtf8(topicNameUtf8, _flexible);
        }

        StartPartitions(partitionCount);
    }

    private void StartTopic()
    {
        if (!_open || _inTopic)
        {
            throw new InvalidOperationException("BeginTopic must follow Begin or EndTopic.");
        }
    }

    private void StartPartitions(int partitionCount)
    {
        _writer.WriteArrayLength(partitionCount, _flexible);
        _partitionsExpected = partitionCount;
        _partitionsWritten = 0;
        _inTopic = true;
    }

    /// <summary>
    /// Writes a partition up to its records; <paramref name="recordsLength"/> bytes must follow through
    /// <see cref="WriteRecords"/> (-1 writes null records). Aborted transactions are written as null.
    /// </summary>
    public void Partition(
        int partitionIndex,
        short errorCode,
        long highWatermark,
        long lastStableOffset,
        long logStartOffset,
        int preferredReadReplica,
        int recordsLength)
    {
        FinishPartition();
        if (!_inTopic || _partitionsWritten == _partitionsExpected)
        {
            throw new InvalidOperationException("Partition must follow BeginTopic, at most partitionCount times.");
        }

        KafkaWriter w = _writer;
        w.WriteInt32(partitionIndex);
        w.WriteInt16(errorCode);
        w.WriteInt64(highWatermark);
        if (_version >= 4)
        {
            w.WriteInt64(lastStableOffset);
        }

        if (_version >= 5)
        {
            w.WriteInt64(logStartOffset);
        }

        if (_version >= 4)
        {
            w.WriteArrayLength(-1, _flexible); // AbortedTransactions: null
        }

        if (_version >= 11)
        {
            w.WriteInt32(preferredReadReplica);
        }

        w.WriteBytesLength(recordsLength < 0 ? -1 : recordsLength, _flexible);
        _recordsRemaining = Math.Max(recordsLength, 0);
        _inPartition = true;
        _partitionsWritten++;
    }

    /// <summary>Copies record bytes (whole batches, as stored) into the response.</summary>
    public void WriteRecords(ReadOnlySpan<byte> records)
    {
        if (!_inPartition || records.Length > _recordsRemaining)
        {
            throw new InvalidOperationException($"WriteRecords of {records.Length} bytes with {_recordsRemaining} announced bytes left.");
        }

        _writer.WriteRaw(records);
        _recordsRemaining -= records.Length;
    }

    /// <summary>
    /// Counts <paramref name="length"/> announced record bytes that the caller sends itself, after
    /// what this writer has written so far (a slice of a stored segment written straight to the
    /// connection, docs/architecture.md, "The read path"); the frame size includes them.
    /// </summary>
    public void SkipRecords(int length)
    {
        if (!_inPartition || length > _recordsRemaining)
        {
            throw new InvalidOperationException($"SkipRecords of {length} bytes with {_recordsRemaining} announced bytes left.");
        }

        _recordsRemaining -= length;
        _externalBytes += length;
    }

    private void FinishPartition()
    {
        if (!_inPartition)
        {
            return;
        }

        if (_recordsRemaining != 0)
        {
            throw new InvalidOperationException($"{_recordsRemaining} announced record bytes were not written.");
        }

        if (_flexible)
        {
            _writer.WriteEmptyTaggedFields();
        }

        _inPartition = false;
    }

    public void EndTopic()
    {
        FinishPartition();
        if (!_inTopic || _partitionsWritten != _partitionsExpected)
        {
            throw new InvalidOperationException($"EndTopic after {_partitionsWritten} of {_partitionsExpected} partitions.");
        }

        if (_flexible)
        {
            _writer.WriteEmptyTaggedFields();
        }

        _inTopic = false;
        _topicsWritten++;
    }

    /// <summary>Finishes the body and patches the frame size. The frame is then in <see cref="Writer"/>.</summary>
    public void End()
    {
        if (!_open || _inTopic || (_topicsExpected >= 0 && _topicsWritten != _topicsExpected))
        {
            throw new InvalidOperationException($"End after {_topicsWritten} of {_topicsExpected} topics or inside a topic.");
        }

        if (_topicCountMark >= 0)
        {
            if (_flexible)
            {
                _writer.PatchUnsignedVarInt(_topicCountMark, (uint)_topicsWritten + 1);
            }
            else
            {
                _writer.PatchInt32(_topicCountMark, _topicsWritten);
            }
        }

        if (_flexible)
        {
            _writer.WriteEmptyTaggedFields();
        }

        _writer.PatchInt32(_frameMark, _writer.Position - _frameMark - 4 + _externalBytes);
        _open = false;
    }
}
