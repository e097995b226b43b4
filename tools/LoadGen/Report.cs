using System.Text;
using System.Text.Json;

namespace KafScale.LoadGen;

/// <summary>
/// The result of a command: a human line, then the same numbers as one JSON object on one
/// line (scripts take the line starting with <c>{</c>). Written with Utf8JsonWriter: no
/// reflection, so it works trimmed and AOT-compiled.
/// </summary>
internal sealed class Report
{
    private readonly List<KeyValuePair<string, object>> _fields = [];

    public Report(string mode)
    {
        this["mode"] = mode;
    }

    public object this[string name]
    {
        set
        {
            int index = _fields.FindIndex(f => f.Key == name);
            if (index >= 0)
            {
                _fields[index] = new(name, value);
            }
            else
            {
                _fields.Add(new(name, value));
            }
        }
    }

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            foreach ((string name, object value) in _fields)
            {
                switch (value)
                {
                    case string s:
                        json.WriteString(name, s);
                        break;
                    case int i:
                        json.WriteNumber(name, i);
                        break;
                    case long l:
                        json.WriteNumber(name, l);
                        break;
                    case double d:
                        json.WriteNumber(name, double.IsFinite(d) ? d : 0);
                        break;
                    case bool b:
                        json.WriteBoolean(name, b);
                        break;
                    case IEnumerable<double> list:
                        json.WriteStartArray(name);
                        foreach (double d in list)
                        {
                            json.WriteNumberValue(d);
                        }

                        json.WriteEndArray();
                        break;
                    default:
                        json.WriteString(name, value.ToString());
                        break;
                }
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public void Write(string humanLine)
    {
        Console.Out.WriteLine(humanLine);
        Console.Out.WriteLine(ToJson());
        Console.Out.Flush();
    }
}
