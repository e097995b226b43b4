using KafScale.Protocol;

namespace KafScale.Client;

/// <summary>
/// A request failed with a Kafka error code: one a broker answered, or one the client assigns
/// to a local failure (<see cref="ErrorCode.NetworkException"/> for a broken connection,
/// <see cref="ErrorCode.RequestTimedOut"/> for a response that never came).
/// </summary>
public class KafkaException : Exception
{
    public KafkaException(ErrorCode errorCode, string message, Exception? innerException = null)
        : base(Format(errorCode, message), innerException)
    {
        ErrorCode = errorCode;
    }

    public ErrorCode ErrorCode { get; }

    /// <summary>Kafka's classification: retrying the same request may succeed.</summary>
    public bool IsRetriable => ErrorCode.IsRetriable();

    /// <summary>Throws when <paramref name="errorCode"/> is not NONE.</summary>
    public static void ThrowIfError(short errorCode, string context, string? brokerMessage = null)
    {
        if (errorCode != 0)
        {
            throw FromCode(errorCode, context, brokerMessage);
        }
    }

    public static KafkaException FromCode(short errorCode, string context, string? brokerMessage = null) =>
        new((ErrorCode)errorCode, string.IsNullOrEmpty(brokerMessage) ? context : $"{context}: {brokerMessage}");

    private static string Format(ErrorCode errorCode, string message) =>
        $"{errorCode.KafkaName()} ({(short)errorCode}): {message}";
}

/// <summary>
/// The connection to a broker failed or was closed; every request in flight on it fails with
/// this. The connection cannot be used again; <see cref="KafkaClient"/> opens a new one.
/// </summary>
public sealed class KafkaConnectionException : KafkaException
{
    public KafkaConnectionException(string message, Exception? innerException = null, ErrorCode errorCode = ErrorCode.NetworkException)
        : base(errorCode, message, innerException)
    {
    }
}
