using System.Globalization;
using System.Text.Json;

namespace KafScale.ProtocolGen;

/// <summary>An inclusive version range; empty when <see cref="Lo"/> &gt; <see cref="Hi"/>.</summary>
internal readonly record struct VersionRange(short Lo, short Hi)
{
    public static readonly VersionRange None = new(1, 0);

    public bool IsEmpty => Lo > Hi;

    public bool Contains(short version) => version >= Lo && version <= Hi;

    public VersionRange Intersect(VersionRange other) =>
        new(Math.Max(Lo, other.Lo), Math.Min(Hi, other.Hi));

    /// <summary>"0+", "3-7", "5" or "none".</summary>
    public static VersionRange Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim() == "none")
        {
            return None;
        }

        text = text.Trim();
        if (text.EndsWith('+'))
        {
            return new(short.Parse(text[..^1], CultureInfo.InvariantCulture), short.MaxValue);
        }

        int dash = text.IndexOf('-');
        if (dash > 0)
        {
            return new(
                short.Parse(text[..dash], CultureInfo.InvariantCulture),
                short.Parse(text[(dash + 1)..], CultureInfo.InvariantCulture));
        }

        short v = short.Parse(text, CultureInfo.InvariantCulture);
        return new(v, v);
    }

    public override string ToString() => IsEmpty ? "none" : Hi == short.MaxValue ? $"{Lo}+" : Lo == Hi ? $"{Lo}" : $"{Lo}-{Hi}";
}

internal sealed class FieldSpec
{
    public required string Name { get; init; }

    public required string Type { get; init; }

    public required VersionRange Versions { get; init; }

    public VersionRange NullableVersions { get; init; } = VersionRange.None;

    public VersionRange TaggedVersions { get; init; } = VersionRange.None;

    public int? Tag { get; init; }

    public string? Default { get; init; }

    /// <summary>Set when the field overrides the message's flexible versions (only "none" occurs).</summary>
    public VersionRange? FlexibleVersions { get; init; }

    public string? About { get; init; }

    public List<FieldSpec>? Fields { get; init; }

    public bool IsArray => Type.StartsWith("[]", StringComparison.Ordinal);

    public string ElementType => IsArray ? Type[2..] : Type;

    public bool IsTagged => !TaggedVersions.IsEmpty;
}

internal sealed class StructSpec
{
    public required string Name { get; init; }

    public required List<FieldSpec> Fields { get; init; }
}

internal sealed class MessageSpec
{
    public required string FileName { get; init; }

    public required string Name { get; init; }

    /// <summary>request, response, header or data.</summary>
    public required string Type { get; init; }

    public short? ApiKey { get; init; }

    public required VersionRange ValidVersions { get; init; }

    public required VersionRange FlexibleVersions { get; init; }

    public bool LatestVersionUnstable { get; init; }

    public required List<FieldSpec> Fields { get; init; }

    public required List<StructSpec> CommonStructs { get; init; }
}

internal static class SchemaLoader
{
    private static readonly JsonDocumentOptions Options = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static MessageSpec Load(string path)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(path), Options);
        JsonElement root = doc.RootElement;
        return new MessageSpec
        {
            FileName = Path.GetFileName(path),
            Name = root.GetProperty("name").GetString()!,
            Type = root.GetProperty("type").GetString()!,
            ApiKey = root.TryGetProperty("apiKey", out JsonElement key) ? key.GetInt16() : null,
            ValidVersions = VersionRange.Parse(root.GetProperty("validVersions").GetString()),
            FlexibleVersions = VersionRange.Parse(root.GetProperty("flexibleVersions").GetString()),
            LatestVersionUnstable = root.TryGetProperty("latestVersionUnstable", out JsonElement unstable) && unstable.GetBoolean(),
            Fields = ReadFields(root),
            CommonStructs = root.TryGetProperty("commonStructs", out JsonElement common)
                ? common.EnumerateArray().Select(s => new StructSpec
                {
                    Name = s.GetProperty("name").GetString()!,
                    Fields = ReadFields(s),
                }).ToList()
                : [],
        };
    }

    private static List<FieldSpec> ReadFields(JsonElement owner)
    {
        if (!owner.TryGetProperty("fields", out JsonElement fields))
        {
            return [];
        }

        return fields.EnumerateArray().Select(ReadField).ToList();
    }

    private static FieldSpec ReadField(JsonElement f)
    {
        string? Str(string name) => f.TryGetProperty(name, out JsonElement e) ? e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText() : null;

        return new FieldSpec
        {
            Name = Str("name")!,
            Type = Str("type")!,
            Versions = VersionRange.Parse(Str("versions")),
            NullableVersions = VersionRange.Parse(Str("nullableVersions")),
            TaggedVersions = VersionRange.Parse(Str("taggedVersions")),
            Tag = f.TryGetProperty("tag", out JsonElement tag) ? tag.GetInt32() : null,
            Default = Str("default"),
            FlexibleVersions = f.TryGetProperty("flexibleVersions", out JsonElement flex) ? VersionRange.Parse(flex.GetString()) : null,
            About = Str("about"),
            Fields = f.TryGetProperty("fields", out _) ? ReadFields(f) : null,
        };
    }
}
