using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using KafScale.TestSupport;

namespace KafScale.Integration.Security;

/// <summary>
/// An OAuth 2 token endpoint for the client-credentials grant (RFC 6749, section 4.4) on
/// 127.0.0.1, as an identity provider serves it to librdkafka's built-in OIDC client
/// (<c>sasl.oauthbearer.method=oidc</c>; docs/security.md, "OAUTHBEARER"). A POST carrying the
/// expected client id and secret (HTTP Basic) and <c>grant_type=client_credentials</c> gets
/// <c>{"access_token": &lt;a JWT for the subject, signed by the test's keys&gt;, "token_type": "bearer", "expires_in": 3600}</c>;
/// anything else gets 400 or 401. Every request is recorded so a test can see it was asked.
/// </summary>
public sealed class OidcTokenEndpoint : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly TestTokens _idp;
    private readonly string _subject;
    private readonly Task _serving;

    private OidcTokenEndpoint(TestTokens idp, string subject, int port)
    {
        _idp = idp;
        _subject = subject;
        Url = $"http://127.0.0.1:{port}/token";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public string ClientId { get; } = "kafscale-test-client";

    public string ClientSecret { get; } = "s3cret-" + Guid.NewGuid().ToString("N")[..8];

    public string Url { get; }

    /// <summary>Every request: method, path, the Authorization header, the form body, and the status answered.</summary>
    public ConcurrentQueue<(string Method, string Path, string? Authorization, string Body, int Status)> Requests { get; } = new();

    /// <summary>Tokens handed out.</summary>
    public int Issued => Requests.Count(r => r.Status == 200);

    public static OidcTokenEndpoint Start(TestTokens idp, string subject)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        probe.Close();
        return new OidcTokenEndpoint(idp, subject, port);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            string body = await reader.ReadToEndAsync().ConfigureAwait(false);
            string? authorization = context.Request.Headers["Authorization"];
            var (status, answer) = Answer(context.Request.HttpMethod, body, authorization);
            Requests.Enqueue((context.Request.HttpMethod, context.Request.Url!.AbsolutePath, authorization, body, status));
            byte[] bytes = Encoding.UTF8.GetBytes(answer.ToJsonString());
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
            context.Response.Close();
        }
    }

    private (int Status, JsonObject Answer) Answer(string method, string body, string? authorization)
    {
        string expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ClientId}:{ClientSecret}"));
        if (authorization != expected)
        {
            return (401, new JsonObject { ["error"] = "invalid_client" });
        }

        // The form's fields: librdkafka sends grant_type, and scope when one is configured.
        var form = body.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToDictionary(p => Uri.UnescapeDataString(p[0]), p => p.Length > 1 ? Uri.UnescapeDataString(p[1].Replace('+', ' ')) : "");
        if (method != "POST" || form.GetValueOrDefault("grant_type") != "client_credentials")
        {
            return (400, new JsonObject { ["error"] = "unsupported_grant_type" });
        }

        return (200, new JsonObject
        {
            ["access_token"] = _idp.Sign(TestTokens.Claims(_subject)),
            ["token_type"] = "bearer",
            ["expires_in"] = 3600,
        });
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving.ConfigureAwait(false);
    }
}
