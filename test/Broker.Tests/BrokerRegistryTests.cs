using System.Diagnostics;
using KafScale.Broker.Clustering;
using KafScale.Metadata.Embedded;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafScale.Broker.Tests;

/// <summary>docs/architecture.md, "Leadership and fencing": a broker's lease and its registration.</summary>
public sealed class BrokerRegistryTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("kafscale-registry-").FullName;
    private EmbeddedMetadataStore _meta = null!;

    public async Task InitializeAsync() => _meta = await EmbeddedMetadataStore.OpenAsync(_root, CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _meta.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task A_restarted_broker_keeps_its_lease_alive_while_it_waits_for_its_earlier_registration_to_expire()
    {
        // The earlier incarnation of broker 0, killed without revoking its lease: its registration
        // stays until that lease expires, longer than the new incarnation's own TTL.
        long earlier = await _meta.GrantLeaseAsync(TimeSpan.FromMilliseconds(4500), CancellationToken.None);
        await _meta.PutAsync(ClusterKeys.Broker(0), "{\"host\":\"old\",\"port\":1}"u8.ToArray(), earlier, CancellationToken.None);
        var ttl = TimeSpan.FromSeconds(3);
        var waited = Stopwatch.StartNew();

        await using var registry = await BrokerRegistry.StartAsync(_meta, 0, "127.0.0.1", 9092, ttl, NullLogger.Instance, CancellationToken.None);

        Assert.Equal(0, registry.BrokerId);
        // Longer than a deadline counted from the grant (TTL less its margin) would have lasted.
        Assert.True(waited.Elapsed > ttl, $"registered after {waited.Elapsed}: it did not wait for the earlier registration");
        Assert.True(registry.Guard.MayWrite, "the lease deadline passed while the broker waited to register");
        var record = await _meta.GetAsync(ClusterKeys.Broker(0), CancellationToken.None);
        Assert.Equal(registry.LeaseId, record!.Lease);
    }
    [Fact]
    public async Task A_registration_found_at_start_is_settled_and_one_that_appears_later_or_is_our_own_settles_after_the_delay()
    {
        var ttl = TimeSpan.FromSeconds(30);
        var delay = TimeSpan.FromMinutes(10);
        await using var first = await BrokerRegistry.StartAsync(_meta, 0, [new BrokerEndpoint("PLAINTEXT", "127.0.0.1", 9092)], ttl, delay, NullLogger.Instance, CancellationToken.None);
        await using var second = await BrokerRegistry.StartAsync(_meta, 1, [new BrokerEndpoint("PLAINTEXT", "127.0.0.1", 9093)], ttl, delay, NullLogger.Instance, CancellationToken.None);
        await TestExtensions.UntilAsync(() => first.LiveIds.Length == 2, "broker 0 sees broker 1");
        long now = Stopwatch.GetTimestamp();

        Assert.Equal(long.MinValue, second.SettlesAt(0)); // there before broker 1 started
        Assert.True(second.SettlesAt(1) > now);          // broker 1's own registration is new
        Assert.True(first.SettlesAt(1) > now);           // broker 0 saw broker 1 join
        Assert.True(first.SettlesAt(0) > now);           // and its own registration is new to it
        Assert.InRange(first.SettlesAt(1) - now, 0, (long)(delay.TotalSeconds * Stopwatch.Frequency));

        // No delay: a joining broker settles at once.
        await using var third = await BrokerRegistry.StartAsync(_meta, 2, [new BrokerEndpoint("PLAINTEXT", "127.0.0.1", 9094)], ttl, TimeSpan.Zero, NullLogger.Instance, CancellationToken.None);
        Assert.True(third.SettlesAt(2) <= Stopwatch.GetTimestamp());
    }

    /// <summary>A registration of broker 0 as the killed process left it: its lease runs on for a minute.</summary>
    private async Task<long> LeftBehindAsync(string? incarnation)
    {
        long lease = await _meta.GrantLeaseAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
        string json = incarnation is null ? "{\"host\":\"old\",\"port\":1}" : $"{{\"host\":\"old\",\"port\":1,\"incarnation\":\"{incarnation}\"}}";
        await _meta.PutAsync(ClusterKeys.Broker(0), System.Text.Encoding.UTF8.GetBytes(json), lease, CancellationToken.None);
        return lease;
    }

    [Fact]
    public async Task A_broker_restarted_on_its_data_directory_revokes_the_lease_its_dead_process_left_instead_of_waiting()
    {
        string dataDir = Path.Combine(_root, "broker0");
        string token;
        using (var crashed = IncarnationLock.Acquire(dataDir))
        {
            Assert.NotNull(crashed); // Linux has a boot id
            token = crashed!.Token;
        } // the process died: the kernel dropped its lock
        long old = await LeftBehindAsync(token);
        var restarted = IncarnationLock.Acquire(dataDir);
        Assert.Equal(token, restarted!.Previous);

        // Its own TTL is 1 s: waiting for the minute-long lease would give up after 6 s with an error.
        await using var registry = await BrokerRegistry.StartAsync(_meta, 0, [new BrokerEndpoint("PLAINTEXT", "127.0.0.1", 9092)], TimeSpan.FromSeconds(1), TimeSpan.Zero, NullLogger.Instance, CancellationToken.None, restarted);

        var record = await _meta.GetAsync(ClusterKeys.Broker(0), CancellationToken.None);
        Assert.Equal(registry.LeaseId, record!.Lease);
        Assert.Null(await _meta.KeepAliveAsync(old, CancellationToken.None)); // revoked
        Assert.Contains(restarted.Token, System.Text.Encoding.UTF8.GetString(record.Value));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_registration_not_proven_dead_is_waited_for_never_revoked(bool otherDirectory)
    {
        // Another process's token (another data directory, or a machine with another boot id), or none.
        string dataDir = Path.Combine(_root, "broker0");
        string? token = null;
        if (otherDirectory)
            using (var elsewhere = IncarnationLock.Acquire(Path.Combine(_root, "elsewhere"))) token = elsewhere!.Token;
        long old = await LeftBehindAsync(token);
        var mine = IncarnationLock.Acquire(dataDir);

        var refused = await Assert.ThrowsAsync<StartupException>(() => BrokerRegistry.StartAsync(_meta, 0, [new BrokerEndpoint("PLAINTEXT", "127.0.0.1", 9092)], TimeSpan.FromSeconds(1), TimeSpan.Zero, NullLogger.Instance, CancellationToken.None, mine));

        Assert.Contains("registered by a live broker", refused.Message);
        Assert.NotNull(await _meta.KeepAliveAsync(old, CancellationToken.None)); // still there
    }

    [Fact]
    public void A_data_directory_a_running_broker_holds_is_refused_to_a_second_one()
    {
        string dataDir = Path.Combine(_root, "shared");
        using var first = IncarnationLock.Acquire(dataDir);
        var refused = Assert.Throws<StartupException>(() => IncarnationLock.Acquire(dataDir));
        Assert.Contains("--data-dir", refused.Message);
    }
}
