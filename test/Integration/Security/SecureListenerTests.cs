using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;
using KafScale.Protocol.Sasl;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Security;

/// <summary>
/// Real clients over SSL, mTLS and SASL_SSL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512): produce,
/// consume in a group, commit. And what a bad client gets: the Kafka error codes, closed
/// connections, log lines and metrics (docs/security.md).
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class SecureListenerTests(SecureBrokerFixture fixture, ITestOutputHelper output) : IClassFixture<SecureBrokerFixture>
{
    public static TheoryData<string, string> Matrix()
    {
        var data = new TheoryData<string, string>();
        foreach (string client in new[] { "kcat", "confluent-kafka", "kafka-python", "kafkajs" })
            foreach (string mode in new[] { "SSL", "mTLS", "SASL_SSL PLAIN", "SASL_SSL SCRAM-SHA-256", "SASL_SSL SCRAM-SHA-512" })
                data.Add(client, mode);
        return data;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task Clients_produce_consume_in_a_group_and_commit_over_secured_listeners(string client, string mode)
    {
        string topic = $"secure-{client}-{Guid.NewGuid().ToString("N")[..8]}";
        await RawRequests.CreateTopicAsync(fixture.Broker, topic, partitions: 1);
        bool sasl = mode.StartsWith("SASL_SSL", StringComparison.Ordinal);
        string? mechanism = sasl ? mode.Split(' ')[1] : null;
        int port = sasl ? fixture.SaslSslPort : fixture.SslPort;
        string bootstrap = $"127.0.0.1:{port}";
        const int Count = 12;
        try
        {
            if (client == "kcat")
            {
                await KcatRoundTripAsync(bootstrap, topic, sasl, mechanism, mode == "mTLS", Count);
                return;
            }

            var args = new List<string> { "--bootstrap", bootstrap, "--topic", topic, "--group", "g-" + topic, "--count", Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--protocol", sasl ? "SASL_SSL" : "SSL", "--ca", fixture.Certificates.Ca };
            if (sasl) args.AddRange(["--mechanism", mechanism!, "--username", "alice", "--password", SecureBrokerFixture.AlicePassword]);
            if (mode == "mTLS") args.AddRange(["--cert", fixture.Certificates.ClientCert, "--key", fixture.Certificates.ClientKey]);
            ClientResult result = client == "kafkajs"
                ? await ClientRunner.NodeAsync("secure_kafkajs.js", args)
                : await ClientRunner.PythonAsync("secure_client.py", ["--client", client, .. args]);
            using var doc = JsonDocument.Parse(LastLine(result));
            Assert.False(doc.RootElement.TryGetProperty("error", out var error), $"{client} {mode}: {error}\n{result.Stderr}");
            var values = doc.RootElement.GetProperty("values").EnumerateArray().Select(v => v.GetString()).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(Enumerable.Range(0, Count).Select(i => $"value-{i}").Order(StringComparer.Ordinal), values);
            Assert.Equal(Count, doc.RootElement.GetProperty("committed").GetProperty("0").GetInt64());
            if (mode == "mTLS")
                await fixture.Broker.AssertLogContainsAsync($"principal User:{TestCertificates.ClientName}");
        }
        catch (Exception)
        {
            output.WriteLine(fixture.Broker.Log());
            throw;
        }
    }

    private async Task KcatRoundTripAsync(string bootstrap, string topic, bool sasl, string? mechanism, bool mtls, int count)
    {
        var security = new List<string> { "-X", $"security.protocol={(sasl ? "SASL_SSL" : "SSL")}", "-X", $"ssl.ca.location={fixture.Certificates.Ca}" };
        // bob has only a SCRAM-SHA-512 credential (PLAIN checks that one); alice has both SCRAM ones.
        var (user, password) = mechanism == "SCRAM-SHA-256" ? ("alice", SecureBrokerFixture.AlicePassword) : ("bob", SecureBrokerFixture.BobPassword);
        if (sasl) security.AddRange(["-X", $"sasl.mechanisms={mechanism}", "-X", $"sasl.username={user}", "-X", $"sasl.password={password}"]);
        if (mtls) security.AddRange(["-X", $"ssl.certificate.location={fixture.Certificates.ClientCert}", "-X", $"ssl.key.location={fixture.Certificates.ClientKey}"]);
        string input = string.Join('\n', Enumerable.Range(0, count).Select(i => $"value-{i}")) + "\n";
        (await ClientRunner.KcatAsync(["-P", "-b", bootstrap, "-t", topic, "-X", "acks=-1", .. security], input)).EnsureSuccess();
        // A balanced consumer in a group; -e ends it at the end of the partition, and closing commits what it read.
        var consumed = await ClientRunner.KcatAsync(["-b", bootstrap, "-G", "g-" + topic, "-X", "auto.offset.reset=earliest", "-e", .. security, topic],
            timeout: TimeSpan.FromSeconds(60));
        consumed.EnsureSuccess();
        var values = consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"value-{i}").Order(StringComparer.Ordinal), values);
        await using var plain = await RawKafkaConnection.ConnectAsync(fixture.Broker.KafkaPort);
        var offsets = await plain.SendAsync<OffsetFetchResponse>(ApiKeys.OffsetFetch, 5, new OffsetFetchRequest
        {
            GroupId = "g-" + topic,
            Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = topic, PartitionIndexes = [0] }],
        });
        Assert.Equal(count, Assert.Single(Assert.Single(offsets.Topics).Partitions).CommittedOffset);
        if (mtls) await fixture.Broker.AssertLogContainsAsync($"principal User:{TestCertificates.ClientName}");
    }

    private static string LastLine(ClientResult result) =>
        result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()
        ?? throw new Xunit.Sdk.XunitException($"no output from {result.CommandLine} (exit {result.ExitCode}, timed out {result.TimedOut}):\n{result.Stderr}");

    [Fact]
    public async Task A_wrong_password_and_an_unknown_user_both_get_58_with_one_message_then_the_connection_closes()
    {
        var messages = new List<string?>();
        foreach (string plain in new[] { "\0alice\0wrong", "\0nobody\0" + SecureBrokerFixture.AlicePassword })
        {
            await using var c = await RawKafkaConnection.ConnectAsync(fixture.SaslPlaintextPort);
            var handshake = await c.SendAsync<SaslHandshakeResponse>(ApiKeys.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "PLAIN" });
            Assert.Equal(0, handshake.ErrorCode);
            var auth = await c.SendAsync<SaslAuthenticateResponse>(ApiKeys.SaslAuthenticate, 2, new SaslAuthenticateRequest { AuthBytes = Encoding.UTF8.GetBytes(plain) });
            Assert.Equal((short)ErrorCode.SaslAuthenticationFailed, auth.ErrorCode);
            messages.Add(auth.ErrorMessage);
            Assert.True((await c.WaitForCloseAsync(TimeSpan.FromSeconds(10))).Closed, "the connection stays open after a failed authentication");
        }
        Assert.Equal("Authentication failed: Invalid username or password", messages[0]);
        Assert.Equal(messages[0], messages[1]);

        // SCRAM: the same answer, at the proof.
        await using var s = await RawKafkaConnection.ConnectAsync(fixture.SaslPlaintextPort);
        await s.SendAsync<SaslHandshakeResponse>(ApiKeys.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "SCRAM-SHA-512" });
        var scram = new ScramClient(ScramMechanism.Sha512, "alice", "not-her-password");
        var first = await s.SendAsync<SaslAuthenticateResponse>(ApiKeys.SaslAuthenticate, 1, new SaslAuthenticateRequest { AuthBytes = scram.ClientFirst() });
        Assert.Equal(0, first.ErrorCode);
        var final = await s.SendAsync<SaslAuthenticateResponse>(ApiKeys.SaslAuthenticate, 1, new SaslAuthenticateRequest { AuthBytes = scram.ClientFinal(first.AuthBytes) });
        Assert.Equal((short)ErrorCode.SaslAuthenticationFailed, final.ErrorCode);
        Assert.Contains("invalid credentials with SASL mechanism SCRAM-SHA-512", final.ErrorMessage, StringComparison.Ordinal);

        string log = fixture.Broker.Log();
        Assert.Contains("SASL authentication of user nobody from 127.0.0.1:", log, StringComparison.Ordinal);
        Assert.DoesNotContain(SecureBrokerFixture.AlicePassword, log, StringComparison.Ordinal);
        Assert.DoesNotContain("not-her-password", log, StringComparison.Ordinal);
        string metrics = await MetricsAsync();
        Assert.Contains("kafscale_sasl_authentications_total{listener=\"SASL_PLAINTEXT\",mechanism=\"PLAIN\",result=\"failure\"}", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_mechanism_not_enabled_gets_33_with_the_enabled_list()
    {
        await using var c = await RawKafkaConnection.ConnectAsync(fixture.SaslPlaintextPort);
        var handshake = await c.SendAsync<SaslHandshakeResponse>(ApiKeys.SaslHandshake, 1, new SaslHandshakeRequest { Mechanism = "GSSAPI" });
        Assert.Equal((short)ErrorCode.UnsupportedSaslMechanism, handshake.ErrorCode);
        Assert.Equal(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], handshake.Mechanisms);
        Assert.True((await c.WaitForCloseAsync(TimeSpan.FromSeconds(10))).Closed);
    }

    [Fact]
    public async Task Only_api_versions_and_the_sasl_exchange_pass_before_authentication()
    {
        await using var c = await RawKafkaConnection.ConnectAsync(fixture.SaslPlaintextPort);
        var versions = await c.SendAsync<ApiVersionsResponse>(ApiKeys.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "it", ClientSoftwareVersion = "1" });
        Assert.Equal(0, versions.ErrorCode);
        Assert.Contains(versions.ApiKeys, k => k.ApiKey == ApiKeys.SaslAuthenticate);
        Assert.Contains(versions.ApiKeys, k => k.ApiKey == ApiKeys.AlterUserScramCredentials);
        await c.SendFrameAsync(RawKafkaConnection.EncodeRequest(ApiKeys.Metadata, 9, c.NextCorrelationId(), new MetadataRequest { Topics = [] }));
        var (closed, received) = await c.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        Assert.True(closed, "a Metadata request before authentication left the connection open");
        Assert.Equal(0, received);
        // The broker's output reaches its log file a moment after the socket closes.
        for (int i = 0; i < 50 && !fixture.Broker.Log().Contains("before SASL authentication completed", StringComparison.Ordinal); i++) await Task.Delay(100);
        await fixture.Broker.AssertLogContainsAsync("before SASL authentication completed");
    }

    [Fact]
    public async Task Before_authentication_a_frame_over_512_KiB_closes_the_connection_unread()
    {
        // Only the length prefix is sent: the broker refuses on it and holds none of the body.
        await using var c = await RawKafkaConnection.ConnectAsync(fixture.SaslPlaintextPort);
        byte[] prefix = new byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(prefix, 512 * 1024 + 1);
        await c.SendRawAsync(prefix);
        var (closed, received) = await c.WaitForCloseAsync(TimeSpan.FromSeconds(10));
        Assert.True(closed, "a 512 KiB + 1 frame before authentication left the connection open");
        Assert.Equal(0, received);

        // On a PLAINTEXT listener the same length is within --max-request-bytes: the broker waits for the body.
        await using var plain = await RawKafkaConnection.ConnectAsync(fixture.Broker.KafkaPort);
        await plain.SendRawAsync(prefix);
        var (plainClosed, _) = await plain.WaitForCloseAsync(TimeSpan.FromSeconds(2));
        Assert.False(plainClosed, "a PLAINTEXT connection was closed for a frame under --max-request-bytes");
    }

    [Fact]
    public async Task Handshake_v0_takes_bare_tokens_and_each_listener_answers_with_its_own_endpoints()
    {
        await using var c = await RawKafkaConnection.ConnectAsync(fixture.SaslPlaintextPort);
        var handshake = await c.SendAsync<SaslHandshakeResponse>(ApiKeys.SaslHandshake, 0, new SaslHandshakeRequest { Mechanism = "PLAIN" });
        Assert.Equal(0, handshake.ErrorCode);
        await c.SendFrameAsync(Encoding.UTF8.GetBytes("\0bob\0" + SecureBrokerFixture.BobPassword));
        // PLAIN's answer is an empty token: a bare frame of length 0.
        Assert.Equal(new byte[4], await c.ReadExactlyAsync(4));
        var metadata = await c.SendAsync<MetadataResponse>(ApiKeys.Metadata, 9, new MetadataRequest { Topics = [] });
        Assert.Equal(fixture.SaslPlaintextPort, Assert.Single(metadata.Brokers).Port);

        await using var plain = await RawKafkaConnection.ConnectAsync(fixture.Broker.KafkaPort);
        var plainMetadata = await plain.SendAsync<MetadataResponse>(ApiKeys.Metadata, 9, new MetadataRequest { Topics = [] });
        Assert.Equal(fixture.Broker.KafkaPort, Assert.Single(plainMetadata.Brokers).Port);
        var coordinator = await plain.SendAsync<FindCoordinatorResponse>(ApiKeys.FindCoordinator, 3, new FindCoordinatorRequest { Key = "g", KeyType = 0 });
        Assert.Equal(fixture.Broker.KafkaPort, coordinator.Port);

        await using var tls = await RawKafkaConnection.ConnectTlsAsync(fixture.SslPort);
        var tlsMetadata = await tls.SendAsync<MetadataResponse>(ApiKeys.Metadata, 9, new MetadataRequest { Topics = [] });
        Assert.Equal(fixture.SslPort, Assert.Single(tlsMetadata.Brokers).Port);
        var cluster = await tls.SendAsync<DescribeClusterResponse>(ApiKeys.DescribeCluster, 0, new DescribeClusterRequest());
        Assert.Equal(fixture.SslPort, Assert.Single(cluster.Brokers).Port);
    }

    [Fact]
    public async Task A_connection_closed_before_sending_a_byte_is_not_logged_as_a_failed_handshake()
    {
        // What a peer broker's liveness check or a load balancer's TCP check does.
        int silent;
        using (var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp))
        {
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, fixture.SslPort);
            silent = ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
        }

        // Then a plaintext client, whose failed handshake is logged: once its line is there, the
        // connection before it has been judged too.
        int plain;
        using (var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp))
        {
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, fixture.SslPort);
            plain = ((System.Net.IPEndPoint)socket.LocalEndPoint!).Port;
            await socket.SendAsync(RawKafkaConnection.EncodeRequest(ApiKeys.ApiVersions, 0, 1, new ApiVersionsRequest()));
            await fixture.Broker.AssertLogContainsAsync($"TLS handshake with 127.0.0.1:{plain} ");
        }

        Assert.DoesNotContain($"TLS handshake with 127.0.0.1:{silent} ", fixture.Broker.Log(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plaintext_client_on_a_tls_port_is_closed_and_counted()
    {
        await using var c = await RawKafkaConnection.ConnectAsync(fixture.SslPort);
        await c.SendFrameAsync(RawKafkaConnection.EncodeRequest(ApiKeys.ApiVersions, 0, c.NextCorrelationId(), new ApiVersionsRequest()));
        Assert.True((await c.WaitForCloseAsync(TimeSpan.FromSeconds(15))).Closed);
        string metrics = await MetricsAsync();
        Assert.Contains("kafscale_tls_handshake_failures_total{listener=\"SSL\"}", metrics, StringComparison.Ordinal);
        await fixture.Broker.AssertLogContainsAsync("TLS handshake with 127.0.0.1:");
        // The broker is fine: a TLS client still gets in.
        await using var tls = await RawKafkaConnection.ConnectTlsAsync(fixture.SslPort);
        Assert.Equal(0, (await tls.SendAsync<ApiVersionsResponse>(ApiKeys.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "it", ClientSoftwareVersion = "1" })).ErrorCode);
    }

    [Fact]
    public async Task Admin_users_lists_sets_and_deletes_and_bad_credentials_get_kafkas_codes()
    {
        var list = await fixture.AdminAsync("users", "list", "--output", "json");
        list.EnsureSuccess();
        using (var doc = JsonDocument.Parse(list.Stdout))
        {
            var alice = doc.RootElement.EnumerateArray().Single(u => u.GetProperty("user").GetString() == "alice");
            Assert.Equal(["SCRAM-SHA-256", "SCRAM-SHA-512"], alice.GetProperty("credentials").EnumerateArray().Select(c => c.GetProperty("mechanism").GetString()!));
            Assert.All(alice.GetProperty("credentials").EnumerateArray(), c => Assert.Equal(4096, c.GetProperty("iterations").GetInt32()));
        }

        (await fixture.AdminAsync("users", "set", "carol", "--mechanism", "SCRAM-SHA-256", "--password", "c", "--iterations", "8192")).EnsureSuccess();
        var carol = await fixture.AdminAtAsync($"127.0.0.1:{fixture.SaslSslPort}", "--security-protocol", "SASL_SSL", "--tls-ca", fixture.Certificates.Ca,
            "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "carol", "--sasl-password", "c", "cluster", "info");
        carol.EnsureSuccess();
        (await fixture.AdminAsync("users", "delete", "carol", "--mechanism", "SCRAM-SHA-256")).EnsureSuccess();
        var gone = await fixture.AdminAtAsync($"127.0.0.1:{fixture.SaslSslPort}", "--security-protocol", "SASL_SSL", "--tls-ca", fixture.Certificates.Ca,
            "--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "carol", "--sasl-password", "c", "cluster", "info");
        Assert.Equal(1, gone.ExitCode);
        Assert.Contains("Authentication failed", gone.Stderr, StringComparison.Ordinal);

        var again = await fixture.AdminAsync("users", "delete", "carol", "--mechanism", "SCRAM-SHA-256");
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("RESOURCE_NOT_FOUND", again.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, (await fixture.AdminAsync("users", "set", "dave", "--mechanism", "SCRAM-SHA-1", "--password", "x")).ExitCode);

        // Straight to the broker: what Kafka's own checks answer.
        await using var c = await RawKafkaConnection.ConnectAsync(fixture.Broker.KafkaPort);
        var alter = await c.SendAsync<AlterUserScramCredentialsResponse>(ApiKeys.AlterUserScramCredentials, 0, new AlterUserScramCredentialsRequest
        {
            Upsertions =
            [
                new() { Name = "erin", Mechanism = 1, Iterations = 1000, Salt = [1], SaltedPassword = new byte[32] },
                new() { Name = "frank", Mechanism = 9, Iterations = 4096, Salt = [1], SaltedPassword = new byte[32] },
                new() { Name = "", Mechanism = 1, Iterations = 4096, Salt = [1], SaltedPassword = new byte[32] },
            ],
            Deletions = [new() { Name = "nobody", Mechanism = 2 }],
        });
        var codes = alter.Results.ToDictionary(r => r.User, r => (ErrorCode)r.ErrorCode);
        Assert.Equal(ErrorCode.UnacceptableCredential, codes["erin"]);
        Assert.Equal(ErrorCode.UnsupportedSaslMechanism, codes["frank"]);
        Assert.Equal(ErrorCode.UnacceptableCredential, codes[""]);
        Assert.Equal(ErrorCode.ResourceNotFound, codes["nobody"]);
        var describe = await c.SendAsync<DescribeUserScramCredentialsResponse>(ApiKeys.DescribeUserScramCredentials, 0, new DescribeUserScramCredentialsRequest
        {
            Users = [new() { Name = "bob" }, new() { Name = "erin" }, new() { Name = "x" }, new() { Name = "x" }],
        });
        var results = describe.Results.ToDictionary(r => r.User);
        Assert.Equal(0, results["bob"].ErrorCode);
        Assert.Equal(4096, Assert.Single(results["bob"].CredentialInfos, i => i.Mechanism == 2).Iterations);
        Assert.Equal((short)ErrorCode.ResourceNotFound, results["erin"].ErrorCode);
        Assert.Equal((short)ErrorCode.DuplicateResource, results["x"].ErrorCode);
    }

    [Fact]
    public async Task A_client_with_a_wrong_password_fails_with_an_authentication_error()
    {
        string topic = $"secure-bad-{Guid.NewGuid().ToString("N")[..8]}";
        var result = await ClientRunner.PythonAsync("secure_client.py",
        [
            "--client", "confluent-kafka", "--bootstrap", $"127.0.0.1:{fixture.SaslSslPort}", "--topic", topic, "--group", "g", "--count", "1",
            "--protocol", "SASL_SSL", "--mechanism", "SCRAM-SHA-256", "--username", "alice", "--password", "wrong", "--ca", fixture.Certificates.Ca, "--timeout", "8",
        ]);
        using var doc = JsonDocument.Parse(LastLine(result));
        string error = doc.RootElement.GetProperty("error").GetString()!;
        Assert.True(error.Contains("Authentication failed", StringComparison.Ordinal), error + "\n" + result.Stderr);
    }

    private async Task<string> MetricsAsync()
    {
        using var http = new HttpClient { BaseAddress = fixture.Broker.HttpBase, Timeout = TimeSpan.FromSeconds(20) };
        return await http.GetStringAsync("/metrics");
    }
}
