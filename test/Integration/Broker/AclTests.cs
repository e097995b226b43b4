using System.Text.Json;
using KafScale.Integration.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Broker;

/// <summary>
/// The authorizer in the built binary, with real clients. Every connection here is plaintext, so
/// its principal is User:ANONYMOUS (docs/security.md): the tests grant and deny that principal.
/// </summary>
public sealed class AclTests(ITestOutputHelper output) : BrokerTest(output)
{
    private const int TopicAuthorizationFailed = 29;
    private const int GroupAuthorizationFailed = 30;
    private const int ClusterAuthorizationFailed = 31;

    /// <summary>The group.id the confluent-kafka driver's consumer sets (it commits nothing).</summary>
    private const string ConsumerGroup = "kafscale-test-unused-group";

    private static readonly string[] AclOn = ["--authorizer", "acl"];
    private static readonly string[] AnonymousSuperUser = ["--authorizer", "acl", "--super-users", "User:ANONYMOUS"];

    private static Task<ClientResult> AdminAsync(BrokerProcess broker, params string[] args) =>
        ClientRunner.RunAsync(RepoPaths.Binary, ["admin", .. args, "--bootstrap", broker.Bootstrap], timeout: TimeSpan.FromSeconds(60));

    private static IReadOnlyList<TestRecord> Records(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new TestRecord($"k{i}", $"v{i}", [], 0))];

    private static async Task<ClientResult> ConfluentProduceAsync(BrokerProcess broker, string topic) =>
        await KafkaClient.Script("confluent-kafka").ProduceAsync(broker.Bootstrap, topic, Records(3));

    private static async Task<ClientResult> ConfluentConsumeAsync(BrokerProcess broker, string topic) =>
        await KafkaClient.Script("confluent-kafka").RunAsync("consume", broker.Bootstrap, topic, ["--partition", "0"]);

    private static int[] ErrorCodes(ClientResult result) =>
        [.. result.Lines("error").Select(e => e.GetProperty("error_code").GetInt32())];

    [Fact]
    public async Task With_the_authorizer_on_and_no_ACLs_real_clients_are_denied_with_29_30_and_31()
    {
        await WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("acl-none");
            ClientResult produced = await ConfluentProduceAsync(broker, topic);
            Assert.True(produced.ExitCode != 0, $"produce without ACLs succeeded: {produced}");
            Assert.All(ErrorCodes(produced), code => Assert.Equal(TopicAuthorizationFailed, code));
            Assert.NotEmpty(ErrorCodes(produced));

            // librdkafka turns a topic its Metadata may not describe into an unknown partition.
            ClientResult consumed = await ConfluentConsumeAsync(broker, topic);
            Assert.True(consumed.ExitCode != 0, $"consume without ACLs succeeded: {consumed}");
            Assert.Empty(consumed.Lines("record"));

            await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            var join = new JoinGroupRequest
            {
                GroupId = "acl-group",
                SessionTimeoutMs = 10_000,
                RebalanceTimeoutMs = 10_000,
                MemberId = "",
                ProtocolType = "consumer",
                Protocols = [new JoinGroupRequest.JoinGroupRequestProtocol { Name = "range", Metadata = [0, 1, 0, 0, 0, 0, 255, 255, 255, 255] }],
            };
            Assert.Equal(GroupAuthorizationFailed, (await connection.SendAsync<JoinGroupResponse>(ApiKeys.JoinGroup, 9, join)).ErrorCode);

            ClientResult add = await AdminAsync(broker, "acls", "add", "--principal", "User:ANONYMOUS", "--operation", "all", "--cluster");
            Assert.Equal(1, add.ExitCode);
            Assert.Contains("CLUSTER_AUTHORIZATION_FAILED", add.Stderr + add.Stdout);
            Assert.Contains("TOPIC:DESCRIBE", await DeniedMetricsAsync(broker));
            await using RawKafkaConnection again = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
            var describeCluster = await again.SendAsync<DescribeClusterResponse>(ApiKeys.DescribeCluster, 1, new DescribeClusterRequest());
            Assert.Equal(ClusterAuthorizationFailed, describeCluster.ErrorCode);
        }, new BrokerOptions { ExtraArguments = AclOn });
    }

    /// <summary>The denial counters as TYPE:OPERATION, from /metrics.</summary>
    private static async Task<string> DeniedMetricsAsync(BrokerProcess broker)
    {
        using var http = new HttpClient();
        string metrics = await http.GetStringAsync(new Uri(broker.HttpBase, "metrics"));
        return string.Join(' ', metrics.Split('\n')
            .Where(l => l.StartsWith("kafscale_authorization_denied_total{", StringComparison.Ordinal) && !l.EndsWith(" 0", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, "resource_type=\"([A-Z_]+)\",operation=\"([A-Z_]+)\""))
            .Select(m => $"{m.Groups[1].Value}:{m.Groups[2].Value}"));
    }

    [Fact]
    public async Task ACLs_added_with_the_admin_CLI_survive_a_restart_and_allow_exactly_what_they_say()
    {
        string writable = NewTopic("acl-w");
        string other = NewTopic("acl-o");
        string dataDir;
        BrokerProcess first = await BrokerProcess.StartAsync(new BrokerOptions { ExtraArguments = AnonymousSuperUser });
        try
        {
            // A super user may do anything: create topics, produce and consume.
            await RawRequests.CreateTopicAsync(first, writable, 1);
            await RawRequests.CreateTopicAsync(first, other, 1);
            (await ConfluentProduceAsync(first, other)).EnsureSuccess();
            ClientResult consumed = await ConfluentConsumeAsync(first, other);
            Assert.Equal(3, consumed.Lines("record").Count);

            // Round trip through the admin CLI: add, list (text and json), remove.
            (await AdminAsync(first, "acls", "add", "--principal", "User:ANONYMOUS", "--operation", "write", "--topic", writable)).EnsureSuccess();
            (await AdminAsync(first, "acls", "add", "--principal", "User:ANONYMOUS", "--operation", "read", "--topic", other, "--host", "10.9.9.9")).EnsureSuccess();
            (await AdminAsync(first, "acls", "add", "--principal", "User:nobody", "--operation", "read", "--group", "g-", "--prefixed", "--deny")).EnsureSuccess();
            // The test consumer names a group (librdkafka needs one) and looks up its coordinator.
            (await AdminAsync(first, "acls", "add", "--principal", "User:ANONYMOUS", "--operation", "read", "--group", ConsumerGroup)).EnsureSuccess();
            ClientResult listed = (await AdminAsync(first, "acls", "list", "--output", "json")).EnsureSuccess();
            var acls = JsonDocument.Parse(listed.Stdout).RootElement.EnumerateArray()
                .Select(a => $"{a.GetProperty("principal").GetString()} {a.GetProperty("permission").GetString()} {a.GetProperty("operation").GetString()} {a.GetProperty("resource_type").GetString()}:{a.GetProperty("resource_name").GetString()} {a.GetProperty("pattern_type").GetString()} {a.GetProperty("host").GetString()}")
                .Order(StringComparer.Ordinal).ToArray();
            Assert.Equal(
                new[]
                {
                    $"User:ANONYMOUS ALLOW READ GROUP:{ConsumerGroup} LITERAL *",
                    $"User:ANONYMOUS ALLOW READ TOPIC:{other} LITERAL 10.9.9.9",
                    $"User:ANONYMOUS ALLOW WRITE TOPIC:{writable} LITERAL *",
                    "User:nobody DENY READ GROUP:g- PREFIXED *",
                }.Order(StringComparer.Ordinal),
                acls);
            string text = (await AdminAsync(first, "acls", "list", "--principal", "User:nobody")).EnsureSuccess().Stdout;
            Assert.Contains("PRINCIPAL", text);
            Assert.Contains("g-", text);
            Assert.DoesNotContain(writable, text);
            ClientResult removed = (await AdminAsync(first, "acls", "remove", "--principal", "User:nobody", "--group", "g-", "--prefixed")).EnsureSuccess();
            Assert.Contains("removed 1 ACL(s)", removed.Stdout);
            ClientResult usage = await AdminAsync(first, "acls", "remove");
            Assert.Equal(2, usage.ExitCode);

            Assert.Equal(0, await first.TerminateAsync());
            dataDir = first.DataDir;

            // The same data directory, the authorizer on, no super user: only the ACLs decide.
            BrokerProcess second = await BrokerProcess.StartAsync(new BrokerOptions { ExtraArguments = AclOn, SeedDataDir = dataDir });
            try
            {
                (await ConfluentProduceAsync(second, writable)).EnsureSuccess();
                // WRITE implies DESCRIBE, so the consumer finds the partition; its Fetch is refused.
                ClientResult readBack = await ConfluentConsumeAsync(second, writable);
                Assert.True(readBack.ExitCode != 0, $"read without READ succeeded: {readBack}");
                Assert.Equal([TopicAuthorizationFailed], ErrorCodes(readBack));
                Assert.Empty(readBack.Lines("record"));
                ClientResult wrongTopic = await ConfluentProduceAsync(second, other);
                Assert.True(wrongTopic.ExitCode != 0, $"produce to a topic without WRITE succeeded: {wrongTopic}");
                Assert.All(ErrorCodes(wrongTopic), code => Assert.Equal(TopicAuthorizationFailed, code));
                // READ on the other topic names host 10.9.9.9; this client connects from 127.0.0.1.
                ClientResult wrongHost = await ConfluentConsumeAsync(second, other);
                Assert.True(wrongHost.ExitCode != 0, $"read from a host the ACL does not name succeeded: {wrongHost}");
                Assert.Empty(wrongHost.Lines("record"));
                string denied = await DeniedMetricsAsync(second);
                Assert.Contains("TOPIC:DESCRIBE", denied);
                Assert.Contains("TOPIC:READ", denied);
                ClientResult stillListed = await AdminAsync(second, "acls", "list");
                Assert.Equal(1, stillListed.ExitCode);
                Assert.Contains("CLUSTER_AUTHORIZATION_FAILED", stillListed.Stderr + stillListed.Stdout);
            }
            catch (Exception)
            {
                Output.WriteLine(second.Log());
                throw;
            }
            finally
            {
                await second.DisposeAsync();
            }
        }
        catch (Exception)
        {
            Output.WriteLine(first.Log());
            throw;
        }
        finally
        {
            await first.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_super_user_bypasses_even_a_DENY_for_every_user()
    {
        await WithBrokerAsync(async broker =>
        {
            string topic = NewTopic("acl-su");
            // Auto-created by the producer's Metadata: a super user has CREATE.
            (await ConfluentProduceAsync(broker, topic)).EnsureSuccess();
            Assert.Equal(3, (await ConfluentConsumeAsync(broker, topic)).Lines("record").Count);
            (await AdminAsync(broker, "acls", "add", "--principal", "User:*", "--operation", "all", "--topic", topic, "--deny")).EnsureSuccess();
            // A DENY for every user does not touch a super user.
            (await ConfluentProduceAsync(broker, topic)).EnsureSuccess();
            Assert.Equal(6, (await ConfluentConsumeAsync(broker, topic)).Lines("record").Count);
        }, new BrokerOptions { ExtraArguments = AnonymousSuperUser });
    }
}
