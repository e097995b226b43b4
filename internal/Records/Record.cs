namespace KafScale.Records;

/// <summary>A record header: a string key and a nullable value.</summary>
public readonly record struct RecordHeader(string Key, byte[]? Value);

/// <summary>A decoded record with its own copies of key, value and headers (for tools and tests).</summary>
public sealed record Record(long Offset, long Timestamp, byte[]? Key, byte[]? Value, RecordHeader[] Headers)
{
    /// <summary>Timestamp type of the batch the record came from.</summary>
    public TimestampType TimestampType { get; init; }
}
