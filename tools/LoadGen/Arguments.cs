using System.Globalization;

namespace KafScale.LoadGen;

/// <summary>A bad command line; reported as one line with exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// <c>--name value</c> / <c>--name=value</c> options after a subcommand. Each option is read
/// once; any left unread at the end is an error, so typos do not pass silently.
/// </summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public Arguments(IEnumerable<string> args)
    {
        using IEnumerator<string> e = args.GetEnumerator();
        while (e.MoveNext())
        {
            string arg = e.Current;
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"unexpected argument '{arg}'");
            }

            string name = arg[2..];
            string value;
            int eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (!e.MoveNext())
            {
                throw new UsageException($"--{name} needs a value");
            }
            else
            {
                value = e.Current;
            }

            _values[name] = value;
        }
    }

    public string? String(string name)
    {
        _read.Add(name);
        return _values.GetValueOrDefault(name);
    }

    public string Required(string name) => String(name) ?? throw new UsageException($"--{name} is required");

    public int Int(string name, int defaultValue)
    {
        string? text = String(name);
        if (text is null)
        {
            return defaultValue;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new UsageException($"--{name} '{text}' is not an integer");
    }

    public double Double(string name, double defaultValue)
    {
        string? text = String(name);
        if (text is null)
        {
            return defaultValue;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            ? value
            : throw new UsageException($"--{name} '{text}' is not a number");
    }

    public bool Bool(string name, bool defaultValue)
    {
        string? text = String(name);
        return text switch
        {
            null => defaultValue,
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw new UsageException($"--{name} '{text}' is not true or false"),
        };
    }

    /// <summary>Sizes: 1024, 64k / 64KiB, 1m / 1MiB.</summary>
    public int Bytes(string name, int defaultValue)
    {
        string? text = String(name);
        if (text is null)
        {
            return defaultValue;
        }

        string t = text.Trim().ToLowerInvariant().Replace("ib", "", StringComparison.Ordinal).TrimEnd('b');
        long multiplier = 1;
        if (t.EndsWith('k'))
        {
            multiplier = 1024;
            t = t[..^1];
        }
        else if (t.EndsWith('m'))
        {
            multiplier = 1024 * 1024;
            t = t[..^1];
        }

        return long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) && value * multiplier is > 0 and <= int.MaxValue
            ? (int)(value * multiplier)
            : throw new UsageException($"--{name} '{text}' is not a size (e.g. 1024, 64k, 1m)");
    }

    /// <summary>Durations: 20s, 500ms, 2m, or plain seconds.</summary>
    public TimeSpan Duration(string name, TimeSpan defaultValue)
    {
        string? text = String(name);
        if (text is null)
        {
            return defaultValue;
        }

        string t = text.Trim().ToLowerInvariant();
        double scale = 1000;
        if (t.EndsWith("ms", StringComparison.Ordinal))
        {
            scale = 1;
            t = t[..^2];
        }
        else if (t.EndsWith('s'))
        {
            t = t[..^1];
        }
        else if (t.EndsWith('m'))
        {
            scale = 60_000;
            t = t[..^1];
        }

        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0
            ? TimeSpan.FromMilliseconds(value * scale)
            : throw new UsageException($"--{name} '{text}' is not a duration (e.g. 20s, 500ms, 2m)");
    }

    public void ThrowIfUnread()
    {
        foreach (string name in _values.Keys)
        {
            if (!_read.Contains(name))
            {
                throw new UsageException($"unknown option --{name}");
            }
        }
    }
}
