using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace KafScale.Broker.Security;

/// <summary>What the broker checks in an OAUTHBEARER token (docs/security.md, "OAUTHBEARER").</summary>
public sealed record OAuthBearerSettings
{
    /// <summary>--sasl-oauthbearer-jwks-endpoint-url: a JWKS file (path or file: URL) or an http(s) URL.</summary>
    public required string JwksSource { get; init; }

    /// <summary>--sasl-oauthbearer-expected-issuer: the "iss" every token must carry; null = not checked.</summary>
    public string? ExpectedIssuer { get; init; }

    /// <summary>--sasl-oauthbearer-expected-audience: a token's "aud" must name one of these; empty = not checked.</summary>
    public IReadOnlyList<string> ExpectedAudiences { get; init; } = [];

    /// <summary>--sasl-oauthbearer-sub-claim-name: the claim that names the principal (User:&lt;value&gt;).</summary>
    public string SubClaimName { get; init; } = "sub";

    /// <summary>--sasl-oauthbearer-clock-skew-seconds: leeway for exp, nbf and iat (Kafka's default, 30).</summary>
    public int ClockSkewSeconds { get; init; } = 30;

    /// <summary>True when the key set is fetched over http(s) rather than read from a file.</summary>
    public static bool IsHttp(string source) =>
        source.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || source.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A valid token: the principal's name and when the token expires (Unix milliseconds).</summary>
internal readonly record struct JwtIdentity(string Name, long ExpiresAtMs);

/// <summary>
/// Validates a compact JWS access token (RFC 7519, RFC 7515) the way Kafka's broker-side JWT
/// validator does: a signature by a key of the configured JWKS (RS256/384/512, ES256/384/512;
/// "none" and HMAC refused), exp required, nbf and iat honoured when present, iss and aud when
/// configured, and the principal from the configured claim. Every refusal is a message, never
/// an exception, and no message carries the token.
/// </summary>
internal sealed class JwtValidator(OAuthBearerSettings settings, Func<string?, string, IReadOnlyList<VerificationKey>> keys, TimeProvider? time = null,
    Func<string?, string, Task>? keysReady = null)
{
    /// <summary>The longest token accepted (a JWT is normally one or two kilobytes).</summary>
    public const int MaxTokenBytes = 16 * 1024;

    public static readonly IReadOnlySet<string> Algorithms = new HashSet<string>(StringComparer.Ordinal) { "RS256", "RS384", "RS512", "ES256", "ES384", "ES512" };

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public OAuthBearerSettings Settings { get; } = settings;

    /// <summary>The EC curve an ES* algorithm signs on.</summary>
    public static string? CurveOf(string alg) => alg switch
    {
        "ES256" => "P-256",
        "ES384" => "P-384",
        "ES512" => "P-521",
        _ => null,
    };

    private static HashAlgorithmName HashOf(string alg) => alg[2..] switch
    {
        "256" => HashAlgorithmName.SHA256,
        "384" => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };

    /// <summary>
    /// Completes when the key set can check this token (a token naming a key id the set does not
    /// have waits for the read of the set it starts); at once for a token that is not a JWS.
    /// </summary>
    public Task KeysReadyAsync(string token)
    {
        if (keysReady is null || token.Length > MaxTokenBytes) return Task.CompletedTask;
        int dot = token.IndexOf('.');
        if (dot <= 0 || JsonWebKeySet.Base64Url(token[..dot]) is not { } headerBytes) return Task.CompletedTask;
        try
        {
            var header = JsonSerializer.Deserialize(headerBytes, JoseJsonContext.Default.JoseHeaderRecord);
            return header?.Alg is { } alg && Algorithms.Contains(alg) ? keysReady(header.Kid, alg) : Task.CompletedTask;
        }
        catch (JsonException) { return Task.CompletedTask; }
    }

    /// <summary>The identity of a valid token, or null with the reason.</summary>
    public JwtIdentity? Validate(string token, out string? error)
    {
        try { return ValidateCore(token, out error); }
        catch (Exception ex) when (ex is CryptographicException or JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            error = $"the token cannot be checked ({ex.GetType().Name})";
            return null;
        }
    }

    private JwtIdentity? ValidateCore(string token, out string? error)
    {
        error = null;
        if (token.Length > MaxTokenBytes) return Fail($"the token is longer than {MaxTokenBytes} bytes", out error);
        string[] parts = token.Split('.');
        if (parts.Length != 3) return Fail(parts.Length == 5 ? "encrypted tokens (JWE) are not supported" : "not a JWS in compact form (header.payload.signature)", out error);
        if (JsonWebKeySet.Base64Url(parts[0]) is not { } headerBytes) return Fail("the token header is not base64url", out error);
        if (JsonWebKeySet.Base64Url(parts[1]) is not { } payloadBytes) return Fail("the token payload is not base64url", out error);
        if (JsonWebKeySet.Base64Url(parts[2]) is not { } signature) return Fail("the token signature is not base64url", out error);

        JoseHeaderRecord? header;
        try { header = JsonSerializer.Deserialize(headerBytes, JoseJsonContext.Default.JoseHeaderRecord); }
        catch (JsonException) { return Fail("the token header is not a JSON object", out error); }
        if (header?.Alg is not { } alg) return Fail("the token header has no alg", out error);
        if (!Algorithms.Contains(alg)) return Fail($"the token's algorithm {alg} is not accepted (RS256, RS384, RS512, ES256, ES384, ES512 are)", out error);
        if (header.Crit is not null) return Fail("the token header has critical extensions (crit), which the broker does not understand", out error);

        var candidates = keys(header.Kid, alg);
        if (candidates.Count == 0)
            return Fail(header.Kid is null ? $"the token has no kid and the key set has no {alg} key" : $"no key with kid \"{header.Kid}\" for {alg} in the key set", out error);
        byte[] signingInput = Encoding.ASCII.GetBytes(token, 0, parts[0].Length + 1 + parts[1].Length);
        if (!candidates.Any(k => Verify(k, alg, signingInput, signature))) return Fail("the token signature does not verify", out error);

        using var payload = JsonDocument.Parse(payloadBytes, new JsonDocumentOptions { MaxDepth = 32 });
        var claims = payload.RootElement;
        if (claims.ValueKind != JsonValueKind.Object) return Fail("the token payload is not a JSON object", out error);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        long skew = Settings.ClockSkewSeconds * 1000L;
        if (NumericDate(claims, "exp", out error) is not { } exp) return Fail(error ?? "the token has no exp", out error);
        if (now > exp + skew) return Fail("the token has expired", out error);
        if (NumericDate(claims, "nbf", out error) is { } nbf && now + skew < nbf) return Fail("the token is not valid yet (nbf)", out error);
        if (error is not null) return null;
        if (NumericDate(claims, "iat", out error) is { } iat && now + skew < iat) return Fail("the token was issued in the future (iat)", out error);
        if (error is not null) return null;
        if (Settings.ExpectedIssuer is { } issuer)
        {
            if (!claims.TryGetProperty("iss", out var iss) || iss.ValueKind != JsonValueKind.String || iss.GetString() != issuer)
                return Fail("the token's issuer (iss) is not the expected one", out error);
        }
        if (Settings.ExpectedAudiences.Count > 0 && !AudienceMatches(claims))
            return Fail("the token's audience (aud) names none of the expected audiences", out error);
        if (!claims.TryGetProperty(Settings.SubClaimName, out var sub) || sub.ValueKind != JsonValueKind.String || sub.GetString() is not { Length: > 0 } name)
            return Fail($"the token has no {Settings.SubClaimName} claim with a name", out error);
        return new JwtIdentity(name, exp);
    }

    private bool AudienceMatches(JsonElement claims)
    {
        if (!claims.TryGetProperty("aud", out var aud)) return false;
        if (aud.ValueKind == JsonValueKind.String) return Settings.ExpectedAudiences.Contains(aud.GetString()!, StringComparer.Ordinal);
        if (aud.ValueKind != JsonValueKind.Array) return false;
        foreach (var a in aud.EnumerateArray())
            if (a.ValueKind == JsonValueKind.String && Settings.ExpectedAudiences.Contains(a.GetString()!, StringComparer.Ordinal)) return true;
        return false;
    }

    /// <summary>A NumericDate claim (seconds, maybe fractional) in Unix milliseconds; null when absent, with an error when it is not a number.</summary>
    private static long? NumericDate(JsonElement claims, string name, out string? error)
    {
        error = null;
        if (!claims.TryGetProperty(name, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double seconds) || double.IsNaN(seconds) || seconds < 0 || seconds > 253402300799)
        {
            error = $"the token's {name} is not a NumericDate";
            return null;
        }
        return (long)(seconds * 1000);
    }

    private static bool Verify(VerificationKey key, string alg, byte[] input, byte[] signature)
    {
        var hash = HashOf(alg);
        if (alg[0] == 'R') return key.Rsa!.VerifyData(input, signature, hash, RSASignaturePadding.Pkcs1);
        // JWS carries R || S, each the curve's size (RFC 7518 section 3.4).
        int size = alg == "ES512" ? 66 : alg == "ES384" ? 48 : 32;
        return signature.Length == 2 * size && key.Ec!.VerifyData(input, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    private static JwtIdentity? Fail(string reason, out string? error)
    {
        error = reason;
        return null;
    }
}
