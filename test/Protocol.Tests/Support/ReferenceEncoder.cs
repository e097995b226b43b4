using System.Buffers.Binary;
using System.Collections;
using System.Globalization;
using System.Text;

namespace KafScale.Protocol.Tests.Support;

/// <summary>
/// A deliberately naive interpreter of the Kafka schema rules (protocol guide + KIP-482), written
/// independently of the generator and of KafkaWriter: it walks the schema at run time and reads
/// property values by reflection. Comparing its bytes with the generated Write catches generator
/// mistakes that a write-then-read round trip cannot (the same mistake on both sides).
/// </summary>
public sealed class ReferenceEncoder
{
    private readonly TestSchema _schema;
    private readonly int _version;
    private readonly bool _flexible;

    private ReferenceEncoder(TestSchema schema, short version)
    {
        _schema = schema;
        _version = version;
        _flexible = schema.IsFlexible(version);
    }

    public static byte[] Encode(TestSchema schema, object message, short version)
    {
        var output = new List<byte>();
        new ReferenceEncoder(schema, version).Struct(schema.Fields, message, output);
        return output.ToArray();
    }

    private void Struct(List<TestField> fields, object obj, List<byte> o)
    {
        foreach (TestField f in fields)
        {
            if (f.IsPositionalIn(_version))
            {
                Value(f, Get(obj, f), o, compact: _flexible && !f.NeverFlexible);
            }
        }

        if (!_flexible)
        {
            return;
        }

        var tagged = fields
            .Where(f => f.IsTaggedIn(_version) && !IsDefault(f, Get(obj, f)))
            .OrderBy(f => f.Tag)
            .ToList();
        UVarInt(o, (uint)tagged.Count);
        foreach (TestField f in tagged)
        {
            var data = new List<byte>();
            Value(f, Get(obj, f), data, compact: true);
            UVarInt(o, (uint)f.Tag!.Value);
            UVarInt(o, (uint)data.Count);
            o.AddRange(data);
        }
    }

    private static object? Get(object obj, TestField f) => obj.GetType().GetProperty(f.Property)!.GetValue(obj);

    private void Value(TestField f, object? value, List<byte> o, bool compact)
    {
        if (f.IsArray)
        {
            if (value is null)
            {
                Length(o, -1, compact, wide: true);
                return;
            }

            var list = (IList)value;
            Length(o, list.Count, compact, wide: true);
            foreach (object? item in list)
            {
                Element(f.ElementType, item, o, compact);
            }

            return;
        }

        if (_schema.Structs.ContainsKey(f.Type) && f.Nullable.Contains(_version))
        {
            if (value is null)
            {
                o.Add(0xFF);
                return;
            }

            o.Add(1);
        }

        Element(f.Type, value, o, compact);
    }

    private void Element(string type, object? value, List<byte> o, bool compact)
    {
        switch (type)
        {
            case "int8": o.Add((byte)(sbyte)value!); return;
            case "bool": o.Add((bool)value! ? (byte)1 : (byte)0); return;
            case "int16": Put(o, 2, s => BinaryPrimitives.WriteInt16BigEndian(s, (short)value!)); return;
            case "uint16": Put(o, 2, s => BinaryPrimitives.WriteUInt16BigEndian(s, (ushort)value!)); return;
            case "int32": Put(o, 4, s => BinaryPrimitives.WriteInt32BigEndian(s, (int)value!)); return;
            case "uint32": Put(o, 4, s => BinaryPrimitives.WriteUInt32BigEndian(s, (uint)value!)); return;
            case "int64": Put(o, 8, s => BinaryPrimitives.WriteInt64BigEndian(s, (long)value!)); return;
            case "float64": Put(o, 8, s => BinaryPrimitives.WriteDoubleBigEndian(s, (double)value!)); return;
            case "uuid":
                // Most significant byte first, i.e. the order of the canonical text form.
                string hex = ((Guid)value!).ToString("N");
                for (int i = 0; i < 32; i += 2)
                {
                    o.Add(byte.Parse(hex.AsSpan(i, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                }

                return;
            case "string":
                if (value is null)
                {
                    Length(o, -1, compact, wide: false);
                    return;
                }

                byte[] utf8 = Encoding.UTF8.GetBytes((string)value);
                Length(o, utf8.Length, compact, wide: false);
                o.AddRange(utf8);
                return;
            case "bytes":
                Blob(o, (byte[]?)value, compact);
                return;
            case "records":
                Blob(o, ((ReadOnlyMemory<byte>?)value)?.ToArray(), compact);
                return;
        }

        Struct(_schema.FieldsOf(type), value!, o);
    }

    private static void Blob(List<byte> o, byte[]? bytes, bool compact)
    {
        if (bytes is null)
        {
            Length(o, -1, compact, wide: true);
            return;
        }

        Length(o, bytes.Length, compact, wide: true);
        o.AddRange(bytes);
    }

    /// <summary>Compact: unsigned varint of length + 1 (0 = null). Else int32 (arrays, bytes) or int16 (strings).</summary>
    private static void Length(List<byte> o, int length, bool compact, bool wide)
    {
        if (compact)
        {
            UVarInt(o, (uint)(length + 1));
        }
        else if (wide)
        {
            Put(o, 4, s => BinaryPrimitives.WriteInt32BigEndian(s, length));
        }
        else
        {
            Put(o, 2, s => BinaryPrimitives.WriteInt16BigEndian(s, (short)length));
        }
    }

    private static void UVarInt(List<byte> o, uint value)
    {
        do
        {
            byte b = (byte)(value & 0x7F);
            value >>= 7;
            o.Add(value != 0 ? (byte)(b | 0x80) : b);
        }
        while (value != 0);
    }

    private delegate void SpanWriter(Span<byte> span);

    private static void Put(List<byte> o, int size, SpanWriter write)
    {
        Span<byte> tmp = stackalloc byte[8];
        write(tmp[..size]);
        foreach (byte b in tmp[..size])
        {
            o.Add(b);
        }
    }

    /// <summary>The schema's notion of "default" that decides whether a tagged field is sent.</summary>
    private bool IsDefault(TestField f, object? value)
    {
        string? d = f.Default;
        if (f.IsArray)
        {
            return d == "null" ? value is null : value is IList { Count: 0 };
        }

        switch (f.Type)
        {
            case "string": return d == "null" ? value is null : Equals(value, d ?? "");
            case "bytes": return d == "null" ? value is null : value is byte[] { Length: 0 };
            case "records": return value is null;
            case "bool": return (bool)value! == (d == "true");
            case "uuid": return (Guid)value! == Guid.Empty;
            case "int8" or "int16" or "uint16" or "int32" or "uint32" or "int64":
                long expected = d is null ? 0 : d.StartsWith("0x", StringComparison.Ordinal)
                    ? long.Parse(d[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                    : long.Parse(d, CultureInfo.InvariantCulture);
                return Convert.ToInt64(value, CultureInfo.InvariantCulture) == expected;
            case "float64":
                return (double)value! == (d is null ? 0 : double.Parse(d, CultureInfo.InvariantCulture));
        }

        if (d == "null")
        {
            return value is null;
        }

        return value is not null && _schema.FieldsOf(f.Type).All(inner => IsDefault(inner, Get(value, inner)));
    }
}
