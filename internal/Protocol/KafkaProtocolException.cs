using System.Diagnostics.CodeAnalysis;

namespace KafScale.Protocol;

/// <summary>
/// The one exception the codec throws for bytes it cannot accept: truncated or malformed input,
/// lengths that exceed what remains, nulls where the version forbids them, unsupported versions.
/// <see cref="ErrorCode"/> is the Kafka error a broker should answer with.
/// </summary>
public sealed class KafkaProtocolException : Exception
{
    public KafkaProtocolException(string message, ErrorCode errorCode = ErrorCode.CorruptMessage)
        : base(message)
    {
        ErrorCode = errorCode;
    }

    public ErrorCode ErrorCode { get; }

    // Throw helpers keep the hot read methods small enough to inline.

    [DoesNotReturn]
    internal static void ThrowTruncated(int needed, int remaining) =>
        throw new KafkaProtocolException($"Truncated input: needed {needed} byte(s) but only {remaining} remain.");

    [DoesNotReturn]
    internal static void ThrowInvalidLength(string what, long length, int remaining) =>
        throw new KafkaProtocolException($"Invalid {what} length {length} with {remaining} byte(s) remaining.");

    [DoesNotReturn]
    internal static void ThrowMalformedVarInt() =>
        throw new KafkaProtocolException("Malformed variable-length integer.");

    [DoesNotReturn]
    internal static void ThrowUnexpectedNull(string what) =>
        throw new KafkaProtocolException($"Non-nullable {what} was serialized as null.");

    /// <summary>A non-nullable field of the given version held null (a programming error on write).</summary>
    [DoesNotReturn]
    public static void ThrowNullNotAllowed(string field, short version) =>
        throw new KafkaProtocolException($"Field {field} cannot be null in version {version}.", ErrorCode.InvalidRequest);

    /// <summary>Used by generated code in expression position (<c>x ?? throw ...</c>).</summary>
    public static KafkaProtocolException NullNotAllowed(string field, short version) =>
        new($"Field {field} cannot be null in version {version}.", ErrorCode.InvalidRequest);

    [DoesNotReturn]
    public static void ThrowUnsupportedVersion(string message, short version) =>
        throw new KafkaProtocolException($"{message} does not support version {version}.", ErrorCode.UnsupportedVersion);
}
