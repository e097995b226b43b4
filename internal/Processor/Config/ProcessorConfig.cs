using System.Globalization;

namespace KafScale.Processor.Config;

/// <summary>A column declared in a topic mapping.</summary>
public sealed record ColumnMapping(string Name, ColumnType Type, ColumnSourceKind Source, string? JsonField, bool Required);

/// <summary>How a topic's records become a table: table name, declared columns, inference and partitioning.</summary>
public sealed record TopicMapping
{
    /// <summary>Table name inside the namespace; null = the topic name.</summary>
    public string? Table { get; init; }

    /// <summary>Namespace of the table; null = the processor's --namespace.</summary>
    public string? Namespace { get; init; }

    public IReadOnlyList<ColumnMapping> Columns { get; init; } = [];

    /// <summary>Whether top-level JSON fields not declared in <see cref="Columns"/> become columns.</summary>
    public bool InferColumns { get; init; } = true;

    /// <summary>Most columns a table gets by inference (declared ones do not count).</summary>
    public int MaxInferredColumns { get; init; } = ProcessorConfig.DefaultMaxInferredColumns;

    /// <summary>Source column of a day() partition, or null for an unpartitioned table.</summary>
    public string? PartitionDayColumn { get; init; }
}

/// <summary>
/// The processor's configuration file: defaults for every topic, and per-topic mappings.
/// <code>
/// defaults:
///   infer_columns: true
///   partition: day(timestamp)
/// topics:
///   orders:
///     table: sales.orders
///     columns:
///       - { name: amount, type: double }
///       - { name: created, type: timestamptz, field: created_at }
/// </code>
/// </summary>
public sealed class ProcessorConfig
{
    public const int DefaultMaxInferredColumns = 256;

    /// <summary>Name of the column derived from the record timestamp when a day() partition names it and the mapping does not declare it.</summary>
    public const string TimestampColumn = "timestamp";

    /// <summary>The <c>field</c> value that takes a column's value from the record timestamp.</summary>
    public const string RecordTimestampField = "$timestamp";

    public TopicMapping Defaults { get; init; } = new();

    public IReadOnlyDictionary<string, TopicMapping> Topics { get; init; } = new Dictionary<string, TopicMapping>(StringComparer.Ordinal);

    /// <summary>The mapping of a topic: its own, else the defaults.</summary>
    public TopicMapping For(string topic) => Topics.TryGetValue(topic, out var m) ? m : Defaults;

    public static ProcessorConfig Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read {path}: {ex.Message}");
        }
        try { return FromTree(ConfigTree.Parse(text)); }
        catch (ConfigException ex) { throw new ConfigException($"{path}: {ex.Message}"); }
    }

    public static ProcessorConfig Parse(string text) => FromTree(ConfigTree.Parse(text));

    /// <summary>Builds the configuration from a parsed tree; unknown keys are errors so that typos do not pass silently.</summary>
    public static ProcessorConfig FromTree(ConfigNode root)
    {
        if (root is not ConfigMap map) throw new ConfigException($"{At(root)}the file must hold a mapping with 'defaults' and/or 'topics'");
        TopicMapping defaults = new();
        var topics = new Dictionary<string, TopicMapping>(StringComparer.Ordinal);
        foreach (var (key, node) in map.Entries)
        {
            switch (key)
            {
                case "defaults":
                    defaults = ParseMapping(node, new TopicMapping(), "defaults", allowTable: false);
                    break;
                case "topics":
                    break;
                default:
                    throw new ConfigException($"{At(node)}unknown key '{key}' (expected defaults, topics)");
            }
        }
        if (map.Get("topics") is { } topicsNode)
        {
            if (topicsNode is ConfigScalar { Value: null }) { }
            else if (topicsNode is not ConfigMap topicMap) throw new ConfigException($"{At(topicsNode)}'topics' must map topic names to mappings");
            else
            {
                foreach (var (topic, node) in topicMap.Entries)
                {
                    if (topic.Length == 0 || topic.Contains('/')) throw new ConfigException($"{At(node)}'{topic}' is not a topic name");
                    topics[topic] = ParseMapping(node, defaults, $"topics.{topic}", allowTable: true);
                }
            }
        }
        return new ProcessorConfig { Defaults = defaults, Topics = topics };
    }

    private static string At(ConfigNode node) => node.Line > 0 ? $"line {node.Line}: " : "";

    private static TopicMapping ParseMapping(ConfigNode node, TopicMapping inherit, string path, bool allowTable)
    {
        if (node is ConfigScalar { Value: null }) return inherit with { Table = null, Namespace = null };
        if (node is not ConfigMap map) throw new ConfigException($"{At(node)}'{path}' must be a mapping");
        var result = inherit with { Table = null, Namespace = null };
        foreach (var (key, value) in map.Entries)
        {
            switch (key)
            {
                case "table" when allowTable:
                    string table = Text(value, $"{path}.table");
                    int dot = table.LastIndexOf('.');
                    if (dot == 0 || dot == table.Length - 1 || table.Length == 0)
                        throw new ConfigException($"{At(value)}'{path}.table' must be NAME or NAMESPACE.NAME, got '{table}'");
                    result = dot > 0 ? result with { Namespace = table[..dot], Table = table[(dot + 1)..] } : result with { Table = table };
                    break;
                case "infer_columns":
                    result = result with { InferColumns = Bool(value, $"{path}.infer_columns") };
                    break;
                case "max_inferred_columns":
                    string raw = Text(value, $"{path}.max_inferred_columns");
                    if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out int max) || max > 10_000)
                        throw new ConfigException($"{At(value)}'{path}.max_inferred_columns' must be an integer from 0 to 10000, got '{raw}'");
                    result = result with { MaxInferredColumns = max };
                    break;
                case "partition":
                    result = result with { PartitionDayColumn = ParsePartition(value, $"{path}.partition") };
                    break;
                case "columns":
                    result = result with { Columns = ParseColumns(value, $"{path}.columns") };
                    break;
                default:
                    throw new ConfigException($"{At(value)}unknown key '{key}' in '{path}' (expected {(allowTable ? "table, " : "")}columns, infer_columns, max_inferred_columns, partition)");
            }
        }
        Validate(result, path, node);
        return result;
    }

    /// <summary>"none" or "day(COLUMN)".</summary>
    public static string? ParsePartition(ConfigNode value, string path)
    {
        string text = Text(value, path).Trim();
        if (text is "none" or "") return null;
        if (text.StartsWith("day(", StringComparison.Ordinal) && text.EndsWith(')') && text.Length > 5)
            return text[4..^1].Trim();
        throw new ConfigException($"{At(value)}'{path}' must be none or day(COLUMN), got '{text}'");
    }

    private static List<ColumnMapping> ParseColumns(ConfigNode node, string path)
    {
        if (node is not ConfigList list) throw new ConfigException($"{At(node)}'{path}' must be a list of {{name, type, field}}");
        var columns = new List<ColumnMapping>();
        foreach (var item in list.Items)
        {
            if (item is not ConfigMap m) throw new ConfigException($"{At(item)}each entry of '{path}' must be a mapping with name and type");
            string? name = null, field = null;
            ColumnType? type = null;
            bool required = false;
            foreach (var (key, value) in m.Entries)
            {
                switch (key)
                {
                    case "name": name = Text(value, $"{path}.name"); break;
                    case "field": field = Text(value, $"{path}.field"); break;
                    case "required": required = Bool(value, $"{path}.required"); break;
                    case "type":
                        string t = Text(value, $"{path}.type");
                        if (!ColumnTypes.TryParse(t, out var parsed))
                            throw new ConfigException($"{At(value)}'{path}.type' '{t}' is not one of {ColumnTypes.Names}");
                        type = parsed;
                        break;
                    default:
                        throw new ConfigException($"{At(value)}unknown key '{key}' in a column of '{path}' (expected name, type, field, required)");
                }
            }
            if (string.IsNullOrWhiteSpace(name)) throw new ConfigException($"{At(item)}a column of '{path}' has no name");
            if (type is null) throw new ConfigException($"{At(item)}column '{name}' of '{path}' has no type ({ColumnTypes.Names})");
            if (BaseColumns.IsBaseName(name)) throw new ConfigException($"{At(item)}column '{name}' of '{path}' clashes with a base column (record_id, topic, partition, offset, timestamp_ms, key, value, headers); give it another name and set field: {name}");
            foreach (var c in columns)
                if (string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase)) throw new ConfigException($"{At(item)}column '{name}' of '{path}' is declared twice");
            bool fromTimestamp = field == RecordTimestampField;
            if (fromTimestamp && type is not (ColumnType.Timestamptz or ColumnType.Timestamp or ColumnType.Long or ColumnType.Date))
                throw new ConfigException($"{At(item)}column '{name}' of '{path}' takes {RecordTimestampField}, which needs type timestamptz, timestamp, date or long");
            if (required && !fromTimestamp) throw new ConfigException($"{At(item)}column '{name}' of '{path}' cannot be required: a record may lack the field (only field: {RecordTimestampField} columns can)");
            columns.Add(new ColumnMapping(name, type.Value, fromTimestamp ? ColumnSourceKind.RecordTimestamp : ColumnSourceKind.JsonField,
                fromTimestamp ? null : field ?? name, required));
        }
        return columns;
    }

    private static void Validate(TopicMapping m, string path, ConfigNode node)
    {
        if (m.PartitionDayColumn is not string col || col == TimestampColumn && !m.Columns.Any(c => c.Name == col)) return;
        var declared = m.Columns.FirstOrDefault(c => c.Name == col);
        if (declared is null)
            throw new ConfigException($"{At(node)}'{path}.partition' names column '{col}', which is not declared in its columns (or use day({TimestampColumn}) for the record timestamp)");
        if (!ColumnTypes.IsTemporal(declared.Type))
            throw new ConfigException($"{At(node)}'{path}.partition' day({col}) needs a date, timestamp or timestamptz column, but '{col}' is {ColumnTypes.Name(declared.Type)}");
    }

    private static string Text(ConfigNode node, string path) => node is ConfigScalar { Value: string v }
        ? v
        : throw new ConfigException($"{At(node)}'{path}' must be a text value");

    private static bool Bool(ConfigNode node, string path) => Text(node, path).ToLowerInvariant() switch
    {
        "true" or "yes" or "on" => true,
        "false" or "no" or "off" => false,
        var v => throw new ConfigException($"{At(node)}'{path}' must be true or false, got '{v}'"),
    };
}
