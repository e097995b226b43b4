using System.Diagnostics;
using KafScale.Client;

namespace KafScale.LoadGen;

/// <summary>
/// <c>loadgen acls</c>: loads a large ACL set through CreateAcls (in requests of 1,000), to measure
/// what the authorizer costs among many ACLs. The filler is shaped like test/Benchmarks'
/// AuthorizationBenchmarks (a third PREFIXED, the rest LITERAL, 500 principals); one more ACL
/// allows <c>--allow</c> every operation on topics starting with <c>--topic-prefix</c>.
/// </summary>
internal static class AclsCommand
{
    public const string Usage = """
        loadgen acls --bootstrap HOST:PORT --allow PRINCIPAL --topic-prefix P [options]
          --count N             ACLs in all, the allowing one included              [10000]
        """ + "\n" + SecurityArguments.Usage;

    public static async Task<int> RunAsync(Arguments args, CancellationToken cancellationToken)
    {
        string bootstrap = args.Required("bootstrap");
        string allow = args.Required("allow");
        string prefix = args.Required("topic-prefix");
        int count = args.Int("count", 10_000);
        KafkaSecurityOptions security = SecurityArguments.Read(args);
        args.ThrowIfUnread();
        if (count < 1) throw new UsageException("--count must be at least 1");

        var options = new KafkaClientOptions { BootstrapServers = bootstrap, Connection = new KafkaConnectionOptions { Security = security } };
        await using KafkaClient client = await KafkaClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        var started = Stopwatch.StartNew();
        var chunk = new List<AclEntry>(1000);
        for (int i = 0; i < count - 1; i++)
        {
            chunk.Add(i % 3 == 0
                ? new AclEntry(AclResourceType.Topic, $"t{i}-", AclPatternType.Prefixed, $"User:u{i % 500}", "*", AclOperation.Write, AclPermissionType.Allow)
                : new AclEntry(AclResourceType.Topic, $"topic-{i}", AclPatternType.Literal, $"User:u{i % 500}", "*", AclOperation.Read, AclPermissionType.Allow));
            if (chunk.Count == 1000)
            {
                await client.CreateAclsAsync(chunk, cancellationToken).ConfigureAwait(false);
                chunk.Clear();
            }
        }
        chunk.Add(new AclEntry(AclResourceType.Topic, prefix, AclPatternType.Prefixed, allow, "*", AclOperation.All, AclPermissionType.Allow));
        await client.CreateAclsAsync(chunk, cancellationToken).ConfigureAwait(false);
        Console.Out.WriteLine($"{{\"acls\":{count},\"seconds\":{started.Elapsed.TotalSeconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)}}}");
        return 0;
    }
}
