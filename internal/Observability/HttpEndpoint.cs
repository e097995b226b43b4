using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace KafScale.Observability;

public readonly record struct HttpReply(int Status, string ContentType, string Body);

/// <summary>
/// A deliberately small HTTP/1.1 server for /metrics, /healthz and /readyz: GET only, one
/// request per connection, bounded request size. Scrapers and probes need nothing more, and
/// it keeps the binary free of a web framework.
/// </summary>
public sealed class HttpEndpoint : IAsyncDisposable
{
    private const int MaxRequestBytes = 8192;
    private readonly Socket _listener;
    private readonly Dictionary<string, Func<HttpReply>> _routes = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly ILogger _log;
    private Task _acceptLoop = Task.CompletedTask;

    public HttpEndpoint(IPEndPoint endpoint, ILogger log)
    {
        _log = log;
        _listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(endpoint);
        _listener.Listen(64);
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public void Map(string path, Func<HttpReply> handler) => _routes[path] = handler;

    public void Start() => _acceptLoop = AcceptLoopAsync(_stop.Token);

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException ex) { _log.LogWarning("http accept failed: {Error}", ex.SocketErrorCode); continue; }
            _ = ServeAsync(client, ct);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken ct)
    {
        using var _ = client;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var buffer = new byte[MaxRequestBytes];
        int filled = 0;
        try
        {
            while (true)
            {
                int n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0) return;
                filled += n;
                if (buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8) >= 0) break;
                if (filled == buffer.Length) { await ReplyAsync(client, new HttpReply(431, "text/plain", "request too large\n"), false, timeout.Token).ConfigureAwait(false); return; }
            }
            var line = Encoding.ASCII.GetString(buffer, 0, buffer.AsSpan(0, filled).IndexOf("\r\n"u8));
            var parts = line.Split(' ');
            if (parts.Length < 3) { await ReplyAsync(client, new HttpReply(400, "text/plain", "bad request\n"), false, timeout.Token).ConfigureAwait(false); return; }
            bool head = parts[0] == "HEAD";
            if (parts[0] != "GET" && !head) { await ReplyAsync(client, new HttpReply(405, "text/plain", "method not allowed\n"), false, timeout.Token).ConfigureAwait(false); return; }
            string path = parts[1];
            int q = path.IndexOf('?');
            if (q >= 0) path = path[..q];
            HttpReply reply;
            if (_routes.TryGetValue(path, out var handler))
            {
                try { reply = handler(); }
                catch (Exception ex) { reply = new HttpReply(500, "text/plain", ex.Message + "\n"); }
            }
            else reply = new HttpReply(404, "text/plain", "not found\n");
            await ReplyAsync(client, reply, head, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        catch (SocketException) { }
    }

    private static async Task ReplyAsync(Socket client, HttpReply reply, bool headOnly, CancellationToken ct)
    {
        byte[] body = Encoding.UTF8.GetBytes(reply.Body);
        string reason = reply.Status switch { 200 => "OK", 404 => "Not Found", 503 => "Service Unavailable", 400 => "Bad Request", 405 => "Method Not Allowed", 431 => "Request Header Fields Too Large", _ => "Error" };
        string header = $"HTTP/1.1 {reply.Status} {reason}\r\nContent-Type: {reply.ContentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await client.SendAsync(Encoding.ASCII.GetBytes(header), SocketFlags.None, ct).ConfigureAwait(false);
        if (!headOnly && body.Length > 0) await client.SendAsync(body, SocketFlags.None, ct).ConfigureAwait(false);
        client.Shutdown(SocketShutdown.Both);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        try { await _acceptLoop.ConfigureAwait(false); } catch { }
        _stop.Dispose();
    }
}
