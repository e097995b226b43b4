using KafScale.Protocol.Messages;
using KafScale.Protocol.Sasl;

namespace KafScale.Client;

/// <summary>A user's SCRAM credentials as DescribeUserScramCredentials reports them: mechanism and iterations, never a key.</summary>
public sealed record ScramUser(string User, IReadOnlyList<(string Mechanism, int Iterations)> Credentials);

public sealed partial class KafkaClient
{
    /// <summary>Every user with SCRAM credentials (users null), or the named ones.</summary>
    public async Task<IReadOnlyList<ScramUser>> DescribeUserScramCredentialsAsync(IReadOnlyList<string>? users = null, CancellationToken cancellationToken = default)
    {
        var request = new DescribeUserScramCredentialsRequest { Users = users?.Select(u => new DescribeUserScramCredentialsRequest.UserName { Name = u }).ToList() };
        var response = await SendToAnyBrokerAsync<DescribeUserScramCredentialsResponse>(request, cancellationToken).ConfigureAwait(false);
        KafkaException.ThrowIfError(response.ErrorCode, "DescribeUserScramCredentials", response.ErrorMessage);
        var result = new List<ScramUser>();
        foreach (var r in response.Results)
        {
            KafkaException.ThrowIfError(r.ErrorCode, "DescribeUserScramCredentials", r.ErrorMessage);
            result.Add(new ScramUser(r.User, [.. r.CredentialInfos.Select(c => (ScramMechanism.ByType(c.Mechanism)?.Name ?? $"mechanism {c.Mechanism}", c.Iterations))]));
        }
        return result;
    }

    /// <summary>
    /// Sets a user's credential for one mechanism. The salted password is computed here, as
    /// Kafka's tools do: the request carries the salt, the iterations and the salted password, never the password.
    /// </summary>
    public async Task UpsertUserScramCredentialAsync(string user, ScramMechanism mechanism, string password, int iterations = ScramMechanism.MinIterations, CancellationToken cancellationToken = default)
    {
        byte[] salt = mechanism.NewSalt();
        var request = new AlterUserScramCredentialsRequest
        {
            Upsertions =
            [
                new AlterUserScramCredentialsRequest.ScramCredentialUpsertion
                {
                    Name = user,
                    Mechanism = mechanism.Type,
                    Iterations = iterations,
                    Salt = salt,
                    SaltedPassword = mechanism.SaltedPassword(password, salt, iterations),
                },
            ],
        };
        await AlterUserScramCredentialsAsync(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a user's credential for one mechanism (RESOURCE_NOT_FOUND when it has none).</summary>
    public Task DeleteUserScramCredentialAsync(string user, ScramMechanism mechanism, CancellationToken cancellationToken = default) =>
        AlterUserScramCredentialsAsync(new AlterUserScramCredentialsRequest
        {
            Deletions = [new AlterUserScramCredentialsRequest.ScramCredentialDeletion { Name = user, Mechanism = mechanism.Type }],
        }, cancellationToken);

    private async Task AlterUserScramCredentialsAsync(AlterUserScramCredentialsRequest request, CancellationToken cancellationToken)
    {
        var response = await SendToAnyBrokerAsync<AlterUserScramCredentialsResponse>(request, cancellationToken).ConfigureAwait(false);
        foreach (var r in response.Results)
            KafkaException.ThrowIfError(r.ErrorCode, "AlterUserScramCredentials", r.ErrorMessage);
    }
}
