using KafScale.Client;
using KafScale.LoadGen;

// loadgen: load generator and measuring tool for KafScale (and any Kafka-protocol broker).
const string usage = $"""
    usage: loadgen <command> [options]

    {ProduceCommand.Usage}
    {ConsumeCommand.Usage}
    {AclsCommand.Usage}
    {StartupCommand.Usage}
    {DiskProbeCommand.Usage}
    {PortsCommand.Usage}
    """;

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.Out.WriteLine(usage);
    return args.Length == 0 ? 2 : 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    var options = new Arguments(args.Skip(1));
    return args[0] switch
    {
        "produce" => await ProduceCommand.RunAsync(options, cancel.Token),
        "consume" => await ConsumeCommand.RunAsync(options, cancel.Token),
        "acls" => await AclsCommand.RunAsync(options, cancel.Token),
        "startup" => await StartupCommand.RunAsync(options, cancel.Token),
        "disk-probe" => DiskProbeCommand.Run(options),
        "ports" => PortsCommand.Run(options),
        _ => throw new UsageException($"unknown command '{args[0]}' (produce, consume, acls, startup, disk-probe, ports)"),
    };
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"loadgen: {ex.Message}");
    return 2;
}
catch (KafkaException ex)
{
    Console.Error.WriteLine($"loadgen: {ex.Message}");
    return 1;
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    Console.Error.WriteLine("loadgen: interrupted");
    return 130;
}
