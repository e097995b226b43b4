using System.Net.Http.Headers;

namespace KafScale.Metadata.Etcd;

/// <summary>The gRPC status codes we act on (the rest are reported as they are).</summary>
internal enum GrpcStatusCode
{
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// <summary>An etcd call that ended with a non-OK gRPC status.</summary>
internal sealed class EtcdRpcException(GrpcStatusCode status, string detail, string endpoint)
    : Exception($"etcd at {endpoint} answered {status}: {detail}")
{
    public GrpcStatusCode Status { get; } = status;

    /// <summary>etcd's own message, such as "etcdserver: requested lease not found".</summary>
    public string Detail { get; } = detail;

    public string Endpoint { get; } = endpoint;

    /// <summary>The simple auth token expired or was never given where one is needed.</summary>
    public bool IsTokenProblem =>
        Status == GrpcStatusCode.Unauthenticated
        || Detail.Contains("invalid auth token", StringComparison.Ordinal)
        || Detail.Contains("user name is empty", StringComparison.Ordinal);
}

internal static class GrpcStatus
{
    /// <summary>Reads grpc-status from trailers, or from the headers of a trailers-only response; null when absent.</summary>
    public static (GrpcStatusCode Code, string Message)? Read(HttpResponseHeaders headers, HttpResponseHeaders? trailers)
    {
        if (trailers is not null && TryRead(trailers, out var fromTrailers)) return fromTrailers;
        if (TryRead(headers, out var fromHeaders)) return fromHeaders;
        return null;
    }

    private static bool TryRead(HttpResponseHeaders headers, out (GrpcStatusCode, string) status)
    {
        status = default;
        if (!headers.TryGetValues("grpc-status", out IEnumerable<string>? codes)) return false;
        string? raw = codes.FirstOrDefault();
        if (!int.TryParse(raw, out int code)) code = (int)GrpcStatusCode.Unknown;
        string message = headers.TryGetValues("grpc-message", out IEnumerable<string>? messages)
            ? Uri.UnescapeDataString(messages.FirstOrDefault() ?? "")
            : "";
        status = ((GrpcStatusCode)code, message);
        return true;
    }
}
