using System.Net;
using System.Net.Sockets;
using KafScale.Broker.Security;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Network;

/// <summary>
/// One Kafka listener: accepts client connections and runs one <see cref="Connection"/> per
/// socket. It binds when constructed (so the port is known before the broker registers its
/// endpoints) and accepts from <see cref="Start"/>.
/// </summary>
internal sealed class KafkaServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly ListenerRuntime _runtime;
    private readonly int _maxRequestBytes;
    private readonly ILogger _log;
    private RequestDispatcher _dispatcher = null!;
    private readonly CancellationTokenSource _stop = new();
    private readonly HashSet<Connection> _connections = [];
    private readonly Lock _lock = new();
    private Task _acceptLoop = Task.CompletedTask;

    public KafkaServer(ListenerRuntime runtime, int maxRequestBytes, ILogger log)
    {
        _runtime = runtime;
        _maxRequestBytes = maxRequestBytes;
        _log = log;
        _listener = new Socket(runtime.Config.Bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Bound now (a port 0 listener learns its port for the advertised endpoint), listening
            // only from Start: a client that connects before the broker is ready is refused, not held.
            _listener.Bind(runtime.Config.Bind);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
    }

    public ListenerConfig Listener => _runtime.Config;
    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndPoint!;
    public int ConnectionCount { get { lock (_lock) return _connections.Count; } }

    public void Start(RequestDispatcher dispatcher)
    {
        _dispatcher = dispatcher;
        _listener.Listen(512);
        _acceptLoop = AcceptLoopAsync(_stop.Token);
    }

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
            var connection = new Connection(socket, _dispatcher, _maxRequestBytes, _log, _runtime);
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
        if (_stop.IsCancellationRequested) return;
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
