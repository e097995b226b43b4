using System.Text;

namespace KafScale.Metadata.Etcd.Protocol;

/// <summary>
/// A message that is not valid protobuf. An IOException, like a cut connection: the bytes did
/// not arrive as sent, and a harmless call may be repeated elsewhere.
/// </summary>
internal sealed class InvalidProtobufException(string message) : IOException($"Malformed protobuf message from etcd: {message}.");

/// <summary>
/// Reads protobuf fields off one message. Bytes fields come back as slices of the buffer read
/// from (no copy), so the buffer must not be reused while the decoded message is in use.
/// </summary>
internal ref struct ProtoReader
{
    /// <summary>How deep unknown groups may nest before the message is taken as malformed.</summary>
    private const int MaxGroupDepth = 100;

    private readonly ReadOnlyMemory<byte> _memory;
    private readonly ReadOnlySpan<byte> _span;
    private int _position;

    public ProtoReader(ReadOnlyMemory<byte> memory)
    {
        _memory = memory;
        _span = memory.Span;
        _position = 0;
    }

    /// <summary>The next field's tag, or false at the end of the message.</summary>
    public bool TryReadTag(out uint tag)
    {
        if (_position >= _span.Length)
        {
            tag = 0;
            return false;
        }
        ulong raw = ReadVarint();
        if (raw > uint.MaxValue || raw >> 3 == 0) throw new InvalidProtobufException($"invalid field tag {raw}");
        tag = (uint)raw;
        return true;
    }

    /// <summary>Up to 10 bytes, 7 bits each, least significant first; bits past 64 are dropped.</summary>
    public ulong ReadVarint()
    {
        ReadOnlySpan<byte> span = _span;
        int position = _position;
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= span.Length) throw new InvalidProtobufException("truncated varint");
            byte b = span[position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                _position = position;
                return result;
            }
        }
        throw new InvalidProtobufException("varint longer than 10 bytes");
    }

    public long ReadInt64() => (long)ReadVarint();

    public ulong ReadUInt64() => ReadVarint();

    /// <summary>An int32 on the wire is a varint of 64 bits; its low 32 are the value.</summary>
    public int ReadEnum() => (int)ReadVarint();

    public bool ReadBool() => ReadVarint() != 0;

    public ReadOnlyMemory<byte> ReadBytes()
    {
        int length = ReadLength();
        ReadOnlyMemory<byte> value = _memory.Slice(_position, length);
        _position += length;
        return value;
    }

    /// <summary>UTF-8; invalid sequences become U+FFFD rather than failing the message.</summary>
    public string ReadString()
    {
        int length = ReadLength();
        string value = Encoding.UTF8.GetString(_span.Slice(_position, length));
        _position += length;
        return value;
    }

    /// <summary>Reads a length-delimited field into a message, merging with what it already holds.</summary>
    public void ReadMessage(IProtoMessage into)
    {
        var inner = new ProtoReader(ReadBytes());
        into.MergeFrom(ref inner);
    }

    public T ReadMessage<T>() where T : IProtoMessage, new()
    {
        var message = new T();
        ReadMessage(message);
        return message;
    }

    /// <summary>Skips the value of a field this schema does not declare (or declares with another wire type).</summary>
    public void SkipField(uint tag) => SkipField(tag, 0);

    private void SkipField(uint tag, int depth)
    {
        switch (tag & 7)
        {
            case Wire.Varint:
                ReadVarint();
                break;
            case Wire.Fixed64:
                Skip(8);
                break;
            case Wire.Len:
                Skip(ReadLength());
                break;
            case Wire.Fixed32:
                Skip(4);
                break;
            case Wire.StartGroup:
                SkipGroup(tag >> 3, depth + 1);
                break;
            case Wire.EndGroup:
                throw new InvalidProtobufException($"end of group {tag >> 3} that was never started");
            default:
                throw new InvalidProtobufException($"invalid wire type {tag & 7} for field {tag >> 3}");
        }
    }

    /// <summary>A (deprecated) group runs to the end-group tag with its own field number.</summary>
    private void SkipGroup(uint field, int depth)
    {
        if (depth > MaxGroupDepth) throw new InvalidProtobufException("groups nested too deep");
        while (true)
        {
            if (!TryReadTag(out uint tag)) throw new InvalidProtobufException($"group {field} not ended");
            if ((tag & 7) == Wire.EndGroup)
            {
                if (tag >> 3 != field) throw new InvalidProtobufException($"group {field} ended by the end of group {tag >> 3}");
                return;
            }
            SkipField(tag, depth);
        }
    }

    private int ReadLength()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_span.Length - _position)) throw new InvalidProtobufException("length past the end of the message");
        return (int)length;
    }

    private void Skip(int count)
    {
        if (count > _span.Length - _position) throw new InvalidProtobufException("field past the end of the message");
        _position += count;
    }
}
