using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Admin.Tests;

/// <summary>
/// A broker whose object store fails: its /readyz answers 503 and <c>cluster health</c> exits
/// with 10 until the store is back. The store is the broker's own directory store, made
/// unwritable by putting a plain file where its directory was.
/// </summary>
public sealed class HealthOutageTests : IAsyncLifetime
{
    private BrokerProcess _broker = null!;
    private string _objects = null!;

    public async Task InitializeAsync()
    {
        string dir = Path.Combine(Path.GetTempPath(), "kafscale-admin-objects-" + Guid.NewGuid().ToString("N")[..8]);
        _objects = dir;
        _broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info", ExtraArguments = ["--objects-dir", dir] });
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        if (File.Exists(_objects))
        {
            File.Delete(_objects);
        }

        if (Directory.Exists(_objects))
        {
            Directory.Delete(_objects, recursive: true);
        }

        if (Directory.Exists(_objects + ".away"))
        {
            Directory.Delete(_objects + ".away", recursive: true);
        }
    }

    private Task<ClientResult> HealthAsync(bool json) => AdminCli.RunAsync(["admin", "cluster", "health", "--bootstrap", _broker.Bootstrap,
        "--http-port", _broker.HttpPort.ToString(), .. json ? new[] { "--output", "json" } : []]);

    [Fact]
    public async Task ClusterHealth_exits_10_while_the_object_store_is_unavailable_and_0_once_it_is_back()
    {
        await AdminCli.TextAsync(_broker.Bootstrap, "topics", "create", "outage", "--partitions", "1");
        Assert.Equal(0, (await HealthAsync(json: false)).ExitCode);

        Directory.Move(_objects, _objects + ".away");
        await File.WriteAllTextAsync(_objects, "not a directory");
        // A produce makes the broker write (and fail, and retry) until the store is back.
        Task<ClientResult> produce = AdminCli.RunAsync(["admin", "produce", "outage", "--bootstrap", _broker.Bootstrap, "--acks", "1"], "during the outage\n", TimeSpan.FromSeconds(90));

        ClientResult unhealthy = await WaitForAsync(r => r.ExitCode == 10, json: true);
        JsonElement report = AdminCli.Parse(unhealthy);
        Assert.False(report.GetProperty("healthy").GetBoolean());
        JsonElement broker = report.GetProperty("brokers")[0];
        Assert.Equal(503, broker.GetProperty("readyz_status").GetInt32());
        Assert.Equal("unavailable", broker.GetProperty("object_store").GetString());
        Assert.Contains(report.GetProperty("problems").EnumerateArray(), p => p.GetString()!.Contains("object store unavailable"));

        ClientResult text = await HealthAsync(json: false);
        Assert.True(text.ExitCode == 10, $"health changed back during the outage: {text}\n{_broker.Log()}");
        Assert.Equal("UNHEALTHY", AdminCli.Field(text.Stdout, "status"));
        Assert.Contains("503", text.Stdout);

        File.Delete(_objects);
        Directory.Move(_objects + ".away", _objects);
        ClientResult healthy = await WaitForAsync(r => r.ExitCode == 0, json: false);
        Assert.Equal("HEALTHY", AdminCli.Field(healthy.Stdout, "status"));
        await produce;
    }

    private async Task<ClientResult> WaitForAsync(Func<ClientResult, bool> done, bool json)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            ClientResult result = await HealthAsync(json);
            if (done(result))
            {
                return result;
            }

            Assert.True(DateTime.UtcNow < deadline, $"health never changed: {result}\n{_broker.Log()}");
            await Task.Delay(500);
        }
    }
}
