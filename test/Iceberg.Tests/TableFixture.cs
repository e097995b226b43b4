using System.Text;
using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Iceberg.Tests;

/// <summary>Builds data files (small real files under the table's data directory) and checks tables with the independent Avro readers.</summary>
internal static class TableFixture
{
    public static readonly IcebergSchema Schema = MetadataTests.Schema;
    public static readonly PartitionSpec DaySpec = MetadataTests.DaySpec;

    public static readonly IcebergSchema EvolvedSchema = new(0, [.. Schema.Fields, new IcebergField(4, "extra", IcebergPrimitive.Int, false)]);

    public const string LongName = "a-very-long-name-value-that-needs-truncation";

    /// <summary>Day number of the test's partitions: 2024-03-15 + offset.</summary>
    public static int Day(int offset) => 19797 + offset;

    /// <summary>Writes a file under the table's data directory and describes it with statistics.</summary>
    public static async Task<DataFile> WriteDataFileAsync(IFileIO io, TableMetadata table, int day, long records, string tag, bool withExtra = false)
    {
        string path = $"{table.Location}/data/ts_day={day}/{tag}-{Guid.NewGuid():N}.parquet";
        byte[] content = Encoding.UTF8.GetBytes($"not really parquet: {tag} {records} rows");
        await io.WriteAsync(path, content, CancellationToken.None);
        long dayMicros = day * 86_400_000_000L;
        var columnSizes = new Dictionary<int, long> { [1] = records * 8, [2] = records * 20, [3] = records * 8 };
        var valueCounts = new Dictionary<int, long> { [1] = records, [2] = records, [3] = records };
        var nullCounts = new Dictionary<int, long> { [1] = 0, [2] = 1, [3] = 0 };
        var lower = new Dictionary<int, byte[]>
        {
            [1] = Conversions.ToBytes(IcebergPrimitive.Long, 1L),
            [2] = Conversions.ToBytes(IcebergPrimitive.String, "aaa"),
            [3] = Conversions.ToBytes(IcebergPrimitive.Timestamptz, dayMicros),
        };
        var upper = new Dictionary<int, byte[]>
        {
            [1] = Conversions.ToBytes(IcebergPrimitive.Long, records),
            [2] = Conversions.ToBytes(IcebergPrimitive.String, LongName),
            [3] = Conversions.ToBytes(IcebergPrimitive.Timestamptz, dayMicros + 1000),
        };
        if (withExtra)
        {
            columnSizes[4] = records * 4;
            valueCounts[4] = records;
            nullCounts[4] = records / 2;
        }
        return new DataFile
        {
            FilePath = path,
            RecordCount = records,
            FileSizeInBytes = content.Length,
            PartitionValues = [day],
            ColumnSizes = columnSizes,
            ValueCounts = valueCounts,
            NullValueCounts = nullCounts,
            LowerBounds = lower,
            UpperBounds = upper,
        };
    }

    public static async Task<TableMetadata> AppendAsync(ICatalog catalog, TableIdentifier id, TableMetadata table, IReadOnlyList<DataFile> files,
        IcebergSchema? newSchema = null, string writer = "test")
    {
        IReadOnlyList<TableUpdate> updates = await FastAppend.PrepareAsync(catalog.FileIO, table, files,
            new Dictionary<string, string> { ["kafscale.writer"] = writer }, newSchema, CancellationToken.None);
        return await catalog.CommitAsync(id, table, updates, CancellationToken.None);
    }

    public static long Long(JsonElement e) => e.ValueKind == JsonValueKind.String ? long.Parse(e.GetString()!) : e.GetInt64();

    public static string LocalPath(string fileUri) => new Uri(fileUri).LocalPath;

    /// <summary>Runs one independent reader over the files; returns each file's JSON by URI.</summary>
    public static async Task<Dictionary<string, JsonElement>> ReadAvroAsync(string reader, IReadOnlyList<string> uris)
    {
        string[] paths = uris.Select(LocalPath).ToArray();
        ClientResult result = reader == "avsc"
            ? await ClientRunner.NodeAsync("avro-read.mjs", paths)
            : await ClientRunner.PythonAsync("avro-read.py", paths);
        result.EnsureSuccess();
        var files = result.Lines("file");
        Assert.Equal(uris.Count, files.Count);
        var byUri = new Dictionary<string, JsonElement>();
        for (int i = 0; i < uris.Count; i++)
        {
            Assert.Equal(paths[i], files[i].GetProperty("path").GetString());
            byUri[uris[i]] = files[i];
        }
        return byUri;
    }

    /// <summary>The field-id of a top-level field of an Avro record schema JSON.</summary>
    public static JsonElement Field(JsonElement recordSchema, string name)
    {
        foreach (JsonElement f in recordSchema.GetProperty("fields").EnumerateArray())
            if (f.GetProperty("name").GetString() == name)
                return f;
        throw new Xunit.Sdk.XunitException($"schema has no field {name}: {recordSchema}");
    }

    /// <summary>The non-null branch of an optional type (or the type itself).</summary>
    public static JsonElement NonNull(JsonElement type)
    {
        if (type.ValueKind != JsonValueKind.Array)
            return type;
        Assert.Equal("null", type[0].GetString());
        return type[1];
    }

    /// <summary>An Iceberg int-keyed map printed by a reader (an array of {key, value}).</summary>
    public static Dictionary<int, JsonElement> IntMap(JsonElement e)
    {
        var map = new Dictionary<int, JsonElement>();
        if (e.ValueKind == JsonValueKind.Null)
            return map;
        foreach (JsonElement kv in e.EnumerateArray())
            map[kv.GetProperty("key").GetInt32()] = kv.GetProperty("value");
        return map;
    }
}
