namespace KafScale.Protocol;

/// <summary>
/// A Kafka message (request, response, header or data schema) generated from its JSON schema.
/// Version rules live in the generated <c>Read</c>/<c>Write</c>; callers only pass the version.
/// </summary>
public interface IKafkaMessage
{
    /// <summary>The API key, or -1 for headers and data schemas.</summary>
    short ApiKey { get; }

    short LowestSupportedVersion { get; }

    short HighestSupportedVersion { get; }

    /// <summary>First flexible (KIP-482) version, or <see cref="short.MaxValue"/> when never flexible.</summary>
    short FlexibleVersionsFrom { get; }

    void Read(ref KafkaReader reader, short version);

    void Write(KafkaWriter writer, short version);
}
