using KafScale.Protocol;
using KafScale.Protocol.HotPath;
using KafScale.Records;

namespace KafScale.Fuzz;

/// <summary>
/// A request frame (the bytes after the 4-byte size prefix) as the broker's dispatcher takes it:
/// the header, then the generated decoder of the API key and version it names, for Produce
/// also the allocation-free reader and the batch validator the fast path runs, and for Fetch the
/// allocation-free reader, which must accept exactly what the generated decoder accepts. Every
/// decoder's documented answer to bad bytes is <see cref="KafkaProtocolException"/>.
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
        bool decoded = false;
        if (request is not null && version >= request.LowestSupportedVersion && version <= request.HighestSupportedVersion)
        {
            try
            {
                var reader = new KafkaReader(body);
                request.Read(ref reader, version);
                decoded = true;
            }
            catch (KafkaProtocolException)
            {
            }
        }

        if (header.ApiKey == ApiKeys.Produce && version >= ProduceRequestReader.LowestVersion && version <= ProduceRequestReader.HighestVersion)
            ProduceFastPath(body.Span, version);
        if (header.ApiKey == ApiKeys.Fetch && version >= FetchRequestReader.LowestVersion && version <= FetchRequestReader.HighestVersion)
            FetchFastPath(body.Span, version, decoded);
    }

    private static void FetchFastPath(ReadOnlySpan<byte> body, short version, bool decodedByCodec)
    {
        bool walked = false;
        try
        {
            var fetch = new FetchRequestReader(body, version);
            while (fetch.NextTopic(out _, out _))
            {
                while (fetch.NextPartition(out _))
                {
                }
            }

            while (fetch.NextForgottenTopic(out _, out _))
            {
                while (fetch.NextForgottenPartition(out _))
                {
                }
            }

            fetch.Finish();
            _ = fetch.ReplicaId;
            walked = true;
        }
        catch (KafkaProtocolException)
        {
        }

        // The broker serves what the reader walks and answers the rest through the codec: the two must agree.
        if (walked != decodedByCodec)
            throw new InvalidOperationException($"Fetch v{version}: the generated decoder {(decodedByCodec ? "accepted" : "refused")} a body the reader {(walked ? "accepted" : "refused")}");
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
