using System.Globalization;

namespace KafScale.Storage.Wal;

/// <summary>
/// Keys of WAL objects: <c>&lt;namespace&gt;/!wal/&lt;created-at ms, 20 digits&gt;-&lt;sequence, 20 digits&gt;-&lt;broker id, 10 digits&gt;.wal</c>.
/// '!' cannot occur in a Kafka topic name, so the directory never collides with a topic's, and
/// the zero padding makes ascending key order equal creation order.
/// </summary>
public static class WalKeys
{
    /// <summary>The directory under the namespace that holds every WAL object.</summary>
    public const string Directory = "!wal";

    /// <summary>The file name's extension.</summary>
    public const string Suffix = ".wal";

    private const int TimeDigits = 20;
    private const int SequenceDigits = 20;
    private const int BrokerDigits = 10;

    /// <summary>Length of a WAL object's file name (the part after the last '/').</summary>
    public const int FileNameLength = TimeDigits + 1 + SequenceDigits + 1 + BrokerDigits + 4;

    /// <summary>Prefix of every WAL object of a namespace: <c>&lt;ns&gt;/!wal/</c>.</summary>
    public static string Prefix(string ns)
    {
        ArgumentException.ThrowIfNullOrEmpty(ns);
        return ns + "/" + Directory + "/";
    }

    /// <summary>The key of the WAL object a broker writes at <paramref name="createdAtMs"/> with its <paramref name="sequence"/>.</summary>
    public static string Key(string ns, long createdAtMs, long sequence, int brokerId)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(createdAtMs);
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        ArgumentOutOfRangeException.ThrowIfNegative(brokerId);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix(ns)}{createdAtMs:D20}-{sequence:D20}-{brokerId:D10}{Suffix}");
    }

    /// <summary>Parses a WAL object key (any namespace); false for any other key.</summary>
    public static bool TryParse(string key, out long createdAtMs, out long sequence, out int brokerId) =>
        TryParse(key, out _, out createdAtMs, out sequence, out brokerId);

    /// <summary>Parses a WAL object key and returns its namespace too; false for any other key.</summary>
    public static bool TryParse(string key, out string ns, out long createdAtMs, out long sequence, out int brokerId)
    {
        ns = "";
        createdAtMs = sequence = 0;
        brokerId = 0;
        if (string.IsNullOrEmpty(key) || key.Length < FileNameLength + Directory.Length + 3)
            return false;
        ReadOnlySpan<char> file = key.AsSpan(key.Length - FileNameLength);
        ReadOnlySpan<char> dir = key.AsSpan(0, key.Length - FileNameLength);
        // dir is "<ns>/!wal/" with a non-empty namespace.
        if (!dir.EndsWith("/" + Directory + "/", StringComparison.Ordinal) || dir.Length < Directory.Length + 3)
            return false;
        if (!file.EndsWith(Suffix, StringComparison.Ordinal) || file[TimeDigits] != '-' || file[TimeDigits + 1 + SequenceDigits] != '-')
            return false;
        if (!TryDigits(file.Slice(0, TimeDigits), out long time)
            || !TryDigits(file.Slice(TimeDigits + 1, SequenceDigits), out long seq)
            || !TryDigits(file.Slice(TimeDigits + 1 + SequenceDigits + 1, BrokerDigits), out long broker)
            || broker > int.MaxValue)
            return false;
        ns = dir.Slice(0, dir.Length - Directory.Length - 2).ToString();
        createdAtMs = time;
        sequence = seq;
        brokerId = (int)broker;
        return true;
    }

    /// <summary>
    /// A key that sorts just before every key of <paramref name="ns"/> created at or after
    /// <paramref name="createdAtMs"/> and after every earlier one: the StartAfter of a listing that
    /// should skip older objects.
    /// </summary>
    public static string StartAfter(string ns, long createdAtMs) =>
        // A proper prefix of every key of that millisecond sorts before them, and after every
        // key of an earlier millisecond, whose digits are smaller.
        createdAtMs <= 0
            ? Prefix(ns)
            : string.Create(CultureInfo.InvariantCulture, $"{Prefix(ns)}{createdAtMs:D20}");

    private static bool TryDigits(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        ulong v = 0;
        foreach (char c in text)
        {
            if (c is < '0' or > '9')
                return false;
            uint digit = (uint)(c - '0');
            if (v > (ulong.MaxValue / 2 - digit) / 10)
                return false;
            v = v * 10 + digit;
        }
        value = (long)v;
        return true;
    }
}
