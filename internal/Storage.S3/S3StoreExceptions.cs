using System.Net;

namespace KafScale.Storage.S3;

/// <summary>
/// An S3 request failed for good: a non-retriable answer, or a retriable one that outlasted the
/// retries. Callers see this instead of SDK types, so nothing above storage depends on the SDK.
/// </summary>
public sealed class S3StoreException : IOException
{
    public S3StoreException(string message, string operation, string bucket, string? key, HttpStatusCode? statusCode, string? errorCode, bool transient, Exception? inner)
        : base(message, inner)
    {
        Operation = operation;
        Bucket = bucket;
        Key = key;
        StatusCode = statusCode;
        ErrorCode = errorCode;
        IsTransient = transient;
    }

    /// <summary>The S3 API that failed ("PutObject", "HeadBucket", ...).</summary>
    public string Operation { get; }

    public string Bucket { get; }

    public string? Key { get; }

    /// <summary>The HTTP status of the last answer; null when no answer came (connection failure, timeout).</summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>S3's error code ("AccessDenied", "SlowDown", ...), when the store sent one.</summary>
    public string? ErrorCode { get; }

    /// <summary>True when the failure was retriable (the store may recover); the retries ran out.</summary>
    public bool IsTransient { get; }
}

/// <summary>
/// The S3 store cannot be used as configured: the endpoint is unreachable, the bucket is missing,
/// the credentials are refused. The message names the setting and what to change; it is meant
/// to be the one log line an operator reads before the process exits.
/// </summary>
public sealed class S3StoreStartupException(string message, Exception? inner = null) : Exception(message, inner);
