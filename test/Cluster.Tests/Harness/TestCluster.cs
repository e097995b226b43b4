using Xunit;
using Xunit.Abstractions;

namespace KafScale.Cluster.Tests.Harness;

// The cluster itself (TestCluster, BrokerNode, ClusterOptions) is in test/TestSupport, shared with test/Faults.

/// <summary>Tests that start clusters run one at a time: each starts several processes.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "cluster processes";
}

/// <summary>Starts a cluster per test and prints every log when the test fails.</summary>
[Collection(ClusterCollection.Name)]
public abstract class ClusterTest(ITestOutputHelper output)
{
    protected ITestOutputHelper Output => output;

    protected async Task WithClusterAsync(int brokers, Func<TestCluster, Task> body, ClusterOptions? options = null)
    {
        TestCluster cluster = await TestCluster.StartAsync(brokers, options);
        try
        {
            await body(cluster);
        }
        catch (Exception)
        {
            cluster.DumpLogs(output.WriteLine);
            throw;
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    protected static string NewTopic(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
}
