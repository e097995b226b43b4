using System.Text;
using System.Text.Json;

namespace KafScale.WebConsole.Tests;

/// <summary>A broker of the built binary with its console, and the HTTP and browser drivers of the tests.</summary>
internal static class ConsoleBroker
{
    public static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public static Task<BrokerProcess> StartAsync(params string[] arguments) =>
        BrokerProcess.StartAsync(new BrokerOptions { DefaultPartitions = 1, LogLevel = "info", ExtraArguments = arguments });

    public static Task<(int Status, JsonElement Body)> SendAsync(BrokerProcess broker, HttpMethod method, string path, string? json = null, string? login = null) =>
        SendAsync(broker.HttpBase, method, path, json, login);

    /// <summary>Sends a request; <paramref name="login"/> is "user:password" for HTTP Basic.</summary>
    public static async Task<(int Status, JsonElement Body)> SendAsync(Uri http, HttpMethod method, string path, string? json = null, string? login = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(http, path));
        if (login is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(login)));
        if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        JsonElement body;
        try { body = JsonDocument.Parse(text).RootElement.Clone(); }
        catch (JsonException) { body = JsonSerializer.SerializeToElement(text); }
        return ((int)response.StatusCode, body);
    }

    public static Task<(int Status, JsonElement Body)> GetAsync(BrokerProcess broker, string path) => SendAsync(broker, HttpMethod.Get, path);

    /// <summary>Runs test/WebConsole.Tests/browser/console.e2e.mjs in headless chromium; its output on failure.</summary>
    public static async Task<ClientResult> BrowserAsync(params string[] args)
    {
        string dir = Path.Combine(RepoPaths.Root, "test", "WebConsole.Tests", "browser");
        return await ClientRunner.RunAsync("node", [Path.Combine(dir, "console.e2e.mjs"), .. args], timeout: TimeSpan.FromMinutes(3));
    }

    /// <summary>Polls until the condition holds (bounded); the tests assert on what they then read, not on time.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? limit = null)
    {
        var deadline = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(60));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"never happened: {what}");
            await Task.Delay(200);
        }
    }
}
