using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

/// <summary>
/// docs/operations.md against the binary: every option of every command (from --help, recursively)
/// and every environment variable (string literals in cmd/ and internal/, the help text, the
/// image) is documented, and everything documented exists.
/// </summary>
/// <remarks>
/// Layout the test reads: a heading naming a command (`kafscale snapshot create`) starts that
/// command's section, which runs to the next heading of the same or a higher level. Its tables list
/// options in the first cell (`--flag`), the environment variable in the second and the default
/// in the third. A section linking to the storage section (#storage-and-metadata-options) takes
/// those options too. A command's section covers its subcommands' inherited options.
/// </remarks>
public sealed class OperationsDocTests
{
    private const string StorageAnchor = "storage-and-metadata-options";

    private static readonly IReadOnlyList<Section> Sections = Markdown.Sections(Tool.RepoFile("docs/operations.md"));

    private sealed record Documented(string Path, List<TableRow> Rows, bool LinksStorage);

    /// <summary>The command a heading names: the words after `kafscale up to the first argument or flag.</summary>
    private static string? CommandOf(string heading)
    {
        Match m = Regex.Match(heading, "`kafscale ([^`]+)`");
        if (!m.Success)
        {
            return null;
        }

        string[] words = [.. m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).TakeWhile(w => Regex.IsMatch(w, "^[a-z][a-z0-9-]*$"))];
        return words.Length == 0 ? null : string.Join(' ', words);
    }

    /// <summary>The documented commands with their rows (subsections without a command of their own included).</summary>
    private static IReadOnlyDictionary<string, Documented> Commands()
    {
        var result = new Dictionary<string, Documented>(StringComparer.Ordinal);
        var stack = new List<(int Level, string? Path)>();
        foreach (Section section in Sections)
        {
            stack.RemoveAll(s => s.Level >= section.Level);
            string? own = CommandOf(section.Heading);
            stack.Add((section.Level, own));
            string? path = own ?? stack.LastOrDefault(s => s.Path is not null).Path;
            if (path is null || Markdown.Anchor(section.Heading) == StorageAnchor)
            {
                continue;
            }

            if (!result.TryGetValue(path, out var doc))
            {
                result[path] = doc = new Documented(path, [], false);
            }

            doc.Rows.AddRange(section.Rows());
            if (section.Text.Contains("(#" + StorageAnchor + ")", StringComparison.Ordinal))
            {
                result[path] = doc with { LinksStorage = true };
            }
        }

        return result;
    }

    private static List<TableRow> StorageRows()
    {
        Section storage = Sections.SingleOrDefault(s => Markdown.Anchor(s.Heading) == StorageAnchor)
            ?? throw new Xunit.Sdk.XunitException($"docs/operations.md has no '{StorageAnchor}' section");
        return [.. storage.Rows()];
    }

    private static IEnumerable<string> Flags(TableRow row) =>
        Regex.Matches(row.Cells[0], @"`(--[a-z0-9][a-z0-9\-]*)").Select(m => m.Groups[1].Value);

    private static IEnumerable<string> Ancestors(string path)
    {
        yield return path;
        for (int i = path.LastIndexOf(' '); i > 0; i = path.LastIndexOf(' ', i - 1))
        {
            yield return path[..i];
        }
    }

    [Fact]
    public void The_document_has_sections_for_the_commands_and_the_storage_options()
    {
        var commands = Commands();
        Assert.Contains("broker", commands.Keys);
        Assert.True(commands["broker"].LinksStorage);
        Assert.NotEmpty(StorageRows());
        Assert.Contains(StorageRows(), r => Flags(r).Contains("--s3-bucket"));
    }

    [Fact]
    public void Every_option_of_every_command_in_the_binary_is_documented()
    {
        var commands = Commands();
        var storageFlags = StorageRows().SelectMany(Flags).ToHashSet();
        var missing = new List<string>();
        foreach (HelpCommand command in CliFacts.Commands.Values.Where(c => c.Options.Count > 0))
        {
            var documented = new HashSet<string>(StringComparer.Ordinal);
            foreach (string path in Ancestors(command.Path))
            {
                if (commands.TryGetValue(path, out var doc))
                {
                    documented.UnionWith(doc.Rows.SelectMany(Flags));
                    if (doc.LinksStorage)
                    {
                        documented.UnionWith(storageFlags);
                    }
                }
            }

            missing.AddRange(command.Options.Where(o => !documented.Contains(o.Name)).Select(o => $"kafscale {command.Path} {o.Name}"));
        }

        Assert.True(missing.Count == 0, "not documented in docs/operations.md:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void Every_documented_command_and_option_exists_in_the_binary()
    {
        var problems = new List<string>();
        var storageFlags = StorageRows().SelectMany(Flags).ToList();
        foreach (Documented doc in Commands().Values)
        {
            if (!CliFacts.Commands.ContainsKey(doc.Path))
            {
                problems.Add($"'kafscale {doc.Path}' is documented but is not a command");
                continue;
            }

            var available = CliFacts.OptionsAtOrBelow(doc.Path).Select(o => o.Name).ToHashSet();
            IEnumerable<string> flags = doc.Rows.SelectMany(Flags).Concat(doc.LinksStorage ? storageFlags : []);
            problems.AddRange(flags.Where(f => !available.Contains(f)).Select(f => $"kafscale {doc.Path} has no option {f}"));
        }

        var everywhere = CliFacts.Commands.Values.SelectMany(c => c.Options).Select(o => o.Name).ToHashSet();
        problems.AddRange(storageFlags.Where(f => !everywhere.Contains(f)).Select(f => $"no command has the storage option {f}"));
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    /// <summary>The row of an option names the variable and the default its --help names.</summary>
    [Fact]
    public void Each_documented_option_names_the_same_variable_and_default_as_its_help()
    {
        var problems = new List<string>();
        var rows = Commands().Values.Where(d => CliFacts.Commands.ContainsKey(d.Path))
            .SelectMany(d => d.Rows.Select(r => (Path: (string?)d.Path, Row: r)))
            .Concat(StorageRows().Select(r => (Path: (string?)null, Row: r)));
        int compared = 0;
        foreach (var (path, row) in rows)
        {
            foreach (string flag in Flags(row))
            {
                HelpOption? help = path is null
                    ? CliFacts.Commands.Values.SelectMany(c => c.Options).FirstOrDefault(o => o.Name == flag)
                    : CliFacts.OptionsAtOrBelow(path).FirstOrDefault(o => o.Name == flag);
                if (help is null)
                {
                    continue; // reported by the test above
                }

                if (help.Env is { } env && !row.Line.Contains(env, StringComparison.Ordinal))
                {
                    problems.Add($"{flag}: --help names {env}, the row does not: {row.Line}");
                }

                if (help.DefaultValue is { } value && (row.Cells.Count < 3 || !TableRow.Plain(row.Cells[2]).Contains(value, StringComparison.Ordinal)))
                {
                    problems.Add($"{flag}: --help says default {value}, the row says: {row.Line}");
                }

                compared++;
            }
        }

        Assert.True(compared > 20, $"only {compared} options compared");
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public void Every_environment_variable_the_product_reads_is_documented()
    {
        string doc = Tool.RepoFile("docs/operations.md");
        var documented = Regex.Matches(doc, @"KAFSCALE_[A-Z0-9_]+").Select(m => m.Value).ToHashSet();
        var missing = CodeFacts.AllEnv().Where(e => !documented.Contains(e)).Order().ToList();
        Assert.True(missing.Count == 0, "not documented in docs/operations.md: " + string.Join(", ", missing));
    }

    [Fact]
    public void Every_documented_environment_variable_is_read_by_the_product()
    {
        IReadOnlySet<string> known = CodeFacts.AllEnv();
        string doc = Tool.RepoFile("docs/operations.md");
        var unknown = Regex.Matches(doc, @"KAFSCALE_[A-Z0-9_]+").Select(m => m.Value)
            .Where(e => !known.Contains(e)).Distinct().Order().ToList();
        Assert.True(unknown.Count == 0, "documented in docs/operations.md but read by nothing: " + string.Join(", ", unknown));
    }
}
