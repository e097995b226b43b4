using System.Globalization;

namespace KafScale.Snapshot;

/// <summary>
/// Durations as operators write them for --interval and --older-than: a number and a unit,
/// optionally several run together, e.g. 30s, 15m, 6h, 7d, 2w, 1h30m, 500ms.
/// </summary>
public static class Durations
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text)) return false;
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        long ticks = 0;
        int i = 0;
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
            if (i == start || i - start > 9) return false;
            long number = long.Parse(s[start..i], NumberStyles.None, CultureInfo.InvariantCulture);
            int unitStart = i;
            while (i < s.Length && char.IsAsciiLetter(s[i])) i++;
            long unit = s[unitStart..i] switch
            {
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                "d" => TimeSpan.TicksPerDay,
                "w" => TimeSpan.TicksPerDay * 7,
                _ => 0,
            };
            if (unit == 0) return false;
            try { ticks = checked(ticks + checked(number * unit)); }
            catch (OverflowException) { return false; }
        }
        value = TimeSpan.FromTicks(ticks);
        return true;
    }

    /// <summary>A short form for messages: 90s, 15m, 6h, 7d, 1h30m.</summary>
    public static string Format(TimeSpan d)
    {
        if (d <= TimeSpan.Zero) return "0s";
        var parts = new System.Text.StringBuilder();
        long ms = (long)d.TotalMilliseconds;
        foreach ((long size, string unit) in new (long, string)[] { (86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms") })
        {
            if (ms >= size)
            {
                parts.Append((ms / size).ToString(CultureInfo.InvariantCulture)).Append(unit);
                ms %= size;
            }
        }
        return parts.ToString();
    }
}
