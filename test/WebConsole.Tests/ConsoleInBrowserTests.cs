using System.Text.Json;
using static KafScale.WebConsole.Tests.ConsoleBroker;

namespace KafScale.WebConsole.Tests;

/// <summary>
/// The console of the built binary in a real browser (docs/console.md, "Tests"): data from real
/// producers (kcat) and consumers (kcat in a group), every page and every write action.
/// </summary>
public sealed class ConsoleInBrowserTests
{
    /// <summary>Records of topic orders, produced by kcat with a header; keys order-0 .. order-5.</summary>
    private static async Task ProduceOrdersAsync(BrokerProcess broker)
    {
        var (status, _) = await SendAsync(broker, HttpMethod.Post, "ui/api/topics", """{"name":"orders","partitions":2}""");
        Assert.Equal(200, status);
        var records = Enumerable.Range(0, 6).Select(i => new TestRecord($"order-{i}", $$"""{"id":{{i}},"item":"book"}""", [new Header("source", "kcat")], i % 2)).ToList();
        (await new Kcat().ProduceAsync(broker.Bootstrap, "orders", records)).EnsureSuccess();
    }

    [Fact]
    public async Task Every_page_shows_real_data_and_every_write_action_works_in_a_browser()
    {
        // Seals every second, so the storage page has segments to verify.
        await using var broker = await StartAsync("--console-write", "--segment-ms", "1000");
        await ProduceOrdersAsync(broker);

        // A group that read everything and left, and one whose member stays.
        (await ClientRunner.KcatAsync(["-C", "-b", broker.Bootstrap, "-G", "done-readers", "-e", "-q", "-X", "auto.offset.reset=earliest", "orders"])).EnsureSuccess();
        await using var live = RunningClient.Start(ClientRunner.StartInfo("kcat", ["-C", "-b", broker.Bootstrap, "-G", "live-readers", "-X", "auto.offset.reset=earliest", "orders"]));
        await WaitUntilAsync(async () =>
        {
            var (s, g) = await GetAsync(broker, "ui/api/groups/live-readers");
            return s == 200 && g.GetProperty("state").GetString() == "Stable";
        }, "live-readers is Stable");
        await WaitUntilAsync(async () =>
        {
            var (s, st) = await GetAsync(broker, "ui/api/storage/orders/0");
            return s == 200 && st.GetProperty("segments").GetArrayLength() > 0;
        }, "orders-0 has a sealed segment");

        string shots = Environment.GetEnvironmentVariable("KAFSCALE_CONSOLE_SCREENSHOTS") is { Length: > 0 } dir
            ? dir : Path.Combine(RepoPaths.Root, "out", "console-screenshots");
        // Screenshots of an earlier run must not stand in for this one's.
        foreach (string old in Directory.Exists(shots) ? Directory.GetFiles(shots, "*.png") : []) File.Delete(old);
        var result = await BrowserAsync("write", broker.HttpBase.ToString(), shots);
        Assert.True(result.ExitCode == 0 && !result.TimedOut, result.ToString());
        Assert.Contains("passed", result.Stdout);
        foreach (string page in new[] { "overview", "topics", "topic", "messages", "group", "storage", "overview-phone" })
            Assert.True(File.Exists(Path.Combine(shots, page + ".png")), $"screenshot {page}.png");

        // The API's answer behind the refusal the page showed: 409 with the reason, as JSON.
        var (refused, why) = await SendAsync(broker, HttpMethod.Post, "ui/api/groups/live-readers/reset-offsets", """{"topic":"orders","to":"earliest","execute":true}""");
        Assert.True(refused == 409, why.ToString());
        Assert.Contains("active member(s)", why.GetProperty("error").GetString());

        // What the browser did, seen from outside: the group was reset and the topic it made is gone.
        var (_, group) = await GetAsync(broker, "ui/api/groups/done-readers");
        Assert.All(group.GetProperty("offsets").EnumerateArray(), o => Assert.Equal(0, o.GetProperty("committed_offset").GetInt64()));
        var (_, topics) = await GetAsync(broker, "ui/api/topics");
        Assert.DoesNotContain(topics.GetProperty("topics").EnumerateArray(), t => t.GetProperty("name").GetString() == "console-made");
    }

    [Fact]
    public async Task A_read_only_console_offers_no_write_action_and_the_api_refuses_each_with_403()
    {
        await using var broker = await StartAsync();
        // The broker itself still takes records; only the console is read-only.
        var records = Enumerable.Range(0, 3).Select(i => new TestRecord($"order-{i}", $"v{i}", [new Header("source", "kcat")], 0)).ToList();
        (await new Kcat().ProduceAsync(broker.Bootstrap, "orders", records)).EnsureSuccess();
        (await ClientRunner.KcatAsync(["-C", "-b", broker.Bootstrap, "-G", "g", "-e", "-q", "-X", "auto.offset.reset=earliest", "orders"])).EnsureSuccess();

        var writes = new (HttpMethod Method, string Path, string? Body)[]
        {
            (HttpMethod.Post, "ui/api/topics", """{"name":"x","partitions":1}"""),
            (HttpMethod.Delete, "ui/api/topics/orders", null),
            (HttpMethod.Post, "ui/api/topics/orders/partitions", """{"count":1}"""),
            (HttpMethod.Post, "ui/api/topics/orders/config", """{"set":{"retention.ms":"1000"}}"""),
            (HttpMethod.Post, "ui/api/topics/orders/messages", """{"value":"x"}"""),
            (HttpMethod.Post, "ui/api/groups/g/reset-offsets", """{"topic":"orders","to":"earliest","execute":true}"""),
        };
        foreach (var (method, path, body) in writes)
        {
            var (status, error) = await SendAsync(broker, method, path, body);
            Assert.True(status == 403, $"{method} {path}: {status} {error}");
            Assert.Contains("--console-write", error.GetProperty("error").GetString());
        }

        // A dry run changes nothing, so it is allowed; the topic is untouched.
        var (dry, plan) = await SendAsync(broker, HttpMethod.Post, "ui/api/groups/g/reset-offsets", """{"topic":"orders","to":"earliest"}""");
        Assert.Equal(200, dry);
        Assert.False(plan.GetProperty("executed").GetBoolean());
        var (_, topic) = await GetAsync(broker, "ui/api/topics/orders");
        Assert.Equal(1, topic.GetProperty("partitions").GetArrayLength());
        var (_, committed) = await GetAsync(broker, "ui/api/groups/g");
        Assert.Equal(3, committed.GetProperty("offsets")[0].GetProperty("committed_offset").GetInt64());

        var result = await BrowserAsync("readonly", broker.HttpBase.ToString());
        Assert.True(result.ExitCode == 0 && !result.TimedOut, result.ToString());
    }
}
