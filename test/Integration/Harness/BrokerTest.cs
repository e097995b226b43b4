using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Harness;

/// <summary>
/// Tests that start brokers run one at a time within a collection: each starts real processes,
/// and a 2-core machine running many brokers and clients at once makes client timeouts likely.
/// Two collections run side by side (xunit's default of one per core): this one, the
/// consumer-group, broker-restart and raw-request tests, which mostly wait (rebalances, session
/// timeouts, restarts), and <see cref="ClientLibraryCollection"/>, busy starting short-lived clients.
/// </summary>
[CollectionDefinition(Name)]
public sealed class BrokerCollection
{
    public const string Name = "broker processes";
}

/// <summary>The tests that drive Kafka client libraries (test/Integration/Clients), beside <see cref="BrokerCollection"/>.</summary>
[CollectionDefinition(Name)]
public sealed class ClientLibraryCollection
{
    public const string Name = "client libraries";
}

/// <summary>Starts a broker per test and prints its log when the test fails.</summary>
[Collection(BrokerCollection.Name)]
public abstract class BrokerTest(ITestOutputHelper output)
{
    protected ITestOutputHelper Output => output;

    public static TheoryData<string> AllClients => new() { "kcat", "kafka-python", "confluent-kafka", "kafkajs" };

    /// <summary>
    /// A broker whose empty groups rebalance at the first join: tests whose members may join over
    /// several generations do not wait the 3 s initial delay on each new group.
    /// </summary>
    protected static BrokerOptions NoInitialRebalanceDelay => new() { GroupInitialRebalanceDelayMs = 0 };

    public static TheoryData<string> ScriptClients => new() { "kafka-python", "confluent-kafka", "kafkajs" };

    protected async Task WithBrokerAsync(Func<BrokerProcess, Task> body, BrokerOptions? options = null)
    {
        BrokerProcess broker = await BrokerProcess.StartAsync(options);
        try
        {
            await body(broker);
        }
        catch (Exception)
        {
            output.WriteLine($"--- broker log ({broker.LogPath}) ---");
            output.WriteLine(broker.Log());
            throw;
        }
        finally
        {
            await broker.DisposeAsync();
        }
    }

    /// <summary>A topic name no other test uses: the prefix and 8 random hex digits.</summary>
    protected static string NewTopic(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8]}";
}
