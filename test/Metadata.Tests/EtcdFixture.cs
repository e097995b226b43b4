namespace KafScale.Metadata.Tests;

/// <summary>One real etcd per test class, in a temporary directory.</summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    private EtcdServer? _server;

    public EtcdServer Server => _server ?? throw new InvalidOperationException("etcd is not running.");

    public async Task InitializeAsync() => _server = await EtcdServer.StartTemporaryAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}
