using System.Text.RegularExpressions;
using KafScale.Protocol;
using KafScale.TestSupport;

namespace KafScale.Broker.Tests.Handlers;

/// <summary>The one table of store-outage errors, against itself and against docs/protocol.md.</summary>
public sealed partial class StoreOutageErrorTableTests
{
    /// <summary>The rows of docs/protocol.md, "Errors when the metadata store is unavailable": API keys and the documented code (null for "none").</summary>
    private static List<(short[] Keys, short? Code)> DocumentedRows()
    {
        string text = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "protocol.md"));
        int start = text.IndexOf("## Errors when the metadata store is unavailable", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/protocol.md has no section 'Errors when the metadata store is unavailable'");
        int end = text.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        string section = end < 0 ? text[start..] : text[start..end];
        var rows = new List<(short[], short?)>();
        foreach (Match m in Row().Matches(section))
        {
            short[] keys = [.. m.Groups["keys"].Value.Split(',', StringSplitOptions.TrimEntries).Select(short.Parse)];
            string error = m.Groups["error"].Value.Trim();
            var code = CodeInParentheses().Match(error);
            rows.Add((keys, code.Success ? short.Parse(code.Groups[1].Value) : null));
        }
        return rows;
    }

    [Fact]
    public void Every_served_api_has_a_documented_row_and_the_broker_answers_the_documented_code()
    {
        var rows = DocumentedRows();
        Assert.Equal(39, rows.Sum(r => r.Keys.Length));
        foreach (var info in ApiKeys.All.Where(i => IsServed(i.ApiKey)))
        {
            var row = rows.SingleOrDefault(r => r.Keys.Contains(info.ApiKey));
            Assert.True(row.Keys is not null, $"API key {info.ApiKey} has no row in the store-outage table of docs/protocol.md");
            if (row.Code is short documented) Assert.Equal(documented, ErrorCodes.WhenMetadataStoreUnavailable(info.ApiKey));
        }
    }

    [Fact]
    public void Every_code_the_table_can_answer_is_retriable()
    {
        for (short key = 0; key < 128; key++)
        {
            var code = (ErrorCode)ErrorCodes.WhenMetadataStoreUnavailable(key);
            Assert.True(code.IsRetriable(), $"API key {key} would answer {code}, which clients treat as final");
        }
    }

    /// <summary>The APIs of the served-versions table at the top of docs/protocol.md.</summary>
    private static bool IsServed(short apiKey) =>
        File.ReadLines(Path.Combine(RepoPaths.Root, "docs", "protocol.md")).Any(l => l.StartsWith($"| {apiKey} | ", StringComparison.Ordinal));

    [GeneratedRegex(@"^\| (?<keys>\d+(?:, \d+)*) \| [^|]+ \| (?<error>[^|]+) \|", RegexOptions.Multiline)]
    private static partial Regex Row();

    [GeneratedRegex(@"\((-?\d+)\)")]
    private static partial Regex CodeInParentheses();
}
