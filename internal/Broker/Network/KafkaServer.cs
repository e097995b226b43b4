using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Network;

/// <summary>Accepts Kafka client connections and runs one <see cref="Connection"/> per socket.</summary>
internal sealed class KafkaServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly RequestDispatcher _dispatcher;
    private readonly BrokerConfig _config;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<Connection> _connections = [];
    private readonly Lock _lock = new();
    private Task _acceptLoop = Task.CompletedTask;

    public KafkaServer(BrokerConfig config, RequestDispatcher dispatcher, ILogger log)
    {
        _config = config;
        _dispatcher = dispatcher;
        _log = log;
        _listener = new Socket(config.Listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(config.Listen);
        _listener.Listen(512);
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndPoint!;
    public int ConnectionCount { get { lock (_lock) return _connections.Count; } }

    public void Start() => _acceptLoop = AcceptLoopAsync(_stop.Token);

    private async Task AcceptLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await _listener.AcceptAsync(ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException ex)
            {
                _log.LogWarning("accept failed: {Error}", ex.SocketErrorCode);
                continue;
            }
            socket.NoDelay = true;
            var connection = new Connection(socket, _dispatcher, _config.MaxRequestBytes, _log);
            lock (_lock) _connections.Add(connection);
            _ = RunAsync(connection);
        }
    }

    private async Task RunAsync(Connection connection)
    {
        try { await connection.RunAsync(_stop.Token).ConfigureAwait(false); }
        catch (Exception ex) { _log.LogDebug("connection {Remote} ended: {Error}", connection.Remote, ex.Message); }
        finally { lock (_lock) _connections.Remove(connection); }
    }

    /// <summary>Stops accepting; connections finish the requests they have read.</summary>
    public async Task StopAcceptingAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        try { await _acceptLoop.ConfigureAwait(false); } catch { }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAcceptingAsync().ConfigureAwait(false);
        Connection[] open;
        lock (_lock) open = [.. _connections];
        foreach (var c in open) await c.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        _stop.Dispose();
    }
}
