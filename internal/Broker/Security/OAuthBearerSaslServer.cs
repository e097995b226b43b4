using System.Text;
using KafScale.Protocol.Sasl;

namespace KafScale.Broker.Security;

/// <summary>
/// SASL/OAUTHBEARER (RFC 7628, KIP-255), server side. The client's one message is
/// <c>n,[a=authzid],^Aauth=Bearer &lt;token&gt;^A[key=value^A]...^A</c>. A valid token completes
/// the exchange with an empty answer and the principal User:&lt;claim&gt;. An invalid token is
/// answered, as in Kafka, with the challenge <c>{"status":"invalid_token"}</c>; the client then
/// sends a lone ^A, and that message fails with SASL_AUTHENTICATION_FAILED. A message that is not
/// OAUTHBEARER at all fails at once (docs/security.md, "OAUTHBEARER").
/// </summary>
internal sealed class OAuthBearerSaslServer(JwtValidator validator) : SaslServer
{
    private const char Separator = '\u0001';

    /// <summary>The error challenge of RFC 7628 section 3.2.2, Kafka's exact bytes.</summary>
    public const string InvalidTokenChallenge = "{\"status\":\"invalid_token\"}";

    /// <summary>Kafka's message for a malformed client message (the details go to the broker log only).</summary>
    public const string InvalidMessage = "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER";

    private int _state;
    private string? _pendingError;

    public override string Mechanism => SaslMechanisms.OAuthBearer;

    /// <summary>Why the last message failed, for the broker log (never the token).</summary>
    public string? Reason { get; private set; }

    /// <summary>Completes when the token of this first message can be checked (see <see cref="JwtValidator.KeysReadyAsync"/>).</summary>
    public Task KeysReadyAsync(ReadOnlySpan<byte> response)
    {
        if (_state != 0 || Parse(response, out _) is not { } parsed) return Task.CompletedTask;
        return validator.KeysReadyAsync(parsed.Token);
    }

    public override SaslStep Evaluate(ReadOnlySpan<byte> response)
    {
        if (_state == 1)
        {
            _state = 2;
            // The client acknowledges the error challenge with a lone ^A; anything else fails the same way.
            return SaslStep.Fail($"Authentication failed: invalid token: {_pendingError}");
        }
        if (_state != 0) return SaslStep.Fail("Authentication failed: the OAUTHBEARER exchange is already over");
        _state = 2;
        var parsed = Parse(response, out string? error);
        if (parsed is null)
        {
            Reason = error;
            return SaslStep.Fail(InvalidMessage);
        }
        var (authzid, token) = parsed.Value;
        var identity = validator.Validate(token, out error);
        if (identity is null)
        {
            Reason = error;
            _pendingError = error;
            _state = 1;
            return new SaslStep(SaslOutcome.Continue, Encoding.UTF8.GetBytes(InvalidTokenChallenge), null);
        }
        User = identity.Value.Name;
        CredentialExpiresAtMs = identity.Value.ExpiresAtMs;
        if (authzid.Length > 0 && authzid != User)
            return SaslStep.Fail($"Authentication failed: Client requested an authorization id ({authzid}) that is different from the token's principal name ({User})");
        return new SaslStep(SaslOutcome.Complete, [], null);
    }

    /// <summary>
    /// The authorization id and the token of a client message; null with the reason when it is
    /// not one. Extensions (key=value) are read and ignored, as Kafka does without a validator for them.
    /// </summary>
    public static (string Authzid, string Token)? Parse(ReadOnlySpan<byte> message, out string? error)
    {
        error = null;
        if (message.Length > JwtValidator.MaxTokenBytes + 4096)
        {
            error = $"the OAUTHBEARER message is longer than {JwtValidator.MaxTokenBytes + 4096} bytes";
            return null;
        }
        string text;
        try { text = new UTF8Encoding(false, true).GetString(message); }
        catch (DecoderFallbackException)
        {
            error = "the OAUTHBEARER message is not UTF-8";
            return null;
        }
        // gs2-header: "n," [ "a=" saslname ] "," (no channel binding: "y" and "p=" are refused, as in Kafka).
        int comma = text.Length > 2 && text.StartsWith("n,", StringComparison.Ordinal) ? text.IndexOf(',', 2) : -1;
        if (comma < 0)
        {
            error = "the OAUTHBEARER message does not start with the gs2 header \"n,\" (channel binding is not supported)";
            return null;
        }
        string authzid = text[2..comma];
        if (authzid.Length > 0)
        {
            if (!authzid.StartsWith("a=", StringComparison.Ordinal) || authzid.Length == 2 || ScramSyntax.UnescapeName(authzid[2..]) is not { } name)
            {
                error = "the OAUTHBEARER message has a malformed authorization id";
                return null;
            }
            authzid = name;
        }
        string rest = text[(comma + 1)..];
        if (rest.Length < 3 || rest[0] != Separator || !rest.EndsWith($"{Separator}{Separator}", StringComparison.Ordinal))
        {
            error = "the OAUTHBEARER message is not ^A-separated key=value pairs ending in ^A^A";
            return null;
        }
        string? auth = null;
        foreach (string pair in rest[1..^2].Split(Separator))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !pair.AsSpan(0, eq).ContainsOnlyLetters())
            {
                error = "the OAUTHBEARER message has a malformed key=value pair";
                return null;
            }
            string key = pair[..eq];
            if (key == "auth")
            {
                if (auth is not null) { error = "the OAUTHBEARER message has two auth values"; return null; }
                auth = pair[(eq + 1)..];
            }
        }
        if (auth is null)
        {
            error = "the OAUTHBEARER message has no auth value";
            return null;
        }
        int space = auth.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || !auth.AsSpan(0, space).Equals("Bearer", StringComparison.OrdinalIgnoreCase))
        {
            error = "the OAUTHBEARER auth value is not \"Bearer <token>\"";
            return null;
        }
        string token = auth[(space + 1)..].TrimStart(' ');
        if (token.Length == 0)
        {
            error = "the OAUTHBEARER message has an empty token";
            return null;
        }
        foreach (char c in token)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                error = "the OAUTHBEARER token has characters a JWT does not have";
                return null;
            }
        }
        return (authzid, token);
    }
}

internal static class SpanLetters
{
    public static bool ContainsOnlyLetters(this ReadOnlySpan<char> span)
    {
        foreach (char c in span) if (!char.IsAsciiLetter(c)) return false;
        return true;
    }
}
