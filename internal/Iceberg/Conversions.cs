using System.Buffers.Binary;
using System.Text;

namespace KafScale.Iceberg;

/// <summary>Partition transforms (identity, year, month, day, hour, void) and their result types.</summary>
public static class Transforms
{
    public static void Validate(string transform)
    {
        if (transform is not ("identity" or "year" or "month" or "day" or "hour" or "void"))
            throw new IcebergException($"partition transform '{transform}' is not supported (identity, year, month, day, hour, void)");
    }

    /// <summary>The type of the partition value for a source column type.</summary>
    public static IcebergPrimitive ResultType(string transform, IcebergPrimitive source) => transform switch
    {
        "identity" or "void" => source,
        "day" => IcebergPrimitive.Date,
        _ => IcebergPrimitive.Int,
    };

    private const long MicrosPerHour = 3_600_000_000L;
    private const long MicrosPerDay = 86_400_000_000L;

    /// <summary>Applies a time transform to a source value (date: days; timestamp: micros since the epoch, UTC).</summary>
    public static int ApplyTime(string transform, IcebergPrimitive source, long value)
    {
        long days = source == IcebergPrimitive.Date ? value : FloorDiv(value, MicrosPerDay);
        switch (transform)
        {
            case "day":
                return checked((int)days);
            case "hour":
                if (source == IcebergPrimitive.Date)
                    throw new IcebergException("the hour transform needs a timestamp column");
                return checked((int)FloorDiv(value, MicrosPerHour));
            case "month":
            case "year":
            {
                DateOnly date = DateOnly.FromDayNumber(checked((int)(days + DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber)));
                int years = date.Year - 1970;
                return transform == "year" ? years : years * 12 + date.Month - 1;
            }
            default:
                throw new IcebergException($"'{transform}' is not a time transform");
        }
    }

    private static long FloorDiv(long a, long b) => a >= 0 ? a / b : -((-a + b - 1) / b);
}

/// <summary>Iceberg's single-value binary serialization and bound truncation.</summary>
public static class Conversions
{
    public const int TruncateLength = 16;

    /// <summary>Serializes a value (bool, int, long, float, double, string, byte[]) of the given type.</summary>
    public static byte[] ToBytes(IcebergPrimitive type, object value)
    {
        switch (type)
        {
            case IcebergPrimitive.Boolean:
                return [(bool)value ? (byte)1 : (byte)0];
            case IcebergPrimitive.Int or IcebergPrimitive.Date:
            {
                var b = new byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(b, Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture));
                return b;
            }
            case IcebergPrimitive.Long or IcebergPrimitive.Timestamp or IcebergPrimitive.Timestamptz:
            {
                var b = new byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(b, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                return b;
            }
            case IcebergPrimitive.Float:
            {
                var b = new byte[4];
                BinaryPrimitives.WriteSingleLittleEndian(b, (float)value);
                return b;
            }
            case IcebergPrimitive.Double:
            {
                var b = new byte[8];
                BinaryPrimitives.WriteDoubleLittleEndian(b, (double)value);
                return b;
            }
            case IcebergPrimitive.String:
                return Encoding.UTF8.GetBytes((string)value);
            case IcebergPrimitive.Binary:
                return (byte[])((byte[])value).Clone();
            default:
                throw new ArgumentOutOfRangeException(nameof(type));
        }
    }

    /// <summary>Reads a single-value serialization back (for tests and summaries).</summary>
    public static object FromBytes(IcebergPrimitive type, ReadOnlySpan<byte> bytes) => type switch
    {
        IcebergPrimitive.Boolean => bytes[0] != 0,
        IcebergPrimitive.Int or IcebergPrimitive.Date => BinaryPrimitives.ReadInt32LittleEndian(bytes),
        IcebergPrimitive.Long or IcebergPrimitive.Timestamp or IcebergPrimitive.Timestamptz => BinaryPrimitives.ReadInt64LittleEndian(bytes),
        IcebergPrimitive.Float => BinaryPrimitives.ReadSingleLittleEndian(bytes),
        IcebergPrimitive.Double => BinaryPrimitives.ReadDoubleLittleEndian(bytes),
        IcebergPrimitive.String => Encoding.UTF8.GetString(bytes),
        IcebergPrimitive.Binary => bytes.ToArray(),
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>A lower bound cut to 16 characters (string) or bytes (binary); other types unchanged.</summary>
    public static byte[] TruncateLower(IcebergPrimitive type, byte[] bound)
    {
        if (type == IcebergPrimitive.Binary)
            return bound.Length <= TruncateLength ? bound : bound[..TruncateLength];
        if (type == IcebergPrimitive.String)
        {
            int cut = CodePointPrefixLength(bound, TruncateLength);
            return cut == bound.Length ? bound : bound[..cut];
        }
        return bound;
    }

    /// <summary>
    /// An upper bound cut to 16 characters / bytes and then incremented so it stays an upper
    /// bound: binary increments the last byte that is not 0xFF (dropping what follows); strings
    /// increment the last code point that can be incremented. Null when no such bound exists
    /// (the column then gets no upper bound).
    /// </summary>
    public static byte[]? TruncateUpper(IcebergPrimitive type, byte[] bound)
    {
        if (type == IcebergPrimitive.Binary)
        {
            if (bound.Length <= TruncateLength)
                return bound;
            for (int i = TruncateLength - 1; i >= 0; i--)
            {
                if (bound[i] != 0xFF)
                {
                    byte[] result = bound[..(i + 1)];
                    result[i]++;
                    return result;
                }
            }
            return null;
        }
        if (type == IcebergPrimitive.String)
        {
            int cut = CodePointPrefixLength(bound, TruncateLength);
            if (cut == bound.Length)
                return bound;
            string prefix = Encoding.UTF8.GetString(bound, 0, cut);
            var codePoints = new List<int>();
            foreach (Rune r in prefix.EnumerateRunes())
                codePoints.Add(r.Value);
            for (int i = codePoints.Count - 1; i >= 0; i--)
            {
                int next = codePoints[i] + 1;
                if (next is >= 0xD800 and <= 0xDFFF)
                    next = 0xE000;
                if (next > 0x10FFFF)
                    continue;
                var sb = new StringBuilder();
                for (int k = 0; k < i; k++)
                    sb.Append(new Rune(codePoints[k]).ToString());
                sb.Append(new Rune(next).ToString());
                return Encoding.UTF8.GetBytes(sb.ToString());
            }
            return null;
        }
        return bound;
    }

    /// <summary>Byte length of the first <paramref name="codePoints"/> code points of UTF-8 text.</summary>
    private static int CodePointPrefixLength(byte[] utf8, int codePoints)
    {
        int pos = 0, count = 0;
        while (pos < utf8.Length && count < codePoints)
        {
            byte b = utf8[pos];
            pos += b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            count++;
        }
        return Math.Min(pos, utf8.Length);
    }
}
