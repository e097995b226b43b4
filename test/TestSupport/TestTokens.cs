using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace KafScale.TestSupport;

/// <summary>
/// An identity provider for tests: an RSA and an EC P-256 signing key, the JWKS that publishes
/// them, and compact JWS tokens signed with them (RFC 7515, RFC 7519), so tests exercise the
/// broker's OAUTHBEARER checks without a real identity provider.
/// </summary>
public sealed class TestTokens : IDisposable
{
    public const string Issuer = "https://idp.test/";
    public const string Audience = "kafscale";

    public RSA Rsa { get; } = RSA.Create(2048);
    public ECDsa Ec { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    public string RsaKid { get; } = "rsa-" + Guid.NewGuid().ToString("N")[..8];
    public string EcKid { get; } = "ec-" + Guid.NewGuid().ToString("N")[..8];

    public static string B64(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    /// <summary>The JWKS with both public keys (and an HMAC key the broker must skip).</summary>
    public string Jwks()
    {
        var rsa = Rsa.ExportParameters(false);
        var ec = Ec.ExportParameters(false);
        var keys = new JsonArray
        {
            new JsonObject { ["kty"] = "RSA", ["kid"] = RsaKid, ["use"] = "sig", ["alg"] = "RS256", ["n"] = B64(rsa.Modulus), ["e"] = B64(rsa.Exponent) },
            new JsonObject { ["kty"] = "EC", ["kid"] = EcKid, ["crv"] = "P-256", ["x"] = B64(ec.Q.X), ["y"] = B64(ec.Q.Y) },
            new JsonObject { ["kty"] = "oct", ["kid"] = "hmac", ["k"] = B64(new byte[32]) },
        };
        return new JsonObject { ["keys"] = keys }.ToJsonString();
    }

    /// <summary>Claims of a good token for <paramref name="subject"/>, valid for <paramref name="lifetime"/> from now.</summary>
    public static JsonObject Claims(string subject, TimeSpan? lifetime = null, DateTimeOffset? now = null)
    {
        var at = now ?? DateTimeOffset.UtcNow;
        return new JsonObject
        {
            ["sub"] = subject,
            ["iss"] = Issuer,
            ["aud"] = new JsonArray("other", Audience),
            ["iat"] = at.ToUnixTimeSeconds(),
            ["exp"] = at.Add(lifetime ?? TimeSpan.FromHours(1)).ToUnixTimeSeconds(),
        };
    }

    /// <summary>A token signed with the RSA key (RS256) or, with ec, the P-256 key (ES256).</summary>
    public string Sign(JsonObject claims, bool ec = false, string? kid = null, string? alg = null)
    {
        var header = new JsonObject { ["alg"] = alg ?? (ec ? "ES256" : "RS256"), ["typ"] = "JWT", ["kid"] = kid ?? (ec ? EcKid : RsaKid) };
        string input = B64(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        byte[] data = Encoding.ASCII.GetBytes(input);
        byte[] signature = ec
            ? Ec.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            : Rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + B64(signature);
    }

    /// <summary>An unsigned token (alg none), which no broker may accept.</summary>
    public static string Unsigned(JsonObject claims) =>
        B64(Encoding.UTF8.GetBytes("{\"alg\":\"none\",\"typ\":\"JWT\"}")) + "." + B64(Encoding.UTF8.GetBytes(claims.ToJsonString())) + ".";

    /// <summary>The OAUTHBEARER client message (RFC 7628) carrying the token.</summary>
    public static byte[] ClientMessage(string token, string? authzid = null, string extensions = "") =>
        Encoding.UTF8.GetBytes($"n,{(authzid is null ? "" : "a=" + authzid)},\u0001auth=Bearer {token}\u0001{extensions}\u0001");

    /// <summary>Writes the JWKS to a file under dir and returns its path.</summary>
    public string WriteJwks(string dir)
    {
        string path = Path.Combine(dir, "jwks.json");
        File.WriteAllText(path, Jwks());
        return path;
    }

    public void Dispose()
    {
        Rsa.Dispose();
        Ec.Dispose();
    }
}
