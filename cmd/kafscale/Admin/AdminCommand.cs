using System.CommandLine;

namespace KafScale.Cli;

internal static partial class AdminCommand
{
    public static Command Create()
    {
        var command = new Command("admin", "Operate a cluster: topics, groups, records, offsets, segments, benchmarks.");
        AddSegments(command);
        return command;
    }

    /// <summary>Adds <c>admin segments</c> (cmd/kafscale/Admin/SegmentsCommand.cs).</summary>
    static partial void AddSegments(Command admin);
}
