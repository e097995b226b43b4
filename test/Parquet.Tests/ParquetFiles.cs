using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KafScale.TestSupport;
using Xunit.Sdk;

namespace KafScale.Parquet.Tests;

/// <summary>What the two independent readers (hyparquet and DuckDB, test/clients/parquet-read.mjs) saw in a file.</summary>
public sealed record ReaderView(JsonElement Hyparquet, JsonElement DuckDb, string Path, long Length);

/// <summary>Writes files with <see cref="ParquetWriter"/> and reads them back with the independent readers.</summary>
public static class ParquetFiles
{
    /// <summary>Writes rows (one object per column: bool, int, long, float, double, byte[], string or null).</summary>
    public static (string Path, ParquetFileResult Result) Write(IReadOnlyList<ParquetColumn> schema, IReadOnlyList<object?[]> rows,
        ParquetWriterOptions? options = null, bool stringsAsBytes = false)
    {
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"kafscale-parquet-{Guid.NewGuid():N}.parquet");
        using var stream = File.Create(path);
        using var writer = new ParquetWriter(stream, schema, options);
        foreach (object?[] row in rows)
        {
            // Write the columns back to front: the writer takes them in any order.
            for (int c = row.Length - 1; c >= 0; c--)
                WriteValue(writer, schema[c], c, row[c], stringsAsBytes);
            writer.EndRow();
        }
        ParquetFileResult result = writer.Finish();
        return (path, result);
    }

    public static void WriteValue(ParquetWriter writer, ParquetColumn column, int c, object? value, bool stringsAsBytes = false)
    {
        switch (value)
        {
            case null: writer.WriteNull(c); break;
            case bool b: writer.WriteBoolean(c, b); break;
            case int i: writer.WriteInt32(c, i); break;
            case long l: writer.WriteInt64(c, l); break;
            case float f: writer.WriteFloat(c, f); break;
            case double d: writer.WriteDouble(c, d); break;
            case byte[] bytes: writer.WriteBytes(c, bytes); break;
            case string s when stringsAsBytes: writer.WriteBytes(c, Encoding.UTF8.GetBytes(s)); break;
            case string s: writer.WriteString(c, s); break;
            default: throw new ArgumentException($"unsupported value {value.GetType()} for {column.Name}");
        }
    }

    public static async Task<ReaderView> ReadAsync(string path, bool rows = true)
    {
        var args = new List<string> { path };
        if (!rows)
            args.Add("--no-rows");
        ClientResult result = await ClientRunner.NodeAsync("parquet-read.mjs", args, timeout: TimeSpan.FromSeconds(120));
        if (result.TimedOut || result.ExitCode != 0)
            throw new XunitException($"the readers failed on {path}: {result}");
        return new ReaderView(result.Lines("hyparquet").Single(), result.Lines("duckdb").Single(), path, new FileInfo(path).Length);
    }

    /// <summary>The canonical text of a value as parquet-read.mjs prints it.</summary>
    public static string? Canonical(object? value) => value switch
    {
        null => null,
        bool b => b ? "true" : "false",
        int i => i.ToString(CultureInfo.InvariantCulture),
        long l => l.ToString(CultureInfo.InvariantCulture),
        float f => Hex(BitConverter.GetBytes(f)),
        double d => Hex(BitConverter.GetBytes(d)),
        byte[] bytes => bytes.Length > 1000 ? Digest(bytes) : Hex(bytes),
        string s => Encoding.UTF8.GetByteCount(s) > 1000 ? Digest(Encoding.UTF8.GetBytes(s)) : s,
        _ => throw new ArgumentException(value.GetType().ToString()),
    };

    public static string? Canonical(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Number => e.GetRawText(),
        JsonValueKind.String => e.GetString(),
        _ => throw new ArgumentException(e.GetRawText()),
    };

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    private static string Digest(byte[] bytes) => $"sha256:{Hex(SHA256.HashData(bytes))}:{bytes.Length}";

    /// <summary>Asserts that a reader's rows (arrays in column order) equal the written rows.</summary>
    public static void AssertRows(IReadOnlyList<object?[]> expected, JsonElement actualRows, string reader)
    {
        Assert.Equal(expected.Count, actualRows.GetArrayLength());
        int r = 0;
        foreach (JsonElement row in actualRows.EnumerateArray())
        {
            object?[] want = expected[r];
            Assert.Equal(want.Length, row.GetArrayLength());
            int c = 0;
            foreach (JsonElement cell in row.EnumerateArray())
            {
                string? w = Canonical(want[c]);
                string? a = Canonical(cell);
                if (w != a)
                    throw new XunitException($"{reader}: row {r} column {c}: expected {Show(w)}, read {Show(a)}");
                c++;
            }
            r++;
        }
    }

    private static string Show(string? s) => s is null ? "null" : s.Length > 200 ? $"'{s[..200]}...' ({s.Length} chars)" : $"'{s}'";

    public static byte[] Le(int v) { var b = new byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); return b; }

    public static byte[] Le(long v) { var b = new byte[8]; BinaryPrimitives.WriteInt64LittleEndian(b, v); return b; }
}
