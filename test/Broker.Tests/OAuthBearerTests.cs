using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using KafScale.Broker.Security;
using KafScale.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace KafScale.Broker.Tests;

/// <summary>
/// OAUTHBEARER: the client message, the JWT checks against a JWKS (signature, kid, exp, nbf,
/// iat, iss, aud, alg, malformed and oversized input), the key set's refresh rules, and the
/// session lifetime of KIP-368 (docs/security.md, "OAUTHBEARER" and "Re-authentication").
/// </summary>
public sealed class OAuthBearerTests : IDisposable
{
    private readonly TestTokens _idp = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly string _dir = Directory.CreateTempSubdirectory("kafscale-jwks-").FullName;

    public void Dispose()
    {
        _idp.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private OAuthBearerSettings Settings(string? source = null) => new()
    {
        JwksSource = source ?? _idp.WriteJwks(_dir),
        ExpectedIssuer = TestTokens.Issuer,
        ExpectedAudiences = [TestTokens.Audience],
    };

    private JwtValidator Validator(OAuthBearerSettings? settings = null)
    {
        var keys = JsonWebKeySet.Parse(Encoding.UTF8.GetBytes(_idp.Jwks()), out string? error);
        Assert.Null(error);
        return new JwtValidator(settings ?? Settings(), (kid, alg) => [.. keys!.Where(k => (kid is null || k.Kid == kid) && k.Fits(alg))], _time);
    }

    private JsonObject Claims(string subject = "alice", TimeSpan? lifetime = null) => TestTokens.Claims(subject, lifetime, _time.GetUtcNow());

    /// <summary>The whole exchange as a client sees it: the outcome, and the error of the final step.</summary>
    private static (SaslOutcome Outcome, string? Error, OAuthBearerSaslServer Server) Exchange(JwtValidator validator, byte[] message)
    {
        var server = new OAuthBearerSaslServer(validator);
        var first = server.Evaluate(message);
        if (first.Outcome != SaslOutcome.Continue) return (first.Outcome, first.Error, server);
        Assert.Equal(OAuthBearerSaslServer.InvalidTokenChallenge, Encoding.UTF8.GetString(first.Challenge));
        var second = server.Evaluate([1]);
        Assert.Equal(SaslOutcome.Failed, second.Outcome);
        return (second.Outcome, second.Error, server);
    }

    [Fact]
    public void Good_RS256_and_ES256_tokens_authenticate_with_the_sub_claim_and_the_token_expiry()
    {
        var claims = Claims("alice");
        foreach (bool ec in new[] { false, true })
        {
            var (outcome, error, server) = Exchange(Validator(), TestTokens.ClientMessage(_idp.Sign(claims, ec)));
            Assert.True(outcome == SaslOutcome.Complete, error);
            Assert.Equal("alice", server.User);
            Assert.Equal(claims["exp"]!.GetValue<long>() * 1000, server.CredentialExpiresAtMs);
        }
        // With an authorization id equal to the principal, and with extensions.
        var (o2, e2, _) = Exchange(Validator(), TestTokens.ClientMessage(_idp.Sign(claims), authzid: "alice", extensions: "traceId=abc 1\u0001"));
        Assert.True(o2 == SaslOutcome.Complete, e2);
    }

    public static TheoryData<string, string> BadTokens => new()
    {
        { "wrong signature", "the token signature does not verify" },
        { "wrong kid", "no key with kid \"nope\" for RS256" },
        { "expired", "the token has expired" },
        { "not yet valid", "the token is not valid yet (nbf)" },
        { "issued in the future", "the token was issued in the future (iat)" },
        { "no exp", "the token has no exp" },
        { "exp not a number", "the token's exp is not a NumericDate" },
        { "wrong issuer", "the token's issuer (iss) is not the expected one" },
        { "wrong audience", "the token's audience (aud) names none of the expected audiences" },
        { "no sub", "the token has no sub claim with a name" },
        { "alg none", "the token's algorithm none is not accepted" },
        { "alg HS256", "the token's algorithm HS256 is not accepted" },
        { "ES256 signed but says RS256", "the token signature does not verify" },
        { "RS256 key for ES256", "no key with kid" },
        { "crit header", "critical extensions" },
        { "header not base64url", "the token header is not base64url" },
        { "payload not base64url", "the token payload is not base64url" },
        { "header not JSON", "the token header is not a JSON object" },
        { "payload not JSON", "the token cannot be checked" },
        { "payload an array", "the token payload is not a JSON object" },
        { "two parts", "not a JWS in compact form" },
        { "JWE", "encrypted tokens (JWE) are not supported" },
        { "oversized", "the token is longer than 16384 bytes" },
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public void A_bad_token_gets_the_invalid_token_challenge_then_a_clear_refusal(string what, string reason)
    {
        string token = BadToken(what);
        var (outcome, error, server) = Exchange(Validator(), TestTokens.ClientMessage(token));
        Assert.Equal(SaslOutcome.Failed, outcome);
        Assert.StartsWith("Authentication failed: invalid token: ", error, StringComparison.Ordinal);
        Assert.Contains(reason, error, StringComparison.Ordinal);
        Assert.Contains(reason, server.Reason, StringComparison.Ordinal);
        // No refusal repeats the token.
        Assert.DoesNotContain(token, error, StringComparison.Ordinal);
        Assert.Null(server.CredentialExpiresAtMs);
    }

    private string BadToken(string what)
    {
        var now = _time.GetUtcNow();
        string Header(string json) => TestTokens.B64(Encoding.UTF8.GetBytes(json));
        string Payload(string json) => TestTokens.B64(Encoding.UTF8.GetBytes(json));
        string good = _idp.Sign(Claims());
        string[] p = good.Split('.');
        switch (what)
        {
            case "wrong signature":
                using (var other = RSA.Create(2048))
                {
                    byte[] sig = other.SignData(Encoding.ASCII.GetBytes(p[0] + "." + p[1]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                    return p[0] + "." + p[1] + "." + TestTokens.B64(sig);
                }
            case "wrong kid": return _idp.Sign(Claims(), kid: "nope");
            // Past the 30 s clock skew.
            case "expired": { var c = Claims(); c["exp"] = now.AddSeconds(-31).ToUnixTimeSeconds(); return _idp.Sign(c); }
            case "not yet valid": { var c = Claims(); c["nbf"] = now.AddSeconds(40).ToUnixTimeSeconds(); return _idp.Sign(c); }
            case "issued in the future": { var c = Claims(); c["iat"] = now.AddMinutes(5).ToUnixTimeSeconds(); return _idp.Sign(c); }
            case "no exp": { var c = Claims(); c.Remove("exp"); return _idp.Sign(c); }
            case "exp not a number": { var c = Claims(); c["exp"] = "tomorrow"; return _idp.Sign(c); }
            case "wrong issuer": { var c = Claims(); c["iss"] = "https://evil.test/"; return _idp.Sign(c); }
            case "wrong audience": { var c = Claims(); c["aud"] = "someone-else"; return _idp.Sign(c); }
            case "no sub": { var c = Claims(); c.Remove("sub"); return _idp.Sign(c); }
            case "alg none": return TestTokens.Unsigned(Claims());
            case "alg HS256":
                {
                    string input = Header("{\"alg\":\"HS256\",\"kid\":\"hmac\"}") + "." + p[1];
                    return input + "." + TestTokens.B64(HMACSHA256.HashData(new byte[32], Encoding.ASCII.GetBytes(input)));
                }
            case "ES256 signed but says RS256": { string t = _idp.Sign(Claims(), ec: true, kid: _idp.RsaKid, alg: "RS256"); return t; }
            case "RS256 key for ES256": return _idp.Sign(Claims(), ec: true, kid: _idp.RsaKid);
            case "crit header": return Header($"{{\"alg\":\"RS256\",\"kid\":\"{_idp.RsaKid}\",\"crit\":[\"exp\"]}}") + "." + p[1] + "." + p[2];
            case "header not base64url": return "abcde." + p[1] + "." + p[2];
            case "payload not base64url": return p[0] + ".a" + "." + p[2];
            case "header not JSON": return Header("{\"alg\":") + "." + p[1] + "." + p[2];
            case "payload not JSON": return SignRaw(Payload("{\"sub\":"));
            case "payload an array": return SignRaw(Payload("[1,2]"));
            case "two parts": return p[0] + "." + p[1];
            case "JWE": return "a.b.c.d.e";
            case "oversized": { var c = Claims(); c["pad"] = new string('x', 13 * 1024); return _idp.Sign(c); }
            default: throw new ArgumentException(what);
        }

        string SignRaw(string payload)
        {
            string input = p[0] + "." + payload;
            return input + "." + TestTokens.B64(_idp.Rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        }
    }

    [Fact]
    public void Clock_skew_admits_a_token_just_past_exp_and_audience_and_issuer_are_optional()
    {
        var c = Claims();
        c["exp"] = _time.GetUtcNow().AddSeconds(-10).ToUnixTimeSeconds();
        c["nbf"] = _time.GetUtcNow().AddSeconds(10).ToUnixTimeSeconds();
        Assert.Equal(SaslOutcome.Complete, Exchange(Validator(), TestTokens.ClientMessage(_idp.Sign(c))).Outcome);
        var strict = Settings() with { ClockSkewSeconds = 0 };
        Assert.Equal(SaslOutcome.Failed, Exchange(Validator(strict), TestTokens.ClientMessage(_idp.Sign(c))).Outcome);

        var other = Claims();
        other["iss"] = "https://elsewhere/";
        other["aud"] = "nobody";
        var lax = Settings() with { ExpectedIssuer = null, ExpectedAudiences = [] };
        Assert.Equal(SaslOutcome.Complete, Exchange(Validator(lax), TestTokens.ClientMessage(_idp.Sign(other))).Outcome);
        Assert.Equal(SaslOutcome.Failed, Exchange(Validator(), TestTokens.ClientMessage(_idp.Sign(other))).Outcome);
    }

    [Fact]
    public void The_principal_claim_is_configurable()
    {
        var c = Claims("ignored");
        c["client_id"] = "service-7";
        var settings = Settings() with { SubClaimName = "client_id" };
        var (outcome, _, server) = Exchange(Validator(settings), TestTokens.ClientMessage(_idp.Sign(c)));
        Assert.Equal(SaslOutcome.Complete, outcome);
        Assert.Equal("service-7", server.User);
        var (missing, error, _) = Exchange(Validator(settings), TestTokens.ClientMessage(_idp.Sign(Claims())));
        Assert.Equal(SaslOutcome.Failed, missing);
        Assert.Contains("no client_id claim", error, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> BadMessages => new()
    {
        { "no gs2 header", "\u0001auth=Bearer abc\u0001\u0001" },
        { "channel binding", "y,,\u0001auth=Bearer abc\u0001\u0001" },
        { "no auth", "n,,\u0001foo=bar\u0001\u0001" },
        { "basic scheme", "n,,\u0001auth=Basic abc\u0001\u0001" },
        { "no final separator", "n,,\u0001auth=Bearer abc\u0001" },
        { "bad key", "n,,\u0001auth=Bearer abc\u0001k-1=v\u0001\u0001" },
        { "two auth", "n,,\u0001auth=Bearer abc\u0001auth=Bearer abc\u0001\u0001" },
        { "token with a space", "n,,\u0001auth=Bearer a b\u0001\u0001" },
        { "empty", "" },
        { "lone separator first", "\u0001" },
        { "only the two final separators", "n,,\u0001\u0001" },
    };

    [Theory]
    [MemberData(nameof(BadMessages))]
    public void A_malformed_message_fails_at_once_with_kafkas_generic_message(string what, string message)
    {
        var server = new OAuthBearerSaslServer(Validator());
        var step = server.Evaluate(Encoding.UTF8.GetBytes(message));
        Assert.True(step.Outcome == SaslOutcome.Failed, what);
        Assert.Equal(OAuthBearerSaslServer.InvalidMessage, step.Error);
        Assert.NotNull(server.Reason);
        // Not UTF-8, and a message far beyond any token.
        Assert.Equal(SaslOutcome.Failed, new OAuthBearerSaslServer(Validator()).Evaluate([0x6e, 0x2c, 0xff, 0xfe]).Outcome);
        Assert.Equal(SaslOutcome.Failed, new OAuthBearerSaslServer(Validator()).Evaluate(TestTokens.ClientMessage(new string('a', 300_000))).Outcome);
    }

    [Fact]
    public void An_authorization_id_other_than_the_principal_is_refused()
    {
        var (outcome, error, _) = Exchange(Validator(), TestTokens.ClientMessage(_idp.Sign(Claims("alice")), authzid: "bob"));
        Assert.Equal(SaslOutcome.Failed, outcome);
        Assert.Contains("authorization id (bob) that is different from the token's principal name (alice)", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_bytes_and_random_tokens_never_throw()
    {
        var random = new Random(368);
        var validator = Validator();
        string good = _idp.Sign(Claims());
        for (int i = 0; i < 2000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 200)];
            random.NextBytes(bytes);
            var server = new OAuthBearerSaslServer(validator);
            Assert.NotEqual(SaslOutcome.Complete, server.Evaluate(bytes).Outcome);
            // A good token with one character changed.
            char[] mutated = good.ToCharArray();
            mutated[random.Next(mutated.Length)] = "AZaz09-_.x"[random.Next(10)];
            string token = new(mutated);
            var step = new OAuthBearerSaslServer(validator).Evaluate(TestTokens.ClientMessage(token));
            Assert.True(step.Outcome != SaslOutcome.Complete || token == good || SameBytes(token, good), $"a mutated token was accepted: {token}");
        }
    }

    /// <summary>Base64url's last character may carry unused bits, so a change there can decode to the same bytes.</summary>
    private static bool SameBytes(string a, string b)
    {
        string[] x = a.Split('.'), y = b.Split('.');
        if (x.Length != 3 || y.Length != 3) return false;
        for (int i = 0; i < 3; i++)
        {
            var bx = JsonWebKeySet.Base64Url(x[i]);
            var by = JsonWebKeySet.Base64Url(y[i]);
            if (bx is null || by is null || !bx.AsSpan().SequenceEqual(by)) return false;
        }
        return true;
    }

    [Fact]
    public void The_key_set_skips_unusable_keys_and_refuses_a_set_without_any()
    {
        var keys = JsonWebKeySet.Parse(Encoding.UTF8.GetBytes(_idp.Jwks()), out string? error);
        Assert.Null(error);
        Assert.Equal([_idp.RsaKid, _idp.EcKid], keys!.Select(k => k.Kid));

        using var weak = RSA.Create(1024);
        var p = weak.ExportParameters(false);
        string weakSet = $"{{\"keys\":[{{\"kty\":\"RSA\",\"kid\":\"w\",\"n\":\"{TestTokens.B64(p.Modulus)}\",\"e\":\"{TestTokens.B64(p.Exponent)}\"}},{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}},{{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"x\",\"e\":\"AQAB\"}}]}}";
        Assert.Null(JsonWebKeySet.Parse(Encoding.UTF8.GetBytes(weakSet), out error));
        Assert.Contains("no usable signature key", error, StringComparison.Ordinal);
        Assert.Null(JsonWebKeySet.Parse("{\"keys\":"u8, out error));
        Assert.Contains("not a JSON Web Key Set", error, StringComparison.Ordinal);
        Assert.Null(JsonWebKeySet.Parse("{\"other\":1}"u8, out error));
        Assert.Contains("no \"keys\" array", error, StringComparison.Ordinal);
        Assert.Null(JsonWebKeySet.Parse("[1]"u8, out error));
    }

    [Fact]
    public async Task An_unknown_kid_reads_the_file_again_at_most_once_per_interval()
    {
        string path = Path.Combine(_dir, "rotating.json");
        using var first = new TestTokens();
        using var second = new TestTokens();
        await File.WriteAllTextAsync(path, first.Jwks());
        using var set = new JsonWebKeySet(path, NullLogger.Instance, _time);
        Assert.Null(await set.LoadAsync());
        var validator = new JwtValidator(Settings(path), set.Find, _time, set.KeysReadyAsync);
        string byFirst = first.Sign(Claims()), bySecond = second.Sign(Claims());
        Assert.True(validator.KeysReadyAsync(byFirst).IsCompleted);
        Assert.NotNull(validator.Validate(byFirst, out _));

        // The provider rotates to the second key: the first token naming it reads the file again
        // (the SASL exchange awaits that read before it checks the token).
        _time.Advance(TimeSpan.FromSeconds(11));
        await File.WriteAllTextAsync(path, second.Jwks());
        await validator.KeysReadyAsync(bySecond);
        Assert.NotNull(validator.Validate(bySecond, out string? error));
        Assert.Null(error);
        Assert.Null(validator.Validate(byFirst, out error));

        // Within the interval another unknown kid does not read the set again.
        await File.WriteAllTextAsync(path, first.Jwks());
        Assert.True(validator.KeysReadyAsync(byFirst).IsCompleted);
        Assert.Null(validator.Validate(byFirst, out error));
        Assert.Contains("no key with kid", error, StringComparison.Ordinal);
        _time.Advance(set.MinRefreshInterval);
        await validator.KeysReadyAsync(byFirst);
        Assert.NotNull(validator.Validate(byFirst, out error));
    }

    [Fact]
    public async Task A_token_with_an_unknown_kid_never_holds_a_thread_while_the_key_set_is_read()
    {
        int port = BrokerProcess.FreePorts().Item1;
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        using var rotated = new TestTokens();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int fetches = 0;
        var serving = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await listener.GetContextAsync(); }
                catch (Exception) { return; }
                // The first read answers at once; the next ones (the rotation) only when released.
                if (Interlocked.Increment(ref fetches) > 1) await release.Task;
                byte[] bytes = Encoding.UTF8.GetBytes(fetches > 1 ? rotated.Jwks() : _idp.Jwks());
                await ctx.Response.OutputStream.WriteAsync(bytes);
                ctx.Response.Close();
            }
        });
        using var set = new JsonWebKeySet($"http://127.0.0.1:{port}/jwks", NullLogger.Instance, _time);
        Assert.Null(await set.LoadAsync());
        _time.Advance(TimeSpan.FromSeconds(11));
        var validator = new JwtValidator(Settings($"http://127.0.0.1:{port}/jwks"), set.Find, _time, set.KeysReadyAsync);
        string token = rotated.Sign(Claims());

        // The check answers "no key" from what is held, while the read it started is still held
        // by the identity provider: the caller did not wait for it.
        Assert.Null(validator.Validate(token, out string? error));
        Assert.Contains("no key with kid", error, StringComparison.Ordinal);
        var ready = validator.KeysReadyAsync(token);
        Assert.False(ready.IsCompleted);
        release.SetResult();
        await ready.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(validator.Validate(token, out error));
        listener.Close(); // not Stop(): the Dispose that follows would bind the port again
        await serving;
    }

    [Fact]
    public async Task A_key_set_served_over_http_is_fetched_and_cached()
    {
        int port = BrokerProcess.FreePorts().Item1;
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        int fetches = 0;
        string body = _idp.Jwks();
        var serving = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext ctx;
                try { ctx = await listener.GetContextAsync(); }
                catch (Exception) { return; }
                Interlocked.Increment(ref fetches);
                byte[] bytes = Encoding.UTF8.GetBytes(ctx.Request.Url!.AbsolutePath == "/jwks" ? body : "not found");
                ctx.Response.StatusCode = ctx.Request.Url.AbsolutePath == "/jwks" ? 200 : 404;
                await ctx.Response.OutputStream.WriteAsync(bytes);
                ctx.Response.Close();
            }
        });
        using (var set = new JsonWebKeySet($"http://127.0.0.1:{port}/jwks", NullLogger.Instance, _time))
        {
            Assert.Null(await set.LoadAsync());
            var validator = new JwtValidator(Settings($"http://127.0.0.1:{port}/jwks"), set.Find, _time);
            for (int i = 0; i < 5; i++) Assert.NotNull(validator.Validate(_idp.Sign(Claims(), ec: i % 2 == 1), out _));
            Assert.Equal(1, fetches);
        }
        using (var missing = new JsonWebKeySet($"http://127.0.0.1:{port}/nothing", NullLogger.Instance, _time))
        {
            Assert.Contains("HTTP 404", await missing.LoadAsync(), StringComparison.Ordinal);
        }
        listener.Close(); // not Stop(): the Dispose that follows would bind the port again
        await serving;
    }

    [Fact]
    public void The_session_lifetime_is_the_configured_one_cut_to_the_credential_expiry()
    {
        var users = new SaslAuthenticator(SaslMechanisms.Defaults, new NoUsers());
        Assert.Equal(0, users.SessionLifetimeFor(null, 1_000));
        Assert.Equal(9_000, users.SessionLifetimeFor(10_000, 1_000));
        var configured = new SaslAuthenticator(SaslMechanisms.Defaults, new NoUsers(), sessionLifetimeMs: 3_000);
        Assert.Equal(3_000, configured.SessionLifetimeFor(null, 1_000));
        Assert.Equal(3_000, configured.SessionLifetimeFor(100_000, 1_000));
        Assert.Equal(2_000, configured.SessionLifetimeFor(3_000, 1_000));
        // A token already past exp (within the clock skew) ends the session at once, never "no end".
        Assert.Equal(1, configured.SessionLifetimeFor(500, 1_000));
        Assert.Equal(1, users.SessionLifetimeFor(500, 1_000));
    }

    private sealed class NoUsers : IScramCredentials
    {
        public KafScale.Protocol.Sasl.ScramCredential? Find(string user, KafScale.Protocol.Sasl.ScramMechanism mechanism) => null;
    }
}
