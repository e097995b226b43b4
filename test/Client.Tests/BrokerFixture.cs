namespace KafScale.Client.Tests;

/// <summary>One broker (the built binary, through the shared test support) for the tests of a class.</summary>
public sealed class BrokerFixture : IAsyncLifetime
{
    private BrokerProcess? _broker;

    public BrokerProcess Broker => _broker ?? throw new InvalidOperationException("the broker fixture did not start");

    public async Task InitializeAsync() => _broker = await BrokerProcess.StartAsync(new BrokerOptions { LogLevel = "info" }).ConfigureAwait(false);

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync().ConfigureAwait(false);
        }
    }
}
