using System.Net;
using System.Net.Sockets;
using KafScale.Broker.Clustering;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests;

/// <summary>
/// Which peers count as down for Metadata: real TCP listeners on loopback that are opened,
/// closed and opened again.
/// </summary>
public sealed class PeerLivenessTests
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(20);

    private static TcpListener Listen(int port = 0)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        return listener;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(10);
        }
    }

    private static PeerLiveness Start(Func<IReadOnlyList<BrokerInfo>> live, TimeSpan ttl) =>
        new(live, () => 0, ttl, NullLogger.Instance, Period, TimeSpan.FromMilliseconds(500));

    [Fact]
    public async Task A_peer_that_stops_answering_counts_as_down_until_it_answers_again()
    {
        var listener = Listen();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var peers = new[] { new BrokerInfo(0, "127.0.0.1", 1, null, 1), new BrokerInfo(1, "127.0.0.1", port, null, 7) };
        await using var liveness = Start(() => peers, TimeSpan.FromSeconds(30));
        // Reached for a while: not down.
        await Task.Delay(Period * 10);
        Assert.False(liveness.SuspectedDown(1));

        listener.Stop();
        await WaitUntilAsync(() => liveness.SuspectedDown(1), "a peer whose port refuses connections never counted as down");
        Assert.False(liveness.SuspectedDown(0), "this broker itself is never probed");

        listener = Listen(port);
        try
        {
            await WaitUntilAsync(() => !liveness.SuspectedDown(1), "a peer that answers again still counted as down");
        }
        finally
        {
            listener.Stop();
        }
    }

    [Fact]
    public async Task A_peer_never_reached_from_here_never_counts_as_down()
    {
        // A port nobody listens on (taken, then released).
        var probe = Listen();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        int attempts = 0;
        var peers = new[] { new BrokerInfo(1, "127.0.0.1", port, null, 7) };
        await using var liveness = Start(() => { attempts++; return peers; }, TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => attempts > 20, "the prober did not run");
        Assert.False(liveness.SuspectedDown(1));
    }

    [Fact]
    public async Task Suspicion_ends_with_the_lease_and_a_new_lease_starts_afresh()
    {
        var listener = Listen();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var peers = new[] { new BrokerInfo(1, "127.0.0.1", port, null, 7) };
        // A zero TTL: suspicion lasts only the grace after the first failure.
        await using var liveness = Start(() => peers, TimeSpan.Zero);
        await Task.Delay(Period * 10);
        listener.Stop();
        await WaitUntilAsync(() => liveness.SuspectedDown(1), "never counted as down");
        await WaitUntilAsync(() => !liveness.SuspectedDown(1), "suspicion outlived the lease TTL plus the grace");

        // The same id under a new lease, still unreachable: it was never reached under this
        // lease, so it does not count as down.
        peers = [new BrokerInfo(1, "127.0.0.1", port, null, 8)];
        await Task.Delay(Period * 10);
        Assert.False(liveness.SuspectedDown(1));
    }
}
