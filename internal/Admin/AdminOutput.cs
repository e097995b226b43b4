using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KafScale.Admin;

/// <summary>A usage problem (bad value, conflicting flags): one line on stderr, exit code 2.</summary>
public sealed class AdminUsageException(string message) : Exception(message);

/// <summary>A failure that is not the user's typing (cluster refused, not found, unreachable): one line, exit code 1.</summary>
public sealed class AdminFailure(string message) : Exception(message);

/// <summary>Exit codes of <c>kafscale admin</c> (docs/admin.md).</summary>
public static class AdminExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
    public const int Unhealthy = 10;
}

/// <summary>
/// Where an admin command writes: aligned text tables for people, or JSON for scripts (one
/// document per command; streaming commands write one object per line).
/// </summary>
public sealed class AdminOutput
{
    private static readonly JsonWriterOptions Indented = new() { Indented = true };
    private static readonly JsonWriterOptions Compact = new() { Indented = false };

    public AdminOutput(bool json, TextWriter? writer = null)
    {
        Json = json;
        Out = writer ?? Console.Out;
    }

    public bool Json { get; }

    public TextWriter Out { get; }

    /// <summary>Parses the --output value.</summary>
    public static bool ParseFormat(string value) => value.ToLowerInvariant() switch
    {
        "text" => false,
        "json" => true,
        _ => throw new AdminUsageException($"invalid value '{value}' for --output (KAFSCALE_OUTPUT): expected text or json"),
    };

    /// <summary>Writes one JSON document (indented, or one line when <paramref name="oneLine"/>).</summary>
    public void WriteJson(Action<Utf8JsonWriter> write, bool oneLine = false)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, oneLine ? Compact : Indented))
        {
            write(writer);
        }

        Out.Write(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        Out.Write('\n');
        Out.Flush();
    }

    /// <summary>Writes one JSON object on one line without flushing (streams of records).</summary>
    public void WriteJsonLine(Action<Utf8JsonWriter> write)
    {
        _lineBuffer.SetLength(0);
        using (var writer = new Utf8JsonWriter(_lineBuffer, Compact))
        {
            write(writer);
        }

        Out.Write(Encoding.UTF8.GetString(_lineBuffer.GetBuffer(), 0, (int)_lineBuffer.Length));
        Out.Write('\n');
    }

    private readonly MemoryStream _lineBuffer = new();

    /// <summary>Writes rows as a table whose columns are padded to their widest cell.</summary>
    public void WriteTable(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = new List<IReadOnlyList<string>> { headers };
        all.AddRange(rows);
        var widths = new int[headers.Count];
        foreach (var row in all)
        {
            for (int i = 0; i < row.Count && i < widths.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var line = new StringBuilder();
        foreach (var row in all)
        {
            line.Clear();
            for (int i = 0; i < row.Count; i++)
            {
                if (i == row.Count - 1)
                {
                    line.Append(row[i]);
                }
                else
                {
                    line.Append(row[i].PadRight(widths[i] + 2));
                }
            }

            Out.WriteLine(line.ToString().TrimEnd());
        }

        Out.Flush();
    }

    /// <summary>Writes "name  value" lines aligned on the value.</summary>
    public void WriteFields(IEnumerable<(string Name, string Value)> fields)
    {
        var list = fields.ToList();
        int width = list.Count == 0 ? 0 : list.Max(f => f.Name.Length);
        foreach ((string name, string value) in list)
        {
            Out.WriteLine($"{name.PadRight(width + 2)}{value}");
        }

        Out.Flush();
    }

    public void Line(string text)
    {
        Out.WriteLine(text);
        Out.Flush();
    }

    public static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    public static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Bytes for people: "512 B", "12.3 MiB" (binary units, one decimal), "-" when unknown.</summary>
    public static string Size(long? bytes)
    {
        if (bytes is not long b) return "-";
        if (b < 1024) return $"{N(b)} B";
        string[] units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double v = b;
        int u = -1;
        do { v /= 1024; u++; } while (v >= 1024 && u < units.Length - 1);
        return v.ToString("0.0", CultureInfo.InvariantCulture) + " " + units[u];
    }

    public static string Time(long ms) => ms < 0 ? "-" : DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
}
