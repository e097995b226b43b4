using System.Collections;
using System.Globalization;
using System.Reflection;

namespace KafScale.Protocol.Tests.Support;

public enum FillMode
{
    /// <summary>Every field present in the version gets a non-default, non-null value; tagged fields too.</summary>
    AllValues,

    /// <summary>Nullable fields are null, tagged fields keep their defaults, non-nullable arrays are empty.</summary>
    NullsAndDefaults,
}

/// <summary>
/// Fills a generated message through reflection, guided by the test's own reading of the schema:
/// only fields that exist in the version are set, so a correct codec reads back an equal object.
/// </summary>
public sealed class MessageFiller
{
    private readonly TestSchema _schema;
    private readonly short _version;
    private readonly FillMode _mode;
    private int _counter;

    public MessageFiller(TestSchema schema, short version, FillMode mode, int seed = 0)
    {
        _schema = schema;
        _version = version;
        _mode = mode;
        _counter = seed;
    }

    public object Fill(object target)
    {
        FillStruct(_schema.Fields, target);
        return target;
    }

    private void FillStruct(List<TestField> fields, object target)
    {
        foreach (TestField f in fields)
        {
            if (!f.Versions.Contains(_version))
            {
                continue;
            }

            PropertyInfo p = target.GetType().GetProperty(f.Property)
                ?? throw new InvalidOperationException($"{target.GetType().Name} has no property {f.Property}");
            bool nullableNow = f.Nullable.Contains(_version) && f.Type != "records";
            if (_mode == FillMode.NullsAndDefaults)
            {
                if (nullableNow || (f.Type == "records" && f.Nullable.Contains(_version)))
                {
                    p.SetValue(target, null);
                    continue;
                }

                if (f.IsTaggedIn(_version))
                {
                    continue;
                }

                if (f.IsArray)
                {
                    p.SetValue(target, Activator.CreateInstance(p.PropertyType));
                    continue;
                }
            }

            p.SetValue(target, MakeValue(f, p.PropertyType));
        }
    }

    private object MakeValue(TestField f, Type clrType)
    {
        if (f.IsArray)
        {
            Type listType = Nullable.GetUnderlyingType(clrType) ?? clrType;
            var list = (IList)Activator.CreateInstance(listType)!;
            Type elementType = listType.GetGenericArguments()[0];
            for (int i = 0; i < 2; i++)
            {
                list.Add(MakeElement(f.ElementType, elementType));
            }

            return list;
        }

        object value = MakeElement(f.Type, clrType);
        return EnsureNotDefault(f, value);
    }

    private object MakeElement(string type, Type clrType)
    {
        int n = ++_counter;
        switch (type)
        {
            case "int8": return (sbyte)(n % 120 + 1);
            case "int16": return (short)(n * 3 + 2);
            case "uint16": return (ushort)(n * 5 + 40000);
            case "int32": return n * 1000 + 7;
            case "uint32": return (uint)(n * 1000 + 3_000_000_000u);
            case "int64": return 0x0102030405060708L + n;
            case "float64": return n + 0.25;
            case "bool": return true;
            case "uuid": return new Guid(n, (short)n, (short)(n + 1), 1, 2, 3, 4, 5, 6, 7, (byte)n);
            case "string": return "s" + n.ToString(CultureInfo.InvariantCulture) + "-é";
            case "bytes": return new byte[] { 1, 2, 3, (byte)n };
            case "records":
                byte[] backing = [9, 9, 0xAA, 0xBB, 0xCC, (byte)n, 9];
                return (ReadOnlyMemory<byte>?)new ReadOnlyMemory<byte>(backing, 2, 4);
        }

        Type structType = Nullable.GetUnderlyingType(clrType) ?? clrType;
        object instance = Activator.CreateInstance(structType)!;
        FillStruct(_schema.FieldsOf(type), instance);
        return instance;
    }

    private static object EnsureNotDefault(TestField f, object value)
    {
        if (f.Default is null || f.Default == "null")
        {
            return value;
        }

        return value switch
        {
            bool b when f.Default == "true" => !b,
            int i when i.ToString(CultureInfo.InvariantCulture) == f.Default => i + 1,
            _ => value,
        };
    }
}
