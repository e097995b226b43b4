namespace KafScale.Metadata;

/// <summary>
/// Orders keys as etcd does: by their UTF-8 bytes, which is Unicode code point order. Plain
/// ordinal order differs for characters outside the Basic Multilingual Plane.
/// </summary>
internal sealed class KeyOrder : IComparer<string>
{
    public static readonly KeyOrder Instance = new();

    /// <summary>U+10FFFF: every key starting with p sorts at or before p + this.</summary>
    public const string MaxCodePoint = "\uDBFF\uDFFF";

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        int n = Math.Min(x.Length, y.Length);
        int i = x.AsSpan(0, n).CommonPrefixLength(y.AsSpan(0, n));
        if (i == n) return x.Length.CompareTo(y.Length);
        return Weight(x[i]).CompareTo(Weight(y[i]));
    }

    // UTF-16 puts surrogates (U+D800..DFFF) below U+E000..FFFF; in code point order they belong above.
    private static int Weight(char c) => c < 0xD800 ? c : c >= 0xE000 ? c - 0x800 : c + 0x2000;
}
