using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

/// <summary>One option as the binary's --help shows it.</summary>
public sealed record HelpOption(string Name, string Description)
{
    /// <summary>The environment variable the description names ("env KAFSCALE_X"), if any.</summary>
    public string? Env => Regex.Match(Description, @"\benv (KAFSCALE_[A-Z0-9_]+)") is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>
    /// The default value when the description's closing brackets state one as a value
    /// ("[env X, default 9092]"), not as a phrase ("default: allocated ..."); its first word.
    /// </summary>
    public string? DefaultValue =>
        Regex.Match(Description, @"\[[^\[\]]*\bdefault ([^\s,\]]+)[^\[\]]*\]\s*$") is { Success: true } m ? m.Groups[1].Value : null;
}

/// <summary>One command of the binary: its path (e.g. "snapshot create"), options and subcommands.</summary>
public sealed record HelpCommand(string Path, IReadOnlyList<HelpOption> Options, IReadOnlyList<string> Subcommands)
{

    public HelpOption? Option(string name) => Options.FirstOrDefault(o => o.Name == name);
}

/// <summary>
/// The truth about the command line, read from the built binary at test time: `kafscale --help`
/// and, recursively, every subcommand's `--help`.
/// </summary>
public static class CliFacts
{
    private static readonly Lazy<IReadOnlyDictionary<string, HelpCommand>> s_commands = new(Load);

    /// <summary>Every command by path ("" is the root).</summary>
    public static IReadOnlyDictionary<string, HelpCommand> Commands => s_commands.Value;

    /// <summary>The nearest command that exists, walking up from path.</summary>
    public static HelpCommand NearestExisting(string path)
    {
        while (!Commands.ContainsKey(path))
        {
            int space = path.LastIndexOf(' ');
            path = space < 0 ? "" : path[..space];
        }

        return Commands[path];
    }

    /// <summary>Options of a command and of all commands below it.</summary>
    public static IEnumerable<HelpOption> OptionsAtOrBelow(string path) =>
        Commands.Values.Where(c => c.Path == path || c.Path.StartsWith(path + " ", StringComparison.Ordinal)).SelectMany(c => c.Options);

    private static IReadOnlyDictionary<string, HelpCommand> Load()
    {
        var result = new Dictionary<string, HelpCommand>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        queue.Enqueue("");
        while (queue.Count > 0)
        {
            string path = queue.Dequeue();
            string[] args = [.. path.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"];
            ToolResult help = Tool.Kafscale(args);
            Assert.True(help.ExitCode == 0, help.Describe("kafscale " + string.Join(' ', args)));
            HelpCommand command = Parse(path, help.Stdout);
            result[path] = command;
            foreach (string sub in command.Subcommands)
            {
                queue.Enqueue(path.Length == 0 ? sub : path + " " + sub);
            }
        }

        return result;
    }

    /// <summary>Parses System.CommandLine's help text: the Options: and Commands: sections.</summary>
    public static HelpCommand Parse(string path, string help)
    {
        var options = new List<HelpOption>();
        var subcommands = new List<string>();
        string section = "";
        HelpOption? last = null;
        foreach (string raw in help.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                last = null;
                continue;
            }

            if (!line.StartsWith(' '))
            {
                section = line.TrimEnd(':');
                last = null;
                continue;
            }

            if (section == "Options")
            {
                var m = Regex.Match(line, @"^\s{2}(-\S+(?:,\s*-\S+)*)(?:\s+<[^>]+>)?(?:\s+\(REQUIRED\))?(?:\s{2,}(.*))?$");
                if (m.Success)
                {
                    string description = m.Groups[2].Value.Trim();
                    string? name = m.Groups[1].Value.Split(',').Select(n => n.Trim()).LastOrDefault(n => n.StartsWith("--", StringComparison.Ordinal));
                    if (name is null or "--help" or "--version")
                    {
                        last = null;
                        continue;
                    }

                    last = new HelpOption(name, description);
                    options.Add(last);
                }
                else if (last is not null)
                {
                    // A wrapped description.
                    int index = options.Count - 1;
                    last = last with { Description = last.Description + " " + line.Trim() };
                    options[index] = last;
                }
            }
            else if (section == "Commands")
            {
                var m = Regex.Match(line, @"^\s{2}([a-z][a-z0-9-]*)");
                if (m.Success && line.Length > 2 && line[2] != ' ')
                {
                    subcommands.Add(m.Groups[1].Value);
                }
            }
        }

        return new HelpCommand(path, options, subcommands);
    }
}
