using KafScale.Client;
using KafScale.Protocol.Sasl;

namespace KafScale.Admin;

/// <summary>
/// <c>kafscale admin users</c>: SCRAM users (docs/security.md, "Users"). Passwords are salted and
/// hashed here; the broker receives the salted password, never the password.
/// </summary>
public static class UserAdmin
{
    public static ScramMechanism ParseMechanism(string? value, string flag) =>
        value is null
            ? throw new AdminUsageException($"{flag} is required: SCRAM-SHA-256 or SCRAM-SHA-512")
            : ScramMechanism.ByName(value) ?? throw new AdminUsageException($"invalid value '{value}' for {flag}: expected SCRAM-SHA-256 or SCRAM-SHA-512");

    /// <summary>The password of --password or --password-file (its first line; a trailing newline is not part of it).</summary>
    public static string ReadPassword(string? password, string? passwordFile)
    {
        if (password is not null && passwordFile is not null) throw new AdminUsageException("give --password or --password-file, not both");
        if (passwordFile is not null)
        {
            try
            {
                string text = File.ReadAllText(passwordFile);
                int end = text.IndexOfAny(['\r', '\n']);
                password = end < 0 ? text : text[..end];
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new AdminUsageException($"cannot read --password-file '{passwordFile}': {ex.Message}");
            }
        }
        if (string.IsNullOrEmpty(password)) throw new AdminUsageException("a password is required: --password P or --password-file F (not empty)");
        return password;
    }

    public static async Task<int> ListAsync(KafkaClient client, AdminOutput output, CancellationToken ct)
    {
        var users = await client.DescribeUserScramCredentialsAsync(null, ct).ConfigureAwait(false);
        if (output.Json)
        {
            output.WriteJson(w =>
            {
                w.WriteStartArray();
                foreach (var u in users)
                {
                    w.WriteStartObject();
                    w.WriteString("user", u.User);
                    w.WriteStartArray("credentials");
                    foreach (var (m, i) in u.Credentials)
                    {
                        w.WriteStartObject();
                        w.WriteString("mechanism", m);
                        w.WriteNumber("iterations", i);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            });
            return AdminExitCodes.Ok;
        }

        if (users.Count == 0)
        {
            output.Line("no SCRAM users are configured");
            return AdminExitCodes.Ok;
        }

        output.WriteTable(["USER", "MECHANISM", "ITERATIONS"],
            users.SelectMany(u => u.Credentials.Select(c => (IReadOnlyList<string>)[u.User, c.Mechanism, AdminOutput.N(c.Iterations)])));
        return AdminExitCodes.Ok;
    }

    public static async Task<int> SetAsync(KafkaClient client, AdminOutput output, string user, ScramMechanism mechanism, string password, int iterations, CancellationToken ct)
    {
        if (user.Length == 0) throw new AdminUsageException("the user name must not be empty");
        if (iterations < ScramMechanism.MinIterations || iterations > ScramMechanism.MaxIterations)
            throw new AdminUsageException($"--iterations must be from {ScramMechanism.MinIterations} to {ScramMechanism.MaxIterations}");
        await client.UpsertUserScramCredentialAsync(user, mechanism, password, iterations, ct).ConfigureAwait(false);
        Report(output, "user_set", user, mechanism, $"set {mechanism.Name} credential of user {user} ({AdminOutput.N(iterations)} iterations)");
        return AdminExitCodes.Ok;
    }

    public static async Task<int> DeleteAsync(KafkaClient client, AdminOutput output, string user, ScramMechanism mechanism, CancellationToken ct)
    {
        await client.DeleteUserScramCredentialAsync(user, mechanism, ct).ConfigureAwait(false);
        Report(output, "user_deleted", user, mechanism, $"deleted {mechanism.Name} credential of user {user}");
        return AdminExitCodes.Ok;
    }

    private static void Report(AdminOutput output, string action, string user, ScramMechanism mechanism, string text)
    {
        if (!output.Json)
        {
            output.Line(text);
            return;
        }

        output.WriteJson(w =>
        {
            w.WriteStartObject();
            w.WriteString("action", action);
            w.WriteString("user", user);
            w.WriteString("mechanism", mechanism.Name);
            w.WriteEndObject();
        });
    }
}
