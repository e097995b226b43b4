using System.Buffers.Binary;

namespace KafScale.Parquet;

/// <summary>
/// Minimum and maximum of one column chunk in the type's order: signed for Int32/Int64 (dates and
/// timestamps too), IEEE order for Float/Double with NaN left out, false &lt; true for Boolean, and
/// unsigned lexicographic bytes for ByteArray. Byte values are copied into buffers that grow only
/// when a longer value becomes the minimum or maximum.
/// </summary>
internal sealed class ColumnStatistics
{
    private readonly ParquetPhysicalType _type;
    private long _minLong, _maxLong;
    private double _minDouble, _maxDouble;
    private byte[] _minBytes = new byte[64];
    private byte[] _maxBytes = new byte[64];
    private int _minLength, _maxLength;

    public ColumnStatistics(ParquetPhysicalType type)
    {
        _type = type;
    }

    public bool HasMinMax { get; private set; }

    public void Reset() => HasMinMax = false;

    public void UpdateLong(long value)
    {
        if (!HasMinMax)
        {
            _minLong = _maxLong = value;
            HasMinMax = true;
            return;
        }
        if (value < _minLong)
            _minLong = value;
        else if (value > _maxLong)
            _maxLong = value;
    }

    public void UpdateDouble(double value)
    {
        if (double.IsNaN(value))
            return;
        if (!HasMinMax)
        {
            _minDouble = _maxDouble = value;
            HasMinMax = true;
            return;
        }
        if (value < _minDouble)
            _minDouble = value;
        else if (value > _maxDouble)
            _maxDouble = value;
    }

    public void UpdateBytes(ReadOnlySpan<byte> value)
    {
        if (!HasMinMax)
        {
            Set(ref _minBytes, ref _minLength, value);
            Set(ref _maxBytes, ref _maxLength, value);
            HasMinMax = true;
            return;
        }
        if (value.SequenceCompareTo(_minBytes.AsSpan(0, _minLength)) < 0)
            Set(ref _minBytes, ref _minLength, value);
        else if (value.SequenceCompareTo(_maxBytes.AsSpan(0, _maxLength)) > 0)
            Set(ref _maxBytes, ref _maxLength, value);
    }

    private static void Set(ref byte[] buffer, ref int length, ReadOnlySpan<byte> value)
    {
        if (buffer.Length < value.Length)
            buffer = new byte[Math.Max(value.Length, buffer.Length * 2)];
        value.CopyTo(buffer);
        length = value.Length;
    }

    /// <summary>The PLAIN encoding (without length prefix) of the minimum; null when there is none.</summary>
    public byte[]? EncodeMin() => HasMinMax ? Encode(isMin: true) : null;

    public byte[]? EncodeMax() => HasMinMax ? Encode(isMin: false) : null;

    private byte[] Encode(bool isMin)
    {
        switch (_type)
        {
            case ParquetPhysicalType.Boolean:
                return [(byte)(isMin ? _minLong : _maxLong)];
            case ParquetPhysicalType.Int32:
            {
                var b = new byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(b, (int)(isMin ? _minLong : _maxLong));
                return b;
            }
            case ParquetPhysicalType.Int64:
            {
                var b = new byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(b, isMin ? _minLong : _maxLong);
                return b;
            }
            case ParquetPhysicalType.Float:
            {
                var b = new byte[4];
                BinaryPrimitives.WriteSingleLittleEndian(b, (float)SignedZero(isMin));
                return b;
            }
            case ParquetPhysicalType.Double:
            {
                var b = new byte[8];
                BinaryPrimitives.WriteDoubleLittleEndian(b, SignedZero(isMin));
                return b;
            }
            default:
                return isMin ? _minBytes.AsSpan(0, _minLength).ToArray() : _maxBytes.AsSpan(0, _maxLength).ToArray();
        }
    }

    // A zero minimum is written as -0.0 and a zero maximum as +0.0, so that both zeros fall inside the bounds.
    private double SignedZero(bool isMin)
    {
        double v = isMin ? _minDouble : _maxDouble;
        if (v == 0)
            return isMin ? -0.0 : 0.0;
        return v;
    }

    /// <summary>Compares two PLAIN-encoded values of <paramref name="type"/> in the type's order.</summary>
    public static int Compare(ParquetPhysicalType type, ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => type switch
    {
        ParquetPhysicalType.Boolean => a[0].CompareTo(b[0]),
        ParquetPhysicalType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(a).CompareTo(BinaryPrimitives.ReadInt32LittleEndian(b)),
        ParquetPhysicalType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(a).CompareTo(BinaryPrimitives.ReadInt64LittleEndian(b)),
        ParquetPhysicalType.Float => BinaryPrimitives.ReadSingleLittleEndian(a).CompareTo(BinaryPrimitives.ReadSingleLittleEndian(b)),
        ParquetPhysicalType.Double => BinaryPrimitives.ReadDoubleLittleEndian(a).CompareTo(BinaryPrimitives.ReadDoubleLittleEndian(b)),
        _ => a.SequenceCompareTo(b),
    };
}
