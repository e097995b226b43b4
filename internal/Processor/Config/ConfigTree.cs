using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KafScale.Processor.Config;

/// <summary>A node of a parsed configuration file (YAML or JSON): a map, a list or a scalar, with its line.</summary>
public abstract class ConfigNode
{
    protected ConfigNode(int line) => Line = line;

    /// <summary>1-based line of the node in its file (0 when unknown).</summary>
    public int Line { get; }
}

public sealed class ConfigMap(int line) : ConfigNode(line)
{
    public List<KeyValuePair<string, ConfigNode>> Entries { get; } = [];

    public ConfigNode? Get(string key)
    {
        foreach (var e in Entries)
            if (e.Key == key) return e.Value;
        return null;
    }
}

public sealed class ConfigList(int line) : ConfigNode(line)
{
    public List<ConfigNode> Items { get; } = [];
}

/// <summary>A scalar; <see cref="Value"/> is null for YAML null / ~ / empty and JSON null.</summary>
public sealed class ConfigScalar(int line, string? value) : ConfigNode(line)
{
    public string? Value { get; } = value;
}

/// <summary>A configuration file that cannot be parsed or does not say something valid; the message names the line.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>
/// Parses configuration files without reflection (the binary is trimmed and AOT-compiled): JSON
/// through <see cref="JsonDocument"/>, YAML through a small parser of the block subset that
/// configuration files use (mappings, sequences, plain and quoted scalars, comments, and flow
/// lists/maps of scalars). Anchors, tags and multi-line scalars are refused with a clear message.
/// </summary>
public static class ConfigTree
{
    /// <summary>Parses by content: a document starting with '{' is JSON, anything else YAML.</summary>
    public static ConfigNode Parse(string text)
    {
        string trimmed = text.TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        return trimmed.StartsWith('{') ? ParseJson(trimmed) : ParseYaml(text);
    }

    public static ConfigNode ParseJson(string text)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new ConfigException($"invalid JSON at line {(ex.LineNumber ?? 0) + 1}: {FirstSentence(ex.Message)}");
        }
        using (doc)
        {
            return FromJson(doc.RootElement);
        }
    }

    private static string FirstSentence(string message)
    {
        int dot = message.IndexOf(". ", StringComparison.Ordinal);
        return dot > 0 ? message[..dot] : message.TrimEnd('.');
    }

    private static ConfigNode FromJson(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var map = new ConfigMap(0);
                foreach (var p in e.EnumerateObject())
                    map.Entries.Add(new(p.Name, FromJson(p.Value)));
                return map;
            case JsonValueKind.Array:
                var list = new ConfigList(0);
                foreach (var item in e.EnumerateArray())
                    list.Items.Add(FromJson(item));
                return list;
            case JsonValueKind.String:
                return new ConfigScalar(0, e.GetString());
            case JsonValueKind.Null:
                return new ConfigScalar(0, null);
            default:
                return new ConfigScalar(0, e.GetRawText());
        }
    }

    private readonly record struct Line(int Number, int Indent, string Text);

    public static ConfigNode ParseYaml(string text)
    {
        var lines = new List<Line>();
        int number = 0;
        foreach (string raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            number++;
            string content = StripComment(raw, number).TrimEnd();
            if (content.Length == 0) continue;
            if (number == 1 && content.StartsWith('\uFEFF')) content = content[1..];
            int indent = 0;
            while (indent < content.Length && content[indent] == ' ') indent++;
            if (indent < content.Length && content[indent] == '\t')
                throw new ConfigException($"line {number}: tabs cannot indent YAML; use spaces");
            string body = content[indent..];
            if (body is "---" or "...") continue;
            if (body.StartsWith('&') || body.StartsWith('*') || body.StartsWith('!') || body.StartsWith('|') || body.StartsWith('>'))
                throw new ConfigException($"line {number}: anchors, aliases, tags and block scalars are not supported in processor configuration");
            lines.Add(new Line(number, indent, body));
        }
        if (lines.Count == 0) return new ConfigMap(1);
        int pos = 0;
        var node = ParseBlock(lines, ref pos, lines[0].Indent);
        if (pos < lines.Count)
            throw new ConfigException($"line {lines[pos].Number}: unexpected indentation");
        return node;
    }

    private static string StripComment(string line, int number)
    {
        char quote = '\0';
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote != '\0')
            {
                if (c == '\\' && quote == '"') { i++; continue; }
                if (c == quote) quote = '\0';
                continue;
            }
            if (c is '"' or '\'' && (i == 0 || line[i - 1] is ' ' or ':' or '-' or '[' or '{' or ',')) quote = c;
            else if (c == '#' && (i == 0 || line[i - 1] is ' ' or '\t')) return line[..i];
        }
        _ = number;
        return line;
    }

    private static ConfigNode ParseBlock(List<Line> lines, ref int pos, int indent)
    {
        Line first = lines[pos];
        if (IsSequenceItem(first.Text)) return ParseSequence(lines, ref pos, indent);
        if (FindKeyColon(first.Text) >= 0) return ParseMapping(lines, ref pos, indent);
        pos++;
        return ParseScalarOrFlow(first.Text, first.Number);
    }

    private static bool IsSequenceItem(string text) => text == "-" || text.StartsWith("- ", StringComparison.Ordinal);

    private static ConfigList ParseSequence(List<Line> lines, ref int pos, int indent)
    {
        var list = new ConfigList(lines[pos].Number);
        while (pos < lines.Count && lines[pos].Indent == indent && IsSequenceItem(lines[pos].Text))
        {
            Line line = lines[pos];
            string rest = line.Text.Length > 1 ? line.Text[2..] : "";
            int extra = 0;
            while (extra < rest.Length && rest[extra] == ' ') extra++;
            rest = rest[extra..];
            if (rest.Length == 0)
            {
                pos++;
                if (pos < lines.Count && lines[pos].Indent > indent) list.Items.Add(ParseBlock(lines, ref pos, lines[pos].Indent));
                else list.Items.Add(new ConfigScalar(line.Number, null));
                continue;
            }
            // "- key: value" opens a mapping whose keys line up with "key".
            lines[pos] = new Line(line.Number, indent + 2 + extra, rest);
            list.Items.Add(ParseBlock(lines, ref pos, indent + 2 + extra));
        }
        if (pos < lines.Count && lines[pos].Indent > indent)
            throw new ConfigException($"line {lines[pos].Number}: unexpected indentation inside a list");
        return list;
    }

    private static ConfigMap ParseMapping(List<Line> lines, ref int pos, int indent)
    {
        var map = new ConfigMap(lines[pos].Number);
        while (pos < lines.Count && lines[pos].Indent == indent)
        {
            Line line = lines[pos];
            int colon = FindKeyColon(line.Text);
            if (colon < 0)
                throw new ConfigException($"line {line.Number}: expected 'key: value', got '{line.Text}'");
            string key = Unquote(line.Text[..colon].Trim(), line.Number);
            string value = line.Text[(colon + 1)..].Trim();
            foreach (var e in map.Entries)
                if (e.Key == key) throw new ConfigException($"line {line.Number}: key '{key}' appears twice");
            pos++;
            ConfigNode node;
            if (value.Length > 0)
            {
                node = ParseScalarOrFlow(value, line.Number);
            }
            else if (pos < lines.Count && (lines[pos].Indent > indent || (lines[pos].Indent == indent && IsSequenceItem(lines[pos].Text))))
            {
                node = ParseBlock(lines, ref pos, lines[pos].Indent);
            }
            else
            {
                node = new ConfigScalar(line.Number, null);
            }
            map.Entries.Add(new(key, node));
        }
        if (pos < lines.Count && lines[pos].Indent > indent)
            throw new ConfigException($"line {lines[pos].Number}: unexpected indentation");
        return map;
    }

    /// <summary>Position of the ':' that ends a mapping key (followed by a space or the end), outside quotes and brackets.</summary>
    private static int FindKeyColon(string text)
    {
        if (text.StartsWith('[') || text.StartsWith('{')) return -1;
        char quote = '\0';
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quote != '\0')
            {
                if (c == '\\' && quote == '"') { i++; continue; }
                if (c == quote) quote = '\0';
                continue;
            }
            if (i == 0 && c is '"' or '\'') { quote = c; continue; }
            if (c == ':' && (i + 1 == text.Length || text[i + 1] == ' ')) return i;
        }
        return -1;
    }

    private static ConfigNode ParseScalarOrFlow(string text, int line)
    {
        if (text.StartsWith('[') || text.StartsWith('{'))
        {
            int pos = 0;
            var node = ParseFlow(text, ref pos, line);
            SkipSpaces(text, ref pos);
            if (pos != text.Length) throw new ConfigException($"line {line}: unexpected text after '{text[..pos]}'");
            return node;
        }
        if (text.StartsWith('&') || text.StartsWith('*') || text.StartsWith('!') || text is "|" or ">" || text.StartsWith("|-") || text.StartsWith(">-"))
            throw new ConfigException($"line {line}: anchors, aliases, tags and block scalars are not supported in processor configuration");
        return Scalar(text, line);
    }

    private static ConfigScalar Scalar(string text, int line)
    {
        if (text.StartsWith('"') || text.StartsWith('\'')) return new ConfigScalar(line, Unquote(text, line));
        return text is "~" or "null" or "Null" or "NULL" ? new ConfigScalar(line, null) : new ConfigScalar(line, text);
    }

    private static void SkipSpaces(string text, ref int pos)
    {
        while (pos < text.Length && text[pos] == ' ') pos++;
    }

    private static ConfigNode ParseFlow(string text, ref int pos, int line)
    {
        SkipSpaces(text, ref pos);
        if (pos >= text.Length) throw new ConfigException($"line {line}: unterminated flow collection");
        char open = text[pos];
        if (open is '[' or '{')
        {
            pos++;
            char close = open == '[' ? ']' : '}';
            ConfigNode result = open == '[' ? new ConfigList(line) : new ConfigMap(line);
            SkipSpaces(text, ref pos);
            if (pos < text.Length && text[pos] == close) { pos++; return result; }
            while (true)
            {
                if (result is ConfigList list)
                {
                    list.Items.Add(ParseFlow(text, ref pos, line));
                }
                else
                {
                    var key = ParseFlowScalar(text, ref pos, line, ':');
                    SkipSpaces(text, ref pos);
                    if (pos >= text.Length || text[pos] != ':') throw new ConfigException($"line {line}: expected ':' after key '{key.Value}'");
                    pos++;
                    ((ConfigMap)result).Entries.Add(new(key.Value ?? "", ParseFlow(text, ref pos, line)));
                }
                SkipSpaces(text, ref pos);
                if (pos >= text.Length) throw new ConfigException($"line {line}: missing '{close}'");
                if (text[pos] == ',') { pos++; continue; }
                if (text[pos] == close) { pos++; return result; }
                throw new ConfigException($"line {line}: expected ',' or '{close}' at '{text[pos..]}'");
            }
        }
        return ParseFlowScalar(text, ref pos, line, '\0');
    }

    private static ConfigScalar ParseFlowScalar(string text, ref int pos, int line, char stop)
    {
        SkipSpaces(text, ref pos);
        int start = pos;
        if (pos < text.Length && text[pos] is '"' or '\'')
        {
            char q = text[pos++];
            while (pos < text.Length)
            {
                if (text[pos] == '\\' && q == '"') { pos += 2; continue; }
                if (text[pos] == q)
                {
                    if (q == '\'' && pos + 1 < text.Length && text[pos + 1] == '\'') { pos += 2; continue; }
                    pos++;
                    return new ConfigScalar(line, Unquote(text[start..pos], line));
                }
                pos++;
            }
            throw new ConfigException($"line {line}: unterminated quoted string");
        }
        while (pos < text.Length && text[pos] is not (',' or ']' or '}') && text[pos] != stop) pos++;
        return Scalar(text[start..pos].Trim(), line);
    }

    private static string Unquote(string text, int line)
    {
        if (text.Length >= 2 && text[0] == '\'' && text[^1] == '\'')
            return text[1..^1].Replace("''", "'");
        if (text.Length >= 2 && text[0] == '"' && text[^1] == '"')
        {
            var sb = new StringBuilder(text.Length);
            for (int i = 1; i < text.Length - 1; i++)
            {
                char c = text[i];
                if (c != '\\') { sb.Append(c); continue; }
                if (++i >= text.Length - 1) throw new ConfigException($"line {line}: bad escape at the end of {text}");
                switch (text[i])
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case '0': sb.Append('\0'); break;
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'u' when i + 4 < text.Length - 1 + 1 && int.TryParse(text.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int u):
                        sb.Append((char)u);
                        i += 4;
                        break;
                    default: throw new ConfigException($"line {line}: unknown escape '\\{text[i]}' in {text}");
                }
            }
            return sb.ToString();
        }
        if (text.Length > 0 && text[0] is '"' or '\'')
            throw new ConfigException($"line {line}: unterminated quoted string {text}");
        return text;
    }
}
