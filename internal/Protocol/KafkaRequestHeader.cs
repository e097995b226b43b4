using System.Buffers.Binary;
using System.Text;

namespace KafScale.Protocol;

/// <summary>
/// The request header parsed straight from a frame (the bytes after the size prefix), without
/// allocating: the client id stays in the frame until <see cref="GetClientId"/> is called.
/// Header v1 is api key, version, correlation id, nullable int16-length client id; v2 (flexible
/// requests) adds a tagged-field section. The client id keeps its int16 length even in v2 so that
/// any broker can read an ApiVersions request header of any version.
/// </summary>
public readonly struct KafkaRequestHeader
{
    /// <summary>Api key, version and correlation id: the part every header version has.</summary>
    public const int FixedPartLength = 8;

    public short ApiKey { get; init; }

    public short ApiVersion { get; init; }

    public int CorrelationId { get; init; }

    /// <summary>0, 1 or 2, from <see cref="ApiKeys.RequestHeaderVersion"/>.</summary>
    public short HeaderVersion { get; init; }

    /// <summary>Offset of the client id bytes in the frame; -1 when null or absent.</summary>
    public int ClientIdOffset { get; init; }

    /// <summary>Length of the client id in bytes; -1 when null or absent.</summary>
    public int ClientIdLength { get; init; }

    /// <summary>Offset in the frame where the request body starts.</summary>
    public int BodyOffset { get; init; }

    public bool ClientIdIsNull => ClientIdLength < 0;

    public ReadOnlySpan<byte> ClientIdUtf8(ReadOnlySpan<byte> frame) =>
        ClientIdLength < 0 ? default : frame.Slice(ClientIdOffset, ClientIdLength);

    public string? GetClientId(ReadOnlySpan<byte> frame) =>
        ClientIdLength < 0 ? null : Encoding.UTF8.GetString(frame.Slice(ClientIdOffset, ClientIdLength));

    /// <summary>
    /// Reads api key, version and correlation id only. Lets a broker answer (or log) a request whose
    /// full header it cannot parse.
    /// </summary>
    public static bool TryReadFixedPart(ReadOnlySpan<byte> frame, out short apiKey, out short apiVersion, out int correlationId)
    {
        if (frame.Length < FixedPartLength)
        {
            apiKey = 0;
            apiVersion = 0;
            correlationId = 0;
            return false;
        }

        apiKey = BinaryPrimitives.ReadInt16BigEndian(frame);
        apiVersion = BinaryPrimitives.ReadInt16BigEndian(frame.Slice(2));
        correlationId = BinaryPrimitives.ReadInt32BigEndian(frame.Slice(4));
        return true;
    }

    /// <summary>Parses the header; throws <see cref="KafkaProtocolException"/> on malformed input.</summary>
    public static KafkaRequestHeader Parse(ReadOnlySpan<byte> frame)
    {
        var reader = new KafkaReader(frame);
        short apiKey = reader.ReadInt16();
        short apiVersion = reader.ReadInt16();
        int correlationId = reader.ReadInt32();
        short headerVersion = ApiKeys.RequestHeaderVersion(apiKey, apiVersion);

        int clientIdOffset = -1;
        int clientIdLength = -1;
        if (headerVersion >= 1)
        {
            ReadOnlySpan<byte> clientId = reader.ReadStringUtf8(compact: false, out bool isNull);
            if (!isNull)
            {
                clientIdLength = clientId.Length;
                clientIdOffset = reader.Position - clientId.Length;
            }
        }

        if (headerVersion >= 2)
        {
            reader.SkipTaggedFields();
        }

        return new KafkaRequestHeader
        {
            ApiKey = apiKey,
            ApiVersion = apiVersion,
            CorrelationId = correlationId,
            HeaderVersion = headerVersion,
            ClientIdOffset = clientIdOffset,
            ClientIdLength = clientIdLength,
            BodyOffset = reader.Position,
        };
    }

    /// <summary>
    /// Writes a response header: the correlation id, plus an empty tagged-field section for
    /// header v1 (<see cref="ApiKeys.ResponseHeaderVersion"/>).
    /// </summary>
    public static void WriteResponseHeader(KafkaWriter writer, short apiKey, short apiVersion, int correlationId)
    {
        writer.WriteInt32(correlationId);
        if (ApiKeys.ResponseHeaderVersion(apiKey, apiVersion) >= 1)
        {
            writer.WriteEmptyTaggedFields();
        }
    }
}
