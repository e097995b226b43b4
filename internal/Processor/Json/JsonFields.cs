using System.Text.Json;

namespace KafScale.Processor.Json;

/// <summary>Kind of a top-level JSON value.</summary>
public enum JsonKind : byte { Null, True, False, Number, String, Object, Array }

/// <summary>One top-level field of a JSON object: where its name and value are.</summary>
public struct JsonField
{
    /// <summary>Name as characters in <see cref="JsonFields.Names"/>.</summary>
    public int NameStart, NameLength;
    public JsonKind Kind;

    /// <summary>For strings: the unescaped UTF-8 value, in the record (not escaped) or in <see cref="JsonFields.Unescaped"/>.
    /// For numbers: the literal. For objects and arrays: the raw JSON text.</summary>
    public int ValueStart, ValueLength;
    public bool ValueInScratch;

    /// <summary>True for a number literal with a fraction or exponent.</summary>
    public bool IsFractional;
}

/// <summary>
/// The top-level fields of one JSON object value, found in one pass with <see cref="Utf8JsonReader"/>
/// and kept as positions (names decoded to characters for dictionary lookups, strings unescaped only
/// when they contain escapes). The buffers are reused from record to record: no allocation per record
/// once they have grown.
/// </summary>
public sealed class JsonFields
{
    private JsonField[] _fields = new JsonField[32];
    private char[] _names = new char[1024];
    private byte[] _unescaped = new byte[1024];
    private int _namesUsed;
    private int _unescapedUsed;

    public int Count { get; private set; }
    public ReadOnlySpan<char> Names => _names.AsSpan(0, _namesUsed);
    public ReadOnlySpan<byte> Unescaped => _unescaped.AsSpan(0, _unescapedUsed);
    public ref JsonField this[int i] => ref _fields[i];

    public ReadOnlySpan<char> Name(int i) => _names.AsSpan(_fields[i].NameStart, _fields[i].NameLength);

    /// <summary>The value bytes of field i (see <see cref="JsonField.ValueStart"/>).</summary>
    public ReadOnlySpan<byte> Value(int i, ReadOnlySpan<byte> json)
    {
        ref JsonField f = ref _fields[i];
        return f.ValueInScratch ? _unescaped.AsSpan(f.ValueStart, f.ValueLength) : json.Slice(f.ValueStart, f.ValueLength);
    }

    /// <summary>
    /// Reads <paramref name="json"/> as one JSON object. Returns false (with Count 0) when it is not
    /// one: not starting with '{', malformed, or followed by more than whitespace.
    /// </summary>
    public bool Parse(ReadOnlySpan<byte> json)
    {
        Count = 0;
        _namesUsed = 0;
        _unescapedUsed = 0;
        int first = 0;
        while (first < json.Length && json[first] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') first++;
        if (first >= json.Length || json[first] != (byte)'{') return false;
        try
        {
            if (ParseObject(json)) return true;
        }
        catch (JsonException) { }
        Count = 0;
        return false;
    }

    private bool ParseObject(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
        while (reader.Read())
        {
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                // Anything but whitespace after the object makes the value something else.
                return !reader.Read();
            }
            if (reader.TokenType != JsonTokenType.PropertyName) return false;
            if (Count == _fields.Length) Array.Resize(ref _fields, _fields.Length * 2);
            ref JsonField f = ref _fields[Count];
            f = default;
            int maxChars = reader.HasValueSequence ? (int)reader.ValueSequence.Length : reader.ValueSpan.Length;
            EnsureNames(maxChars);
            int chars = reader.CopyString(_names.AsSpan(_namesUsed));
            f.NameStart = _namesUsed;
            f.NameLength = chars;
            _namesUsed += chars;
            if (!reader.Read()) return false;
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    f.Kind = JsonKind.String;
                    if (reader.ValueIsEscaped)
                    {
                        EnsureUnescaped(reader.ValueSpan.Length);
                        int n = reader.CopyString(_unescaped.AsSpan(_unescapedUsed));
                        f.ValueInScratch = true;
                        f.ValueStart = _unescapedUsed;
                        f.ValueLength = n;
                        _unescapedUsed += n;
                    }
                    else
                    {
                        f.ValueStart = (int)reader.TokenStartIndex + 1;
                        f.ValueLength = reader.ValueSpan.Length;
                    }
                    break;
                case JsonTokenType.Number:
                    f.Kind = JsonKind.Number;
                    f.ValueStart = (int)reader.TokenStartIndex;
                    f.ValueLength = reader.ValueSpan.Length;
                    f.IsFractional = reader.ValueSpan.IndexOfAny((byte)'.', (byte)'e', (byte)'E') >= 0;
                    break;
                case JsonTokenType.True: f.Kind = JsonKind.True; break;
                case JsonTokenType.False: f.Kind = JsonKind.False; break;
                case JsonTokenType.Null: f.Kind = JsonKind.Null; break;
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    f.Kind = reader.TokenType == JsonTokenType.StartObject ? JsonKind.Object : JsonKind.Array;
                    f.ValueStart = (int)reader.TokenStartIndex;
                    reader.Skip();
                    f.ValueLength = (int)reader.BytesConsumed - f.ValueStart;
                    break;
                default:
                    return false;
            }
            Count++;
        }
        return false;
    }

    private void EnsureNames(int more)
    {
        if (_namesUsed + more > _names.Length)
            Array.Resize(ref _names, Math.Max(_names.Length * 2, _namesUsed + more));
    }

    private void EnsureUnescaped(int more)
    {
        if (_unescapedUsed + more > _unescaped.Length)
            Array.Resize(ref _unescaped, Math.Max(_unescaped.Length * 2, _unescapedUsed + more));
    }
}
