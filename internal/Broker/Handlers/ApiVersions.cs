using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// ApiVersions (18). A request of a version we do not know is answered, as Kafka does, with a
/// v0 response carrying UNSUPPORTED_VERSION and our list, so the client can pick a version.
/// </summary>
internal sealed class ApiVersionsHandler : ApiHandler
{
    public override short ApiKey => ApiVersionsRequest.ApiKey;
    public override string Name => "ApiVersions";
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => ApiVersionsRequest.HighestSupportedVersion;

    public override ValueTask<ResponseFrame?> RunAsync(RequestContext context, long startTimestamp)
    {
        short version = context.Version;
        var response = new ApiVersionsResponse();
        foreach (var h in context.Dispatcher.Handlers.OrderBy(h => h.ApiKey))
            response.ApiKeys.Add(new ApiVersionsResponse.ApiVersion { ApiKey = h.ApiKey, MinVersion = h.MinVersion, MaxVersion = h.MaxVersion });
        short responseVersion = version;
        if (version < MinVersion || version > MaxVersion)
        {
            response.ErrorCode = ErrorCodes.UnsupportedVersion;
            responseVersion = 0;
        }
        else
        {
            // The body of a known version must still decode; a malformed one is INVALID_REQUEST.
            try
            {
                var reader = new KafkaReader(context.Body);
                new ApiVersionsRequest().Read(ref reader, version);
            }
            catch (KafkaProtocolException)
            {
                response.ErrorCode = ErrorCodes.InvalidRequest;
            }
        }
        Metrics(context).Record(System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, response.ErrorCode == 0);
        return ValueTask.FromResult<ResponseFrame?>(Frame(context, response, responseVersion));
    }
}
