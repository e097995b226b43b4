using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

/// <summary>
/// The repository explains itself: every document that code, scripts and docs point to is in the
/// repository, and every cited heading is in its document. Scans the tracked sources, scripts and
/// docs for paths of markdown files under docs/, relative markdown links (and their #anchors),
/// citations of a heading (a docs path, a comma, the heading in double quotes), and names of
/// design documents that live outside the repository.
/// </summary>
public sealed partial class DocReferenceTests
{
    // Built from parts so that this file does not cite them itself.
    private static readonly string[] OutsideDocuments = ["DESIGN" + ".md", "STYLE" + ".md"];
    private static readonly string OutsideFolder = "../" + "shared";
    private const string D = "do" + "cs/";

    /// <summary>A repository file: its path from the root, with '/' separators, and its text.</summary>
    public sealed record RepoText(string Path, string Text);

    [GeneratedRegex(@"(?<![\w./-])docs/[A-Za-z0-9_./-]+?\.md\b")]
    private static partial Regex DocsPath();

    // A markdown link's target: [text](target) or [text](target "title"); images too.
    [GeneratedRegex(@"\]\(\s*<?([^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)")]
    private static partial Regex LinkTarget();

    // A docs path, a comma, then the heading in double quotes (possibly on the next line of a comment).
    [GeneratedRegex(@"(docs/[A-Za-z0-9_./-]+?\.md),(?:\s|///?|\*|#)*""([^""\n]+)""")]
    private static partial Regex Citation();

    /// <summary>Source, script and document files, tracked by git (or, outside a clone, found on disk).</summary>
    public static IReadOnlyList<RepoText> TrackedFiles()
    {
        string root = RepoPaths.Root;
        IEnumerable<string> paths;
        ToolResult git = Tool.Run("git", ["ls-files", "-z"], root);
        if (git.ExitCode == 0)
        {
            paths = git.Stdout.Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        else
        {
            string[] skip = ["/bin/", "/obj/", "/node_modules/", "/out/", "/.git/"];
            paths = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/'))
                .Where(p => !skip.Any(s => ("/" + p).Contains(s, StringComparison.Ordinal)));
        }

        return [.. paths.Where(Scanned).Where(p => File.Exists(Path.Combine(root, p)))
            .Order(StringComparer.Ordinal)
            .Select(p => new RepoText(p, File.ReadAllText(Path.Combine(root, p))))];
    }

    /// <summary>The kinds of files whose references are checked; Kafka's own schema files are not ours.</summary>
    private static bool Scanned(string path)
    {
        if (path.StartsWith("internal/Protocol/Schemas/", StringComparison.Ordinal))
        {
            return false;
        }

        string name = path[(path.LastIndexOf('/') + 1)..];
        return name == "Dockerfile" || name.StartsWith("Dockerfile.", StringComparison.Ordinal)
            || new[] { ".cs", ".sh", ".md", ".yml", ".yaml", ".service" }.Any(e => name.EndsWith(e, StringComparison.Ordinal));
    }

    /// <summary>
    /// Every broken reference in the files, one line each ("path:line: problem"). A reference is
    /// resolved against <paramref name="exists"/> (a repository path exists) and
    /// <paramref name="read"/> (a markdown file's text, for headings).
    /// </summary>
    public static List<string> Problems(IReadOnlyList<RepoText> files, Func<string, bool> exists, Func<string, string?> read)
    {
        var problems = new List<string>();
        var headingCache = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

        IReadOnlyList<string> Headings(string doc)
        {
            if (!headingCache.TryGetValue(doc, out var headings))
            {
                headings = read(doc) is { } text
                    ? [.. Markdown.Sections(text).Where(s => s.Level > 0).Select(s => s.Heading.Trim())]
                    : [];
                headingCache[doc] = headings;
            }

            return headings;
        }

        foreach (RepoText file in files)
        {
            string dir = file.Path.Contains('/') ? file.Path[..file.Path.LastIndexOf('/')] : "";
            bool markdown = file.Path.EndsWith(".md", StringComparison.Ordinal);
            void Report(int index, string problem)
            {
                int line = 1 + file.Text.AsSpan(0, index).Count('\n');
                problems.Add($"{file.Path}:{line}: {problem}");
            }

            foreach (string name in OutsideDocuments)
            {
                for (int i = file.Text.IndexOf(name, StringComparison.Ordinal); i >= 0; i = file.Text.IndexOf(name, i + 1, StringComparison.Ordinal))
                {
                    // Any path ending in the name counts only if that file is in the repository.
                    Match path = Regex.Match(file.Text[..(i + name.Length)], @"[A-Za-z0-9_./-]*$");
                    string cited = path.Value;
                    if (!exists(Resolve(dir, cited)) && !exists(cited))
                    {
                        Report(i, $"cites {cited}, which is not in the repository: cite the document in docs/ that holds the rule");
                    }
                }
            }

            for (int i = file.Text.IndexOf(OutsideFolder, StringComparison.Ordinal); i >= 0; i = file.Text.IndexOf(OutsideFolder, i + 1, StringComparison.Ordinal))
            {
                Report(i, $"points at {OutsideFolder}, outside the repository");
            }

            foreach (Match m in DocsPath().Matches(file.Text))
            {
                if (!exists(m.Value))
                {
                    Report(m.Index, $"{m.Value} does not exist");
                }
            }

            foreach (Match m in Citation().Matches(file.Text))
            {
                string doc = m.Groups[1].Value;
                string heading = m.Groups[2].Value.Trim();
                if (exists(doc) && !Headings(doc).Any(h => string.Equals(h, heading, StringComparison.OrdinalIgnoreCase)))
                {
                    Report(m.Index, $"cites \"{heading}\" in {doc}, which has no such heading");
                }
            }

            if (!markdown)
            {
                continue;
            }

            foreach (Match m in LinkTarget().Matches(file.Text))
            {
                string target = m.Groups[1].Value;
                if (Regex.IsMatch(target, "^[a-zA-Z][a-zA-Z0-9+.-]*:") || target.StartsWith("//", StringComparison.Ordinal))
                {
                    continue; // a URL
                }

                int hash = target.IndexOf('#');
                string pathPart = hash >= 0 ? target[..hash] : target;
                string anchor = hash >= 0 ? target[(hash + 1)..] : "";
                string resolved = pathPart.Length == 0 ? file.Path : Resolve(dir, Uri.UnescapeDataString(pathPart));
                if (!exists(resolved))
                {
                    Report(m.Index, $"links to {target}, but {resolved} does not exist");
                    continue;
                }

                if (anchor.Length > 0 && resolved.EndsWith(".md", StringComparison.Ordinal)
                    && !Headings(resolved).Any(h => Markdown.Anchor(h) == anchor))
                {
                    Report(m.Index, $"links to {target}, but {resolved} has no heading with the anchor #{anchor}");
                }
            }
        }

        return problems;
    }

    /// <summary>A relative path from a directory of the repository, normalised ("" is the root; null when it leaves the repository).</summary>
    private static string Resolve(string dir, string relative)
    {
        var parts = new List<string>(dir.Length == 0 ? [] : dir.Split('/'));
        foreach (string part in relative.Split('/'))
        {
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count == 0)
                {
                    return "../" + relative; // outside the repository: never exists
                }

                parts.RemoveAt(parts.Count - 1);
                continue;
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }

    private static bool ExistsInRepo(string path) =>
        !path.StartsWith("../", StringComparison.Ordinal)
        && (File.Exists(Path.Combine(RepoPaths.Root, path)) || Directory.Exists(Path.Combine(RepoPaths.Root, path)));

    private static string? ReadInRepo(string path) =>
        ExistsInRepo(path) && File.Exists(Path.Combine(RepoPaths.Root, path)) ? File.ReadAllText(Path.Combine(RepoPaths.Root, path)) : null;

    [Fact]
    public void Every_referenced_document_and_heading_is_in_the_repository()
    {
        IReadOnlyList<RepoText> files = TrackedFiles();
        Assert.Contains(files, f => f.Path == "docs/architecture.md");
        Assert.Contains(files, f => f.Path.StartsWith("internal/", StringComparison.Ordinal) && f.Path.EndsWith(".cs", StringComparison.Ordinal));
        List<string> problems = Problems(files, ExistsInRepo, ReadInRepo);
        Assert.True(problems.Count == 0, $"{problems.Count} broken document reference(s):\n" + string.Join('\n', problems));
    }

    /// <summary>The headings other files cite exist, so a citation of them is checked, not assumed.</summary>
    [Theory]
    [InlineData("docs/architecture.md", "The write path")]
    [InlineData("docs/architecture.md", "The read path")]
    [InlineData("docs/architecture.md", "Leadership and fencing")]
    public void The_cited_headings_exist(string doc, string heading)
    {
        var headings = Markdown.Sections(Tool.RepoFile(doc)).Select(s => s.Heading.Trim());
        Assert.Contains(heading, headings);
    }

    /// <summary>The checker itself, on made-up files: each kind of broken reference is reported, and good ones are not.</summary>
    [Fact]
    public void Broken_references_of_every_kind_are_reported()
    {
        var repo = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [D + "architecture.md"] = "# Architecture\n## The write path\ntext\n## Leadership and fencing\n",
            [D + "ops.md"] = "# Ops\n",
            ["scripts/run.sh"] = "",
        };
        bool Exists(string p) => repo.ContainsKey(p) || repo.Keys.Any(k => k.StartsWith(p + "/", StringComparison.Ordinal));
        string? Read(string p) => repo.GetValueOrDefault(p);
        RepoText[] good =
        [
            new("internal/A.cs", $"/// see {D}architecture.md, \"the write path\" and {D}architecture.md,\n/// \"Leadership and fencing\"; {D}ops.md"),
            new(D + "ops.md", "[a](architecture.md) [b](architecture.md#the-write-path) [c](#ops) [d](../scripts/run.sh) [e](https://example.com/x.md)"),
        ];
        Assert.Empty(Problems(good, Exists, Read));

        RepoText[] bad =
        [
            new("internal/B.cs", "// " + OutsideDocuments[0] + " section 6"),
            new("internal/C.cs", "// the rules in " + OutsideFolder + "/" + OutsideDocuments[1]),
            new("scripts/x.sh", $"# see {D}missing.md"),
            new("internal/D.cs", $"/// {D}architecture.md, \"The fetch path\""),
            new(D + "e.md", "[x](nothere.md)"),
            new(D + "f.md", "[y](architecture.md#no-such-heading)"),
            new(D + "g.md", "[z](../../outside.md)"),
        ];
        List<string> problems = Problems(bad, Exists, Read);
        Assert.Contains(problems, p => p.StartsWith("internal/B.cs:1: cites " + OutsideDocuments[0], StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("internal/C.cs:1: points at " + OutsideFolder, StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("internal/C.cs:1: cites " + OutsideFolder + "/" + OutsideDocuments[1], StringComparison.Ordinal));
        Assert.Contains($"scripts/x.sh:1: {D}missing.md does not exist", problems);
        Assert.Contains($"internal/D.cs:1: cites \"The fetch path\" in {D}architecture.md, which has no such heading", problems);
        Assert.Contains(problems, p => p.StartsWith(D + "e.md:1: links to nothere.md", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith(D + "f.md:1: links to architecture.md#no-such-heading", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith(D + "g.md:1: links to ../../outside.md", StringComparison.Ordinal));
        Assert.Equal(8, problems.Count);
    }
}
