using System.Net;
using System.Net.Sockets;
using Amazon.Runtime;

namespace KafScale.Storage.S3;

/// <summary>How an SDK failure is read: its HTTP status, S3 error code, and whether another attempt may succeed.</summary>
internal static class S3Failure
{
    public static HttpStatusCode? StatusOf(Exception e) =>
        e is AmazonServiceException { StatusCode: not 0 } s ? s.StatusCode : null;

    public static string? ErrorCodeOf(Exception e) =>
        e is AmazonServiceException s && !string.IsNullOrEmpty(s.ErrorCode) ? s.ErrorCode : null;

    public static bool Is(Exception e, HttpStatusCode status) => StatusOf(e) == status;

    /// <summary>
    /// 5xx, 408, 429, S3's throttling and transient conflict codes, and failures with no answer
    /// at all (connection refused or reset, DNS, timeouts). Everything else is the caller's or
    /// the operator's to fix, and retrying it only delays the error.
    /// </summary>
    public static bool IsRetriable(Exception e)
    {
        if (StatusOf(e) is HttpStatusCode status)
        {
            int code = (int)status;
            if (code >= 500 || code is 408 or 429)
                return true;
            // ConditionalRequestConflict (409): a concurrent conditional write on the same key is
            // in progress; AWS says to retry, and the retry then gets 200 or 412.
            if (ErrorCodeOf(e) is "SlowDown" or "Throttling" or "ThrottlingException" or "RequestLimitExceeded"
                or "TooManyRequestsException" or "RequestTimeout" or "RequestTimeTooSkewed"
                or "ConditionalRequestConflict" or "OperationAborted")
                return true;
            // A 2xx that failed while its body was read (connection reset mid-response) is a network failure.
            if (code >= 300)
                return false;
        }
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is HttpRequestException or IOException or SocketException or TimeoutException or OperationCanceledException)
                return true;
        }
        return false;
    }

    /// <summary>
    /// The innermost message, which for connection failures says what actually happened
    /// ("Connection refused"), on one line (the SDK's credential errors span several).
    /// </summary>
    public static string RootMessage(Exception e)
    {
        Exception x = e;
        while (x.InnerException is not null)
            x = x.InnerException;
        if (x is OperationCanceledException)
            return "no answer within the request timeout";
        return string.Join(' ', x.Message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }
}
