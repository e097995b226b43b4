using System.CommandLine;

namespace KafScale.Cli;

internal static class SnapshotCommand
{
    public static Command Create()
    {
        var command = new Command("snapshot", "Back up and restore the metadata.");
        return command;
    }
}
