using System.Text.RegularExpressions;

namespace KafScale.Packaging.Tests;

/// <summary>A table row of a markdown document, with the heading path it sits under.</summary>
public sealed record TableRow(IReadOnlyList<string> Cells, string Line)
{
    public static string Plain(string cell) => cell.Replace("`", "", StringComparison.Ordinal).Trim();
}

/// <summary>A section of a markdown document: a heading and its body up to the next heading of any level.</summary>
public sealed record Section(int Level, string Heading, IReadOnlyList<string> Body)
{
    public string Text => string.Join('\n', Body);

    /// <summary>The rows of every table in the section, header and separator rows left out.</summary>
    public IEnumerable<TableRow> Rows()
    {
        bool inTable = false;
        foreach (string line in Body)
        {
            if (!line.StartsWith('|'))
            {
                inTable = false;
                continue;
            }

            if (!inTable)
            {
                inTable = true; // the header row
                continue;
            }

            if (Regex.IsMatch(line, @"^\|[\s\-:|]+\|$"))
            {
                continue;
            }

            yield return new TableRow(line.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToList(), line);
        }
    }
}

public static class Markdown
{
    public static IReadOnlyList<Section> Sections(string text)
    {
        var sections = new List<Section>();
        int level = 0;
        string heading = "";
        var body = new List<string>();
        bool fence = false;
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                fence = !fence;
            }

            var m = fence ? Match.Empty : Regex.Match(line, @"^(#{1,6})\s+(.*)$");
            if (m.Success)
            {
                sections.Add(new Section(level, heading, body));
                level = m.Groups[1].Length;
                heading = m.Groups[2].Value;
                body = [];
                continue;
            }

            body.Add(line);
        }

        sections.Add(new Section(level, heading, body));
        return sections;
    }

    /// <summary>GitHub's anchor for a heading.</summary>
    public static string Anchor(string heading) =>
        Regex.Replace(Regex.Replace(heading.ToLowerInvariant(), @"[^a-z0-9 \-_]", ""), " ", "-");
}
