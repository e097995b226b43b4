using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

/// <summary>Facts read from the sources at test time: environment variables and metric names.</summary>
public static class CodeFacts
{
    private static IEnumerable<string> SourceFiles(params string[] roots) =>
        roots.Select(r => Path.Combine(RepoPaths.Root, r))
            .Where(Directory.Exists)
            .SelectMany(r => Directory.EnumerateFiles(r, "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                     && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));

    /// <summary>Every "KAFSCALE_..." string literal under cmd/ and internal/.</summary>
    public static IReadOnlySet<string> EnvLiteralsInSource() =>
        SourceFiles("cmd", "internal")
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), "\"(KAFSCALE_[A-Z0-9_]+)\"").Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>Environment variables the image declares (Dockerfile ENV), read by its health check.</summary>
    public static IReadOnlySet<string> EnvInDockerfile() =>
        Dockerfile.Parse(Tool.RepoFile("Dockerfile")).SelectMany(s => s.Instructions)
            .Where(i => i.Keyword == "ENV")
            .SelectMany(i => Regex.Matches(i.Arguments, @"\b(KAFSCALE_[A-Z0-9_]+)=").Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Every environment variable the product reads: literals in the sources, the ones the help
    /// text names, and the image's own.
    /// </summary>
    public static IReadOnlySet<string> AllEnv()
    {
        var all = new HashSet<string>(EnvLiteralsInSource(), StringComparer.Ordinal);
        foreach (HelpCommand c in CliFacts.Commands.Values)
        {
            foreach (HelpOption o in c.Options)
            {
                foreach (Match m in Regex.Matches(o.Description, @"KAFSCALE_[A-Z0-9_]+"))
                {
                    all.Add(m.Value);
                }
            }
        }

        all.UnionWith(EnvInDockerfile());
        return all;
    }

    /// <summary>
    /// The environment variables one command reads: the "env" of each option in its --help and,
    /// when it takes the storage and metadata options (it has --s3-bucket), every variable in the
    /// table of docs/operations.md, "Storage and metadata options", which also lists those that
    /// are environment only (credentials).
    /// </summary>
    public static IReadOnlySet<string> EnvOf(string commandPath)
    {
        HelpCommand command = CliFacts.Commands[commandPath];
        var env = command.Options.Select(o => o.Env).OfType<string>().ToHashSet(StringComparer.Ordinal);
        if (command.Option("--s3-bucket") is not null)
        {
            Section storage = Markdown.Sections(Tool.RepoFile("docs/operations.md"))
                .Single(s => Markdown.Anchor(s.Heading) == "storage-and-metadata-options");
            env.UnionWith(storage.Rows().Where(r => r.Cells.Count > 1)
                .SelectMany(r => Regex.Matches(r.Cells[1], @"KAFSCALE_[A-Z0-9_]+").Select(m => m.Value)));
        }

        return env;
    }

    /// <summary>
    /// "kafscale_..." metric-name literals in the sources of a command area (path segment
    /// "Processor" or "Snapshot" under cmd/ and internal/): the metrics of commands that are not
    /// brokers, whose /metrics a test cannot scrape without their storage set up.
    /// </summary>
    public static IReadOnlySet<string> MetricLiterals(string area) =>
        SourceFiles("cmd", "internal")
            .Where(f => f.Split(Path.DirectorySeparatorChar).Contains(area))
            .SelectMany(f => Regex.Matches(File.ReadAllText(f), "\"(kafscale_[a-z0-9_]+)\"").Select(m => m.Groups[1].Value))
            .ToHashSet(StringComparer.Ordinal);
}
