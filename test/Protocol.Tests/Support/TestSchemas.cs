using System.Globalization;
using System.Text.Json;

namespace KafScale.Protocol.Tests.Support;

/// <summary>Inclusive version range parsed from the schema notation ("0+", "3-7", "5", "none").</summary>
public readonly record struct Versions(int Lo, int Hi)
{
    public static Versions Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text == "none")
        {
            return new(1, 0);
        }

        if (text.EndsWith('+'))
        {
            return new(int.Parse(text[..^1], CultureInfo.InvariantCulture), short.MaxValue);
        }

        string[] parts = text.Split('-');
        return parts.Length == 2
            ? new(int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture))
            : new(int.Parse(text, CultureInfo.InvariantCulture), int.Parse(text, CultureInfo.InvariantCulture));
    }

    public bool Contains(int v) => v >= Lo && v <= Hi;

    public bool IsEmpty => Lo > Hi;
}

public sealed record TestField(
    string Name,
    string Type,
    Versions Versions,
    Versions Nullable,
    Versions Tagged,
    int? Tag,
    string? Default,
    bool NeverFlexible,
    List<TestField>? Fields)
{
    public string Property => char.ToUpperInvariant(Name[0]) + Name[1..];

    public bool IsArray => Type.StartsWith("[]", StringComparison.Ordinal);

    public string ElementType => IsArray ? Type[2..] : Type;

    public bool IsTaggedIn(int v) => Tagged.Contains(v) && Versions.Contains(v);

    public bool IsPositionalIn(int v) => Versions.Contains(v) && !Tagged.Contains(v);
}

/// <summary>
/// A second, independent reading of the Kafka JSON schemas for the tests: the round-trip filler and
/// the reference encoder work from this, not from the generator's model.
/// </summary>
public sealed class TestSchema
{
    private static readonly Lazy<IReadOnlyList<TestSchema>> AllSchemas = new(LoadAll);

    public required string FileName { get; init; }

    public required string Name { get; init; }

    public required string Type { get; init; }

    public short? ApiKey { get; init; }

    public required Versions Valid { get; init; }

    public required Versions Flexible { get; init; }

    public required List<TestField> Fields { get; init; }

    public required Dictionary<string, List<TestField>> Structs { get; init; }

    public static IReadOnlyList<TestSchema> All => AllSchemas.Value;

    public static TestSchema Get(string name) => All.Single(s => s.Name == name);

    public bool IsFlexible(int version) => Flexible.Contains(version);

    public Type ClrType => typeof(IKafkaMessage).Assembly.GetType("KafScale.Protocol.Messages." + Name, throwOnError: true)!;

    public IKafkaMessage NewInstance() => (IKafkaMessage)Activator.CreateInstance(ClrType)!;

    public List<TestField> FieldsOf(string structType) => Structs[structType];

    public static string SchemaDirectory => Path.Combine(AppContext.BaseDirectory, "Schemas");

    private static IReadOnlyList<TestSchema> LoadAll() =>
        Directory.GetFiles(SchemaDirectory, "*.json").OrderBy(p => p, StringComparer.Ordinal).Select(Load).ToList();

    private static TestSchema Load(string path)
    {
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path), options);
        JsonElement root = doc.RootElement;
        var structs = new Dictionary<string, List<TestField>>();
        List<TestField> fields = ParseFields(root, structs);
        if (root.TryGetProperty("commonStructs", out JsonElement common))
        {
            foreach (JsonElement s in common.EnumerateArray())
            {
                structs[s.GetProperty("name").GetString()!] = ParseFields(s, structs);
            }
        }

        return new TestSchema
        {
            FileName = Path.GetFileName(path),
            Name = root.GetProperty("name").GetString()!,
            Type = root.GetProperty("type").GetString()!,
            ApiKey = root.TryGetProperty("apiKey", out JsonElement k) ? k.GetInt16() : null,
            Valid = Versions.Parse(root.GetProperty("validVersions").GetString()),
            Flexible = Versions.Parse(root.GetProperty("flexibleVersions").GetString()),
            Fields = fields,
            Structs = structs,
        };
    }

    private static List<TestField> ParseFields(JsonElement owner, Dictionary<string, List<TestField>> structs)
    {
        var list = new List<TestField>();
        if (!owner.TryGetProperty("fields", out JsonElement fields))
        {
            return list;
        }

        foreach (JsonElement f in fields.EnumerateArray())
        {
            string? S(string n) => f.TryGetProperty(n, out JsonElement e) ? (e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText()) : null;
            List<TestField>? nested = f.TryGetProperty("fields", out _) ? ParseFields(f, structs) : null;
            var field = new TestField(
                S("name")!,
                S("type")!,
                Versions.Parse(S("versions")),
                Versions.Parse(S("nullableVersions")),
                Versions.Parse(S("taggedVersions")),
                f.TryGetProperty("tag", out JsonElement tag) ? tag.GetInt32() : null,
                S("default"),
                S("flexibleVersions") == "none",
                nested);
            if (nested is not null)
            {
                structs[field.ElementType] = nested;
            }

            list.Add(field);
        }

        return list;
    }
}
