using System.CommandLine;

namespace KafScale.Cli;

internal static class ProcessorCommand
{
    public static Command Create()
    {
        var command = new Command("processor", "Processors that read segments straight from object storage.");
        return command;
    }
}
