using System.Text;
using static KafScale.WebConsole.Tests.ConsoleBroker;

namespace KafScale.WebConsole.Tests;

/// <summary>Any broker's console shows the whole cluster (docs/console.md).</summary>
public sealed class ConsoleClusterTests
{
    [Fact]
    public async Task Each_broker_of_a_cluster_shows_every_broker_and_reads_partitions_another_broker_leads()
    {
        await using var cluster = await TestCluster.StartAsync(2, new ClusterOptions { Environment = new Dictionary<string, string> { ["KAFSCALE_CONSOLE_WRITE"] = "true" } });
        Uri first = cluster.Brokers[0].Http, second = cluster.Brokers[1].Http;
        const int Partitions = 16; // rendezvous hashing gives each broker some of them
        var (created, body) = await SendAsync(first, HttpMethod.Post, "ui/api/topics", $$"""{"name":"spread","partitions":{{Partitions}}}""");
        Assert.True(created == 200, body.ToString());

        // Every partition gets a leader; both consoles then agree on who leads what.
        await WaitUntilAsync(async () =>
        {
            var (s, t) = await SendAsync(second, HttpMethod.Get, "ui/api/topics/spread");
            return s == 200 && t.GetProperty("partitions").EnumerateArray().All(p => p.GetProperty("leader").GetInt32() >= 0);
        }, "every partition of spread has a leader");
        foreach (Uri console in new[] { first, second })
        {
            var (_, overview) = await SendAsync(console, HttpMethod.Get, "ui/api/overview");
            var brokers = overview.GetProperty("brokers").EnumerateArray().ToList();
            Assert.Equal([0, 1], brokers.Select(b => b.GetProperty("id").GetInt32()));
            Assert.Equal(Partitions, brokers.Sum(b => b.GetProperty("partitions_led").GetInt32()));
            Assert.All(brokers, b => Assert.True(b.GetProperty("partitions_led").GetInt32() > 0, overview.ToString()));
        }

        // A record in a partition the second broker leads, read through the first broker's console.
        var (_, topic) = await SendAsync(first, HttpMethod.Get, "ui/api/topics/spread");
        int remote = topic.GetProperty("partitions").EnumerateArray().First(p => p.GetProperty("leader").GetInt32() == 1).GetProperty("partition").GetInt32();
        (await new Kcat().ProduceAsync(cluster.Brokers[0].Address, "spread", [new TestRecord("far", "led elsewhere", [], remote)])).EnsureSuccess();
        var (status, page) = await SendAsync(first, HttpMethod.Get, $"ui/api/topics/spread/messages?partition={remote}&from=offset&offset=0");
        Assert.True(status == 200, page.ToString());
        var record = Assert.Single(page.GetProperty("records").EnumerateArray());
        Assert.Equal("led elsewhere", Encoding.UTF8.GetString(record.GetProperty("value").GetBytesFromBase64()));
    }
}
