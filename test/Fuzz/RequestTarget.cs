using KafScale.Protocol;
using KafScale.Protocol.HotPath;
using KafScale.Records;

namespace KafScale.Fuzz;

/// <summary>
/// A request frame (the bytes after the 4-byte size prefix) as the broker's dispatcher takes it:
/// the header, then the generated decoder of the API key and version it names, and for Produce
/// also the allocation-free reader and the batch validator the fast path runs. Every decoder's
/// documented answer to bad bytes is <see cref="KafkaProtocolException"/>.
/// </summary>
internal static class RequestTarget
{
    public static void Run(byte[] frame)
    {
        KafkaRequestHeader header;
        try
        {
            header = KafkaRequestHeader.Parse(frame);
        }
        catch (KafkaProtocolException)
        {
            return; // the broker closes the connection: there is no correlation id to answer
        }

        _ = header.GetClientId(frame);
        ReadOnlyMemory<byte> body = frame.AsMemory(header.BodyOffset);
        short version = header.ApiVersion;
        IKafkaMessage? request = KafkaMessages.CreateRequest(header.ApiKey);
        if (request is not null && version >= request.LowestSupportedVersion && version <= request.HighestSupportedVersion)
        {
            try
            {
                var reader = new KafkaReader(body);
                request.Read(ref reader, version);
            }
            catch (KafkaProtocolException)
            {
            }
        }

        if (header.ApiKey == ApiKeys.Produce && version >= ProduceRequestReader.LowestVersion && version <= ProduceRequestReader.HighestVersion)
            ProduceFastPath(body.Span, version);
    }

    private static void ProduceFastPath(ReadOnlySpan<byte> body, short version)
    {
        try
        {
            var produce = new ProduceRequestReader(body, version);
            while (produce.NextTopic(out _))
            {
                while (produce.NextPartition(out _, out int offset, out int length))
                {
                    if (length > 0)
                        RecordBatchValidator.Validate(body.Slice(offset, length), out _);
                }
            }
        }
        catch (KafkaProtocolException)
        {
        }
    }
}
