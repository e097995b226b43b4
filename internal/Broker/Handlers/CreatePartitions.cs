using KafScale.Broker.Network;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>CreatePartitions (37): raises a topic's partition count.</summary>
internal sealed class CreatePartitionsHandler(Cluster cluster) : ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse>
{
    public override short ApiKey => CreatePartitionsRequest.ApiKey;
    public override string Name => "CreatePartitions";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => CreatePartitionsRequest.HighestSupportedVersion;

    protected override async ValueTask<CreatePartitionsResponse?> HandleAsync(RequestContext context, CreatePartitionsRequest request, short version)
    {
        var response = new CreatePartitionsResponse();
        foreach (var t in request.Topics)
        {
            var outcome = await cluster.Logs.CreatePartitionsAsync(t.Name, t.Count, request.ValidateOnly, CancellationToken.None).ConfigureAwait(false);
            response.Results.Add(new CreatePartitionsResponse.CreatePartitionsTopicResult { Name = t.Name, ErrorCode = outcome.ErrorCode, ErrorMessage = outcome.Message });
        }
        return response;
    }

    protected override CreatePartitionsResponse ErrorResponse(CreatePartitionsRequest request, short errorCode)
    {
        var response = new CreatePartitionsResponse();
        foreach (var t in request.Topics) response.Results.Add(new CreatePartitionsResponse.CreatePartitionsTopicResult { Name = t.Name, ErrorCode = errorCode });
        return response;
    }
}
