using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

public sealed record DockerInstruction(string Keyword, string Arguments);

/// <summary>One build stage: FROM image [AS name] and its instructions.</summary>
public sealed record DockerStage(string Image, string? Name, IReadOnlyList<DockerInstruction> Instructions)
{
    public IEnumerable<string> Run => Instructions.Where(i => i.Keyword == "RUN").Select(i => i.Arguments);

    public IEnumerable<DockerInstruction> All(string keyword) => Instructions.Where(i => i.Keyword == keyword);

    /// <summary>Packages named by `apt-get install` in this stage's RUN instructions.</summary>
    public IReadOnlyList<string> AptPackages() =>
        Run.SelectMany(r => Regex.Matches(r, @"apt-get install((?:\s+[^\s&;|\\]+)+)").Cast<Match>())
            .SelectMany(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(p => !p.StartsWith('-'))
            .ToList();
}

/// <summary>A small Dockerfile reader: comments, line continuations, stages.</summary>
public static class Dockerfile
{
    public static IReadOnlyList<DockerStage> Parse(string text)
    {
        var logical = new List<string>();
        string current = "";
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                current += line[..^1] + " ";
                continue;
            }

            current += line;
            if (current.Trim().Length > 0)
            {
                logical.Add(Regex.Replace(current.Trim(), @"\s+", " "));
            }

            current = "";
        }

        var stages = new List<DockerStage>();
        string? image = null;
        string? name = null;
        var instructions = new List<DockerInstruction>();
        foreach (string line in logical)
        {
            int space = line.IndexOf(' ');
            string keyword = (space < 0 ? line : line[..space]).ToUpperInvariant();
            string args = space < 0 ? "" : line[(space + 1)..];
            if (keyword == "FROM")
            {
                if (image is not null)
                {
                    stages.Add(new DockerStage(image, name, instructions));
                }

                var m = Regex.Match(args, @"^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$", RegexOptions.IgnoreCase);
                Assert.True(m.Success, $"cannot read FROM {args}");
                image = m.Groups[1].Value;
                name = m.Groups[2].Success ? m.Groups[2].Value : null;
                instructions = [];
                continue;
            }

            instructions.Add(new DockerInstruction(keyword, args));
        }

        if (image is not null)
        {
            stages.Add(new DockerStage(image, name, instructions));
        }

        return stages;
    }
}
