using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace KafScale.Processor.Json;

/// <summary>Outcome of converting a JSON value to a column type.</summary>
public enum ConvertResult { Ok, Null, Conflict }

/// <summary>
/// Conversions from top-level JSON values to column values, and the inference rules for new columns.
/// Inference: true/false -> boolean; an integer literal that fits 64 bits -> long; any other number ->
/// double; a string -> string; an object or array -> string (its JSON text); null -> nothing yet.
/// Conversion into an existing column is strict (the first type stays) except that integers widen into
/// float/double columns and objects/arrays go into string columns as JSON text; timestamps take ISO-8601
/// strings or epoch milliseconds, dates take yyyy-MM-dd strings or days since 1970-01-01, binary takes base64.
/// </summary>
public static class JsonValues
{
    public const long MicrosPerDay = 86_400_000_000L;
    private const long UnixEpochTicks = 621_355_968_000_000_000L;

    /// <summary>The column type a first non-null value implies, or null for JSON null.</summary>
    public static ColumnType? Infer(in JsonField f) => f.Kind switch
    {
        JsonKind.True or JsonKind.False => ColumnType.Boolean,
        JsonKind.Number => f.IsFractional ? ColumnType.Double : ColumnType.Long,
        JsonKind.String or JsonKind.Object or JsonKind.Array => ColumnType.String,
        _ => null,
    };

    /// <summary>Refines inference for numbers: an integer literal beyond 64 bits becomes double.</summary>
    public static ColumnType? Infer(in JsonField f, ReadOnlySpan<byte> value)
    {
        var t = Infer(f);
        if (t == ColumnType.Long && !TryLong(value, out _)) return ColumnType.Double;
        return t;
    }

    public static bool TryLong(ReadOnlySpan<byte> literal, out long value) =>
        Utf8Parser.TryParse(literal, out value, out int used) && used == literal.Length;

    public static bool TryDouble(ReadOnlySpan<byte> literal, out double value) =>
        Utf8Parser.TryParse(literal, out value, out int used) && used == literal.Length && double.IsFinite(value);

    /// <summary>Microseconds since the epoch (UTC) from an ISO-8601 / RFC 3339 text; a text without offset is UTC.</summary>
    public static bool TryTimestampMicros(ReadOnlySpan<byte> utf8, out long micros)
    {
        micros = 0;
        if (utf8.Length is 0 or > 64) return false;
        Span<char> chars = stackalloc char[64];
        int n = Encoding.UTF8.GetChars(utf8, chars);
        if (!DateTimeOffset.TryParse(chars[..n], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var dto))
            return false;
        micros = (dto.UtcTicks - UnixEpochTicks) / 10;
        return true;
    }

    public static bool TryDate(ReadOnlySpan<byte> utf8, out int days)
    {
        days = 0;
        if (utf8.Length != 10) return false;
        Span<char> chars = stackalloc char[10];
        Encoding.UTF8.GetChars(utf8, chars);
        if (!DateOnly.TryParseExact(chars, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)) return false;
        days = date.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;
        return true;
    }

    /// <summary>Days since 1970-01-01 of a microsecond timestamp (floor, so instants before 1970 fall on the right day).</summary>
    public static int DayOfMicros(long micros) => (int)Math.Floor(micros / (double)MicrosPerDay);

    /// <summary>Value of a temporal column in microseconds (timestamps) or days (dates), for partitioning.</summary>
    public static ConvertResult TryTemporal(in JsonField f, ReadOnlySpan<byte> value, ColumnType type, out long result)
    {
        result = 0;
        switch (f.Kind)
        {
            case JsonKind.Null: return ConvertResult.Null;
            case JsonKind.String:
                if (type == ColumnType.Date)
                {
                    if (!TryDate(value, out int d)) return ConvertResult.Conflict;
                    result = d;
                    return ConvertResult.Ok;
                }
                return TryTimestampMicros(value, out result) ? ConvertResult.Ok : ConvertResult.Conflict;
            case JsonKind.Number when !f.IsFractional && TryLong(value, out long n):
                if (type == ColumnType.Date)
                {
                    if (n is < int.MinValue or > int.MaxValue) return ConvertResult.Conflict;
                    result = n;
                    return ConvertResult.Ok;
                }
                if (n is < -9_223_372_036_854_775L or > 9_223_372_036_854_775L) return ConvertResult.Conflict;
                result = n * 1000;
                return ConvertResult.Ok;
            default:
                return ConvertResult.Conflict;
        }
    }

    /// <summary>Decodes base64 into <paramref name="scratch"/> (grown as needed); false when the text is not base64.</summary>
    public static bool TryBase64(ReadOnlySpan<byte> utf8, ref byte[] scratch, out int length)
    {
        int max = Base64.GetMaxDecodedFromUtf8Length(utf8.Length);
        if (scratch.Length < max) scratch = new byte[Math.Max(max, scratch.Length * 2)];
        var status = Base64.DecodeFromUtf8(utf8, scratch, out _, out length);
        return status == OperationStatus.Done;
    }
}
