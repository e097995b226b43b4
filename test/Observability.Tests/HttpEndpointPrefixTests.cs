using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KafScale.Observability.Tests;

/// <summary>The prefix routes the web console uses (docs/console.md).</summary>
public class HttpEndpointPrefixTests
{
    private static async Task<HttpEndpoint> StartAsync()
    {
        var http = new HttpEndpoint(new IPEndPoint(IPAddress.Loopback, 0), NullLogger.Instance);
        http.Map("/metrics", () => new HttpReply(200, "text/plain", "m\n"));
        http.MapPrefix("/", (_, _) => Task.FromResult(HttpResponse.Redirect("ui/")));
        http.MapPrefix("/ui/", (r, _) => Task.FromResult(HttpResponse.Text(200, $"{r.Method} {r.Path} q={r.QueryValue("x")} body={Encoding.UTF8.GetString(r.Body)}")));
        http.Start();
        await Task.CompletedTask;
        return http;
    }

    [Fact]
    public async Task A_prefix_route_gets_method_path_query_and_body_and_exact_routes_keep_priority()
    {
        await using var http = await StartAsync();
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri($"http://127.0.0.1:{http.LocalEndPoint.Port}") };
        var post = await client.PostAsync("/ui/api/topics?x=a%20b", new StringContent("{\"name\":\"t\"}"));
        Assert.Equal("POST /ui/api/topics q=a b body={\"name\":\"t\"}", await post.Content.ReadAsStringAsync());
        var root = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.Found, root.StatusCode);
        Assert.Equal("ui/", root.Headers.Location!.OriginalString);
        Assert.Equal("m\n", await client.GetStringAsync("/metrics"));
        // "/" matches only itself, not every path.
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/elsewhere")).StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await client.PostAsync("/metrics", new StringContent("x"))).StatusCode);
    }

    [Fact]
    public async Task An_oversized_body_is_refused_with_413_and_the_endpoint_keeps_serving()
    {
        await using var http = await StartAsync();
        using (var raw = new TcpClient())
        {
            await raw.ConnectAsync(IPAddress.Loopback, http.LocalEndPoint.Port);
            var stream = raw.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /ui/api/topics HTTP/1.1\r\nContent-Length: {HttpEndpoint.MaxBodyBytes + 1}\r\n\r\n"));
            var buffer = new byte[256];
            int n = await stream.ReadAsync(buffer);
            Assert.StartsWith("HTTP/1.1 413", Encoding.ASCII.GetString(buffer, 0, n));
        }
        using (var raw = new TcpClient())
        {
            await raw.ConnectAsync(IPAddress.Loopback, http.LocalEndPoint.Port);
            var stream = raw.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes("POST /ui/api/topics HTTP/1.1\r\nContent-Length: -5\r\n\r\n"));
            var buffer = new byte[256];
            int n = await stream.ReadAsync(buffer);
            Assert.StartsWith("HTTP/1.1 400", Encoding.ASCII.GetString(buffer, 0, n));
        }
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http.LocalEndPoint.Port}") };
        Assert.Equal("GET /ui/x q= body=", await client.GetStringAsync("/ui/x"));
    }
}
