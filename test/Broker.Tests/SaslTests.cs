using System.Text;
using KafScale.Broker.Security;
using KafScale.Protocol.Sasl;

namespace KafScale.Broker.Tests;

/// <summary>SCRAM against the RFCs' example exchanges, PLAIN parsing and checking, listener parsing.</summary>
public sealed class SaslTests
{
    private sealed class Users : IScramCredentials
    {
        public Dictionary<(string, sbyte), ScramCredential> All { get; } = [];

        public ScramCredential? Find(string user, ScramMechanism mechanism) => All.TryGetValue((user, mechanism.Type), out var c) ? c : null;

        public Users With(string user, string password, ScramMechanism m, byte[] salt, int iterations = 4096)
        {
            All[(user, m.Type)] = m.Credential(m.SaltedPassword(password, salt, iterations), salt, iterations);
            return this;
        }
    }

    // RFC 5802 section 5 (SCRAM-SHA-1) and RFC 7677 section 3 (SCRAM-SHA-256): user "user", password "pencil".
    public static TheoryData<string, string, string, string, string, string> RfcExchanges => new()
    {
        { "SCRAM-SHA-1", "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92", "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ=" },
        { "SCRAM-SHA-256", "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "W22ZaJ0SNY7soEsUEjb6gQ==", "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" },
    };

    private static ScramMechanism Mechanism(string name) => name == "SCRAM-SHA-1" ? ScramMechanism.Sha1 : ScramMechanism.ByName(name)!;

    [Theory]
    [MemberData(nameof(RfcExchanges))]
    public void The_client_side_reproduces_the_rfc_example_exchange(string mechanism, string clientNonce, string serverNonce, string salt, string proof, string serverSignature)
    {
        var client = new ScramClient(Mechanism(mechanism), "user", "pencil", clientNonce);
        Assert.Equal($"n,,n=user,r={clientNonce}", Encoding.UTF8.GetString(client.ClientFirst()));
        string serverFirst = $"r={clientNonce}{serverNonce},s={salt},i=4096";
        string final = Encoding.UTF8.GetString(client.ClientFinal(Encoding.UTF8.GetBytes(serverFirst)));
        Assert.Equal($"c=biws,r={clientNonce}{serverNonce},p={proof}", final);
        Assert.True(client.VerifyServerFinal(Encoding.UTF8.GetBytes("v=" + serverSignature)));
        Assert.False(client.VerifyServerFinal(Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(new byte[Mechanism(mechanism).HashBytes]))));
    }

    [Theory]
    [MemberData(nameof(RfcExchanges))]
    public void The_server_side_reproduces_the_rfc_example_exchange(string mechanism, string clientNonce, string serverNonce, string salt, string proof, string serverSignature)
    {
        var m = Mechanism(mechanism);
        var users = new Users().With("user", "pencil", m, Convert.FromBase64String(salt));
        var server = new ScramSaslServer(m, users, () => serverNonce);
        var first = server.Evaluate(Encoding.UTF8.GetBytes($"n,,n=user,r={clientNonce}"));
        Assert.Equal(SaslOutcome.Continue, first.Outcome);
        Assert.Equal($"r={clientNonce}{serverNonce},s={salt},i=4096", Encoding.UTF8.GetString(first.Challenge));
        var final = server.Evaluate(Encoding.UTF8.GetBytes($"c=biws,r={clientNonce}{serverNonce},p={proof}"));
        Assert.Equal(SaslOutcome.Complete, final.Outcome);
        Assert.Equal("v=" + serverSignature, Encoding.UTF8.GetString(final.Challenge));
        Assert.Equal("user", server.User);
    }

    [Theory]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-512")]
    public void Our_client_and_server_agree_and_a_wrong_password_or_unknown_user_fail_alike(string name)
    {
        var m = ScramMechanism.ByName(name)!;
        var users = new Users().With("alice", "s3cret,=x", m, m.NewSalt(), 8192);
        Assert.Equal(SaslOutcome.Complete, Exchange(m, users, "alice", "s3cret,=x").Outcome);

        var wrong = Exchange(m, users, "alice", "wrong");
        var unknown = Exchange(m, users, "mallory", "s3cret,=x");
        Assert.Equal(SaslOutcome.Failed, wrong.Outcome);
        Assert.Equal(SaslOutcome.Failed, unknown.Outcome);
        Assert.Equal($"Authentication failed during authentication due to invalid credentials with SASL mechanism {name}", wrong.Error);
        Assert.Equal(wrong.Error, unknown.Error);
    }

    private static SaslStep Exchange(ScramMechanism m, IScramCredentials users, string user, string password)
    {
        var client = new ScramClient(m, user, password);
        var server = new ScramSaslServer(m, users);
        var first = server.Evaluate(client.ClientFirst());
        Assert.Equal(SaslOutcome.Continue, first.Outcome);
        var final = server.Evaluate(client.ClientFinal(first.Challenge));
        if (final.Outcome == SaslOutcome.Complete) Assert.True(client.VerifyServerFinal(final.Challenge));
        return final;
    }

    [Theory]
    [InlineData("p=tls-unique,,n=user,r=abc", "channel binding")]
    [InlineData("n,,r=abc", "expected n=user,r=nonce")]
    [InlineData("n,,n=user", "expected n=user,r=nonce")]
    [InlineData("n,,n=us=ZZer,r=abc", "bad user name")]
    [InlineData("n,a=other,n=user,r=abc", "authorization id")]
    [InlineData("n,,n=user,r=abc,m=ext", "mandatory extensions")]
    [InlineData("n,,n=user,r=abc,tokenauth=true", "delegation tokens")]
    [InlineData("garbage", "Invalid SCRAM client-first message")]
    public void A_malformed_or_unsupported_client_first_message_fails_with_a_reason(string message, string expected)
    {
        var users = new Users().With("user", "pencil", ScramMechanism.Sha256, [1, 2, 3]);
        var step = new ScramSaslServer(ScramMechanism.Sha256, users).Evaluate(Encoding.UTF8.GetBytes(message));
        Assert.Equal(SaslOutcome.Failed, step.Outcome);
        Assert.Contains(expected, step.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("c=biws,r=someone-else", "nonce mismatch")]
    [InlineData("c=eSws,r=CS", "channel binding does not match")]
    public void A_client_final_message_with_another_nonce_or_channel_binding_fails_even_with_a_valid_proof(string withoutProof, string expected)
    {
        // The proof is computed over the message as sent, so only the nonce or binding check can refuse it.
        var m = ScramMechanism.Sha256;
        byte[] salt = [1, 2, 3];
        var users = new Users().With("user", "pencil", m, salt);
        var server = new ScramSaslServer(m, users, () => "S");
        string serverFirst = Encoding.UTF8.GetString(server.Evaluate("n,,n=user,r=C"u8).Challenge);
        byte[] clientKey = m.Hmac(m.SaltedPassword("pencil", salt, 4096), "Client Key"u8);
        byte[] authMessage = Encoding.UTF8.GetBytes("n=user,r=C," + serverFirst + "," + withoutProof);
        byte[] proof = ScramSyntax.Xor(clientKey, m.Hmac(m.H(clientKey), authMessage));
        var step = server.Evaluate(Encoding.UTF8.GetBytes(withoutProof + ",p=" + Convert.ToBase64String(proof)));
        Assert.Equal(SaslOutcome.Failed, step.Outcome);
        Assert.Contains(expected, step.Error, StringComparison.Ordinal);
        // Nothing more is accepted after a failure.
        Assert.Equal(SaslOutcome.Failed, server.Evaluate("n,,n=user,r=C"u8).Outcome);
    }

    [Fact]
    public void A_client_final_nonce_that_repeats_the_client_nonce_first_is_accepted_as_kafka_does()
    {
        // librdkafka sends r=<client nonce><client nonce + server nonce>; Kafka checks only that it ends with the combined nonce.
        var m = ScramMechanism.Sha256;
        var users = new Users().With("user", "pencil", m, Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ=="));
        var server = new ScramSaslServer(m, users, () => "SERVER");
        string serverFirst = Encoding.UTF8.GetString(server.Evaluate("n,,n=user,r=CLIENT"u8).Challenge);
        Assert.StartsWith("r=CLIENTSERVER,", serverFirst, StringComparison.Ordinal);
        byte[] salted = m.SaltedPassword("pencil", Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ=="), 4096);
        string withoutProof = "c=biws,r=CLIENTCLIENTSERVER";
        byte[] authMessage = Encoding.UTF8.GetBytes("n=user,r=CLIENT," + serverFirst + "," + withoutProof);
        byte[] clientKey = m.Hmac(salted, "Client Key"u8);
        byte[] proof = ScramSyntax.Xor(clientKey, m.Hmac(m.H(clientKey), authMessage));
        var final = server.Evaluate(Encoding.UTF8.GetBytes(withoutProof + ",p=" + Convert.ToBase64String(proof)));
        Assert.Equal(SaslOutcome.Complete, final.Outcome);
    }

    [Theory]
    [InlineData("\0alice\0pw", "", "alice", "pw")]
    [InlineData("alice\0alice\0pw", "alice", "alice", "pw")]
    [InlineData("\0al\u00efce\0p\u00e4ss word", "", "al\u00efce", "p\u00e4ss word")]
    public void Plain_messages_split_into_authzid_user_and_password(string message, string authzid, string user, string password)
    {
        var parts = PlainSaslServer.Parse(Encoding.UTF8.GetBytes(message), out var error);
        Assert.Null(error);
        Assert.Equal((authzid, user, password), parts);
    }

    [Theory]
    [InlineData("\0\0pw", "username not specified")]
    [InlineData("\0alice\0", "password not specified")]
    [InlineData("alice\0pw", "expected 3 tokens, got 2")]
    [InlineData("a\0b\0c\0d", "expected 3 tokens, got 4")]
    [InlineData("", "expected 3 tokens, got 1")]
    public void Malformed_plain_messages_are_refused_with_kafkas_words(string message, string expected)
    {
        Assert.Null(PlainSaslServer.Parse(Encoding.UTF8.GetBytes(message), out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Plain_checks_the_password_against_either_scram_credential()
    {
        var users = new Users().With("sha256user", "pw1", ScramMechanism.Sha256, [9, 9, 9]).With("sha512user", "pw2", ScramMechanism.Sha512, [7, 7], 5000);
        Assert.Equal(SaslOutcome.Complete, new PlainSaslServer(users).Evaluate("\0sha256user\0pw1"u8).Outcome);
        Assert.Equal(SaslOutcome.Complete, new PlainSaslServer(users).Evaluate("\0sha512user\0pw2"u8).Outcome);
        var wrong = new PlainSaslServer(users).Evaluate("\0sha256user\0pw2"u8);
        var unknown = new PlainSaslServer(users).Evaluate("\0nobody\0pw1"u8);
        Assert.Equal(PlainSaslServer.InvalidCredentials, wrong.Error);
        Assert.Equal(PlainSaslServer.InvalidCredentials, unknown.Error);
        var authzid = new PlainSaslServer(users).Evaluate("admin\0sha256user\0pw1"u8);
        Assert.Equal(SaslOutcome.Failed, authzid.Outcome);
        Assert.Contains("authorization id", authzid.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_supported_mechanisms_make_servers()
    {
        var users = new SaslAuthenticator(SaslMechanisms.Defaults, new Users());
        Assert.IsType<PlainSaslServer>(SaslServer.Create("PLAIN", users));
        Assert.Equal("SCRAM-SHA-512", SaslServer.Create("SCRAM-SHA-512", users)!.Mechanism);
        Assert.Null(SaslServer.Create("GSSAPI", users));
        // OAUTHBEARER only with a token validator (a configured key set).
        Assert.Null(SaslServer.Create("OAUTHBEARER", users));
        var jwt = new JwtValidator(new OAuthBearerSettings { JwksSource = "jwks.json" }, (_, _) => []);
        Assert.IsType<OAuthBearerSaslServer>(SaslServer.Create("OAUTHBEARER", new SaslAuthenticator(SaslMechanisms.Supported, new Users(), jwt)));
        Assert.Null(SaslServer.Create("SCRAM-SHA-1", users));
    }

    [Fact]
    public void Listener_lists_parse_as_kafka_writes_them()
    {
        var entries = Listeners.Parse("PLAINTEXT://127.0.0.1:9092, SASL_SSL://:9094,SSL://[::1]:9093,sasl_plaintext://host.example:0", out var error);
        Assert.Null(error);
        Assert.Equal(
            [
                new ListenerEntry(SecurityProtocol.Plaintext, "127.0.0.1", 9092),
                new ListenerEntry(SecurityProtocol.SaslSsl, "", 9094),
                new ListenerEntry(SecurityProtocol.Ssl, "::1", 9093),
                new ListenerEntry(SecurityProtocol.SaslPlaintext, "host.example", 0),
            ], entries!);
        Assert.Equal("SASL_SSL", entries![1].Name);
    }

    [Theory]
    [InlineData("127.0.0.1:9092", "is not NAME://HOST:PORT")]
    [InlineData("INTERNAL://127.0.0.1:9092", "unknown listener name 'INTERNAL'")]
    [InlineData("SSL://127.0.0.1", "no valid port")]
    [InlineData("SSL://127.0.0.1:70000", "no valid port")]
    [InlineData("SSL://127.0.0.1:-1", "no valid port")]
    [InlineData("SSL://a:1,SSL://b:2", "named twice")]
    [InlineData(" , ", "no listener given")]
    public void Bad_listener_lists_are_refused_naming_the_entry(string value, string expected)
    {
        Assert.Null(Listeners.Parse(value, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Credential_keys_keep_any_user_name_and_values_keep_no_password()
    {
        string key = ScramCredentialStore.StoreKey("a/b c%", ScramMechanism.Sha512);
        Assert.Equal("/kafscale/scram/a%2Fb%20c%25/SCRAM-SHA-512", key);
        Assert.True(ScramCredentialStore.TryParseStoreKey(key, out var user, out var m));
        Assert.Equal(("a/b c%", ScramMechanism.Sha512), (user, m));
        Assert.False(ScramCredentialStore.TryParseStoreKey("/kafscale/scram/u/SCRAM-SHA-1", out _, out _));
        Assert.False(ScramCredentialStore.TryParseStoreKey("/kafscale/scram/u", out _, out _));

        var c = ScramMechanism.Sha256.Credential(ScramMechanism.Sha256.SaltedPassword("pw", [1, 2], 4096), [1, 2], 4096);
        var json = ScramCredentialStore.ToJson(c);
        var back = ScramCredentialStore.FromJson(json)!;
        Assert.Equal(c.Salt, back.Salt);
        Assert.Equal(c.StoredKey, back.StoredKey);
        Assert.Equal(c.ServerKey, back.ServerKey);
        Assert.Equal(c.Iterations, back.Iterations);
        Assert.DoesNotContain("pw", Encoding.UTF8.GetString(json), StringComparison.Ordinal);
        Assert.Null(ScramCredentialStore.FromJson("{\"salt\":1}"u8.ToArray()));
        Assert.Null(ScramCredentialStore.FromJson("not json"u8.ToArray()));
    }
}
