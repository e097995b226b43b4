using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Groups;

/// <summary>
/// The one place the coordinator looks inside member metadata: the topics of a consumer's
/// subscription, so OffsetDelete can refuse topics the group still consumes (KIP-496).
/// </summary>
internal static class ConsumerProtocol
{
    /// <summary>
    /// The topics of a ConsumerProtocolSubscription (int16 version, then the struct); null when
    /// it does not parse. Newer versions than the schema's are read as the newest, as Kafka's
    /// clients do (later versions only append fields).
    /// </summary>
    public static IReadOnlyList<string>? SubscribedTopics(byte[]? metadata)
    {
        if (metadata is null || metadata.Length < 2) return null;
        try
        {
            var reader = new KafkaReader(metadata);
            short version = reader.ReadInt16();
            if (version < 0) return null;
            var subscription = new ConsumerProtocolSubscription();
            subscription.Read(ref reader, Math.Min(version, ConsumerProtocolSubscription.HighestSupportedVersion));
            return subscription.Topics;
        }
        catch (KafkaProtocolException)
        {
            return null;
        }
    }
}
