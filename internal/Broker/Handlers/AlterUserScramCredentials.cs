using KafScale.Broker.Network;
using KafScale.Broker.Security;
using KafScale.Metadata;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.Protocol.Sasl;

namespace KafScale.Broker.Handlers;

/// <summary>
/// AlterUserScramCredentials (51): upserts carry the salt, iterations and salted password the
/// client computed (never the password); the broker keeps only StoredKey and ServerKey
/// (docs/metadata.md, "SCRAM credentials"). Each user's changes are one transaction; checks
/// and error codes follow Kafka: an empty name or iterations outside 4096-16384
/// UNACCEPTABLE_CREDENTIAL, an unknown mechanism UNSUPPORTED_SASL_MECHANISM, one credential
/// changed twice DUPLICATE_RESOURCE, deleting a missing one RESOURCE_NOT_FOUND.
/// </summary>
internal sealed class AlterUserScramCredentialsHandler(IMetadataStore store) : ApiHandler<AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse>
{
    public override short ApiKey => AlterUserScramCredentialsRequest.ApiKey;
    public override string Name => "AlterUserScramCredentials";
    public override bool IsAdmin => true;
    public override short MinVersion => ApiKeys.AdvertisedMinVersion(ApiKey);
    public override short MaxVersion => AlterUserScramCredentialsRequest.HighestSupportedVersion;

    private readonly record struct Change(string User, sbyte MechanismType, AlterUserScramCredentialsRequest.ScramCredentialUpsertion? Upsert);

    protected override async ValueTask<AlterUserScramCredentialsResponse?> HandleAsync(RequestContext context, AlterUserScramCredentialsRequest request, short version)
    {
        var changes = new List<Change>();
        changes.AddRange(request.Deletions.Select(d => new Change(d.Name, d.Mechanism, null)));
        changes.AddRange(request.Upsertions.Select(u => new Change(u.Name, u.Mechanism, u)));
        var response = new AlterUserScramCredentialsResponse();
        // As Kafka: ALTER on the cluster, else every user's result is CLUSTER_AUTHORIZATION_FAILED.
        bool allowed = context.AuthorizeCluster(AclOperation.Alter);
        foreach (var group in changes.GroupBy(c => c.User, StringComparer.Ordinal))
        {
            var result = new AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult { User = group.Key, ErrorMessage = null };
            response.Results.Add(result);
            var (error, message) = allowed ? Validate(group.Key, [.. group]) : (ErrorCodes.ClusterAuthorizationFailed, "AlterUserScramCredentials needs ALTER on the cluster");
            if (error == 0) (error, message) = await ApplyAsync(group.Key, [.. group]).ConfigureAwait(false);
            result.ErrorCode = error;
            result.ErrorMessage = message;
        }
        return response;
    }

    private static (short, string?) Validate(string user, List<Change> changes)
    {
        if (user.Length == 0) return ((short)ErrorCode.UnacceptableCredential, "Username must not be empty");
        var seen = new HashSet<sbyte>();
        foreach (var c in changes)
        {
            var mechanism = ScramMechanism.ByType(c.MechanismType);
            if (mechanism is null) return (ErrorCodes.UnsupportedSaslMechanism, $"Unknown SCRAM mechanism {c.MechanismType}: expected 1 (SCRAM-SHA-256) or 2 (SCRAM-SHA-512)");
            if (!seen.Add(c.MechanismType)) return ((short)ErrorCode.DuplicateResource, $"A user credential cannot be altered twice in the same request: {user} {mechanism.Name}");
            if (c.Upsert is not { } u) continue;
            if (u.Iterations < ScramMechanism.MinIterations) return ((short)ErrorCode.UnacceptableCredential, $"Too few iterations: {u.Iterations} (at least {ScramMechanism.MinIterations})");
            if (u.Iterations > ScramMechanism.MaxIterations) return ((short)ErrorCode.UnacceptableCredential, $"Too many iterations: {u.Iterations} (at most {ScramMechanism.MaxIterations})");
            if (u.Salt.Length == 0) return ((short)ErrorCode.UnacceptableCredential, "The salt must not be empty");
            if (u.SaltedPassword.Length != mechanism.HashBytes)
                return ((short)ErrorCode.UnacceptableCredential, $"The salted password of {mechanism.Name} must be {mechanism.HashBytes} bytes, not {u.SaltedPassword.Length}");
        }
        return (0, null);
    }

    private async Task<(short, string?)> ApplyAsync(string user, List<Change> changes)
    {
        var compares = new List<Compare>();
        var ops = new List<TxnOp>();
        foreach (var c in changes)
        {
            var mechanism = ScramMechanism.ByType(c.MechanismType)!;
            string key = ScramCredentialStore.StoreKey(user, mechanism);
            if (c.Upsert is { } u)
            {
                var credential = mechanism.Credential(u.SaltedPassword, u.Salt, u.Iterations);
                ops.Add(TxnOp.Put(key, ScramCredentialStore.ToJson(credential)));
            }
            else
            {
                // A missing key has version 0 (etcd's rule): the compare fails when there is nothing to delete.
                compares.Add(new Compare(key, CompareTarget.Version, CompareResult.Greater, 0));
                ops.Add(TxnOp.Delete(key));
            }
        }
        var txn = await store.TxnAsync(new TxnRequest(compares, ops, []), CancellationToken.None).ConfigureAwait(false);
        return txn.Succeeded ? (0, null) : (ErrorCodes.ResourceNotFound, $"Attempt to delete a user credential that does not exist: {user}");
    }

    protected override AlterUserScramCredentialsResponse ErrorResponse(AlterUserScramCredentialsRequest request, short errorCode)
    {
        var response = new AlterUserScramCredentialsResponse();
        foreach (var user in request.Deletions.Select(d => d.Name).Concat(request.Upsertions.Select(u => u.Name)).Distinct(StringComparer.Ordinal))
            response.Results.Add(new AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult { User = user, ErrorCode = errorCode, ErrorMessage = null });
        return response;
    }
}
