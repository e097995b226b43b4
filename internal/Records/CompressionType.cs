namespace KafScale.Records;

/// <summary>Codec of a RecordBatch (attributes bits 0-2).</summary>
public enum CompressionType : byte
{
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

/// <summary>Meaning of the batch timestamps (attributes bit 3).</summary>
public enum TimestampType : byte
{
    /// <summary>Timestamps were set by the producer.</summary>
    Create = 0,

    /// <summary>The broker set the time of append; every record's timestamp is the batch's max timestamp.</summary>
    LogAppend = 1,
}
