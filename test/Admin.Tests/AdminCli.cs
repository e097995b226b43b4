using System.Text.Json;
using KafScale.TestSupport;
using Xunit.Sdk;

namespace KafScale.Admin.Tests;

/// <summary>Runs the built binary as <c>kafscale admin ...</c> (a child process, as a user would).</summary>
public static class AdminCli
{
    public static Task<ClientResult> RunAsync(IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null) =>
        ClientRunner.RunAsync(RepoPaths.Binary, args, stdin, timeout ?? TimeSpan.FromSeconds(60));

    /// <summary>Runs <c>kafscale admin ARGS --bootstrap B</c> and expects exit code 0.</summary>
    public static async Task<string> TextAsync(string bootstrap, params string[] args)
    {
        ClientResult result = await RunAsync(["admin", .. args, "--bootstrap", bootstrap]);
        result.EnsureSuccess();
        return result.Stdout;
    }

    /// <summary>Same with --output json; the output must parse as one JSON document.</summary>
    public static async Task<JsonElement> JsonAsync(string bootstrap, params string[] args)
    {
        ClientResult result = await RunAsync(["admin", .. args, "--bootstrap", bootstrap, "--output", "json"]);
        result.EnsureSuccess();
        return Parse(result);
    }

    public static JsonElement Parse(ClientResult result)
    {
        try
        {
            return JsonDocument.Parse(result.Stdout).RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new XunitException($"not JSON ({e.Message}): {result}");
        }
    }

    /// <summary>The rows of the first aligned table in text output whose header starts with <paramref name="firstHeader"/>.</summary>
    public static List<string[]> Table(string text, string firstHeader)
    {
        var rows = new List<string[]>();
        bool inTable = false;
        foreach (string line in text.Split('\n'))
        {
            if (!inTable)
            {
                inTable = line.StartsWith(firstHeader + " ", StringComparison.Ordinal);
                continue;
            }

            if (line.Trim().Length == 0)
            {
                break;
            }

            rows.Add(line.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        }

        return rows;
    }

    /// <summary>The value of a "name  value" line of text output.</summary>
    public static string Field(string text, string name)
    {
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(name + "  ", StringComparison.Ordinal))
            {
                return line[name.Length..].Trim();
            }
        }

        throw new XunitException($"no '{name}' line in:\n{text}");
    }
}

/// <summary>
/// One broker (embedded defaults) shared by the tests of a collection. Its groups rebalance at the
/// first join (no 3 s initial delay): every group here has one member at a time.
/// </summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    public BrokerProcess Broker { get; private set; } = null!;

    public string Bootstrap => Broker.Bootstrap;

    public async Task InitializeAsync() => Broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info", GroupInitialRebalanceDelayMs = 0 });

    public async Task DisposeAsync() => await Broker.DisposeAsync();

    /// <summary>A topic name no other test uses.</summary>
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
}

[CollectionDefinition("broker")]
public sealed class BrokerCollection : ICollectionFixture<BrokerFixture>;
