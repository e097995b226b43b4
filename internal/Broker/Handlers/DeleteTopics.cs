using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DeleteTopics (20): removes the topic's metadata, every object it has in the store, and its
/// committed offsets. Needs DELETE on each topic (TOPIC_AUTHORIZATION_FAILED otherwise).
/// </summary>
internal sealed class DeleteTopicsHandler(Cluster cluster) : ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse>
{
    public override short ApiKey => DeleteTopicsRequest.ApiKey;
    public override string Name => "DeleteTopics";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DeleteTopicsRequest.HighestSupportedVersion;

    protected override async ValueTask<DeleteTopicsResponse?> HandleAsync(RequestContext context, DeleteTopicsRequest request, short version)
    {
        var response = new DeleteTopicsResponse();
        var targets = new List<(string? Name, Guid Id)>();
        if (version >= 6) foreach (var t in request.Topics) targets.Add((t.Name, t.TopicId));
        else foreach (var n in request.TopicNames) targets.Add((n, Guid.Empty));
        foreach (var (name, id) in targets)
        {
            var result = new DeleteTopicsResponse.DeletableTopicResult { Name = name, TopicId = id };
            response.Responses.Add(result);
            string? resolved = name;
            if (resolved is null)
            {
                var byId = cluster.Logs.FindById(id);
                if (byId is null) { result.ErrorCode = ErrorCodes.UnknownTopicId; continue; }
                resolved = byId.Name;
                result.Name = resolved;
            }
            else if (cluster.Logs.TryGetTopic(resolved, out var state)) result.TopicId = state.Id;
            if (!context.Authorize(AclOperation.Delete, AclResourceType.Topic, resolved)) { result.ErrorCode = ErrorCodes.TopicAuthorizationFailed; continue; }
            var outcome = await cluster.Logs.DeleteTopicAsync(resolved, CancellationToken.None).ConfigureAwait(false);
            result.ErrorCode = outcome.ErrorCode;
            result.ErrorMessage = outcome.Message;
            // As in Kafka, committed offsets of a deleted topic go with it.
            if (outcome.ErrorCode == 0) await cluster.Groups.DeleteTopicOffsetsAsync([resolved], CancellationToken.None).ConfigureAwait(false);
        }
        return response;
    }

    protected override DeleteTopicsResponse ErrorResponse(DeleteTopicsRequest request, short errorCode)
    {
        var response = new DeleteTopicsResponse();
        foreach (var n in request.TopicNames) response.Responses.Add(new DeleteTopicsResponse.DeletableTopicResult { Name = n, ErrorCode = errorCode });
        foreach (var t in request.Topics) response.Responses.Add(new DeleteTopicsResponse.DeletableTopicResult { Name = t.Name, TopicId = t.TopicId, ErrorCode = errorCode });
        return response;
    }
}
