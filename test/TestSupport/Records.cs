using System.Text.Json;

namespace KafScale.TestSupport;

public sealed record Header(string Name, string? Value)
{
    public override string ToString() => $"{Name}={Value ?? "<null>"}";
}

/// <summary>A record as a test produces it. A null partition leaves the choice to the client.</summary>
public sealed record TestRecord(string? Key, string? Value, IReadOnlyList<Header> Headers, int? Partition, long? Timestamp = null)
{
    public string ToJsonLine() => JsonSerializer.Serialize(new
    {
        key = Key,
        value = Value,
        headers = Headers.Select(h => new[] { h.Name, h.Value }).ToArray(),
        partition = Partition,
        timestamp = Timestamp,
    });

    public string Describe() => $"key={Key ?? "<null>"} value={Shorten(Value)} headers=[{string.Join(", ", Headers)}]";

    internal static string Shorten(string? text) => text is null ? "<null>" : text.Length <= 40 ? text : text[..40] + "...";
}

/// <summary>A record as a client read it back.</summary>
public sealed record ConsumedRecord(int Partition, long Offset, string? Key, string? Value, IReadOnlyList<Header> Headers, long Timestamp, bool LogAppendTime)
{
    public string Describe() =>
        $"p{Partition}@{Offset} key={Key ?? "<null>"} value={TestRecord.Shorten(Value)} headers=[{string.Join(", ", Headers)}]";

    /// <summary>Parses a "record" line of the driver scripts.</summary>
    public static ConsumedRecord FromDriverLine(JsonElement line) => new(
        line.GetProperty("partition").GetInt32(),
        line.GetProperty("offset").GetInt64(),
        NullableString(line.GetProperty("key")),
        NullableString(line.GetProperty("value")),
        line.GetProperty("headers").EnumerateArray()
            .Select(h => new Header(h[0].GetString()!, NullableString(h[1])))
            .ToArray(),
        line.GetProperty("timestamp").GetInt64(),
        line.GetProperty("timestamp_type").GetString() == "log_append");

    internal static string? NullableString(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : e.GetString();
}

/// <summary>Record sets the tests produce.</summary>
public static class TestData
{
    /// <summary>
    /// <paramref name="count"/> records spread round-robin over <paramref name="partitions"/>, with
    /// null keys, null values, headers that change every <paramref name="headerBlock"/> records
    /// (kcat sets headers per run, so they cannot change per record) and, when the client can send
    /// one, a header with a null value. Keys and values are unique so a reordering or a loss shows.
    /// </summary>
    public static IReadOnlyList<TestRecord> Mixed(int count, int partitions, string client, bool nullHeaderValues = true, int headerBlock = 30)
    {
        var records = new List<TestRecord>(count);
        for (int i = 0; i < count; i++)
        {
            int block = i / headerBlock;
            var headers = new List<Header> { new("client", client), new("block", $"b{block}") };
            if (block % 2 == 1)
            {
                headers.Add(new Header("nullable", nullHeaderValues ? null : "not-null"));
            }

            // Never both null: kafka-python refuses that, and kcat reads an empty line as no record.
            string? key = i % 7 == 3 ? null : $"key-{i}";
            string? value = i % 5 == 2 && key is not null ? null : $"value-{i}-{client}";
            records.Add(new TestRecord(key, value, headers, i % partitions));
        }

        return records;
    }

    /// <summary>Records whose values compress well (repeated text), with keys and a header.</summary>
    public static IReadOnlyList<TestRecord> Compressible(int count, int partitions, string codec)
    {
        const string Filler = "the quick brown fox jumps over the lazy dog; ";
        var records = new List<TestRecord>(count);
        for (int i = 0; i < count; i++)
        {
            string value = $"{codec}-{i}: " + string.Concat(Enumerable.Repeat(Filler, 12));
            records.Add(new TestRecord($"key-{i}", value, [new Header("codec", codec)], i % partitions));
        }

        return records;
    }
}
