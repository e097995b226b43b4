using System.Globalization;
using KafScale.Protocol;

namespace KafScale.Client;

/// <summary>
/// A Kafka client for tools: finds the cluster from bootstrap servers, keeps one connection per
/// broker and a metadata cache, and routes Produce, Fetch and ListOffsets to partition leaders.
/// Errors that mean the cache is stale (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION,
/// LEADER_NOT_AVAILABLE, fenced or unknown leader epochs) and broken connections refresh the
/// metadata and retry, <see cref="KafkaClientOptions.MaxRetries"/> times at most; every other
/// error is a <see cref="KafkaException"/> carrying the broker's error code.
/// Thread-safe: any number of calls may run at once.
/// </summary>
public sealed partial class KafkaClient : IAsyncDisposable
{
    private readonly KafkaClientOptions _options;
    private readonly (string Host, int Port)[] _bootstrap;
    private readonly object _lock = new();
    private readonly Dictionary<int, Task<KafkaConnection>> _connections = new();
    private KafkaConnection? _bootstrapConnection;
    private ClusterMetadata _metadata = ClusterMetadata.Empty;
    private bool _disposed;

    private KafkaClient(KafkaClientOptions options)
    {
        _options = options;
        _bootstrap = ParseBootstrap(options.BootstrapServers);
    }

    public KafkaClientOptions Options => _options;

    /// <summary>The latest metadata snapshot (brokers and the topics asked about so far).</summary>
    public ClusterMetadata Metadata => Volatile.Read(ref _metadata);

    /// <summary>Connects to the first bootstrap server that answers and learns the brokers.</summary>
    public static async Task<KafkaClient> ConnectAsync(KafkaClientOptions options, CancellationToken cancellationToken = default)
    {
        var client = new KafkaClient(options);
        try
        {
            await client.RefreshMetadataAsync([], cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return client;
    }

    public static Task<KafkaClient> ConnectAsync(string bootstrapServers, CancellationToken cancellationToken = default) =>
        ConnectAsync(new KafkaClientOptions { BootstrapServers = bootstrapServers }, cancellationToken);

    /// <summary>Parses <c>host:port[,host:port...]</c>; IPv6 hosts go in brackets.</summary>
    public static (string Host, int Port)[] ParseBootstrap(string servers)
    {
        var result = new List<(string, int)>();
        foreach (string raw in servers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int colon = raw.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(raw.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is <= 0 or > 65535)
            {
                throw new ArgumentException($"bootstrap server '{raw}' is not HOST:PORT", nameof(servers));
            }

            result.Add((raw[..colon].Trim('[', ']'), port));
        }

        if (result.Count == 0)
        {
            throw new ArgumentException("no bootstrap servers given", nameof(servers));
        }

        return [.. result];
    }

    // ---- connections --------------------------------------------------------------------------

    /// <summary>The shared connection to a broker, opened on first use and reopened after a failure.</summary>
    public async Task<KafkaConnection> GetConnectionAsync(int nodeId, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            Task<KafkaConnection>? task;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (!_connections.TryGetValue(nodeId, out task) || IsDead(task))
                {
                    if (!Metadata.Brokers.TryGetValue(nodeId, out BrokerNode? broker))
                    {
                        task = null;
                    }
                    else
                    {
                        task = KafkaConnection.ConnectAsync(broker.Host, broker.Port, _options.Connection, CancellationToken.None);
                        _connections[nodeId] = task;
                    }
                }
            }

            if (task is not null)
            {
                return await task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            if (attempt > 0)
            {
                throw new KafkaException(ErrorCode.BrokerNotAvailable, $"broker {nodeId} is not in the cluster metadata");
            }

            await RefreshMetadataAsync([], cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A new connection to a broker that only the caller uses (load generators spread work
    /// over several). The caller disposes it.
    /// </summary>
    public async Task<KafkaConnection> OpenConnectionAsync(int nodeId, CancellationToken cancellationToken = default)
    {
        if (!Metadata.Brokers.TryGetValue(nodeId, out BrokerNode? broker))
        {
            await RefreshMetadataAsync([], cancellationToken).ConfigureAwait(false);
            if (!Metadata.Brokers.TryGetValue(nodeId, out broker))
            {
                throw new KafkaException(ErrorCode.BrokerNotAvailable, $"broker {nodeId} is not in the cluster metadata");
            }
        }

        return await KafkaConnection.ConnectAsync(broker.Host, broker.Port, _options.Connection, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The connection to the current leader of a partition (refreshing metadata if needed).</summary>
    public async Task<KafkaConnection> GetLeaderConnectionAsync(string topic, int partition, CancellationToken cancellationToken = default)
    {
        int leader = await GetLeaderAsync(topic, partition, cancellationToken).ConfigureAwait(false);
        return await GetConnectionAsync(leader, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The node id of a partition's leader (refreshing metadata if needed).</summary>
    public async Task<int> GetLeaderAsync(string topic, int partition, CancellationToken cancellationToken = default)
    {
        for (int attempt = 0; ; attempt++)
        {
            TopicMetadata metadata = await GetTopicAsync(topic, refresh: attempt > 0, cancellationToken).ConfigureAwait(false);
            if (metadata.TryGetLeader(partition, out int leader))
            {
                return leader;
            }

            if (attempt >= _options.MaxRetries)
            {
                throw new KafkaException(metadata.NoLeaderError(partition), $"no leader for {topic}-{partition}");
            }

            await BackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsDead(Task<KafkaConnection> task) =>
        task.IsFaulted || task.IsCanceled || (task.IsCompletedSuccessfully && !task.Result.IsOpen);

    /// <summary>Any open connection, for requests any broker can answer (Metadata).</summary>
    private async Task<KafkaConnection> GetAnyConnectionAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_bootstrapConnection is { IsOpen: true } bootstrap)
            {
                return bootstrap;
            }

            foreach (Task<KafkaConnection> task in _connections.Values)
            {
                if (task.IsCompletedSuccessfully && task.Result.IsOpen)
                {
                    return task.Result;
                }
            }
        }

        var known = new List<(string Host, int Port)>();
        foreach (BrokerNode broker in Metadata.Brokers.Values)
        {
            known.Add((broker.Host, broker.Port));
        }

        known.AddRange(_bootstrap);
        KafkaException? last = null;
        foreach ((string host, int port) in known)
        {
            try
            {
                KafkaConnection connection = await KafkaConnection.ConnectAsync(host, port, _options.Connection, cancellationToken).ConfigureAwait(false);
                KafkaConnection? previous;
                lock (_lock)
                {
                    previous = _bootstrapConnection;
                    _bootstrapConnection = connection;
                }

                if (previous is not null)
                {
                    await previous.DisposeAsync().ConfigureAwait(false);
                }

                return connection;
            }
            catch (KafkaException ex)
            {
                last = ex;
            }
        }

        // The last failure's words (an authentication error, a TLS failure) are what an operator needs.
        throw new KafkaConnectionException($"no broker reachable (tried {string.Join(", ", known.Select(k => $"{k.Host}:{k.Port}"))}){(last is null ? "" : ": " + last.Message)}", last);
    }

    internal async Task BackoffAsync(int attempt, CancellationToken cancellationToken)
    {
        double ms = Math.Min(_options.RetryBackoff.TotalMilliseconds * Math.Pow(2, attempt), 1000);
        await Task.Delay(TimeSpan.FromMilliseconds(ms), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Errors after which the client refreshes its metadata and retries.</summary>
    public static bool IsStaleMetadata(ErrorCode code) => code is ErrorCode.NotLeaderOrFollower
        or ErrorCode.UnknownTopicOrPartition or ErrorCode.LeaderNotAvailable
        or ErrorCode.FencedLeaderEpoch or ErrorCode.UnknownLeaderEpoch
        or ErrorCode.NotController or ErrorCode.NetworkException or ErrorCode.RequestTimedOut;

    public async ValueTask DisposeAsync()
    {
        List<Task<KafkaConnection>> connections;
        KafkaConnection? bootstrap;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            connections = [.. _connections.Values];
            _connections.Clear();
            bootstrap = _bootstrapConnection;
            _bootstrapConnection = null;
        }

        if (bootstrap is not null)
        {
            await bootstrap.DisposeAsync().ConfigureAwait(false);
        }

        foreach (Task<KafkaConnection> task in connections)
        {
            try
            {
                KafkaConnection connection = await task.ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // A connection that never opened has nothing to close.
            }
        }

    }
}
