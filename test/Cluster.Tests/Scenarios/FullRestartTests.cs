using System.Globalization;
using KafScale.Cluster.Tests.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>
/// docs/architecture.md, "The write path": every broker of the cluster is killed at once while
/// the acknowledged data of every partition is still unsealed (held in memory and in WAL
/// objects only); the restarted cluster rebuilds each partition from the WAL and loses nothing.
/// </summary>
public sealed class FullRestartTests(ITestOutputHelper output) : ClusterTest(output)
{
    private const int Partitions = 6;

    [Fact]
    public async Task Killing_every_broker_with_unsealed_data_and_restarting_the_cluster_loses_no_acknowledged_record()
    {
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("full-restart");
            await cluster.CreateTopicAsync(topic, Partitions);
            await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, Partitions, rate: 300);
            await producer.WaitForAcksAsync(900, TimeSpan.FromSeconds(60));

            // Sealing waits for segment.ms (minutes): what was acknowledged is unsealed on every broker.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            double unsealed = 0;
            foreach (var b in cluster.Brokers) unsealed += await UnsealedBytesAsync(http, b);
            Assert.True(unsealed > 0, "no broker holds unsealed data, so the scenario would not test the WAL");
            int ackedBeforeKill = producer.AckCount;
            await Task.WhenAll(cluster.Brokers.Select(b => b.Process.KillAsync()));
            await Task.Delay(1000);
            foreach (var b in cluster.Brokers) await b.StartAsync();

            await producer.WaitForAcksAsync(ackedBeforeKill + 600, TimeSpan.FromSeconds(90));
            await producer.StopAsync();
            Assert.True(producer.Errors.Length == 0, $"delivery failures:\n{string.Join('\n', producer.Errors.Take(10))}");
            var stored = await Ledger.ReadAllAsync(cluster.Bootstrap, topic, Partitions);
            Output.WriteLine($"{ackedBeforeKill} records acknowledged before every broker was killed, {unsealed} bytes of them unsealed");
            Output.WriteLine(Ledger.Verify(producer.Acks, stored));
        }, new ClusterOptions { Storage = StorageKind.S3rver });
    }

    private static async Task<double> UnsealedBytesAsync(HttpClient http, BrokerNode broker)
    {
        string metrics = await http.GetStringAsync(new Uri(broker.Http, "metrics"));
        string line = metrics.Split('\n').Single(l => l.StartsWith("kafscale_unsealed_bytes ", StringComparison.Ordinal));
        return double.Parse(line["kafscale_unsealed_bytes ".Length..], CultureInfo.InvariantCulture);
    }
}
