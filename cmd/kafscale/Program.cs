using System.CommandLine;
using KafScale.Cli;

var root = new RootCommand("KafScale: a Kafka-protocol streaming platform with stateless brokers on object storage.");
root.Subcommands.Add(BrokerCommand.Create());
root.Subcommands.Add(ProcessorCommand.Create());
root.Subcommands.Add(AdminCommand.Create());
root.Subcommands.Add(SnapshotCommand.Create());
root.Subcommands.Add(VersionCommand.Create());
root.Subcommands.Add(CompletionCommand.Create(root));

// No response files: a word starting with '@' is a value (consume --from @TIME), not a file to read.
var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
if (parse.Errors.Count > 0)
{
    // One line for the first problem: later ones are usually echoes of it (an unknown option's
    // value is reported again as an unknown argument).
    Console.Error.WriteLine($"kafscale: {parse.Errors[0].Message} (see 'kafscale {string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')))} --help')".Replace("  ", " "));
    return 2;
}
// SIGTERM/SIGINT cancel the command's token; a command then has this long to finish (a broker's
// final flush, a processor's round in progress) before the process exits anyway. Below the
// systemd units' TimeoutStopSec (120 s), so the process ends on its own terms first.
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(110) }).ConfigureAwait(false);
