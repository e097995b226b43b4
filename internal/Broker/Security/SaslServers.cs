using System.Security.Cryptography;
using System.Text;
using KafScale.Protocol.Sasl;

namespace KafScale.Broker.Security;

/// <summary>
/// The SASL mechanisms a broker offers (GSSAPI is not among them). OAUTHBEARER needs a key set
/// to check tokens with, so it is offered only when --sasl-oauthbearer-jwks-endpoint-url is set.
/// </summary>
public static class SaslMechanisms
{
    public const string Plain = "PLAIN";
    public const string OAuthBearer = "OAUTHBEARER";

    /// <summary>The mechanisms offered by default (OAUTHBEARER joins them when it is configured).</summary>
    public static IReadOnlyList<string> Defaults { get; } = [Plain, "SCRAM-SHA-256", "SCRAM-SHA-512"];

    public static IReadOnlyList<string> Supported { get; } = [Plain, "SCRAM-SHA-256", "SCRAM-SHA-512", OAuthBearer];

    /// <summary>The canonical name of a supported mechanism, or null.</summary>
    public static string? Canonical(string name)
    {
        foreach (var m in Supported) if (string.Equals(m, name, StringComparison.OrdinalIgnoreCase)) return m;
        return null;
    }
}

internal enum SaslOutcome
{
    Continue,
    Complete,
    Failed,
}

/// <summary>One step of a SASL exchange: the bytes for the client, and whether it ended and how.</summary>
internal readonly record struct SaslStep(SaslOutcome Outcome, byte[] Challenge, string? Error)
{
    public static SaslStep Fail(string error) => new(SaslOutcome.Failed, [], error);
}

/// <summary>Where SASL servers look users up: the SCRAM credentials (the one store of users).</summary>
internal interface IScramCredentials
{
    ScramCredential? Find(string user, ScramMechanism mechanism);
}

/// <summary>The server side of one SASL exchange on one connection.</summary>
internal abstract class SaslServer
{
    public abstract string Mechanism { get; }

    /// <summary>The user the client claims, once it has said (for logs; authenticated only when complete).</summary>
    public string? User { get; protected set; }

    /// <summary>When the credential stops being valid (Unix milliseconds): an OAUTHBEARER token's exp; null for passwords.</summary>
    public long? CredentialExpiresAtMs { get; protected set; }

    public abstract SaslStep Evaluate(ReadOnlySpan<byte> response);

    public static SaslServer? Create(string mechanism, SaslAuthenticator authenticator) => mechanism switch
    {
        SaslMechanisms.Plain => new PlainSaslServer(authenticator.Credentials),
        SaslMechanisms.OAuthBearer when authenticator.OAuthBearer is { } jwt => new OAuthBearerSaslServer(jwt),
        _ when ScramMechanism.ByName(mechanism) is { } m => new ScramSaslServer(m, authenticator.Credentials),
        _ => null,
    };
}

/// <summary>A re-authentication that names another mechanism than the connection used: its one message fails (as in Kafka).</summary>
internal sealed class RefusingSaslServer(string mechanism, string error) : SaslServer
{
    public override string Mechanism => mechanism;

    public override SaslStep Evaluate(ReadOnlySpan<byte> response) => SaslStep.Fail(error);
}

/// <summary>
/// SASL/PLAIN (RFC 4616): "[authzid] NUL authcid NUL password". The password is checked
/// against the user's SCRAM credential, by deriving the salted password with its salt and
/// iterations (docs/security.md, "Users"): one store of users, no password kept anywhere.
/// </summary>
internal sealed class PlainSaslServer(IScramCredentials credentials) : SaslServer
{
    /// <summary>Kafka's words, the same for an unknown user and a wrong password.</summary>
    public const string InvalidCredentials = "Authentication failed: Invalid username or password";

    private bool _done;

    public override string Mechanism => SaslMechanisms.Plain;

    public override SaslStep Evaluate(ReadOnlySpan<byte> response)
    {
        if (_done) return SaslStep.Fail("Authentication failed: PLAIN takes one message");
        _done = true;
        var parts = Parse(response, out string? error);
        if (parts is null) return SaslStep.Fail(error!);
        var (authzid, user, password) = parts.Value;
        User = user;
        if (authzid.Length > 0 && authzid != user)
            return SaslStep.Fail("Authentication failed: Client requested an authorization id that is different from username");
        return Verify(credentials, user, password) ? new SaslStep(SaslOutcome.Complete, [], null) : SaslStep.Fail(InvalidCredentials);
    }

    /// <summary>Splits the PLAIN message; null with Kafka's message when it is malformed or a part is empty.</summary>
    public static (string Authzid, string User, string Password)? Parse(ReadOnlySpan<byte> message, out string? error)
    {
        error = null;
        string text;
        try { text = new UTF8Encoding(false, true).GetString(message); }
        catch (DecoderFallbackException)
        {
            error = "Invalid SASL/PLAIN response: not UTF-8";
            return null;
        }
        string[] tokens = text.Split('\0');
        if (tokens.Length != 3)
        {
            error = $"Invalid SASL/PLAIN response: expected 3 tokens, got {tokens.Length}";
            return null;
        }
        if (tokens[1].Length == 0) error = "Authentication failed: username not specified";
        else if (tokens[2].Length == 0) error = "Authentication failed: password not specified";
        return error is null ? (tokens[0], tokens[1], tokens[2]) : null;
    }

    /// <summary>
    /// True when the password derives the stored key of one of the user's credentials. An unknown
    /// user costs the same derivation, so timing does not tell which names exist.
    /// </summary>
    public static bool Verify(IScramCredentials credentials, string user, string password)
    {
        foreach (var m in ScramMechanism.All)
        {
            if (credentials.Find(user, m) is not { } c) continue;
            byte[] storedKey = m.Credential(m.SaltedPassword(password, c.Salt, c.Iterations), c.Salt, c.Iterations).StoredKey;
            return CryptographicOperations.FixedTimeEquals(storedKey, c.StoredKey);
        }
        ScramMechanism.Sha256.SaltedPassword(password, DecoySalt.Value, ScramMechanism.MinIterations);
        return false;
    }

    private static readonly Lazy<byte[]> DecoySalt = new(() => RandomNumberGenerator.GetBytes(32));
}

/// <summary>
/// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), server side: client-first, then
/// server-first with the salt and iterations; client-final with the proof, then server-final
/// with the server's signature. No channel binding (the "p=" flag is refused), and no Kafka
/// delegation tokens (the tokenauth extension is refused). An unknown user gets a decoy salt
/// and fails at the proof, exactly like a wrong password.
/// </summary>
internal sealed class ScramSaslServer(ScramMechanism mechanism, IScramCredentials credentials, Func<string>? nonces = null) : SaslServer
{
    private static readonly byte[] DecoyKey = RandomNumberGenerator.GetBytes(64);

    private int _state;
    private string _gs2Header = "";
    private string _clientFirstBare = "";
    private string _serverFirst = "";
    private string _nonce = "";
    private ScramCredential? _credential;

    public override string Mechanism => mechanism.Name;

    public string InvalidCredentials => $"Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism.Name}";

    public override SaslStep Evaluate(ReadOnlySpan<byte> response)
    {
        string text;
        try { text = new UTF8Encoding(false, true).GetString(response); }
        catch (DecoderFallbackException) { return Failed("Invalid SCRAM message: not UTF-8"); }
        return _state switch
        {
            0 => ClientFirst(text),
            1 => ClientFinal(text),
            _ => Failed("Authentication failed: the SCRAM exchange is already over"),
        };
    }

    private SaslStep Failed(string error)
    {
        _state = 2;
        return SaslStep.Fail(error);
    }

    private SaslStep ClientFirst(string text)
    {
        // gs2-header: gs2-cbind-flag "," [ authzid ] ","
        int first = text.IndexOf(',', StringComparison.Ordinal);
        int second = first < 0 ? -1 : text.IndexOf(',', first + 1);
        if (first < 0 || second < 0) return Failed("Invalid SCRAM client-first message");
        string flag = text[..first], authzid = text[(first + 1)..second];
        if (flag.StartsWith("p=", StringComparison.Ordinal)) return Failed("Authentication failed: channel binding is not supported");
        if (flag is not ("n" or "y")) return Failed("Invalid SCRAM client-first message: bad channel binding flag");
        _gs2Header = text[..(second + 1)];
        _clientFirstBare = text[(second + 1)..];
        // n=user,r=nonce, then optional extensions key=value (Kafka's own have multi-letter keys).
        string[] parts = _clientFirstBare.Split(',');
        if (parts.Length < 2 || !parts[0].StartsWith("n=", StringComparison.Ordinal) || !parts[1].StartsWith("r=", StringComparison.Ordinal))
            return Failed("Invalid SCRAM client-first message: expected n=user,r=nonce");
        if (parts[0].Length == 2 || ScramSyntax.UnescapeName(parts[0][2..]) is not { } user)
            return Failed("Invalid SCRAM client-first message: bad user name");
        User = user;
        if (authzid.Length > 0 && (!authzid.StartsWith("a=", StringComparison.Ordinal) || ScramSyntax.UnescapeName(authzid[2..]) != user))
            return Failed("Authentication failed: Client requested an authorization id that is different from username");
        for (int i = 2; i < parts.Length; i++)
        {
            if (parts[i].StartsWith("m=", StringComparison.Ordinal)) return Failed("Invalid SCRAM client-first message: mandatory extensions are not supported");
            if (parts[i].StartsWith("tokenauth=", StringComparison.Ordinal)) return Failed("Authentication failed: delegation tokens are not supported");
        }
        string clientNonce = parts[1][2..];
        if (clientNonce.Length == 0) return Failed("Invalid SCRAM client-first message: empty nonce");
        _credential = credentials.Find(user, mechanism) ?? Decoy(user);
        _nonce = clientNonce + (nonces?.Invoke() ?? ScramSyntax.NewNonce());
        _serverFirst = $"r={_nonce},s={Convert.ToBase64String(_credential.Salt)},i={_credential.Iterations}";
        _state = 1;
        return new SaslStep(SaslOutcome.Continue, Encoding.UTF8.GetBytes(_serverFirst), null);
    }

    private SaslStep ClientFinal(string text)
    {
        int proofAt = text.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0) return Failed("Invalid SCRAM client-final message: no proof");
        string withoutProof = text[..proofAt];
        var attrs = ScramSyntax.Attributes(withoutProof);
        if (attrs is null || attrs.Count < 2 || attrs[0].Key != 'c' || attrs[1].Key != 'r')
            return Failed("Invalid SCRAM client-final message: expected c=...,r=...,p=...");
        if (attrs[0].Value != Convert.ToBase64String(Encoding.UTF8.GetBytes(_gs2Header)))
            return Failed("Invalid SCRAM client-final message: channel binding does not match the client-first message");
        // Ends with, as Kafka checks it: librdkafka sends its own nonce again before the combined one.
        if (!attrs[1].Value.EndsWith(_nonce, StringComparison.Ordinal)) return Failed("Invalid SCRAM client-final message: nonce mismatch");
        byte[] proof;
        try { proof = Convert.FromBase64String(text[(proofAt + 3)..]); }
        catch (FormatException) { return Failed("Invalid SCRAM client-final message: the proof is not base64"); }
        var c = _credential!;
        byte[] authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + _serverFirst + "," + withoutProof);
        byte[] clientSignature = mechanism.Hmac(c.StoredKey, authMessage);
        if (proof.Length != clientSignature.Length) return Failed(InvalidCredentials);
        byte[] clientKey = ScramSyntax.Xor(proof, clientSignature);
        if (!CryptographicOperations.FixedTimeEquals(mechanism.H(clientKey), c.StoredKey)) return Failed(InvalidCredentials);
        _state = 2;
        byte[] serverSignature = mechanism.Hmac(c.ServerKey, authMessage);
        return new SaslStep(SaslOutcome.Complete, Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(serverSignature)), null);
    }

    /// <summary>A credential nobody can match, stable per user so repeated tries look like a real one.</summary>
    private ScramCredential Decoy(string user)
    {
        byte[] salt = mechanism.Hmac(DecoyKey, Encoding.UTF8.GetBytes(user));
        return new ScramCredential(salt, RandomNumberGenerator.GetBytes(mechanism.HashBytes), RandomNumberGenerator.GetBytes(mechanism.HashBytes), ScramMechanism.MinIterations);
    }
}

/// <summary>
/// What the SASL handlers share: the enabled mechanisms, the users' credentials, the OAUTHBEARER
/// token validator (when configured) and the session lifetime of KIP-368 (0 = none).
/// </summary>
internal sealed class SaslAuthenticator(IReadOnlyList<string> enabled, IScramCredentials credentials, JwtValidator? oauthBearer = null, long sessionLifetimeMs = 0)
{
    public IReadOnlyList<string> Enabled { get; } = enabled;
    public IScramCredentials Credentials { get; } = credentials;
    public JwtValidator? OAuthBearer { get; } = oauthBearer;

    /// <summary>--sasl-session-lifetime-ms (Kafka's connections.max.reauth.ms); 0 = sessions do not end, except with an OAUTHBEARER token.</summary>
    public long SessionLifetimeMs { get; } = sessionLifetimeMs;

    /// <summary>
    /// The lifetime of a session that authenticated now, as Kafka computes it (docs/security.md,
    /// "Re-authentication"): the configured lifetime, cut to the credential's expiry when it has
    /// one; 0 = the session does not end.
    /// </summary>
    public long SessionLifetimeFor(long? credentialExpiresAtMs, long nowMs)
    {
        if (credentialExpiresAtMs is not { } expires) return Math.Max(0, SessionLifetimeMs);
        // An expired credential still gets a positive lifetime of 1 ms: the session ends at once
        // rather than never (0 means "no end").
        long left = Math.Max(1, expires - nowMs);
        return SessionLifetimeMs > 0 ? Math.Min(SessionLifetimeMs, left) : left;
    }

    /// <summary>Mechanism names are matched exactly, as Kafka does.</summary>
    public bool IsEnabled(string mechanism) => Enabled.Contains(mechanism, StringComparer.Ordinal);
}
