using System.Reflection;
using System.Text;
using System.Text.Json;
using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Security;

/// <summary>
/// A broker with OAUTHBEARER on a SASL_PLAINTEXT listener, tokens signed by the test's own
/// keys and checked against a JWKS file (docs/security.md, "OAUTHBEARER").
/// </summary>
public sealed class OAuthBrokerFixture : IAsyncLifetime
{
    public TestTokens Idp { get; } = new();
    public string Dir { get; } = Directory.CreateTempSubdirectory("kafscale-oauth-").FullName;
    public BrokerProcess Broker { get; private set; } = null!;
    public int SaslPort { get; private set; }

    public static IReadOnlyList<string> OAuthArguments(string jwks) =>
    [
        "--sasl-oauthbearer-jwks-endpoint-url", jwks,
        "--sasl-oauthbearer-expected-issuer", TestTokens.Issuer,
        "--sasl-oauthbearer-expected-audience", $"unused,{TestTokens.Audience}",
    ];

    public async Task InitializeAsync()
    {
        (SaslPort, _) = BrokerProcess.FreePorts();
        Broker = await BrokerProcess.StartAsync(new BrokerOptions
        {
            GroupInitialRebalanceDelayMs = 0,
            ExtraArguments =
            [
                "--listeners", $"PLAINTEXT://127.0.0.1:{{kafka-port}},SASL_PLAINTEXT://127.0.0.1:{SaslPort}",
                .. OAuthArguments(Idp.WriteJwks(Dir)),
            ],
        });
    }

    public string Token(string subject, TimeSpan? lifetime = null) => Idp.Sign(TestTokens.Claims(subject, lifetime));

    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        Idp.Dispose();
        Directory.Delete(Dir, recursive: true);
    }
}

/// <summary>
/// Real clients (librdkafka through confluent-kafka and kcat, kafka-python, kafkajs) authenticating with OAUTHBEARER
/// tokens, the Kafka exchange for a bad token, and KIP-368 re-authentication: sessions with a
/// lifetime, re-authentication on the connection, a refused change of principal, and a session
/// that expired without re-authentication (docs/security.md, "Re-authentication").
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class OAuthBearerTests(OAuthBrokerFixture fixture, ITestOutputHelper output) : IClassFixture<OAuthBrokerFixture>
{
    private const int Count = 12;

    private static string LastLine(ClientResult result) =>
        result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()
        ?? throw new Xunit.Sdk.XunitException($"no output from {result.CommandLine} (exit {result.ExitCode}, timed out {result.TimedOut}):\n{result.Stderr}");

    private static Task<ClientResult> RunClientAsync(string client, IEnumerable<string> args) => client == "kafkajs"
        ? ClientRunner.NodeAsync("secure_kafkajs.js", args)
        : ClientRunner.PythonAsync("secure_client.py", ["--client", client, .. args]);

    private static List<string> Arguments(int port, string topic, string token, int count = Count) =>
    [
        "--bootstrap", $"127.0.0.1:{port}", "--topic", topic, "--group", "g-" + topic, "--count", count.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--protocol", "SASL_PLAINTEXT", "--mechanism", "OAUTHBEARER", "--token", token,
    ];

    private static void AssertRoundTrip(ClientResult result, string client, int count)
    {
        using var doc = JsonDocument.Parse(LastLine(result));
        Assert.False(doc.RootElement.TryGetProperty("error", out var error), $"{client}: {error}\n{result.Stderr}");
        var values = doc.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetString()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"value-{i}").Order(StringComparer.Ordinal), values);
        Assert.Equal(count, doc.RootElement.GetProperty("committed").GetProperty("0").GetInt64());
    }

    /// <summary>
    /// confluent-kafka (librdkafka's token callback), kafka-python (a token provider object) and
    /// kafkajs get the test's token directly; kcat, which takes no callback, gets it from a token
    /// endpoint through librdkafka's built-in OIDC client (docs/security.md, "OAUTHBEARER").
    /// </summary>
    [Theory]
    [InlineData("confluent-kafka")]
    [InlineData("kafka-python")]
    [InlineData("kafkajs")]
    [InlineData("kcat")]
    public async Task A_client_with_a_good_token_produces_consumes_in_a_group_and_commits(string client)
    {
        string topic = $"oauth-{client}-{Guid.NewGuid().ToString("N")[..8]}";
        string subject = "svc-" + client;
        await RawRequests.CreateTopicAsync(fixture.Broker, topic, partitions: 1);
        try
        {
            if (client == "kcat")
            {
                await KcatOidcRoundTripAsync(topic, subject);
            }
            else
            {
                AssertRoundTrip(await RunClientAsync(client, Arguments(fixture.SaslPort, topic, fixture.Token(subject))), client, Count);
            }

            await fixture.Broker.AssertLogContainsAsync($"authenticated as User:{subject} with OAUTHBEARER");
        }
        catch (Exception)
        {
            output.WriteLine(fixture.Broker.Log());
            throw;
        }
    }

    /// <summary>
    /// A directory holding a librdkafka with OIDC, as librdkafka.so.1, for kcat's LD_LIBRARY_PATH.
    /// Debian 12's librdkafka (2.0.2) is built without libcurl, so its kcat refuses
    /// <c>sasl.oauthbearer.method</c> ("not supported in this build"; `kcat -V` lists no oidc among
    /// builtin.features). The NuGet package librdkafka.redist carries Confluent's build; its CentOS 8
    /// variant needs only the C library (the default one wants libsasl2.so.3, which Debian 12 lacks).
    /// </summary>
    private static string OidcLibrdkafkaDir()
    {
        string package = typeof(OAuthBearerTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "LibrdkafkaRedistDir").Value ?? "";
        string library = Path.Combine(package, "runtimes", "linux-x64", "native", "centos8-librdkafka.so");
        Assert.True(File.Exists(library), $"no librdkafka at '{library}': restoring test/Integration fetches the librdkafka.redist package");
        string dir = Directory.CreateTempSubdirectory("kafscale-librdkafka-").FullName;
        File.CreateSymbolicLink(Path.Combine(dir, "librdkafka.so.1"), library);
        return dir;
    }

    /// <summary>
    /// kcat with <c>sasl.oauthbearer.method=oidc</c>: librdkafka asks the token endpoint for a
    /// token with the client credentials, then produces, consumes in a group (-G) and commits
    /// when the consumer closes at the end of the partition (-e), as in SecureListenerTests.
    /// </summary>
    private async Task KcatOidcRoundTripAsync(string topic, string subject)
    {
        string library = OidcLibrdkafkaDir();
        try
        {
            await KcatOidcRoundTripAsync(topic, subject, library);
        }
        finally
        {
            Directory.Delete(library, recursive: true);
        }
    }

    private async Task KcatOidcRoundTripAsync(string topic, string subject, string library)
    {
        Task<ClientResult> Kcat(IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null) =>
            ClientRunner.RunAsync("env", ["LD_LIBRARY_PATH=" + library, "kcat", .. args], stdin, timeout);
        var version = await Kcat(["-V"]);
        Assert.Matches(@"builtin\.features=\S*\boidc\b", version.Stdout + version.Stderr);

        await using var endpoint = OidcTokenEndpoint.Start(fixture.Idp, subject);
        string[] security =
        [
            "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=OAUTHBEARER",
            "-X", "sasl.oauthbearer.method=oidc",
            "-X", $"sasl.oauthbearer.token.endpoint.url={endpoint.Url}",
            "-X", $"sasl.oauthbearer.client.id={endpoint.ClientId}",
            "-X", $"sasl.oauthbearer.client.secret={endpoint.ClientSecret}",
            "-X", "sasl.oauthbearer.scope=kafka",
        ];
        string bootstrap = $"127.0.0.1:{fixture.SaslPort}";
        string input = string.Join('\n', Enumerable.Range(0, Count).Select(i => $"value-{i}")) + "\n";
        (await Kcat(["-P", "-b", bootstrap, "-t", topic, "-X", "acks=-1", .. security], input)).EnsureSuccess();
        var consumed = await Kcat(["-b", bootstrap, "-G", "g-" + topic, "-X", "auto.offset.reset=earliest", "-e", .. security, topic],
            timeout: TimeSpan.FromSeconds(60));
        consumed.EnsureSuccess();
        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"value-{i}").Order(StringComparer.Ordinal),
            consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

        // The token came from the endpoint: a client-credentials POST with the client's id and secret, once per kcat run at least.
        var requests = endpoint.Requests.ToList();
        Assert.True(endpoint.Issued >= 2, $"the token endpoint issued {endpoint.Issued} tokens: {string.Join("; ", requests.Select(r => $"{r.Method} {r.Path} {r.Status} {r.Body}"))}");
        Assert.All(requests, r => Assert.Equal(200, r.Status));
        Assert.All(requests, r => Assert.Contains("scope=kafka", r.Body, StringComparison.Ordinal));

        await using var plain = await RawKafkaConnection.ConnectAsync(fixture.Broker.KafkaPort);
        var offsets = await plain.SendAsync<OffsetFetchResponse>(ApiKeys.OffsetFetch, 5, new OffsetFetchRequest
        {
            GroupId = "g-" + topic,
            Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = topic, PartitionIndexes = [0] }],
        });
        Assert.Equal(Count, Assert.Single(Assert.Single(offsets.Topics).Partitions).CommittedOffset);
    }

    [Fact]
    public async Task A_client_with_a_bad_token_fails_with_an_authentication_error()
    {
        var claims = TestTokens.Claims("mallory");
        claims["aud"] = "another-service";
        var result = await ClientRunner.PythonAsync("secure_client.py",
            ["--client", "confluent-kafka", .. Arguments(fixture.SaslPort, "oauth-bad", fixture.Idp.Sign(claims), count: 1), "--timeout", "8"]);
        using var doc = JsonDocument.Parse(LastLine(result));
        string error = doc.RootElement.GetProperty("error").GetString()!;
        Assert.True(error.Contains("Authentication failed", StringComparison.Ordinal), error + "\n" + result.Stderr);
        for (int i = 0; i < 50 && !fixture.Broker.Log().Contains("audience (aud)", StringComparison.Ordinal); i++) await Task.Delay(100);
        await fixture.Broker.AssertLogContainsAsync("SASL authentication of user (none given) from 127.0.0.1:");
        await fixture.Broker.AssertLogContainsAsync("the token's audience (aud) names none of the expected audiences");
    }

    /// <summary>Handshake v1 then SaslAuthenticate v2 with the token; the response.</summary>
    private static async Task<SaslAuthenticateResponse> AuthenticateAsync(RawKafkaConnection c, string token, string mechanism = "OAUTHBEARER")
    {
        var handshake = await c.SendAsync<SaslHandshakeResponse>(ApiKeys.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = mechanism });
        Assert.Equal(0, handshake.ErrorCode);
        Assert.Contains("OAUTHBEARER", handshake.Mechanisms);
        return await c.SendAsync<SaslAuthenticateResponse>(ApiKeys.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = TestTokens.ClientMessage(token) });
    }

    [Fact]
    public async Task A_bad_token_gets_the_invalid_token_challenge_and_then_58_and_the_connection_closes()
    {
        await using var c = await RawKafkaConnection.ConnectAsync(fixture.SaslPort);
        string token = TestTokens.Unsigned(TestTokens.Claims("mallory"));
        var first = await AuthenticateAsync(c, token);
        Assert.Equal(0, first.ErrorCode);
        Assert.Equal("{\"status\":\"invalid_token\"}", Encoding.UTF8.GetString(first.AuthBytes));
        var second = await c.SendAsync<SaslAuthenticateResponse>(ApiKeys.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = [1] });
        Assert.Equal((short)ErrorCode.SaslAuthenticationFailed, second.ErrorCode);
        Assert.Contains("the token's algorithm none is not accepted", second.ErrorMessage, StringComparison.Ordinal);
        Assert.True((await c.WaitForCloseAsync(TimeSpan.FromSeconds(10))).Closed, "the connection stays open after a failed authentication");
        Assert.DoesNotContain(token, fixture.Broker.Log(), StringComparison.Ordinal);

        // A message that is not OAUTHBEARER fails at once, with Kafka's generic message.
        await using var d = await RawKafkaConnection.ConnectAsync(fixture.SaslPort);
        await d.SendAsync<SaslHandshakeResponse>(ApiKeys.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "OAUTHBEARER" });
        var garbage = await d.SendAsync<SaslAuthenticateResponse>(ApiKeys.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = new byte[100_000] });
        Assert.Equal((short)ErrorCode.SaslAuthenticationFailed, garbage.ErrorCode);
        Assert.Equal("Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER", garbage.ErrorMessage);
        Assert.True((await d.WaitForCloseAsync(TimeSpan.FromSeconds(10))).Closed);

        // The broker is fine: a good token still gets in.
        await using var e = await RawKafkaConnection.ConnectAsync(fixture.SaslPort);
        Assert.Equal(0, (await AuthenticateAsync(e, fixture.Token("alice"))).ErrorCode);
    }

    [Fact]
    public async Task The_session_lifetime_is_the_token_expiry_and_re_authentication_keeps_the_principal()
    {
        await using var c = await RawKafkaConnection.ConnectAsync(fixture.SaslPort);
        var auth = await AuthenticateAsync(c, fixture.Token("alice", TimeSpan.FromMinutes(10)));
        Assert.Equal(0, auth.ErrorCode);
        // No --sasl-session-lifetime-ms: the session ends with the token, as in Kafka.
        Assert.InRange(auth.SessionLifetimeMs, TimeSpan.FromMinutes(9).TotalMilliseconds, TimeSpan.FromMinutes(10).TotalMilliseconds);
        var metadata = await c.SendAsync<MetadataResponse>(ApiKeys.Metadata, 9, new MetadataRequest { Topics = [] });
        Assert.Single(metadata.Brokers);

        // Re-authentication on the same connection with a fresh token for the same principal.
        var again = await AuthenticateAsync(c, fixture.Token("alice", TimeSpan.FromMinutes(20)));
        Assert.Equal(0, again.ErrorCode);
        Assert.InRange(again.SessionLifetimeMs, TimeSpan.FromMinutes(19).TotalMilliseconds, TimeSpan.FromMinutes(20).TotalMilliseconds);
        Assert.Single((await c.SendAsync<MetadataResponse>(ApiKeys.Metadata, 9, new MetadataRequest { Topics = [] })).Brokers);

        // Another mechanism in a re-authentication fails, as in Kafka.
        await using var m = await RawKafkaConnection.ConnectAsync(fixture.SaslPort);
        Assert.Equal(0, (await AuthenticateAsync(m, fixture.Token("alice"))).ErrorCode);
        var plain = await AuthenticateAsync(m, "x", mechanism: "PLAIN");
        Assert.Equal((short)ErrorCode.SaslAuthenticationFailed, plain.ErrorCode);
        Assert.Contains("not supported for re-authentication of mechanism 'OAUTHBEARER'", plain.ErrorMessage, StringComparison.Ordinal);
        Assert.True((await m.WaitForCloseAsync(TimeSpan.FromSeconds(10))).Closed);

        // Another principal is refused, and the connection closes.
        var other = await AuthenticateAsync(c, fixture.Token("bob"));
        Assert.Equal((short)ErrorCode.SaslAuthenticationFailed, other.ErrorCode);
        Assert.Equal("Cannot change principals during re-authentication from User:alice: User:bob", other.ErrorMessage);
        Assert.True((await c.WaitForCloseAsync(TimeSpan.FromSeconds(10))).Closed, "a re-authentication as another principal left the connection open");
        for (int i = 0; i < 50 && !fixture.Broker.Log().Contains("SASL re-authentication of user bob", StringComparison.Ordinal); i++) await Task.Delay(100);
        await fixture.Broker.AssertLogContainsAsync("SASL re-authentication of user bob");
    }

    [Fact]
    public async Task A_connection_past_its_session_lifetime_is_closed_at_its_next_request()
    {
        // A token that expires in 3 s makes a 3 s session.
        await using var c = await RawKafkaConnection.ConnectAsync(fixture.SaslPort);
        var auth = await AuthenticateAsync(c, fixture.Token("carol", TimeSpan.FromSeconds(3)));
        Assert.Equal(0, auth.ErrorCode);
        Assert.InRange(auth.SessionLifetimeMs, 1, 3_000);
        Assert.Single((await c.SendAsync<MetadataResponse>(ApiKeys.Metadata, 9, new MetadataRequest { Topics = [] })).Brokers);
        await Task.Delay(TimeSpan.FromMilliseconds(auth.SessionLifetimeMs + 500));
        await c.SendFrameAsync(RawKafkaConnection.EncodeRequest(ApiKeys.Metadata, 9, c.NextCorrelationId(), new MetadataRequest { Topics = [] }));
        var (closed, received) = await c.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        Assert.True(closed, "a request after the session expired left the connection open");
        Assert.Equal(0, received);
        for (int i = 0; i < 50 && !fixture.Broker.Log().Contains("session of User:carol expired", StringComparison.Ordinal); i++) await Task.Delay(100);
        await fixture.Broker.AssertLogContainsAsync("its SASL session of User:carol expired without re-authentication");

        // Past its lifetime a connection may still re-authenticate, and then carries on.
        await using var d = await RawKafkaConnection.ConnectAsync(fixture.SaslPort);
        await using var e = await RawKafkaConnection.ConnectAsync(fixture.SaslPort);
        var first = await AuthenticateAsync(d, fixture.Token("carol", TimeSpan.FromSeconds(2)));
        var other = await AuthenticateAsync(e, fixture.Token("carol", TimeSpan.FromSeconds(2)));
        await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(first.SessionLifetimeMs, other.SessionLifetimeMs) + 500));
        var renewed = await AuthenticateAsync(d, fixture.Token("carol"));
        Assert.Equal(0, renewed.ErrorCode);
        Assert.Single((await d.SendAsync<MetadataResponse>(ApiKeys.Metadata, 9, new MetadataRequest { Topics = [] })).Brokers);

        // Handshakes alone do not keep an expired session's connection: a second SaslHandshake
        // instead of the SaslAuthenticate the first one started closes it.
        var handshake = await e.SendAsync<SaslHandshakeResponse>(ApiKeys.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "OAUTHBEARER" });
        Assert.Equal(0, handshake.ErrorCode);
        await e.SendFrameAsync(RawKafkaConnection.EncodeRequest(ApiKeys.SaslHandshake, 1, e.NextCorrelationId(), new SaslHandshakeRequest { Mechanism = "OAUTHBEARER" }));
        var (closedAfterHandshakes, answered) = await e.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        Assert.True(closedAfterHandshakes, "a second SaslHandshake on an expired session left the connection open");
        Assert.Equal(0, answered);
    }

    [Fact]
    public async Task Clients_keep_producing_across_re_authentications_with_a_short_session_lifetime()
    {
        string dir = Directory.CreateTempSubdirectory("kafscale-reauth-").FullName;
        (int saslPort, _) = BrokerProcess.FreePorts();
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions
        {
            GroupInitialRebalanceDelayMs = 0,
            ExtraArguments =
            [
                "--listeners", $"PLAINTEXT://127.0.0.1:{{kafka-port}},SASL_PLAINTEXT://127.0.0.1:{saslPort}",
                .. OAuthBrokerFixture.OAuthArguments(fixture.Idp.WriteJwks(dir)),
                "--sasl-session-lifetime-ms", "3000",
            ],
        });
        try
        {
            // Both clients at once: each spends its 10 s waiting between records.
            await Task.WhenAll(new[] { "confluent-kafka", "kafkajs" }.Select(async client =>
            {
                string topic = $"reauth-{client}-{Guid.NewGuid().ToString("N")[..8]}";
                await RawRequests.CreateTopicAsync(broker, topic, partitions: 1);
                // 20 records over 10 s: at least three session lifetimes.
                var result = await RunClientAsync(client, [.. Arguments(saslPort, topic, fixture.Token("svc-" + client), count: 20), "--spread", "10"]);
                AssertRoundTrip(result, client, 20);
            }));
            string log = broker.Log();
            // kafkajs re-authenticates on its connection; librdkafka either does (2.2 and later) or,
            // older, reconnects when the broker closes its expired session. Either way nothing is lost.
            Assert.Contains("re-authenticated as User:svc-kafkajs with OAUTHBEARER; session lifetime", log, StringComparison.Ordinal);
            int reauthenticated = CountOf(log, "re-authenticated as User:svc-confluent-kafka"), expired = CountOf(log, "session of User:svc-confluent-kafka expired");
            output.WriteLine($"librdkafka re-authentications: {reauthenticated}, expired sessions closed: {expired}; kafkajs re-authentications: {CountOf(log, "re-authenticated as User:svc-kafkajs")}");
            Assert.True(reauthenticated + expired > 0, "the librdkafka client's sessions never reached their lifetime");
            using var http = new HttpClient { BaseAddress = broker.HttpBase, Timeout = TimeSpan.FromSeconds(20) };
            string metrics = await http.GetStringAsync("/metrics");
            Assert.Contains("kafscale_sasl_authentications_total{listener=\"SASL_PLAINTEXT\",mechanism=\"OAUTHBEARER\",result=\"reauthentication\"}", metrics, StringComparison.Ordinal);
        }
        catch (Exception)
        {
            output.WriteLine(broker.Log());
            throw;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int CountOf(string text, string what)
    {
        int n = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    [Fact]
    public async Task OAUTHBEARER_without_a_key_set_is_a_startup_error_naming_the_setting()
    {
        (int port, _) = BrokerProcess.FreePorts();
        string dataDir = Directory.CreateTempSubdirectory("kafscale-oauth-start-").FullName;
        try
        {
            var result = await ClientRunner.RunAsync(RepoPaths.Binary,
                ["broker", "--data-dir", dataDir, "--listeners", $"SASL_PLAINTEXT://127.0.0.1:{port}", "--sasl-mechanisms", "PLAIN,OAUTHBEARER"], timeout: TimeSpan.FromSeconds(30));
            Assert.Equal(2, result.ExitCode);
            string line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("--sasl-oauthbearer-jwks-endpoint-url", line, StringComparison.Ordinal);

            var missing = await ClientRunner.RunAsync(RepoPaths.Binary,
                ["broker", "--data-dir", dataDir, "--listeners", $"SASL_PLAINTEXT://127.0.0.1:{port}", "--http", "127.0.0.1:0",
                 "--sasl-oauthbearer-jwks-endpoint-url", Path.Combine(dataDir, "no-such-jwks.json")], timeout: TimeSpan.FromSeconds(30));
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("cannot use the OAUTHBEARER key set", missing.Stdout + missing.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task A_key_set_url_over_plain_http_starts_the_broker_with_a_warning()
    {
        (int saslPort, int idle) = BrokerProcess.FreePorts();
        await using var broker = await BrokerProcess.StartAsync(new BrokerOptions
        {
            ExtraArguments =
            [
                "--listeners", $"PLAINTEXT://127.0.0.1:{{kafka-port}},SASL_PLAINTEXT://127.0.0.1:{saslPort}",
                .. OAuthBrokerFixture.OAuthArguments($"http://127.0.0.1:{idle}/jwks"),
            ],
        });
        string log = broker.Log();
        Assert.Contains("fetched over plain http (--sasl-oauthbearer-jwks-endpoint-url)", log, StringComparison.Ordinal);
        // Nothing answers there: a warning too, and the broker serves on.
        Assert.Contains("cannot read the OAUTHBEARER key set", log, StringComparison.Ordinal);
    }
}
