using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace KafScale.Observability;

public readonly record struct HttpReply(int Status, string ContentType, string Body);

/// <summary>One request as the endpoint read it: method, path (no query), raw query, headers and body.</summary>
public sealed record HttpRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    /// <summary>The decoded value of a query parameter, or null.</summary>
    public string? QueryValue(string name)
    {
        foreach (var pair in Query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            string key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
            if (key == name) return eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
        }
        return null;
    }
}

/// <summary>A reply with a binary body and extra headers (Location, Cache-Control, WWW-Authenticate).</summary>
public sealed record HttpResponse(int Status, string ContentType, ReadOnlyMemory<byte> Body, IReadOnlyList<KeyValuePair<string, string>>? Headers = null)
{
    public static HttpResponse Text(int status, string body) => new(status, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes(body));

    public static HttpResponse Redirect(string location) =>
        new(302, "text/plain; charset=utf-8", Encoding.UTF8.GetBytes("moved\n"), [new("Location", location)]);
}

/// <summary>
/// A deliberately small HTTP/1.1 server for /metrics, /healthz, /readyz and the web console
/// (docs/console.md): one request per connection, bounded request size. Scrapers, probes and a
/// read-mostly console need nothing more, and it keeps the binary free of a web framework.
/// </summary>
public sealed class HttpEndpoint : IAsyncDisposable
{
    private const int MaxHeaderBytes = 8192;
    /// <summary>The largest request body (the console's JSON bodies are small; a test record is at most this).</summary>
    public const int MaxBodyBytes = 1024 * 1024;
    private readonly Socket _listener;
    private readonly ConcurrentDictionary<string, Func<HttpReply>> _routes = new(StringComparer.Ordinal);
    private volatile KeyValuePair<string, Func<HttpRequest, CancellationToken, Task<HttpResponse>>>[] _prefixes = [];
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

    /// <summary>A GET route for exactly this path.</summary>
    public void Map(string path, Func<HttpReply> handler) => _routes[path] = handler;

    /// <summary>
    /// A route for every path equal to <paramref name="prefix"/> or under it, any method; the
    /// longest matching prefix wins. May be added after <see cref="Start"/>.
    /// </summary>
    public void MapPrefix(string prefix, Func<HttpRequest, CancellationToken, Task<HttpResponse>> handler)
    {
        lock (_routes)
        {
            _prefixes = [.. _prefixes.Where(p => p.Key != prefix).Append(new(prefix, handler)).OrderByDescending(p => p.Key.Length)];
        }
    }

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
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var buffer = new byte[MaxHeaderBytes];
        int filled = 0, headerEnd;
        try
        {
            while (true)
            {
                int n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0) return;
                filled += n;
                headerEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
                if (headerEnd >= 0) break;
                if (filled == buffer.Length) { await ReplyAsync(client, HttpResponse.Text(431, "request too large\n"), false, timeout.Token).ConfigureAwait(false); return; }
            }
            var lines = Encoding.ASCII.GetString(buffer, 0, headerEnd).Split("\r\n");
            var parts = lines[0].Split(' ');
            if (parts.Length < 3) { await ReplyAsync(client, HttpResponse.Text(400, "bad request\n"), false, timeout.Token).ConfigureAwait(false); return; }
            string method = parts[0];
            bool head = method == "HEAD";
            string path = parts[1], query = "";
            int q = path.IndexOf('?');
            if (q >= 0) { query = path[(q + 1)..]; path = path[..q]; }

            // Exact routes first; a prefix "/" matches only "/" itself.
            var prefix = _routes.ContainsKey(path) ? default
                : Array.Find(_prefixes, p => path == p.Key || (p.Key.Length > 1 && p.Key.EndsWith('/') && path.StartsWith(p.Key, StringComparison.Ordinal)));
            if (prefix.Value is null)
            {
                HttpReply reply;
                if (method != "GET" && !head) reply = new HttpReply(405, "text/plain", "method not allowed\n");
                else if (_routes.TryGetValue(path, out var handler))
                {
                    try { reply = handler(); }
                    catch (Exception ex) { reply = new HttpReply(500, "text/plain", ex.Message + "\n"); }
                }
                else reply = new HttpReply(404, "text/plain", "not found\n");
                await ReplyAsync(client, new HttpResponse(reply.Status, reply.ContentType, Encoding.UTF8.GetBytes(reply.Body)), head, timeout.Token).ConfigureAwait(false);
                return;
            }

            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in lines.AsSpan(1))
            {
                int colon = line.IndexOf(':');
                if (colon > 0) headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
            long length = 0;
            if (headers.TryGetValue("Content-Length", out var lengthText) && (!long.TryParse(lengthText, out length) || length < 0))
            { await ReplyAsync(client, HttpResponse.Text(400, "bad Content-Length\n"), false, timeout.Token).ConfigureAwait(false); return; }
            if (length > MaxBodyBytes) { await ReplyAsync(client, HttpResponse.Text(413, $"request body over {MaxBodyBytes} bytes\n"), false, timeout.Token).ConfigureAwait(false); return; }
            var body = new byte[length];
            int have = Math.Min(filled - headerEnd - 4, (int)length);
            buffer.AsSpan(headerEnd + 4, have).CopyTo(body);
            while (have < length)
            {
                int n = await client.ReceiveAsync(body.AsMemory(have), SocketFlags.None, timeout.Token).ConfigureAwait(false);
                if (n == 0) return;
                have += n;
            }
            HttpResponse response;
            try { response = await prefix.Value(new HttpRequest(head ? "GET" : method, path, query, headers, body), timeout.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { throw; }
            catch (Exception ex) { response = HttpResponse.Text(500, ex.Message + "\n"); }
            await ReplyAsync(client, response, head, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        catch (SocketException) { }
    }

    private static async Task ReplyAsync(Socket client, HttpResponse reply, bool headOnly, CancellationToken ct)
    {
        string reason = reply.Status switch
        {
            200 => "OK", 201 => "Created", 302 => "Found", 400 => "Bad Request", 401 => "Unauthorized", 403 => "Forbidden", 404 => "Not Found",
            405 => "Method Not Allowed", 413 => "Content Too Large", 415 => "Unsupported Media Type", 431 => "Request Header Fields Too Large", 503 => "Service Unavailable", _ => "Error",
        };
        var header = new StringBuilder($"HTTP/1.1 {reply.Status} {reason}\r\nContent-Type: {reply.ContentType}\r\nContent-Length: {reply.Body.Length}\r\nConnection: close\r\n");
        foreach (var h in reply.Headers ?? []) header.Append(h.Key).Append(": ").Append(h.Value).Append("\r\n");
        header.Append("\r\n");
        // Header and body leave in one send: sent apart, the body's first segment waits under
        // Nagle's algorithm for the ACK of the header, which the client delays (about 40 ms on
        // Linux), a delay every page of the console would see.
        byte[] head = Encoding.ASCII.GetBytes(header.ToString());
        client.NoDelay = true;
        if (headOnly || reply.Body.Length == 0) await client.SendAsync(head, SocketFlags.None, ct).ConfigureAwait(false);
        else await client.SendAsync([new ArraySegment<byte>(head), Segment(reply.Body)], SocketFlags.None).WaitAsync(ct).ConfigureAwait(false);
        client.Shutdown(SocketShutdown.Both);
    }

    private static ArraySegment<byte> Segment(ReadOnlyMemory<byte> body) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(body, out ArraySegment<byte> segment) ? segment : new ArraySegment<byte>(body.ToArray());

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        try { await _acceptLoop.ConfigureAwait(false); } catch { }
        _stop.Dispose();
    }
}
