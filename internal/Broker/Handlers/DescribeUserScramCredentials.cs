using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Metadata;
using KafScale.Protocol;
using KafScale.Protocol.Messages;

namespace KafScale.Broker.Handlers;

/// <summary>
/// DescribeUserScramCredentials (50): the mechanisms and iterations of users' SCRAM
/// credentials (never a salt or key), read from the metadata store so an alter is visible at
/// once. Null users means every user; a user named twice is DUPLICATE_RESOURCE, an unknown
/// one RESOURCE_NOT_FOUND, as in Kafka.
/// </summary>
internal sealed class DescribeUserScramCredentialsHandler(IMetadataStore store) : ApiHandler<DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse>
{
    public override short ApiKey => DescribeUserScramCredentialsRequest.ApiKey;
    public override string Name => "DescribeUserScramCredentials";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => DescribeUserScramCredentialsRequest.HighestSupportedVersion;

    protected override async ValueTask<DescribeUserScramCredentialsResponse?> HandleAsync(RequestContext context, DescribeUserScramCredentialsRequest request, short version)
    {
        // As Kafka: DESCRIBE on the cluster.
        if (!context.AuthorizeCluster(AclOperation.Describe))
            return new DescribeUserScramCredentialsResponse { ErrorCode = ErrorCodes.ClusterAuthorizationFailed, ErrorMessage = "DescribeUserScramCredentials needs DESCRIBE on the cluster" };
        var range = await store.GetPrefixAsync(ScramCredentialStore.KeyPrefix, CancellationToken.None).ConfigureAwait(false);
        var byUser = new SortedDictionary<string, List<DescribeUserScramCredentialsResponse.CredentialInfo>>(StringComparer.Ordinal);
        foreach (var kv in range.Kvs)
        {
            if (!ScramCredentialStore.TryParseStoreKey(kv.Key, out var user, out var mechanism) || ScramCredentialStore.FromJson(kv.Value) is not { } c) continue;
            if (!byUser.TryGetValue(user, out var infos)) byUser[user] = infos = [];
            infos.Add(new DescribeUserScramCredentialsResponse.CredentialInfo { Mechanism = mechanism.Type, Iterations = c.Iterations });
        }
        var response = new DescribeUserScramCredentialsResponse { ErrorMessage = null };
        if (request.Users is null)
        {
            foreach (var (user, infos) in byUser)
                response.Results.Add(new DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult { User = user, ErrorMessage = null, CredentialInfos = Sorted(infos) });
            return response;
        }
        var named = request.Users.GroupBy(u => u.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        foreach (var (user, count) in named)
        {
            var result = new DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult { User = user, ErrorMessage = null };
            if (count > 1)
            {
                result.ErrorCode = (short)ErrorCode.DuplicateResource;
                result.ErrorMessage = $"Cannot describe SCRAM credentials for the same user twice in a single request: {user}";
            }
            else if (!byUser.TryGetValue(user, out var infos))
            {
                result.ErrorCode = ErrorCodes.ResourceNotFound;
                result.ErrorMessage = $"Attempt to describe a user credential that does not exist: {user}";
            }
            else
            {
                result.CredentialInfos = Sorted(infos);
            }
            response.Results.Add(result);
        }
        return response;
    }

    private static List<DescribeUserScramCredentialsResponse.CredentialInfo> Sorted(List<DescribeUserScramCredentialsResponse.CredentialInfo> infos) =>
        [.. infos.OrderBy(i => i.Mechanism)];

    protected override DescribeUserScramCredentialsResponse ErrorResponse(DescribeUserScramCredentialsRequest request, short errorCode) =>
        new() { ErrorCode = errorCode, ErrorMessage = null };
}
