using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KafScale.Faults;

/// <summary>What the store proxy does to a request it picked for a fault.</summary>
public enum StoreFault
{
    /// <summary>Every request passes unchanged.</summary>
    None,
    /// <summary>Answered 500 InternalError or 503 SlowDown without reaching the store.</summary>
    ServerError,
    /// <summary>Held 0.2-2 s before it is passed on.</summary>
    Latency,
    /// <summary>The connection is reset: half before the store saw the request, half after the store applied it (an outcome the broker cannot know).</summary>
    Reset,
}

/// <summary>
/// The in-process fake of the suite, for what no real part can do: an HTTP proxy in front of
/// s3rver that answers some requests with 5xx, delays them, or resets the connection (also after
/// the store applied the request). Everything else goes to s3rver unchanged, one request per
/// connection, so every request is a separate decision.
/// </summary>
public sealed class StoreProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _random;
    private readonly Lock _randomLock = new();
    private Task? _accepting;
    private string _upstreamHost = "127.0.0.1";
    private int _upstreamPort;
    private volatile StoreFault _fault;
    private long _requests, _injected;

    public StoreProxy(int seed)
    {
        _random = new Random(seed);
        _listener = new TcpListener(IPAddress.Loopback, 0);
    }

    /// <summary>The share of requests a fault applies to while one is on.</summary>
    public double FaultRate { get; set; } = 0.3;

    public StoreFault Fault { get => _fault; set => _fault = value; }

    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Requests that got a fault.</summary>
    public long Injected => Interlocked.Read(ref _injected);

    /// <summary>Starts forwarding to the store at <paramref name="upstream"/>; returns the proxy's own endpoint.</summary>
    public string Start(string upstream)
    {
        var uri = new Uri(upstream);
        _upstreamHost = uri.Host;
        _upstreamPort = uri.Port;
        _listener.Start();
        _accepting = AcceptAsync();
        return $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException) { return; }
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private double NextDouble()
    {
        lock (_randomLock) return _random.NextDouble();
    }

    private async Task HandleAsync(TcpClient client)
    {
        try
        {
            using var _ = client;
            var stream = client.GetStream();
            var (head, body) = await ReadRequestAsync(stream);
            if (head is null) return;
            Interlocked.Increment(ref _requests);
            StoreFault fault = _fault;
            bool inject = fault != StoreFault.None && NextDouble() < FaultRate;
            if (inject) Interlocked.Increment(ref _injected);
            if (inject && fault == StoreFault.ServerError)
            {
                bool slowDown = NextDouble() < 0.5;
                string xml = slowDown
                    ? "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                    : "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>";
                string status = slowDown ? "503 Slow Down" : "500 Internal Server Error";
                byte[] answer = Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {xml.Length}\r\nConnection: close\r\n\r\n{xml}");
                await stream.WriteAsync(answer);
                return;
            }
            bool resetAfter = false;
            if (inject && fault == StoreFault.Latency) await Task.Delay(TimeSpan.FromMilliseconds(200 + (NextDouble() * 1800)));
            if (inject && fault == StoreFault.Reset)
            {
                if (NextDouble() < 0.5)
                {
                    Reset(client);
                    return;
                }
                resetAfter = true;
            }
            byte[] response = await ForwardAsync(head, body);
            if (resetAfter)
            {
                Reset(client);
                return;
            }
            await stream.WriteAsync(response);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException or FormatException or OverflowException) { }
    }

    /// <summary>Closing with a zero linger time sends RST instead of FIN.</summary>
    private static void Reset(TcpClient client)
    {
        client.Client.LingerState = new LingerOption(true, 0);
        client.Client.Close();
    }

    /// <summary>Sends the request to the store on a fresh connection asking it to close after answering, and returns the whole answer.</summary>
    private async Task<byte[]> ForwardAsync(string head, byte[] body)
    {
        using var upstream = new TcpClient();
        await upstream.ConnectAsync(_upstreamHost, _upstreamPort);
        var stream = upstream.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(body);
        using var response = new MemoryStream();
        await stream.CopyToAsync(response);
        return response.ToArray();
    }

    /// <summary>
    /// Reads one request: its head, rewritten to close the connection after the answer and without
    /// Expect (the proxy answers 100 Continue itself), and its body of Content-Length bytes.
    /// </summary>
    private static async Task<(string? Head, byte[] Body)> ReadRequestAsync(NetworkStream stream)
    {
        var buffer = new byte[64 * 1024];
        int filled = 0, headEnd;
        while ((headEnd = IndexOfHeadEnd(buffer, filled)) < 0)
        {
            if (filled == buffer.Length) throw new InvalidDataException("request head over 64 KiB");
            int n = await stream.ReadAsync(buffer.AsMemory(filled));
            if (n == 0) return (null, []);
            filled += n;
        }
        string[] lines = Encoding.ASCII.GetString(buffer, 0, headEnd).Split("\r\n");
        var head = new StringBuilder(lines[0]).Append("\r\n");
        long length = 0;
        bool expectContinue = false;
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            if (colon <= 0) continue;
            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)) length = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)) throw new InvalidDataException("chunked requests are not proxied");
            if (name.Equals("Expect", StringComparison.OrdinalIgnoreCase)) { expectContinue = true; continue; }
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase)) continue;
            head.Append(line).Append("\r\n");
        }
        head.Append("Connection: close\r\n\r\n");
        if (expectContinue) await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray());
        var body = new byte[length];
        int have = Math.Min(filled - (headEnd + 4), body.Length);
        Array.Copy(buffer, headEnd + 4, body, 0, have);
        while (have < body.Length)
        {
            int n = await stream.ReadAsync(body.AsMemory(have));
            if (n == 0) throw new IOException("the client closed the connection in the middle of a request body");
            have += n;
        }
        return (head.ToString(), body);
    }

    private static int IndexOfHeadEnd(byte[] buffer, int filled) => buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        if (_accepting is not null) await _accepting;
        _stop.Dispose();
    }
}
