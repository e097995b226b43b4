using System.CommandLine;
using KafScale.Cli;

var root = new RootCommand("KafScale: a Kafka-protocol streaming platform with stateless brokers on object storage.");
root.Subcommands.Add(BrokerCommand.Create());
root.Subcommands.Add(VersionCommand.Create());

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors) Console.Error.WriteLine($"kafscale: {error.Message}");
    Console.Error.WriteLine("Run 'kafscale --help' for usage.");
    return 2;
}
return await parse.InvokeAsync().ConfigureAwait(false);
