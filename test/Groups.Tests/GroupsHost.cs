using KafScale.Metadata.Embedded;
using KafScale.Protocol.Messages;

namespace KafScale.Groups.Tests;

/// <summary>A group coordinator over an embedded metadata store in a temporary directory, which can be reloaded.</summary>
internal sealed class GroupsHost : IAsyncDisposable
{
    /// <summary>Short timeouts for tests; the initial rebalance delay is off so joins complete as soon as everyone is in.</summary>
    public static readonly GroupCoordinatorOptions FastOptions = new()
    {
        ShardCount = 8,
        MinSessionTimeoutMs = 10,
        InitialRebalanceDelayMs = 0,
    };

    private readonly string _dir;
    private readonly GroupCoordinatorOptions _options;
    private readonly TimeProvider? _time;

    private GroupsHost(string dir, GroupCoordinatorOptions options, TimeProvider? time, EmbeddedMetadataStore store, GroupCoordinatorService groups)
    {
        _dir = dir;
        _options = options;
        _time = time;
        Store = store;
        Groups = groups;
    }

    public EmbeddedMetadataStore Store { get; private set; }
    public GroupCoordinatorService Groups { get; private set; }

    /// <param name="time">The coordinator's clock: a FakeTimeProvider lets a test move session and rebalance deadlines instead of sleeping through them.</param>
    public static async Task<GroupsHost> StartAsync(GroupCoordinatorOptions? options = null, TimeProvider? time = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "kafscale-groups-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        options ??= FastOptions;
        var store = await EmbeddedMetadataStore.OpenAsync(Path.Combine(dir, "metadata"), CancellationToken.None);
        var groups = new GroupCoordinatorService(store, options, time: time);
        await groups.LoadAllShardsAsync(CancellationToken.None);
        return new GroupsHost(dir, options, time, store, groups);
    }

    /// <summary>
    /// What a new shard leader does: unload the coordinator, optionally reopen the store from
    /// disk (a broker restart), and load every shard again.
    /// </summary>
    public async Task ReloadAsync(bool reopenStore)
    {
        await Groups.DisposeAsync();
        if (reopenStore)
        {
            await Store.DisposeAsync();
            Store = await EmbeddedMetadataStore.OpenAsync(Path.Combine(_dir, "metadata"), CancellationToken.None);
        }
        Groups = new GroupCoordinatorService(Store, _options, time: _time);
        await Groups.LoadAllShardsAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        await Groups.DisposeAsync();
        await Store.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>A consumer's subscription as its JoinGroup carries it (ConsumerProtocolSubscription v1).</summary>
    public static byte[] Subscription(params string[] topics)
    {
        using var writer = new KafkaWriter();
        writer.WriteInt16(1);
        new ConsumerProtocolSubscription { Topics = [.. topics] }.Write(writer, 1);
        return writer.ToArray();
    }

    public static JoinGroupInput Join(string group, string memberId = "", string? instanceId = null, int sessionMs = 10_000, int rebalanceMs = 10_000,
        string protocolType = "consumer", string protocol = "range", byte[]? metadata = null, bool skipAssignment = false, string clientId = "test-client") =>
        new(group, memberId, instanceId, clientId, "/127.0.0.1", sessionMs, rebalanceMs, protocolType,
            [new GroupProtocol(protocol, metadata ?? Subscription("orders"))], RequireKnownMemberId: true, SupportsSkipAssignment: skipAssignment);

    public static OffsetCommitInput Commit(string group, int generation, string memberId, params (string Topic, int Partition, long Offset)[] offsets) =>
        new(group, generation, memberId, null, [.. offsets.Select(o => new OffsetCommitEntry(o.Topic, o.Partition, o.Offset, -1, "meta"))]);

    public static async Task EventuallyAsync(Func<bool> condition, string what, int timeoutMs = 15_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for: {what}");
            await Task.Delay(20);
        }
    }

    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what, int timeoutMs = 15_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for: {what}");
            await Task.Delay(20);
        }
    }
}
