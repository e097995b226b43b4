using System.Net;
using KafScale.Cluster.Tests.Harness;
using Xunit;
using Xunit.Abstractions;

namespace KafScale.Cluster.Tests.Scenarios;

/// <summary>The servers brokers depend on go away for a while and come back: brokers recover by themselves, nothing acknowledged is lost.</summary>
public sealed class OutageTests(ITestOutputHelper output) : ClusterTest(output)
{
    private const int Partitions = 6;

    [Fact]
    public async Task Brokers_recover_without_a_restart_when_etcd_stops_for_5_seconds()
    {
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("etcd-outage");
            await cluster.CreateTopicAsync(topic, Partitions);
            var before = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, Partitions, rate: 200);
            await producer.WaitForAcksAsync(400, TimeSpan.FromSeconds(60));

            await cluster.Etcd.StopAsync();
            await Task.Delay(5000);
            await cluster.Etcd.StartAgainAsync();
            long back = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

            await TestCluster.WaitUntilAsync(() => Task.FromResult(producer.FirstAcksAfter(back + 500).Count == Partitions),
                TimeSpan.FromSeconds(40), "acknowledged writes to every partition after etcd came back");
            var firstAcks = producer.FirstAcksAfter(back);
            Output.WriteLine($"every partition writable again {firstAcks.Values.Max(a => a.TimeMs) - back} ms after etcd came back");
            var after = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            Assert.All(cluster.Brokers, b => Assert.True(b.Process.IsRunning, $"{b} exited"));
            // The outage outlasted the leases' deadlines: the brokers stopped writing, then took their partitions up again.
            int lapsed = cluster.Brokers.Count(b => b.Process.Log().Contains("may have lapsed", StringComparison.Ordinal));
            int confirmed = cluster.Brokers.Count(b => b.Process.Log().Contains("confirmed again", StringComparison.Ordinal) || b.Process.Log().Contains("under a new lease", StringComparison.Ordinal));
            Output.WriteLine($"{lapsed} brokers stopped writing when their lease deadline passed; {confirmed} took leadership up again");
            Assert.Equal(3, lapsed);
            Assert.Equal(3, confirmed);
            Output.WriteLine($"leaders before: {string.Join(',', before.OrderBy(k => k.Key).Select(k => k.Value.Leader))}, after: {string.Join(',', after.OrderBy(k => k.Key).Select(k => k.Value.Leader))}");

            await producer.StopAsync();
            Assert.True(producer.Errors.Length == 0, $"delivery failures:\n{string.Join('\n', producer.Errors.Take(10))}");
            var stored = await Ledger.ReadAllAsync(cluster.Bootstrap, topic, Partitions);
            Output.WriteLine(Ledger.Verify(producer.Acks, stored));
        });
    }

    [Fact]
    public async Task When_S3_stops_for_10_seconds_produce_gets_retriable_errors_readyz_answers_503_and_everything_recovers()
    {
        var options = new ClusterOptions
        {
            Storage = StorageKind.S3rver,
            FlushIntervalMs = 50,
            Environment = new Dictionary<string, string> { ["KAFSCALE_S3_HEALTH_WINDOW_SEC"] = "3" },
        };
        await WithClusterAsync(3, async cluster =>
        {
            string topic = NewTopic("s3-outage");
            await cluster.CreateTopicAsync(topic, Partitions);
            var leaders = await cluster.WaitForStableLeadersAsync(topic, TimeSpan.FromSeconds(20));
            await using var producer = ChaosProducer.Start(cluster.Bootstrap, topic, Partitions, rate: 200);
            await producer.WaitForAcksAsync(400, TimeSpan.FromSeconds(60));
            var leader = (await cluster.NodeOfAsync(leaders[0].Leader, cluster.Brokers[0]))!;
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };

            await cluster.S3rver!.StopAsync();
            var down = DateTime.UtcNow;
            await TestCluster.WaitUntilAsync(async () => (await http.GetAsync(new Uri(leader.Http, "readyz"))).StatusCode == HttpStatusCode.ServiceUnavailable,
                TimeSpan.FromSeconds(9), "/readyz 503 on the leader of partition 0");
            string metrics = await http.GetStringAsync(new Uri(leader.Http, "metrics"));
            Assert.Contains("kafscale_s3_health_state{state=\"unavailable\"} 1", metrics);
            var refused = await RawProduce.ProduceAsync(leader, topic, 0, "during-the-outage");
            Output.WriteLine($"produce during the outage: error {refused.Error}");
            Assert.Equal(56, refused.Error); // KAFKA_STORAGE_ERROR: retriable
            var rest = TimeSpan.FromSeconds(10) - (DateTime.UtcNow - down);
            if (rest > TimeSpan.Zero)
                await Task.Delay(rest);

            await cluster.S3rver.StartAgainAsync();
            long back = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            await TestCluster.WaitUntilAsync(async () => (await http.GetAsync(new Uri(leader.Http, "readyz"))).StatusCode == HttpStatusCode.OK,
                TimeSpan.FromSeconds(30), "/readyz 200 again");
            await TestCluster.WaitUntilAsync(() => Task.FromResult(producer.FirstAcksAfter(back + 500).Count == Partitions),
                TimeSpan.FromSeconds(60), "acknowledged writes to every partition after S3 came back");
            Output.WriteLine($"every partition writable again {producer.FirstAcksAfter(back).Values.Max(a => a.TimeMs) - back} ms after S3 came back");
            Assert.Contains("kafscale_s3_health_state{state=\"healthy\"} 1", await http.GetStringAsync(new Uri(leader.Http, "metrics")));

            await producer.StopAsync();
            Assert.True(producer.Errors.Length == 0, $"delivery failures:\n{string.Join('\n', producer.Errors.Take(10))}");
            var stored = await Ledger.ReadAllAsync(cluster.Bootstrap, topic, Partitions);
            Output.WriteLine(Ledger.Verify(producer.Acks, stored));
        }, options);
    }
}
