using Xunit;
using Xunit.Abstractions;

namespace KafScale.Integration.Harness;

/// <summary>
/// Tests that start brokers run one at a time: each starts real processes, and a 2-core machine
/// running several brokers and clients at once makes client timeouts likely.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrokerCollection
{
    public const string Name = "broker processes";
}

/// <summary>Starts a broker per test and prints its log when the test fails.</summary>
[Collection(BrokerCollection.Name)]
public abstract class BrokerTest(ITestOutputHelper output)
{
    protected ITestOutputHelper Output => output;

    public static TheoryData<string> AllClients => new() { "kcat", "kafka-python", "confluent-kafka", "kafkajs" };

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
