using System.Text;
using static KafScale.WebConsole.Tests.ConsoleBroker;

namespace KafScale.WebConsole.Tests;

/// <summary>Any broker's console shows the whole cluster (docs/console.md).</summary>
public sealed class ConsoleClusterTests
{
    [Fact]
    public async Task Each_broker_of_a_cluster_shows_every_broker_reads_partitions_and_sizes_another_broker_holds_and_says_clearly_when_it_went_away()
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

        // Its size comes from the broker that holds it (DescribeLogDirs to every broker).
        var (_, described) = await SendAsync(first, HttpMethod.Get, "ui/api/topics/spread");
        var sizes = described.GetProperty("partitions").EnumerateArray().ToDictionary(p => p.GetProperty("partition").GetInt32(), p => p.GetProperty("size_bytes").GetInt64());
        Assert.True(sizes[remote] > 0, described.ToString());
        Assert.Equal(sizes.Values.Sum(), described.GetProperty("size_bytes").GetInt64());

        // The second broker goes away. Until its lease runs out, its partitions still name it as
        // leader, or no leader once the first broker notices that it stopped answering
        // (docs/architecture.md, "Peers that stop answering"): either way reading one is a clear
        // JSON error (424, retriable: the cluster did not answer), never a stack trace; the
        // topic's page still answers, with the sizes only a live broker reports. Once the first
        // broker has taken the partitions over, reading works again.
        await cluster.Brokers[1].Process.KillAsync();
        var (gone, error) = await SendAsync(first, HttpMethod.Get, $"ui/api/topics/spread/messages?partition={remote}&from=offset&offset=0");
        Assert.True(gone == 424, $"{gone} {error}");
        Assert.Equal(424, error.GetProperty("status").GetInt32());
        Assert.True(error.GetProperty("retriable").GetBoolean());
        string message = error.GetProperty("error").GetString()!;
        Assert.StartsWith("the cluster did not answer: ", message, StringComparison.Ordinal);
        Assert.True(message.Contains("cannot connect", StringComparison.Ordinal) || message.Contains("no leader known", StringComparison.Ordinal), message);
        Assert.DoesNotContain("   at ", message, StringComparison.Ordinal);
        await WaitUntilAsync(async () =>
        {
            var (s, page) = await SendAsync(first, HttpMethod.Get, $"ui/api/topics/spread/messages?partition={remote}&from=offset&offset=0");
            Assert.True(s is 200 or 424 or 409, $"{s} {page}");
            if (s != 200) Assert.False(string.IsNullOrEmpty(page.GetProperty("error").GetString()), page.ToString());
            return s == 200 && page.GetProperty("records").GetArrayLength() == 1;
        }, "the first broker serves the partition the second one led");
    }
}
