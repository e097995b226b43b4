using System.Diagnostics;
using KafScale.Metadata;
using KafScale.Broker.Quotas;
using KafScale.Protocol;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Network;

/// <summary>
/// Routes a request frame to the handler of its API key, after the version checks every API
/// shares, and frames the handler's answer. Version rules live in the generated codec and in
/// each handler's advertised range; nothing here knows an API's fields.
/// </summary>
internal sealed class RequestDispatcher
{
    private readonly ApiHandler?[] _handlers = new ApiHandler?[128];
    private readonly ILogger _log;

    public RequestDispatcher(IEnumerable<ApiHandler> handlers, BrokerMetrics metrics, ILogger log)
    {
        foreach (var h in handlers) _handlers[h.ApiKey] = h;
        Metrics = metrics;
        _log = log;
    }

    public BrokerMetrics Metrics { get; }
    public ILogger Log => _log;

    /// <summary>Client quotas; request_percentage is measured here, around starting each request.</summary>
    public QuotaManager? Quotas { get; init; }

    /// <summary>Who may do what (docs/security.md, "ACLs"); allows everything with --authorizer none.</summary>
    public Security.Authorizer Authorizer { get; init; } = Security.Authorizer.None;

    /// <summary>The SASL mechanisms, credentials and session lifetime (null: the defaults, no lifetime).</summary>
    public Security.SaslAuthenticator? Sasl { get; init; }

    /// <summary>The APIs and versions this broker advertises in ApiVersions.</summary>
    public IEnumerable<ApiHandler> Handlers => _handlers.Where(h => h is not null && h.Advertised)!;

    /// <summary>
    /// Starts handling a request. Runs synchronously up to the handler's first real wait, so
    /// side effects (such as appends) happen in the order requests arrive on a connection.
    /// Throws only for a frame whose header cannot be read (the connection is then closed).
    /// </summary>
    public ValueTask<ResponseFrame?> DispatchAsync(ClientContext client, ReadOnlyMemory<byte> frame)
    {
        var header = KafkaRequestHeader.Parse(frame.Span);
        client.ClientId ??= header.GetClientId(frame.Span);
        var body = frame[header.BodyOffset..];
        short apiKey = header.ApiKey, version = header.ApiVersion;
        var handler = apiKey >= 0 && apiKey < _handlers.Length ? _handlers[apiKey] : null;
        if (handler is null)
        {
            Metrics.Request("unknown", 0, false);
            _log.LogDebug("unknown API key {ApiKey} from {Remote}", apiKey, client.Remote);
            return ValueTask.FromResult<ResponseFrame?>(UnknownApi(header));
        }
        long started = Stopwatch.GetTimestamp();
        var response = handler.RunAsync(new RequestContext(client, header, body, this), started);
        if (Quotas is { } quotas) RecordRequestTime(quotas.For(client), client, started);
        return response;
    }

    /// <summary>
    /// request_percentage counts the time the broker works on a request until its first real wait
    /// (the object store, new fetch data): the part that occupies a thread, which is what Kafka's
    /// request quota measures. 100 means one thread's whole time.
    /// </summary>
    private void RecordRequestTime(ClientQuotas quotas, ClientContext client, long started)
    {
        if (quotas.Sensor(QuotaKey.RequestPercentage) is null) return;
        double percentSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds * 100;
        long throttle = quotas.Record(QuotaKey.RequestPercentage, percentSeconds, Environment.TickCount64);
        if (throttle <= 0) return;
        client.Throttle(throttle);
        Metrics.Throttled(QuotaKey.RequestPercentage);
    }

    /// <summary>
    /// An API key we do not know has no schema to answer in; Kafka's convention for ApiVersions
    /// is a v0 body with UNSUPPORTED_VERSION, and that is the most a client can parse.
    /// </summary>
    private static ResponseFrame UnknownApi(KafkaRequestHeader header)
    {
        var frame = ResponseFrame.Rent();
        var w = frame.Writer;
        int start = w.BeginSizePrefix();
        w.WriteInt32(header.CorrelationId);
        w.WriteInt16((short)ErrorCode.UnsupportedVersion);
        w.WriteInt32(0);
        w.EndSizePrefix(start);
        return frame;
    }
}

/// <summary>Everything a handler gets for one request.</summary>
internal readonly record struct RequestContext(ClientContext Client, KafkaRequestHeader Header, ReadOnlyMemory<byte> Body, RequestDispatcher Dispatcher)
{
    public short Version => Header.ApiVersion;

    public Security.Authorizer Authorizer => Dispatcher.Authorizer;

    /// <summary>Checks an operation on a resource for this connection's principal (a denial is counted).</summary>
    public bool Authorize(Security.AclOperation operation, Security.AclResourceType type, string? name) =>
        Dispatcher.Authorizer.Authorize(Client, operation, type, (name ?? "").AsSpan());

    /// <summary>Checks an operation on the cluster resource (kafka-cluster).</summary>
    public bool AuthorizeCluster(Security.AclOperation operation) => Dispatcher.Authorizer.AuthorizeCluster(Client, operation);
}

/// <summary>
/// One Kafka API. Subclasses live in Handlers/, one file per API, named after it.
/// </summary>
internal abstract class ApiHandler
{
    public abstract short ApiKey { get; }
    public abstract string Name { get; }
    /// <summary>Lowest version advertised in ApiVersions (see ApiKeys.AdvertisedMinVersion).</summary>
    public abstract short MinVersion { get; }
    /// <summary>Lowest version served: the floor Apache Kafka 4.0 accepts (KIP-896).</summary>
    public short ServedMinVersion => ApiKeys.Kip896Floor(ApiKey);
    public abstract short MaxVersion { get; }
    /// <summary>False for APIs answered (with errors) but not advertised, like transactions.</summary>
    public virtual bool Advertised => true;

    /// <summary>Admin APIs are also counted in kafscale_admin_requests_total (upstream's name).</summary>
    public virtual bool IsAdmin => false;

    private ApiMetrics? _metrics;
    protected ApiMetrics Metrics(RequestContext context) => _metrics ??= context.Dispatcher.Metrics.ForApi(Name, IsAdmin);

    public abstract ValueTask<ResponseFrame?> RunAsync(RequestContext context, long startTimestamp);

    /// <summary>Frames a response message with the response header its version calls for.</summary>
    protected ResponseFrame Frame(RequestContext context, IKafkaMessage response, short version)
    {
        var frame = ResponseFrame.Rent();
        var w = frame.Writer;
        int start = w.BeginSizePrefix();
        KafkaRequestHeader.WriteResponseHeader(w, ApiKey, version, context.Header.CorrelationId);
        response.Write(w, version);
        w.EndSizePrefix(start);
        return frame;
    }
}

/// <summary>
/// A handler over the generated request/response classes: decodes the body, rejects versions
/// outside the served range with UNSUPPORTED_VERSION in a well-formed response, and frames the
/// answer. Bodies that do not decode get the API's error response with CORRUPT_MESSAGE or
/// INVALID_REQUEST rather than a dropped connection. A metadata-store outage becomes the API's
/// retriable error (ErrorCodes.WhenMetadataStoreUnavailable) for every entity of the request;
/// any other failure UNKNOWN_SERVER_ERROR.
/// </summary>
internal abstract class ApiHandler<TRequest, TResponse> : ApiHandler
    where TRequest : IKafkaMessage, new()
    where TResponse : IKafkaMessage
{
    public override async ValueTask<ResponseFrame?> RunAsync(RequestContext context, long startTimestamp)
    {
        short version = context.Version;
        var request = new TRequest();
        short error = 0;
        bool decoded = false;
        if (version >= request.LowestSupportedVersion && version <= request.HighestSupportedVersion)
        {
            try
            {
                var reader = new KafkaReader(context.Body);
                request.Read(ref reader, version);
                decoded = true;
            }
            catch (KafkaProtocolException ex)
            {
                error = (short)ex.ErrorCode;
            }
        }
        if (decoded && (version < ServedMinVersion || version > MaxVersion)) error = ErrorCodes.UnsupportedVersion;
        else if (!decoded && error == 0) error = ErrorCodes.UnsupportedVersion;

        // A version the codec cannot even encode is answered in the nearest version it can.
        short responseVersion = Math.Clamp(version, request.LowestSupportedVersion, request.HighestSupportedVersion);
        TResponse? response;
        bool ok = error == 0;
        try
        {
            response = ok ? await HandleAsync(context, request, version).ConfigureAwait(false) : ErrorResponse(request, error);
        }
        catch (MetadataStoreUnavailableException ex)
        {
            // An outage, not a bug: a retriable per-entity error the client knows how to wait out.
            short storeError = ErrorCodes.WhenMetadataStoreUnavailable(ApiKey);
            Log(context).LogWarning("{Api} v{Version} from {Remote} answered {Error}: the metadata store is unavailable ({Reason})",
                Name, version, context.Client.Remote, (ErrorCode)storeError, ex.Message);
            response = ErrorResponse(request, storeError);
            ok = false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            context.Dispatcher.Metrics.HandlerFailed(Name);
            Log(context).LogError(ex, "{Api} v{Version} from {Remote} failed", Name, version, context.Client.Remote);
            response = ErrorResponse(request, ErrorCodes.UnknownServerError);
            ok = false;
        }
        Metrics(context).Record(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, ok);
        return response is null ? null : Frame(context, response, responseVersion);
    }

    protected virtual ILogger Log(RequestContext context) => context.Dispatcher.Log;

    /// <summary>Serves a decoded request of a supported version; null means no response (acks=0).</summary>
    protected abstract ValueTask<TResponse?> HandleAsync(RequestContext context, TRequest request, short version);

    /// <summary>The response that reports errorCode for everything the request asked about.</summary>
    protected abstract TResponse ErrorResponse(TRequest request, short errorCode);
}
