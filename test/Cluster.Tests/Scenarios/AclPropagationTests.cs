using System.Diagnostics;
using KafScale.Cluster.Tests.Harness;
using KafScale.Protocol;
using KafScale.Protocol.Messages;
using KafScale.TestSupport;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>ACLs live in etcd: one broker's CreateAcls/DeleteAcls reach the other broker's index through its watch.</summary>
public sealed class AclPropagationTests(ITestOutputHelper output) : ClusterTest(output)
{
    private static readonly ClusterOptions AclCluster = new()
    {
        // User:ANONYMOUS (every plaintext connection) is a super user, so these requests may manage ACLs.
        Environment = new Dictionary<string, string> { ["KAFSCALE_AUTHORIZER"] = "acl", ["KAFSCALE_SUPER_USERS"] = "User:ANONYMOUS" },
    };

    private static DescribeAclsRequest ForPrincipal(string principal) => new()
    {
        ResourceTypeFilter = 1,
        ResourceNameFilter = null,
        PatternTypeFilter = 1,
        PrincipalFilter = principal,
        HostFilter = null,
        Operation = 1,
        PermissionType = 1,
    };

    /// <summary>Polls DescribeAcls on a broker until it reports <paramref name="expected"/> ACLs for the principal; the time it took.</summary>
    private static async Task<TimeSpan> WaitForAclsAsync(BrokerNode broker, string principal, int expected, Stopwatch since)
    {
        await using RawKafkaConnection connection = await RawKafkaConnection.ConnectAsync(broker.KafkaPort);
        while (true)
        {
            var response = await connection.SendAsync<DescribeAclsResponse>(ApiKeys.DescribeAcls, 3, ForPrincipal(principal));
            Assert.Equal(0, response.ErrorCode);
            if (response.Resources.Sum(r => r.Acls.Count) == expected) return since.Elapsed;
            if (since.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException($"{broker} did not report {expected} ACL(s) for {principal} in 10 s");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task An_ACL_added_through_one_broker_reaches_the_other_within_a_second_and_so_does_its_removal()
    {
        await WithClusterAsync(2, async cluster =>
        {
            var (a, b) = (cluster.Brokers[0], cluster.Brokers[1]);
            for (int round = 0; round < 3; round++)
            {
                string principal = $"User:p{round}-{Guid.NewGuid():N}"[..20];
                await using (RawKafkaConnection toA = await RawKafkaConnection.ConnectAsync(a.KafkaPort))
                {
                    var create = new CreateAclsRequest
                    {
                        Creations = [new() { ResourceType = 2, ResourceName = "orders-", ResourcePatternType = 4, Principal = principal, Host = "*", Operation = 4, PermissionType = 3 }],
                    };
                    var clock = Stopwatch.StartNew();
                    Assert.Equal(0, (await toA.SendAsync<CreateAclsResponse>(ApiKeys.CreateAcls, 3, create)).Results.Single().ErrorCode);
                    TimeSpan seen = await WaitForAclsAsync(b, principal, 1, clock);
                    Output.WriteLine($"round {round}: broker b reported the ACL {seen.TotalMilliseconds:0} ms after broker a was asked to create it");
                    Assert.True(seen < TimeSpan.FromSeconds(1), $"the ACL took {seen.TotalMilliseconds:0} ms to reach the other broker");
                }

                await using RawKafkaConnection toB = await RawKafkaConnection.ConnectAsync(b.KafkaPort);
                var delete = new DeleteAclsRequest
                {
                    Filters = [new() { ResourceTypeFilter = 1, ResourceNameFilter = null, PatternTypeFilter = 1, PrincipalFilter = principal, HostFilter = null, Operation = 1, PermissionType = 1 }],
                };
                var deleteClock = Stopwatch.StartNew();
                Assert.Single((await toB.SendAsync<DeleteAclsResponse>(ApiKeys.DeleteAcls, 3, delete)).FilterResults.Single().MatchingAcls);
                TimeSpan gone = await WaitForAclsAsync(a, principal, 0, deleteClock);
                Output.WriteLine($"round {round}: broker a dropped the ACL {gone.TotalMilliseconds:0} ms after broker b was asked to delete it");
                Assert.True(gone < TimeSpan.FromSeconds(1), $"the removal took {gone.TotalMilliseconds:0} ms to reach the other broker");
            }
        }, AclCluster);
    }
}
