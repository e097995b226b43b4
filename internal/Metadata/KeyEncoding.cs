using System.Text;

namespace KafScale.Metadata;

/// <summary>Keys travel and persist as UTF-8; a key that cannot round-trip is rejected up front.</summary>
internal static class KeyEncoding
{
    public static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static void ValidateKey(string key, string paramName = "key")
    {
        ArgumentNullException.ThrowIfNull(key, paramName);
        if (key.Length == 0) throw new ArgumentException("A key must not be empty.", paramName);
        ValidateText(key, paramName);
    }

    public static void ValidatePrefix(string prefix, string paramName = "prefix")
    {
        ArgumentNullException.ThrowIfNull(prefix, paramName);
        ValidateText(prefix, paramName);
    }

    private static void ValidateText(string text, string paramName)
    {
        ReadOnlySpan<char> s = text;
        if (!s.ContainsAnyInRange('\uD800', '\uDFFF')) return;
        for (int i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
            if (char.IsSurrogate(s[i]))
                throw new ArgumentException("A key must be valid UTF-16 text (no unpaired surrogates).", paramName);
        }
    }
}
