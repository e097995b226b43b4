using System.Buffers;
using System.Buffers.Binary;
using System.Collections;
using System.Text;

namespace KafScale.Avro;

/// <summary>A decoded or to-be-encoded record: values in the schema's field order.</summary>
public sealed class AvroRecord
{
    public AvroRecord(AvroSchema schema, object?[] values)
    {
        if (schema.Type != AvroType.Record)
            throw new ArgumentException("not a record schema", nameof(schema));
        if (values.Length != schema.Fields.Count)
            throw new ArgumentException($"record '{schema.Name}' has {schema.Fields.Count} fields, got {values.Length} values", nameof(values));
        Schema = schema;
        Values = values;
    }

    public AvroSchema Schema { get; }
    public object?[] Values { get; }

    /// <summary>The value of the named field; throws when the schema has no such field.</summary>
    public object? this[string name]
    {
        get
        {
            int i = Schema.FieldIndex(name);
            return i >= 0 ? Values[i] : throw new KeyNotFoundException($"record '{Schema.Name}' has no field '{name}'");
        }
    }

    /// <summary>The named field's value, or null when the field is absent or null.</summary>
    public object? GetOrNull(string name)
    {
        int i = Schema.FieldIndex(name);
        return i >= 0 ? Values[i] : null;
    }
}

/// <summary>Avro binary encoding (zigzag varints, length-prefixed bytes, blocks) into a growable buffer.</summary>
public sealed class AvroEncoder
{
    private readonly ArrayBufferWriter<byte> _buffer;

    public AvroEncoder(ArrayBufferWriter<byte> buffer) => _buffer = buffer;

    public void WriteBoolean(bool value)
    {
        _buffer.GetSpan(1)[0] = value ? (byte)1 : (byte)0;
        _buffer.Advance(1);
    }

    public void WriteInt(int value) => WriteLong(value);

    public void WriteLong(long value)
    {
        ulong n = (ulong)((value << 1) ^ (value >> 63));
        Span<byte> span = _buffer.GetSpan(10);
        int i = 0;
        while (n >= 0x80)
        {
            span[i++] = (byte)(n | 0x80);
            n >>= 7;
        }
        span[i++] = (byte)n;
        _buffer.Advance(i);
    }

    public void WriteFloat(float value)
    {
        BinaryPrimitives.WriteSingleLittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void WriteDouble(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteLong(value.Length);
        WriteFixed(value);
    }

    public void WriteFixed(ReadOnlySpan<byte> value) => _buffer.Write(value);

    public void WriteString(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max <= 256)
        {
            Span<byte> tmp = stackalloc byte[256];
            int n = Encoding.UTF8.GetBytes(value, tmp);
            WriteBytes(tmp[..n]);
            return;
        }
        WriteBytes(Encoding.UTF8.GetBytes(value));
    }

    /// <summary>Encodes a value by its schema (see <see cref="AvroRecord"/> for the value shapes).</summary>
    public void Write(AvroSchema schema, object? value)
    {
        try
        {
            WriteValue(schema, value);
        }
        catch (AvroPathException e)
        {
            throw new AvroException("$" + e.PathSuffix + ": " + e.Problem);
        }
    }

    /// <summary>A mismatch deep in a value: the path is built on the way out, so the hot path builds no strings.</summary>
    private sealed class AvroPathException(string problem, string pathSuffix = "") : Exception(problem)
    {
        public string Problem { get; } = problem;
        public string PathSuffix { get; } = pathSuffix;
        public AvroPathException Under(string segment) => new(Problem, segment + PathSuffix);
    }

    private void WriteValue(AvroSchema schema, object? value)
    {
        switch (schema.Type)
        {
            case AvroType.Null:
                if (value is not null)
                    throw new AvroPathException($"expected null, got {value.GetType().Name}");
                return;
            case AvroType.Boolean:
                WriteBoolean(value is bool b ? b : throw Mismatch("boolean", value));
                return;
            case AvroType.Int:
                WriteInt(value is int i ? i : throw Mismatch("int", value));
                return;
            case AvroType.Long:
                WriteLong(value switch { long l => l, int i2 => i2, _ => throw Mismatch("long", value) });
                return;
            case AvroType.Float:
                WriteFloat(value is float f ? f : throw Mismatch("float", value));
                return;
            case AvroType.Double:
                WriteDouble(value switch { double d => d, float f2 => f2, _ => throw Mismatch("double", value) });
                return;
            case AvroType.Bytes:
                WriteBytes(value is byte[] bytes ? bytes : throw Mismatch("bytes", value));
                return;
            case AvroType.String:
                WriteString(value is string s ? s : throw Mismatch("string", value));
                return;
            case AvroType.Fixed:
            {
                byte[] fixedBytes = value as byte[] ?? throw Mismatch("fixed", value);
                if (fixedBytes.Length != schema.Size)
                    throw new AvroPathException($"fixed '{schema.Name}' takes {schema.Size} bytes, got {fixedBytes.Length}");
                WriteFixed(fixedBytes);
                return;
            }
            case AvroType.Enum:
            {
                int index = value switch
                {
                    int n => n,
                    string sym => IndexOf(schema.Symbols, sym),
                    _ => throw Mismatch("enum", value),
                };
                if (index < 0 || index >= schema.Symbols.Count)
                    throw new AvroPathException($"'{value}' is not a symbol of enum '{schema.Name}'");
                WriteInt(index);
                return;
            }
            case AvroType.Record:
            {
                object?[] values = value switch
                {
                    AvroRecord r => r.Values,
                    object?[] arr => arr,
                    _ => throw Mismatch($"record {schema.Name}", value),
                };
                if (values.Length != schema.Fields.Count)
                    throw new AvroPathException($"record '{schema.Name}' has {schema.Fields.Count} fields, got {values.Length} values");
                for (int k = 0; k < values.Length; k++)
                {
                    try
                    {
                        WriteValue(schema.Fields[k].Schema, values[k]);
                    }
                    catch (AvroPathException e)
                    {
                        throw e.Under("." + schema.Fields[k].Name);
                    }
                }
                return;
            }
            case AvroType.Array:
            {
                if (value is not IList list)
                    throw Mismatch("array", value);
                if (list.Count > 0)
                {
                    WriteLong(list.Count);
                    for (int k = 0; k < list.Count; k++)
                    {
                        try
                        {
                            WriteValue(schema.Items!, list[k]);
                        }
                        catch (AvroPathException e)
                        {
                            throw e.Under("[" + k.ToString(System.Globalization.CultureInfo.InvariantCulture) + "]");
                        }
                    }
                }
                WriteLong(0);
                return;
            }
            case AvroType.Map:
            {
                if (value is not IEnumerable<KeyValuePair<string, object?>> map)
                    throw Mismatch("map", value);
                var entries = map as ICollection<KeyValuePair<string, object?>> ?? map.ToList();
                if (entries.Count > 0)
                {
                    WriteLong(entries.Count);
                    foreach (var kv in entries)
                    {
                        WriteString(kv.Key);
                        try
                        {
                            WriteValue(schema.Items!, kv.Value);
                        }
                        catch (AvroPathException e)
                        {
                            throw e.Under("[" + kv.Key + "]");
                        }
                    }
                }
                WriteLong(0);
                return;
            }
            case AvroType.Union:
            {
                int branch = PickBranch(schema, value);
                if (branch < 0)
                    throw new AvroPathException($"no branch of the union {schema.ToJson()} takes {(value is null ? "null" : value.GetType().Name)}");
                WriteLong(branch);
                WriteValue(schema.Branches[branch], value);
                return;
            }
        }
    }

    private static int IndexOf(IReadOnlyList<string> symbols, string symbol)
    {
        for (int i = 0; i < symbols.Count; i++)
            if (symbols[i] == symbol)
                return i;
        return -1;
    }

    private static int PickBranch(AvroSchema union, object? value)
    {
        for (int i = 0; i < union.Branches.Count; i++)
        {
            AvroType t = union.Branches[i].Type;
            bool fits = value switch
            {
                null => t == AvroType.Null,
                bool => t == AvroType.Boolean,
                int => t is AvroType.Int or AvroType.Long or AvroType.Enum,
                long => t == AvroType.Long,
                float => t is AvroType.Float or AvroType.Double,
                double => t == AvroType.Double,
                string => t is AvroType.String or AvroType.Enum,
                byte[] b => t == AvroType.Bytes || (t == AvroType.Fixed && union.Branches[i].Size == b.Length),
                AvroRecord r => t == AvroType.Record && r.Schema.Name == union.Branches[i].Name,
                object?[] => t == AvroType.Record,
                IEnumerable<KeyValuePair<string, object?>> => t == AvroType.Map,
                IList => t == AvroType.Array,
                _ => false,
            };
            if (fits)
                return i;
        }
        return -1;
    }

    private static AvroPathException Mismatch(string expected, object? value) =>
        new($"expected {expected}, got {(value is null ? "null" : value.GetType().Name)}");
}

/// <summary>Avro binary decoding over a byte span.</summary>
public ref struct AvroDecoder
{
    private readonly ReadOnlySpan<byte> _data;
    private int _pos;

    public AvroDecoder(ReadOnlySpan<byte> data)
    {
        _data = data;
        _pos = 0;
    }

    public readonly int Position => _pos;
    public readonly bool AtEnd => _pos >= _data.Length;

    public long ReadLong()
    {
        ulong n = 0;
        int shift = 0;
        while (true)
        {
            if (_pos >= _data.Length)
                throw new AvroException("truncated Avro data (varint)");
            byte b = _data[_pos++];
            n |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                break;
            shift += 7;
            if (shift > 63)
                throw new AvroException("invalid Avro varint (longer than 10 bytes)");
        }
        return (long)(n >> 1) ^ -(long)(n & 1);
    }

    public int ReadInt()
    {
        long v = ReadLong();
        return v is >= int.MinValue and <= int.MaxValue ? (int)v : throw new AvroException($"Avro int out of range: {v}");
    }

    public ReadOnlySpan<byte> ReadFixed(int length)
    {
        if (length < 0 || _pos + length > _data.Length)
            throw new AvroException($"truncated Avro data (wanted {length} bytes at {_pos} of {_data.Length})");
        ReadOnlySpan<byte> s = _data.Slice(_pos, length);
        _pos += length;
        return s;
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        long length = ReadLong();
        return length is < 0 or > int.MaxValue ? throw new AvroException($"invalid Avro length {length}") : ReadFixed((int)length);
    }

    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    public object? Read(AvroSchema schema)
    {
        switch (schema.Type)
        {
            case AvroType.Null: return null;
            case AvroType.Boolean: return ReadFixed(1)[0] != 0;
            case AvroType.Int: return ReadInt();
            case AvroType.Long: return ReadLong();
            case AvroType.Float: return BinaryPrimitives.ReadSingleLittleEndian(ReadFixed(4));
            case AvroType.Double: return BinaryPrimitives.ReadDoubleLittleEndian(ReadFixed(8));
            case AvroType.Bytes: return ReadBytes().ToArray();
            case AvroType.String: return ReadString();
            case AvroType.Fixed: return ReadFixed(schema.Size).ToArray();
            case AvroType.Enum:
            {
                int i = ReadInt();
                return i >= 0 && i < schema.Symbols.Count ? schema.Symbols[i] : throw new AvroException($"enum index {i} out of range");
            }
            case AvroType.Record:
            {
                var values = new object?[schema.Fields.Count];
                for (int i = 0; i < values.Length; i++)
                    values[i] = Read(schema.Fields[i].Schema);
                return new AvroRecord(schema, values);
            }
            case AvroType.Array:
            {
                var list = new List<object?>();
                while (true)
                {
                    long count = ReadBlockCount();
                    if (count == 0)
                        break;
                    for (long i = 0; i < count; i++)
                        list.Add(Read(schema.Items!));
                }
                return list;
            }
            case AvroType.Map:
            {
                var map = new Dictionary<string, object?>(StringComparer.Ordinal);
                while (true)
                {
                    long count = ReadBlockCount();
                    if (count == 0)
                        break;
                    for (long i = 0; i < count; i++)
                    {
                        string key = ReadString();
                        map[key] = Read(schema.Items!);
                    }
                }
                return map;
            }
            case AvroType.Union:
            {
                long branch = ReadLong();
                if (branch < 0 || branch >= schema.Branches.Count)
                    throw new AvroException($"union branch {branch} out of range");
                return Read(schema.Branches[(int)branch]);
            }
            default:
                throw new AvroException($"unsupported Avro type {schema.Type}");
        }
    }

    private long ReadBlockCount()
    {
        long count = ReadLong();
        if (count < 0)
        {
            count = -count;
            ReadLong(); // block size in bytes
        }
        return count;
    }
}
