using System.Text;
using System.Text.Json;

namespace KafScale.Avro;

public enum AvroType { Null, Boolean, Int, Long, Float, Double, Bytes, String, Record, Array, Map, Fixed, Union, Enum }

/// <summary>
/// An Avro schema node. Extra attributes (Iceberg's field-id, element-id, key-id, value-id,
/// logicalType, ...) are carried as <see cref="Properties"/> and written into the schema JSON.
/// </summary>
public sealed class AvroSchema
{
    private AvroSchema(AvroType type) => Type = type;

    public AvroType Type { get; }

    /// <summary>Record, fixed and enum: the name.</summary>
    public string? Name { get; private init; }

    /// <summary>Record: the fields in order.</summary>
    public IReadOnlyList<AvroField> Fields { get; private init; } = [];

    /// <summary>Array: the element schema; map: the value schema.</summary>
    public AvroSchema? Items { get; private init; }

    /// <summary>Union: the branches.</summary>
    public IReadOnlyList<AvroSchema> Branches { get; private init; } = [];

    /// <summary>Fixed: the size in bytes.</summary>
    public int Size { get; private init; }

    /// <summary>Enum: the symbols.</summary>
    public IReadOnlyList<string> Symbols { get; private init; } = [];

    /// <summary>Extra attributes written into the type's JSON object (values are raw JSON).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Properties { get; private init; } = [];

    private static readonly AvroSchema s_null = new(AvroType.Null);
    private static readonly AvroSchema s_boolean = new(AvroType.Boolean);
    private static readonly AvroSchema s_int = new(AvroType.Int);
    private static readonly AvroSchema s_long = new(AvroType.Long);
    private static readonly AvroSchema s_float = new(AvroType.Float);
    private static readonly AvroSchema s_double = new(AvroType.Double);
    private static readonly AvroSchema s_bytes = new(AvroType.Bytes);
    private static readonly AvroSchema s_string = new(AvroType.String);

    public static AvroSchema Null => s_null;
    public static AvroSchema Boolean => s_boolean;
    public static AvroSchema Int => s_int;
    public static AvroSchema Long => s_long;
    public static AvroSchema Float => s_float;
    public static AvroSchema Double => s_double;
    public static AvroSchema Bytes => s_bytes;
    public static AvroSchema String => s_string;

    /// <summary>A primitive carrying attributes, e.g. an int with logicalType "date".</summary>
    public static AvroSchema Primitive(AvroType type, params KeyValuePair<string, string>[] properties)
    {
        if (type is AvroType.Record or AvroType.Array or AvroType.Map or AvroType.Fixed or AvroType.Union or AvroType.Enum)
            throw new ArgumentException($"{type} is not a primitive", nameof(type));
        return properties.Length == 0 ? PrimitiveOf(type) : new AvroSchema(type) { Properties = properties };
    }

    public static AvroSchema Record(string name, IReadOnlyList<AvroField> fields, params KeyValuePair<string, string>[] properties)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (AvroField f in fields)
            if (!names.Add(f.Name))
                throw new ArgumentException($"record '{name}' has the field '{f.Name}' twice", nameof(fields));
        return new AvroSchema(AvroType.Record) { Name = name, Fields = fields, Properties = properties };
    }

    public static AvroSchema Array(AvroSchema items, params KeyValuePair<string, string>[] properties) =>
        new(AvroType.Array) { Items = items, Properties = properties };

    public static AvroSchema Map(AvroSchema values, params KeyValuePair<string, string>[] properties) =>
        new(AvroType.Map) { Items = values, Properties = properties };

    public static AvroSchema Fixed(string name, int size) => new(AvroType.Fixed) { Name = name, Size = size };

    public static AvroSchema Enum(string name, IReadOnlyList<string> symbols) => new(AvroType.Enum) { Name = name, Symbols = symbols };

    public static AvroSchema Union(params AvroSchema[] branches)
    {
        if (branches.Length == 0)
            throw new ArgumentException("a union needs at least one branch", nameof(branches));
        return new AvroSchema(AvroType.Union) { Branches = branches };
    }

    /// <summary>["null", type]: the usual optional value.</summary>
    public static AvroSchema Optional(AvroSchema type) => Union(s_null, type);

    /// <summary>A property whose value is a JSON number.</summary>
    public static KeyValuePair<string, string> Prop(string name, int value) => new(name, value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>A property whose value is a JSON string.</summary>
    public static KeyValuePair<string, string> Prop(string name, string value) => new(name, JsonSerializerEscapes.Quote(value));

    /// <summary>The value of a property as raw JSON, or null.</summary>
    public string? GetProperty(string name)
    {
        foreach (var p in Properties)
            if (p.Key == name)
                return p.Value;
        return null;
    }

    public AvroField? FindField(string name)
    {
        foreach (AvroField f in Fields)
            if (f.Name == name)
                return f;
        return null;
    }

    public int FieldIndex(string name)
    {
        for (int i = 0; i < Fields.Count; i++)
            if (Fields[i].Name == name)
                return i;
        return -1;
    }

    private static AvroSchema PrimitiveOf(AvroType type) => type switch
    {
        AvroType.Null => s_null,
        AvroType.Boolean => s_boolean,
        AvroType.Int => s_int,
        AvroType.Long => s_long,
        AvroType.Float => s_float,
        AvroType.Double => s_double,
        AvroType.Bytes => s_bytes,
        AvroType.String => s_string,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    private static string PrimitiveName(AvroType type) => type switch
    {
        AvroType.Null => "null",
        AvroType.Boolean => "boolean",
        AvroType.Int => "int",
        AvroType.Long => "long",
        AvroType.Float => "float",
        AvroType.Double => "double",
        AvroType.Bytes => "bytes",
        AvroType.String => "string",
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    /// <summary>The schema as JSON (what goes into avro.schema).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            WriteJson(writer, new HashSet<string>(StringComparer.Ordinal));
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public override string ToString() => ToJson();

    private void WriteJson(Utf8JsonWriter w, HashSet<string> defined)
    {
        switch (Type)
        {
            case AvroType.Union:
                w.WriteStartArray();
                foreach (AvroSchema b in Branches)
                    b.WriteJson(w, defined);
                w.WriteEndArray();
                return;
            case AvroType.Record or AvroType.Fixed or AvroType.Enum when defined.Contains(Name!):
                w.WriteStringValue(Name);
                return;
        }

        bool isPrimitive = Type is not (AvroType.Record or AvroType.Array or AvroType.Map or AvroType.Fixed or AvroType.Enum);
        if (isPrimitive && Properties.Count == 0)
        {
            w.WriteStringValue(PrimitiveName(Type));
            return;
        }

        w.WriteStartObject();
        switch (Type)
        {
            case AvroType.Record:
                defined.Add(Name!);
                w.WriteString("type", "record");
                w.WriteString("name", Name);
                w.WriteStartArray("fields");
                foreach (AvroField f in Fields)
                {
                    w.WriteStartObject();
                    w.WriteString("name", f.Name);
                    if (f.Doc is not null)
                        w.WriteString("doc", f.Doc);
                    w.WritePropertyName("type");
                    f.Schema.WriteJson(w, defined);
                    if (f.DefaultNull)
                        w.WriteNull("default");
                    foreach (var p in f.Properties)
                    {
                        w.WritePropertyName(p.Key);
                        w.WriteRawValue(p.Value);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                break;
            case AvroType.Array:
                w.WriteString("type", "array");
                w.WritePropertyName("items");
                Items!.WriteJson(w, defined);
                break;
            case AvroType.Map:
                w.WriteString("type", "map");
                w.WritePropertyName("values");
                Items!.WriteJson(w, defined);
                break;
            case AvroType.Fixed:
                defined.Add(Name!);
                w.WriteString("type", "fixed");
                w.WriteString("name", Name);
                w.WriteNumber("size", Size);
                break;
            case AvroType.Enum:
                defined.Add(Name!);
                w.WriteString("type", "enum");
                w.WriteString("name", Name);
                w.WriteStartArray("symbols");
                foreach (string s in Symbols)
                    w.WriteStringValue(s);
                w.WriteEndArray();
                break;
            default:
                w.WriteString("type", PrimitiveName(Type));
                break;
        }
        foreach (var p in Properties)
        {
            w.WritePropertyName(p.Key);
            w.WriteRawValue(p.Value);
        }
        w.WriteEndObject();
    }

    /// <summary>Parses a schema JSON (named types may be referenced after their definition).</summary>
    public static AvroSchema Parse(string json)
    {
        using JsonDocument doc = JsonDocument.Parse(json);
        return Parse(doc.RootElement, new Dictionary<string, AvroSchema>(StringComparer.Ordinal), null);
    }

    private static AvroSchema Parse(JsonElement e, Dictionary<string, AvroSchema> named, string? space)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                return NamedOrPrimitive(e.GetString()!, named, space);
            case JsonValueKind.Array:
            {
                var branches = new List<AvroSchema>();
                foreach (JsonElement b in e.EnumerateArray())
                    branches.Add(Parse(b, named, space));
                return Union([.. branches]);
            }
            case JsonValueKind.Object:
                break;
            default:
                throw new AvroException($"invalid Avro schema element: {e.GetRawText()}");
        }

        if (!e.TryGetProperty("type", out JsonElement typeElement))
            throw new AvroException("an Avro schema object has no 'type'");
        if (typeElement.ValueKind != JsonValueKind.String)
            return Parse(typeElement, named, space);
        string type = typeElement.GetString()!;
        var props = new List<KeyValuePair<string, string>>();
        foreach (JsonProperty p in e.EnumerateObject())
        {
            if (p.Name is "type" or "name" or "namespace" or "fields" or "items" or "values" or "size" or "symbols" or "doc" or "aliases")
                continue;
            props.Add(new(p.Name, p.Value.GetRawText()));
        }

        switch (type)
        {
            case "record" or "error":
            {
                string name = FullName(e, space);
                string? innerSpace = name.Contains('.') ? name[..name.LastIndexOf('.')] : space;
                var fields = new List<AvroField>();
                var record = new AvroSchema(AvroType.Record) { Name = name, Fields = fields, Properties = props };
                named[name] = record;
                named[ShortName(name)] = record;
                foreach (JsonElement f in e.GetProperty("fields").EnumerateArray())
                {
                    var fprops = new List<KeyValuePair<string, string>>();
                    bool defaultNull = false;
                    foreach (JsonProperty p in f.EnumerateObject())
                    {
                        if (p.Name == "default")
                        {
                            defaultNull = p.Value.ValueKind == JsonValueKind.Null;
                            continue;
                        }
                        if (p.Name is not ("name" or "type" or "doc" or "aliases" or "order"))
                            fprops.Add(new(p.Name, p.Value.GetRawText()));
                    }
                    string? doc = f.TryGetProperty("doc", out JsonElement d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
                    fields.Add(new AvroField(f.GetProperty("name").GetString()!, Parse(f.GetProperty("type"), named, innerSpace), doc, defaultNull, fprops));
                }
                return record;
            }
            case "array":
                return new AvroSchema(AvroType.Array) { Items = Parse(e.GetProperty("items"), named, space), Properties = props };
            case "map":
                return new AvroSchema(AvroType.Map) { Items = Parse(e.GetProperty("values"), named, space), Properties = props };
            case "fixed":
            {
                string name = FullName(e, space);
                var s = new AvroSchema(AvroType.Fixed) { Name = name, Size = e.GetProperty("size").GetInt32(), Properties = props };
                named[name] = s;
                named[ShortName(name)] = s;
                return s;
            }
            case "enum":
            {
                string name = FullName(e, space);
                var symbols = new List<string>();
                foreach (JsonElement s in e.GetProperty("symbols").EnumerateArray())
                    symbols.Add(s.GetString()!);
                var schema = new AvroSchema(AvroType.Enum) { Name = name, Symbols = symbols, Properties = props };
                named[name] = schema;
                named[ShortName(name)] = schema;
                return schema;
            }
            default:
            {
                AvroSchema primitive = NamedOrPrimitive(type, named, space);
                return props.Count == 0 || primitive.Type is AvroType.Record or AvroType.Fixed or AvroType.Enum
                    ? primitive
                    : new AvroSchema(primitive.Type) { Properties = props };
            }
        }
    }

    private static string FullName(JsonElement e, string? space)
    {
        string name = e.GetProperty("name").GetString()!;
        if (name.Contains('.'))
            return name;
        if (e.TryGetProperty("namespace", out JsonElement ns) && ns.ValueKind == JsonValueKind.String && ns.GetString() is { Length: > 0 } n)
            return n + "." + name;
        return space is { Length: > 0 } ? space + "." + name : name;
    }

    private static string ShortName(string name) => name.Contains('.') ? name[(name.LastIndexOf('.') + 1)..] : name;

    private static AvroSchema NamedOrPrimitive(string name, Dictionary<string, AvroSchema> named, string? space) => name switch
    {
        "null" => s_null,
        "boolean" => s_boolean,
        "int" => s_int,
        "long" => s_long,
        "float" => s_float,
        "double" => s_double,
        "bytes" => s_bytes,
        "string" => s_string,
        _ => named.TryGetValue(name, out AvroSchema? s) ? s
            : space is not null && named.TryGetValue(space + "." + name, out s) ? s
            : throw new AvroException($"unknown Avro type '{name}'"),
    };
}

/// <summary>A record field. <see cref="Properties"/> values are raw JSON (e.g. field-id).</summary>
public sealed record AvroField(string Name, AvroSchema Schema, string? Doc, bool DefaultNull, IReadOnlyList<KeyValuePair<string, string>> Properties)
{
    /// <summary>A field with an Iceberg field-id; optional fields (a union with null first) get "default": null.</summary>
    public static AvroField WithId(string name, AvroSchema schema, int fieldId, string? doc = null) =>
        new(name, schema, doc, schema.Type == AvroType.Union && schema.Branches[0].Type == AvroType.Null, [AvroSchema.Prop("field-id", fieldId)]);

    /// <summary>The field-id attribute, or null.</summary>
    public int? FieldId
    {
        get
        {
            foreach (var p in Properties)
                if (p.Key == "field-id" && int.TryParse(p.Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int id))
                    return id;
            return null;
        }
    }
}

public sealed class AvroException(string message) : Exception(message);

internal static class JsonSerializerEscapes
{
    public static string Quote(string value)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
            w.WriteStringValue(value);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
