namespace KafScale.Metadata.Etcd.Protocol;

/// <summary>
/// One of etcd's protobuf messages, encoded and decoded by hand (proto/ holds the schema, with
/// etcd's field numbers). Proto3 rules: scalars at their default value and empty bytes or strings
/// are left out; a message field or a oneof member is written whenever it is set, even when
/// empty or zero; fields are written in field-number order. Decoding skips unknown fields,
/// keeps the last value of a repeated scalar, appends repeated messages and merges a message
/// field that occurs twice, as any protobuf parser does.
/// </summary>
internal interface IProtoMessage
{
    int CalculateSize();

    void WriteTo(ref ProtoWriter writer);

    void MergeFrom(ref ProtoReader reader);
}

internal static class ProtoMessage
{
    /// <summary>Decodes a whole message; bytes fields are slices of <paramref name="data"/>.</summary>
    public static T Parse<T>(ReadOnlyMemory<byte> data) where T : IProtoMessage, new()
    {
        var message = new T();
        var reader = new ProtoReader(data);
        message.MergeFrom(ref reader);
        return message;
    }

    /// <summary>Encodes into <paramref name="destination"/>, which must be exactly <see cref="IProtoMessage.CalculateSize"/> long.</summary>
    public static void Write(IProtoMessage message, Span<byte> destination)
    {
        var writer = new ProtoWriter(destination);
        message.WriteTo(ref writer);
        if (writer.Position != destination.Length)
            throw new InvalidOperationException($"{message.GetType().Name} wrote {writer.Position} bytes where its size is {destination.Length}.");
    }

    public static byte[] ToByteArray(IProtoMessage message)
    {
        var bytes = new byte[message.CalculateSize()];
        Write(message, bytes);
        return bytes;
    }
}
