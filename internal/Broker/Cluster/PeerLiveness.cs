using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace KafScale.Broker.Clustering;

/// <summary>
/// Which peers this broker can no longer reach (docs/architecture.md, "Peers that stop answering").
/// A broker killed with SIGKILL keeps its lease, and so its partitions, until the lease runs
/// out; meanwhile clients keep sending to an address that refuses them and only learn of the
/// next leader at their next periodic metadata refresh, which can come seconds after the
/// takeover. Kafka answers a partition whose leader is gone with leader -1 and
/// LEADER_NOT_AVAILABLE, after which clients ask again within a fraction of a second; this is
/// what lets Metadata do the same before the lease has run out.
///
/// Twice a second, a TCP connect to each live peer's advertised address (closed at once,
/// nothing sent). A peer counts as down only when:
/// <list type="bullet">
/// <item>this broker reached it before under the same lease (so an address that cannot be
/// reached from here, as behind some NATs, never counts), and</item>
/// <item>the last <see cref="FailuresToSuspect"/> attempts in a row failed, and</item>
/// <item>the first of those failures is less than the lease TTL plus <see cref="Grace"/> old:
/// by then a dead peer's lease has run out, and a live one that merely cannot be reached from
/// here is reported as its lease says again.</item>
/// </list>
/// It never moves leadership: only the lease does that. It changes what Metadata reports.
/// </summary>
internal sealed class PeerLiveness : IAsyncDisposable
{
    public const int FailuresToSuspect = 2;
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    private sealed class Peer
    {
        public long Lease;
        public bool Reached;
        public int Failures;
        public long FirstFailure;
    }

    private readonly Func<IReadOnlyList<BrokerInfo>> _live;
    private readonly Func<int> _self;
    private readonly TimeSpan _period, _connectTimeout;
    private readonly long _suspicionTicks;
    private readonly ILogger _log;
    private readonly Dictionary<int, Peer> _peers = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public PeerLiveness(Func<IReadOnlyList<BrokerInfo>> live, Func<int> self, TimeSpan leaseTtl, ILogger log, TimeSpan? period = null, TimeSpan? connectTimeout = null)
    {
        _live = live;
        _self = self;
        _log = log;
        _period = period ?? TimeSpan.FromMilliseconds(500);
        _connectTimeout = connectTimeout ?? TimeSpan.FromSeconds(1);
        _suspicionTicks = (long)((leaseTtl + Grace).TotalSeconds * Stopwatch.Frequency);
        _loop = RunAsync(_stop.Token);
    }

    /// <summary>True while <paramref name="brokerId"/> counts as down (see the class summary).</summary>
    public bool SuspectedDown(int brokerId)
    {
        lock (_lock)
        {
            return _peers.TryGetValue(brokerId, out var p) && p.Reached && p.Failures >= FailuresToSuspect
                && Stopwatch.GetTimestamp() - p.FirstFailure < _suspicionTicks;
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_period);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                var live = _live();
                int self = _self();
                var probes = new List<Task>(live.Count);
                foreach (var b in live)
                    if (b.Id != self) probes.Add(ProbeAsync(b, ct));
                Forget(live);
                await Task.WhenAll(probes).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) { }
    }

    private void Forget(IReadOnlyList<BrokerInfo> live)
    {
        lock (_lock)
        {
            if (_peers.Count == 0) return;
            List<int>? gone = null;
            foreach (int id in _peers.Keys)
            {
                bool present = false;
                foreach (var b in live) if (b.Id == id) { present = true; break; }
                if (!present) (gone ??= []).Add(id);
            }
            if (gone is not null) foreach (int id in gone) _peers.Remove(id);
        }
    }

    private async Task ProbeAsync(BrokerInfo peer, CancellationToken ct)
    {
        bool ok;
        try
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_connectTimeout);
            await socket.ConnectAsync(peer.Host, peer.Port, timeout.Token).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Both);
            ok = true;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException or ArgumentException) { ok = false; }
        Record(peer, ok);
    }

    private void Record(BrokerInfo peer, bool ok)
    {
        bool suspectedNow = false;
        lock (_lock)
        {
            if (!_peers.TryGetValue(peer.Id, out var p) || p.Lease != peer.Lease)
                _peers[peer.Id] = p = new Peer { Lease = peer.Lease };
            if (ok)
            {
                if (p.Reached && p.Failures >= FailuresToSuspect)
                    _log.LogInformation("broker {Broker} at {Host}:{Port} answers connections again", peer.Id, peer.Host, peer.Port);
                p.Reached = true;
                p.Failures = 0;
                return;
            }
            if (!p.Reached) return;
            if (p.Failures++ == 0) p.FirstFailure = Stopwatch.GetTimestamp();
            suspectedNow = p.Failures == FailuresToSuspect;
        }
        if (suspectedNow)
            _log.LogWarning("broker {Broker} at {Host}:{Port} does not answer connections: Metadata reports its partitions without a leader until its lease ends or it answers again",
                peer.Id, peer.Host, peer.Port);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }
}
