using KafScale.Protocol.Messages;

namespace KafScale.Protocol.HotPath;

/// <summary>
/// Writes a complete Produce response frame (size prefix, response header, body) into a
/// <see cref="KafkaWriter"/> without allocating. Reusable: one per connection, one
/// <see cref="Begin"/>..<see cref="End"/> per response. The bytes equal what the generated
/// <see cref="ProduceResponse"/> writes for the same content (checked by tests for every version):
/// per partition no record errors and a null error message (v8+), no tagged fields.
/// </summary>
public sealed class ProduceResponseWriter
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

    public ProduceResponseWriter(KafkaWriter writer)
    {
        _writer = writer;
    }

    public KafkaWriter Writer => _writer;

    /// <summary>
    /// Starts a response. Pass <paramref name="topicCount"/> when known; with -1 the count is patched
    /// in by <see cref="End"/>.
    /// </summary>
    public void Begin(short version, int correlationId, int topicCount = -1)
    {
        if (version < ProduceResponse.LowestSupportedVersion || version > ProduceResponse.HighestSupportedVersion)
        {
            KafkaProtocolException.ThrowUnsupportedVersion(nameof(ProduceResponse), version);
        }

        if (_open)
        {
            throw new InvalidOperationException("The previous Produce response was not ended.");
        }

        _version = version;
        _flexible = version >= ProduceResponse.FlexibleVersionsFrom;
        _open = true;
        _topicsExpected = topicCount;
        _topicsWritten = 0;
        _inTopic = false;

        _frameMark = _writer.BeginSizePrefix();
        _writer.WriteInt32(correlationId);
        if (_flexible)
        {
            _writer.WriteEmptyTaggedFields();
        }

        if (topicCount >= 0)
        {
            _writer.WriteArrayLength(topicCount, _flexible);
            _topicCountMark = -1;
        }
        else
        {
            _topicCountMark = _flexible ? _writer.ReserveUnsignedVarInt() : _writer.ReserveInt32();
        }
    }

    public void BeginTopic(ReadOnlySpan<byte> topicNameUtf8, int partitionCount)
    {
        if (!_open || _inTopic)
        {
            throw new InvalidOperationException("BeginTopic must follow Begin or EndTopic.");
        }

        _writer.WriteStringUtf8(topicNameUtf8, _flexible);
        _writer.WriteArrayLength(partitionCount, _flexible);
        _partitionsExpected = partitionCount;
        _partitionsWritten = 0;
        _inTopic = true;
    }

    public void Partition(int partitionIndex, short errorCode, long baseOffset, long logAppendTimeMs = -1, long logStartOffset = -1)
    {
        if (!_inTopic || _partitionsWritten == _partitionsExpected)
        {
            throw new InvalidOperationException("Partition must follow BeginTopic, at most partitionCount times.");
        }

        KafkaWriter w = _writer;
        w.WriteInt32(partitionIndex);
        w.WriteInt16(errorCode);
        w.WriteInt64(baseOffset);
        if (_version >= 2)
        {
            w.WriteInt64(logAppendTimeMs);
        }

        if (_version >= 5)
        {
            w.WriteInt64(logStartOffset);
        }

        if (_version >= 8)
        {
            w.WriteArrayLength(0, _flexible); // RecordErrors
            w.WriteNullableString(null, _flexible); // ErrorMessage
        }

        if (_flexible)
        {
            w.WriteEmptyTaggedFields();
        }

        _partitionsWritten++;
    }

    public void EndTopic()
    {
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
    public void End(int throttleTimeMs = 0)
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

        if (_version >= 1)
        {
            _writer.WriteInt32(throttleTimeMs);
        }

        if (_flexible)
        {
            _writer.WriteEmptyTaggedFields();
        }

        _writer.EndSizePrefix(_frameMark);
        _open = false;
    }
}
