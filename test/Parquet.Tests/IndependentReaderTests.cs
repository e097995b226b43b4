using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KafScale.Parquet.Tests;

/// <summary>
/// Files written by <see cref="ParquetWriter"/> read back by two independent readers, hyparquet and
/// DuckDB (test/clients/parquet-read.mjs): values, row counts, statistics, field ids, logical types,
/// encodings and compression as they see them.
/// </summary>
public class IndependentReaderTests
{
    private static readonly ParquetColumn[] AllTypes =
    [
        new("flag", 1, ParquetPhysicalType.Boolean),
        new("flag_req", 2, ParquetPhysicalType.Boolean, Required: true),
        new("i32", 3, ParquetPhysicalType.Int32),
        new("i32_req", 4, ParquetPhysicalType.Int32, Required: true),
        new("i64", 5, ParquetPhysicalType.Int64),
        new("f32", 6, ParquetPhysicalType.Float),
        new("f64", 7, ParquetPhysicalType.Double, Required: true),
        new("bin", 8, ParquetPhysicalType.ByteArray),
        new("str", 9, ParquetPhysicalType.ByteArray, ParquetLogicalType.String),
        new("doc", 10, ParquetPhysicalType.ByteArray, ParquetLogicalType.Json),
        new("day", 11, ParquetPhysicalType.Int32, ParquetLogicalType.Date),
        new("ts", 12, ParquetPhysicalType.Int64, ParquetLogicalType.TimestampMicrosUtc, Required: true),
        new("category", 13, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, Required: true),
    ];

    private static readonly string[] DuckTypes =
        ["BOOLEAN", "BOOLEAN", "INTEGER", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "BLOB", "VARCHAR", "VARCHAR", "DATE", "TIMESTAMP WITH TIME ZONE", "VARCHAR"];

    private static readonly string[] Words = ["", "a", "Zürich", "東京", "emoji 😀", "ascii", "naïve café", "\u0000nul", "tab\tand\nnewline", "Ωmega"];

    private static List<object?[]> AllTypeRows(int count, int seed)
    {
        var random = new Random(seed);
        var rows = new List<object?[]>(count);
        for (int i = 0; i < count; i++)
        {
            byte[] bin = new byte[random.Next(0, 40)];
            random.NextBytes(bin);
            rows.Add(
            [
                i % 7 == 0 ? null : random.Next(2) == 0,
                i % 3 == 0,
                i % 11 == 0 ? null : random.Next(int.MinValue, int.MaxValue),
                i == 5 ? int.MinValue : i == 6 ? int.MaxValue : random.Next(-1000, 1000),
                i % 13 == 0 ? null : random.NextInt64(long.MinValue, long.MaxValue),
                i % 5 == 0 ? null : random.Next(-4000, 4000) / 4f,
                random.Next(-1_000_000, 1_000_000) / 8.0,
                i % 17 == 0 ? null : bin,
                i % 19 == 0 ? null : Words[random.Next(Words.Length)] + (random.Next(3) == 0 ? "" : " " + i),
                i % 23 == 0 ? null : $"{{\"n\":{i},\"s\":\"{Words[i % Words.Length].Replace("\t", "\\t").Replace("\n", "\\n").Replace("\u0000", "\\u0000")}\"}}",
                i % 29 == 0 ? null : random.Next(-3000, 30000),
                1_700_000_000_000_000L + random.NextInt64(-10_000_000_000_000, 10_000_000_000_000),
                "cat-" + (i % 4),
            ]);
        }
        return rows;
    }

    [Theory]
    [InlineData(ParquetCompression.Uncompressed)]
    [InlineData(ParquetCompression.Snappy)]
    [InlineData(ParquetCompression.Zstd)]
    public async Task EveryTypeWithNullsPagesAndRowGroups(ParquetCompression compression)
    {
        List<object?[]> rows = AllTypeRows(3000, seed: (int)compression + 1);
        var options = new ParquetWriterOptions { Compression = compression, PageRowLimit = 256, RowGroupBytes = 48 * 1024 };
        var (path, result) = ParquetFiles.Write(AllTypes, rows, options);
        try
        {
            ReaderView view = await ParquetFiles.ReadAsync(path);
            ParquetFiles.AssertRows(rows, view.Hyparquet.GetProperty("rows"), "hyparquet");
            ParquetFiles.AssertRows(rows, view.DuckDb.GetProperty("rows"), "duckdb");

            Assert.Equal(DuckTypes, view.DuckDb.GetProperty("types").EnumerateArray().Select(t => t.GetString()).ToArray());
            Assert.Equal(AllTypes.Select(c => c.Name).ToArray(), view.DuckDb.GetProperty("columns").EnumerateArray().Select(t => t.GetString()).ToArray());
            AssertSchema(view, AllTypes);

            JsonElement file = view.DuckDb.GetProperty("file");
            Assert.Equal("3000", file.GetProperty("num_rows").GetString());
            Assert.StartsWith("kafscale-dotnet version ", file.GetProperty("created_by").GetString());
            int groups = int.Parse(file.GetProperty("num_row_groups").GetString()!, CultureInfo.InvariantCulture);
            Assert.True(groups >= 3, $"expected several row groups, got {groups}");

            string codec = compression switch
            {
                ParquetCompression.Snappy => "SNAPPY",
                ParquetCompression.Zstd => "ZSTD",
                _ => "UNCOMPRESSED",
            };
            AssertStatistics(view, AllTypes, rows, codec);
            AssertResult(view, AllTypes, rows, result);

            // Several data pages per chunk: 3000 rows in a few row groups of pages of at most 256 values.
            JsonElement firstGroup = view.Hyparquet.GetProperty("row_groups")[0];
            int pages = firstGroup.GetProperty("columns")[3].GetProperty("encoding_stats")[0].GetProperty("count").GetInt32();
            Assert.True(pages >= 2, $"expected several pages in the first chunk, got {pages}");
            // The low-cardinality column is dictionary encoded, the random 64-bit ints are not.
            Assert.Contains("RLE_DICTIONARY", Column(firstGroup, 12).GetProperty("encodings").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(JsonValueKind.Null, Column(firstGroup, 4).GetProperty("dictionary_page_offset").ValueKind);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task StringsWrittenAsUtf8BytesReadTheSame()
    {
        List<object?[]> rows = AllTypeRows(500, seed: 99);
        var (path, result) = ParquetFiles.Write(AllTypes, rows, new ParquetWriterOptions { PageRowLimit = 100 }, stringsAsBytes: true);
        try
        {
            ReaderView view = await ParquetFiles.ReadAsync(path);
            ParquetFiles.AssertRows(rows, view.Hyparquet.GetProperty("rows"), "hyparquet");
            ParquetFiles.AssertRows(rows, view.DuckDb.GetProperty("rows"), "duckdb");
            AssertStatistics(view, AllTypes, rows, "ZSTD");
            AssertResult(view, AllTypes, rows, result);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task DictionaryWhereItPaysPlainWhereNotAndTheFallback()
    {
        ParquetColumn[] schema =
        [
            new("low", 1, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, Required: true),
            new("unique", 2, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, Required: true),
            new("mixed", 3, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, Required: true),
            new("low_int", 4, ParquetPhysicalType.Int64, Required: true),
            new("unique_int", 5, ParquetPhysicalType.Int64, Required: true),
            new("low_optional", 6, ParquetPhysicalType.Int32),
            new("low_double", 7, ParquetPhysicalType.Double, Required: true),
            new("partition", 8, ParquetPhysicalType.Int32, Required: true),
            new("mixed_optional", 9, ParquetPhysicalType.ByteArray, ParquetLogicalType.String),
        ];
        var rows = new List<object?[]>();
        for (int i = 0; i < 1500; i++)
        {
            rows.Add(
            [
                "topic-" + (i % 5),
                $"record-{i:D6}-{Guid.NewGuid():N}",
                i < 600 ? "m" + (i % 3) : $"distinct value number {i} with some padding to make it long",
                (long)(i % 4) * 1_000_000_007L,
                (long)i * 7919,
                i % 3 == 0 ? null : i % 2,
                (i % 3) * 0.5,
                7,
                i % 7 == 0 ? null : i < 600 ? "m" + (i % 3) : $"distinct value number {i} with some padding to make it long",
            ]);
        }
        var options = new ParquetWriterOptions { PageRowLimit = 200, DictionaryPageBytes = 4096, Compression = ParquetCompression.Snappy };
        var (path, _) = ParquetFiles.Write(schema, rows, options, stringsAsBytes: true);
        try
        {
            ReaderView view = await ParquetFiles.ReadAsync(path);
            ParquetFiles.AssertRows(rows, view.Hyparquet.GetProperty("rows"), "hyparquet");
            ParquetFiles.AssertRows(rows, view.DuckDb.GetProperty("rows"), "duckdb");
            JsonElement group = Assert.Single(view.Hyparquet.GetProperty("row_groups").EnumerateArray());

            foreach (int c in new[] { 0, 3, 5, 6, 7 })
            {
                var stats = EncodingStats(Column(group, c));
                Assert.Equal(1, stats.GetValueOrDefault("DICTIONARY_PAGE/PLAIN"));
                Assert.Equal(8, stats.GetValueOrDefault("DATA_PAGE/RLE_DICTIONARY"));   // 1500 values, 200 a page
                Assert.False(stats.ContainsKey("DATA_PAGE/PLAIN"), $"column {c}: {string.Join(", ", stats)}");
                Assert.NotEqual(JsonValueKind.Null, Column(group, c).GetProperty("dictionary_page_offset").ValueKind);
            }
            foreach (int c in new[] { 1, 4 })
            {
                // Unique strings outgrow the dictionary cap in the first page; unique ints would not
                // shrink with a dictionary: both go PLAIN from the first page, with no dictionary page.
                var stats = EncodingStats(Column(group, c));
                Assert.Equal(new Dictionary<string, int> { ["DATA_PAGE/PLAIN"] = 8 }, stats);
                Assert.Equal(JsonValueKind.Null, Column(group, c).GetProperty("dictionary_page_offset").ValueKind);
                Assert.DoesNotContain("RLE_DICTIONARY", Column(group, c).GetProperty("encodings").EnumerateArray().Select(e => e.GetString()));
            }
            foreach (int c in new[] { 2, 8 })
            {
                // Three values for 600 rows (three dictionary pages), then distinct values fill the
                // dictionary cap: one more dictionary page ends early, the rest of the chunk is PLAIN.
                var stats = EncodingStats(Column(group, c));
                Assert.Equal(1, stats["DICTIONARY_PAGE/PLAIN"]);
                Assert.Equal(4, stats["DATA_PAGE/RLE_DICTIONARY"]);
                Assert.True(stats["DATA_PAGE/PLAIN"] >= 4, string.Join(", ", stats));
                JsonElement duck = view.DuckDb.GetProperty("metadata")[c];
                Assert.Equal(c == 2 ? "PLAIN, RLE_DICTIONARY" : "PLAIN, RLE, RLE_DICTIONARY", duck.GetProperty("encodings").GetString());
                Assert.Equal("SNAPPY", duck.GetProperty("compression").GetString());
            }
            Assert.Equal("PLAIN, RLE, RLE_DICTIONARY", view.DuckDb.GetProperty("metadata")[5].GetProperty("encodings").GetString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task DictionaryOffWritesPlainOnly()
    {
        ParquetColumn[] schema = [new("low", 1, ParquetPhysicalType.ByteArray, ParquetLogicalType.String), new("n", 2, ParquetPhysicalType.Int32)];
        var rows = Enumerable.Range(0, 300).Select(i => new object?[] { "v" + (i % 2), i % 2 }).ToList();
        var (path, _) = ParquetFiles.Write(schema, rows, new ParquetWriterOptions { Dictionary = false, Compression = ParquetCompression.Uncompressed });
        try
        {
            ReaderView view = await ParquetFiles.ReadAsync(path);
            ParquetFiles.AssertRows(rows, view.DuckDb.GetProperty("rows"), "duckdb");
            ParquetFiles.AssertRows(rows, view.Hyparquet.GetProperty("rows"), "hyparquet");
            foreach (JsonElement m in view.DuckDb.GetProperty("metadata").EnumerateArray())
            {
                Assert.Equal("PLAIN, RLE", m.GetProperty("encodings").GetString());
                Assert.Equal(JsonValueKind.Null, m.GetProperty("dictionary_page_offset").ValueKind);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(ParquetCompression.Uncompressed)]
    [InlineData(ParquetCompression.Snappy)]
    [InlineData(ParquetCompression.Zstd)]
    public async Task ValuesLargerThanAMebibyte(ParquetCompression compression)
    {
        var random = new Random(7);
        byte[] bigBinary = new byte[2 * 1024 * 1024 + 17];
        random.NextBytes(bigBinary);
        string bigText = string.Concat(Enumerable.Range(0, 500_000).Select(i => i % 10 == 0 ? "日本" : "zz"));  // > 1 MiB of UTF-8
        Assert.True(Encoding.UTF8.GetByteCount(bigText) > 1024 * 1024);
        ParquetColumn[] schema =
        [
            new("payload", 1, ParquetPhysicalType.ByteArray),
            new("text", 2, ParquetPhysicalType.ByteArray, ParquetLogicalType.String),
            new("n", 3, ParquetPhysicalType.Int64, Required: true),
        ];
        var rows = new List<object?[]>
        {
            new object?[] { new byte[] { 1, 2, 3 }, "a", 1L },
            new object?[] { bigBinary, bigText, 2L },
            new object?[] { Array.Empty<byte>(), "", 3L },
            new object?[] { null, null, 4L },
            new object?[] { bigBinary, bigText, 5L },
        };
        var (path, result) = ParquetFiles.Write(schema, rows, new ParquetWriterOptions { Compression = compression });
        try
        {
            ReaderView view = await ParquetFiles.ReadAsync(path);
            ParquetFiles.AssertRows(rows, view.Hyparquet.GetProperty("rows"), "hyparquet");
            ParquetFiles.AssertRows(rows, view.DuckDb.GetProperty("rows"), "duckdb");

            // The large maximum is left out of the footer; the small minimum (empty) stays.
            JsonElement text = view.DuckDb.GetProperty("metadata")[1];
            Assert.Equal("", text.GetProperty("stats_min_value").GetString());
            Assert.Equal(JsonValueKind.Null, text.GetProperty("stats_max_value").ValueKind);
            Assert.Equal("1", text.GetProperty("stats_null_count").GetString());
            Assert.True(text.GetProperty("min_is_exact").GetBoolean());
            Assert.Equal(JsonValueKind.Null, text.GetProperty("max_is_exact").ValueKind);
            JsonElement n = view.DuckDb.GetProperty("metadata")[2];
            Assert.True(n.GetProperty("min_is_exact").GetBoolean());
            Assert.True(n.GetProperty("max_is_exact").GetBoolean());
            // The result keeps the exact bounds for the table's metadata.
            Assert.Equal(Encoding.UTF8.GetBytes(bigText), result.Columns[1].Max);
            Assert.Equal(Array.Empty<byte>(), result.Columns[1].Min);
            Assert.Equal(Array.Empty<byte>(), result.Columns[0].Min);
            Assert.Equal(bigBinary, result.Columns[0].Max);
            Assert.Equal(view.Length, result.FileSizeBytes);
            if (compression != ParquetCompression.Uncompressed)
                Assert.True(result.FileSizeBytes < 2 * 1024 * 1024 * 2 + 2 * Encoding.UTF8.GetByteCount(bigText), "compression saved nothing");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ZeroRows()
    {
        var (path, result) = ParquetFiles.Write(AllTypes, [], new ParquetWriterOptions());
        try
        {
            ReaderView view = await ParquetFiles.ReadAsync(path);
            Assert.Equal(0, view.DuckDb.GetProperty("row_count").GetInt32());
            Assert.Equal(0, view.DuckDb.GetProperty("rows").GetArrayLength());
            Assert.Equal(0, view.Hyparquet.GetProperty("rows").GetArrayLength());
            Assert.Equal("0", view.Hyparquet.GetProperty("num_rows").GetString());
            Assert.Equal(0, view.Hyparquet.GetProperty("row_groups").GetArrayLength());
            Assert.Equal(DuckTypes, view.DuckDb.GetProperty("types").EnumerateArray().Select(t => t.GetString()).ToArray());
            AssertSchema(view, AllTypes);
            Assert.Equal(0, result.RowCount);
            Assert.Equal(view.Length, result.FileSizeBytes);
            Assert.All(result.Columns, c =>
            {
                Assert.Equal(0, c.ValueCount);
                Assert.Equal(0, c.NullCount);
                Assert.Equal(0, c.CompressedBytes);
                Assert.Null(c.Min);
                Assert.Null(c.Max);
            });
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task OnlyNullsAndNaN()
    {
        ParquetColumn[] schema =
        [
            new("nothing", 1, ParquetPhysicalType.ByteArray, ParquetLogicalType.String),
            new("f", 2, ParquetPhysicalType.Float),
            new("d", 3, ParquetPhysicalType.Double),
            new("zero", 4, ParquetPhysicalType.Double, Required: true),
        ];
        var rows = new List<object?[]>
        {
            new object?[] { null, float.NaN, double.NaN, 0.0 },
            new object?[] { null, 1.5f, -2.25, -0.0 },
            new object?[] { null, -3.5f, double.NaN, 0.0 },
            new object?[] { null, null, null, 0.0 },
        };
        var (path, result) = ParquetFiles.Write(schema, rows, new ParquetWriterOptions { Compression = ParquetCompression.Uncompressed });
        try
        {
            ReaderView view = await ParquetFiles.ReadAsync(path);
            ParquetFiles.AssertRows(rows, view.Hyparquet.GetProperty("rows"), "hyparquet");
            ParquetFiles.AssertRows(rows, view.DuckDb.GetProperty("rows"), "duckdb");
            JsonElement[] meta = view.DuckDb.GetProperty("metadata").EnumerateArray().ToArray();
            Assert.Equal("4", meta[0].GetProperty("stats_null_count").GetString());
            Assert.Equal(JsonValueKind.Null, meta[0].GetProperty("stats_min_value").ValueKind);
            Assert.Equal(JsonValueKind.Null, meta[0].GetProperty("stats_max_value").ValueKind);
            Assert.Null(result.Columns[0].Min);
            Assert.Null(result.Columns[0].Max);
            Assert.Equal(4, result.Columns[0].NullCount);
            // NaN is left out of the bounds.
            Assert.Equal(-3.5, double.Parse(meta[1].GetProperty("stats_min_value").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(1.5, double.Parse(meta[1].GetProperty("stats_max_value").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(-2.25, double.Parse(meta[2].GetProperty("stats_min_value").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(-2.25, double.Parse(meta[2].GetProperty("stats_max_value").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(BitConverter.GetBytes(-3.5f), result.Columns[1].Min);
            Assert.Equal(BitConverter.GetBytes(1.5f), result.Columns[1].Max);
            // Zero bounds: -0.0 as the minimum and +0.0 as the maximum, so both zeros fall inside.
            Assert.Equal(BitConverter.GetBytes(-0.0), result.Columns[3].Min);
            Assert.Equal(BitConverter.GetBytes(0.0), result.Columns[3].Max);
            Assert.Equal("-0.0", meta[3].GetProperty("stats_min_value").GetString());
            Assert.Equal("0.0", meta[3].GetProperty("stats_max_value").GetString());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ManyRowGroupsWithBoundedBuffering()
    {
        ParquetColumn[] schema =
        [
            new("id", 1, ParquetPhysicalType.Int64, Required: true),
            new("text", 2, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, Required: true),
        ];
        string path = Path.Combine(Path.GetTempPath(), $"kafscale-parquet-{Guid.NewGuid():N}.parquet");
        var options = new ParquetWriterOptions { RowGroupBytes = 64 * 1024, PageBytes = 8 * 1024, Compression = ParquetCompression.Uncompressed };
        long maxBuffered = 0;
        try
        {
            ParquetFileResult result;
            using (var stream = File.Create(path))
            using (var writer = new ParquetWriter(stream, schema, options))
            {
                for (int i = 0; i < 20_000; i++)
                {
                    writer.WriteInt64(0, i);
                    writer.WriteString(1, $"row {i} " + new string((char)('a' + i % 26), 80));
                    writer.EndRow();
                    maxBuffered = Math.Max(maxBuffered, writer.BufferedBytes);
                    if (i == 10_000)
                        Assert.True(writer.BytesWritten > 500_000, $"row groups are written as they fill ({writer.BytesWritten} bytes so far)");
                }
                result = writer.Finish();
            }
            Assert.True(maxBuffered <= options.RowGroupBytes + 1024, $"buffered {maxBuffered} bytes");
            ReaderView view = await ParquetFiles.ReadAsync(path, rows: false);
            JsonElement file = view.DuckDb.GetProperty("file");
            int groups = int.Parse(file.GetProperty("num_row_groups").GetString()!, CultureInfo.InvariantCulture);
            Assert.True(groups >= 20, $"{groups} row groups");
            long rows = view.Hyparquet.GetProperty("row_groups").EnumerateArray().Sum(g => long.Parse(g.GetProperty("num_rows").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(20_000, rows);
            Assert.Equal(20_000, view.DuckDb.GetProperty("row_count").GetInt32());
            // Row groups follow each other: each starts where the previous one's chunks end.
            long expectedOffset = 4;
            foreach (JsonElement m in view.DuckDb.GetProperty("metadata").EnumerateArray())
            {
                long start = long.Parse((m.GetProperty("dictionary_page_offset").ValueKind == JsonValueKind.Null
                    ? m.GetProperty("data_page_offset") : m.GetProperty("dictionary_page_offset")).GetString()!, CultureInfo.InvariantCulture);
                Assert.Equal(expectedOffset, start);
                Assert.Equal("0", m.GetProperty("file_offset").GetString());
                expectedOffset += long.Parse(m.GetProperty("total_compressed_size").GetString()!, CultureInfo.InvariantCulture);
            }
            Assert.Equal(20_000, result.Columns[0].ValueCount);
            Assert.Equal(BitConverter.GetBytes(0L), result.Columns[0].Min);
            Assert.Equal(BitConverter.GetBytes(19_999L), result.Columns[0].Max);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task WideSchemaWithLargeFieldIdsAndUnicodeNames()
    {
        // More than 14 columns: the footer's lists take the long header form.
        ParquetColumn[] schema = Enumerable.Range(0, 40)
            .Select(i => i % 2 == 0
                ? new ParquetColumn(i == 0 ? "Größe ✓" : $"c{i}", 1000 + i * 37, ParquetPhysicalType.Int32, Required: i % 4 == 0)
                : new ParquetColumn($"s{i}", 1000 + i * 37, ParquetPhysicalType.ByteArray, ParquetLogicalType.String))
            .ToArray();
        var rows = Enumerable.Range(0, 50)
            .Select(r => schema.Select((c, i) => c.Type == ParquetPhysicalType.Int32 ? (object?)(r * i) : r % 5 == 0 ? null : $"{r}-{i}").ToArray())
            .ToList();
        var (path, result) = ParquetFiles.Write(schema, rows, new ParquetWriterOptions { RowGroupBytes = 2048 });
        try
        {
            ReaderView view = await ParquetFiles.ReadAsync(path);
            ParquetFiles.AssertRows(rows, view.Hyparquet.GetProperty("rows"), "hyparquet");
            ParquetFiles.AssertRows(rows, view.DuckDb.GetProperty("rows"), "duckdb");
            AssertSchema(view, schema);
            AssertStatistics(view, schema, rows, "ZSTD");
            AssertResult(view, schema, rows, result);
            Assert.True(view.Hyparquet.GetProperty("row_groups").GetArrayLength() > 1);
        }
        finally
        {
            File.Delete(path);
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------

    private static JsonElement Column(JsonElement group, int index) => group.GetProperty("columns")[index];

    private static Dictionary<string, int> EncodingStats(JsonElement column) =>
        column.GetProperty("encoding_stats").EnumerateArray().ToDictionary(
            e => e.GetProperty("page_type").GetString() + "/" + e.GetProperty("encoding").GetString(),
            e => e.GetProperty("count").GetInt32());

    private static void AssertSchema(ReaderView view, ParquetColumn[] schema)
    {
        JsonElement[] duck = view.DuckDb.GetProperty("schema").EnumerateArray().ToArray();
        JsonElement[] hy = view.Hyparquet.GetProperty("schema").EnumerateArray().ToArray();
        Assert.Equal(schema.Length + 1, duck.Length);
        Assert.Equal(schema.Length + 1, hy.Length);
        Assert.Equal(schema.Length, hy[0].GetProperty("num_children").GetInt32());
        for (int i = 0; i < schema.Length; i++)
        {
            ParquetColumn c = schema[i];
            JsonElement d = duck[i + 1];
            JsonElement h = hy[i + 1];
            Assert.Equal(c.Name, d.GetProperty("name").GetString());
            Assert.Equal(c.FieldId.ToString(CultureInfo.InvariantCulture), d.GetProperty("field_id").GetString());
            Assert.Equal(c.FieldId, h.GetProperty("field_id").GetInt32());
            Assert.Equal(c.Required ? "REQUIRED" : "OPTIONAL", d.GetProperty("repetition_type").GetString());
            Assert.Equal(c.Required ? "REQUIRED" : "OPTIONAL", h.GetProperty("repetition_type").GetString());
            string physical = c.Type switch
            {
                ParquetPhysicalType.Boolean => "BOOLEAN",
                ParquetPhysicalType.Int32 => "INT32",
                ParquetPhysicalType.Int64 => "INT64",
                ParquetPhysicalType.Float => "FLOAT",
                ParquetPhysicalType.Double => "DOUBLE",
                _ => "BYTE_ARRAY",
            };
            Assert.Equal(physical, d.GetProperty("type").GetString());
            Assert.Equal(physical, h.GetProperty("type").GetString());
            (string? converted, string? logical) = c.Logical switch
            {
                ParquetLogicalType.String => ("UTF8", "STRING"),
                ParquetLogicalType.Json => ("JSON", "JSON"),
                ParquetLogicalType.Date => ("DATE", "DATE"),
                ParquetLogicalType.TimestampMicrosUtc => ("TIMESTAMP_MICROS", "TIMESTAMP"),
                _ => ((string?)null, (string?)null),
            };
            Assert.Equal(converted, d.GetProperty("converted_type").GetString());
            Assert.Equal(converted, h.GetProperty("converted_type").GetString());
            if (logical is null)
            {
                Assert.Equal(JsonValueKind.Null, h.GetProperty("logical_type").ValueKind);
                Assert.Equal(JsonValueKind.Null, d.GetProperty("logical_type").ValueKind);
            }
            else
            {
                Assert.Equal(logical, h.GetProperty("logical_type").GetProperty("type").GetString());
                Assert.NotEqual(JsonValueKind.Null, d.GetProperty("logical_type").ValueKind);
            }
            if (c.Logical == ParquetLogicalType.TimestampMicrosUtc)
            {
                Assert.True(h.GetProperty("logical_type").GetProperty("isAdjustedToUTC").GetBoolean());
                Assert.Equal("MICROS", h.GetProperty("logical_type").GetProperty("unit").GetString());
                Assert.Contains("isAdjustedToUTC=1", d.GetProperty("logical_type").GetString());
                Assert.Contains("MICROS=MicroSeconds()", d.GetProperty("logical_type").GetString());
            }
        }
    }

    /// <summary>Per row group and column: DuckDB's statistics against those computed from the written rows.</summary>
    private static void AssertStatistics(ReaderView view, ParquetColumn[] schema, List<object?[]> rows, string codec)
    {
        JsonElement[] meta = view.DuckDb.GetProperty("metadata").EnumerateArray().ToArray();
        int firstRow = 0;
        int index = 0;
        while (index < meta.Length)
        {
            int groupRows = int.Parse(meta[index].GetProperty("row_group_num_rows").GetString()!, CultureInfo.InvariantCulture);
            for (int c = 0; c < schema.Length; c++, index++)
            {
                JsonElement m = meta[index];
                Assert.Equal(c.ToString(CultureInfo.InvariantCulture), m.GetProperty("column_id").GetString());
                Assert.Equal(codec, m.GetProperty("compression").GetString());
                var values = rows.Skip(firstRow).Take(groupRows).Select(r => r[c]).ToList();
                Assert.Equal(groupRows.ToString(CultureInfo.InvariantCulture), m.GetProperty("num_values").GetString());
                Assert.Equal(values.Count(v => v is null).ToString(CultureInfo.InvariantCulture), m.GetProperty("stats_null_count").GetString());
                var present = values.Where(v => v is not null).ToList();
                (object min, object max) = MinMax(schema[c].Type, present!);
                string where = $"row group starting at row {firstRow}, column {schema[c].Name}";
                AssertStat(schema[c], min, m.GetProperty("stats_min_value"), where + " min");
                AssertStat(schema[c], max, m.GetProperty("stats_max_value"), where + " max");
                Assert.Contains(schema[c].Required ? "PLAIN" : "RLE", m.GetProperty("encodings").GetString());
            }
            firstRow += groupRows;
        }
        Assert.Equal(rows.Count, firstRow);
    }

    private static (object Min, object Max) MinMax(ParquetPhysicalType type, List<object> values)
    {
        Comparison<object> compare = type switch
        {
            ParquetPhysicalType.ByteArray => (a, b) => Bytes(a).AsSpan().SequenceCompareTo(Bytes(b)),
            _ => (a, b) => ((IComparable)a).CompareTo(b),
        };
        object min = values[0], max = values[0];
        foreach (object v in values)
        {
            if (compare(v, min) < 0)
                min = v;
            if (compare(v, max) > 0)
                max = v;
        }
        return (min, max);
    }

    private static byte[] Bytes(object v) => v is string s ? Encoding.UTF8.GetBytes(s) : (byte[])v;

    private static void AssertStat(ParquetColumn column, object expected, JsonElement actual, string where)
    {
        string text = actual.GetString() ?? throw new Xunit.Sdk.XunitException($"{where}: no statistic");
        switch (column.Logical, expected)
        {
            case (ParquetLogicalType.Date, int days):
                Assert.Equal(DateOnly.FromDayNumber(new DateOnly(1970, 1, 1).DayNumber + days).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), text);
                break;
            case (ParquetLogicalType.TimestampMicrosUtc, long micros):
                var parsed = DateTimeOffset.Parse(text.EndsWith("+00", StringComparison.Ordinal) ? text + ":00" : text, CultureInfo.InvariantCulture);
                Assert.Equal(micros, (parsed - DateTimeOffset.UnixEpoch).Ticks / 10);
                break;
            case (_, bool b):
                Assert.Equal(b ? "true" : "false", text);
                break;
            case (_, int or long):
                Assert.Equal(Convert.ToString(expected, CultureInfo.InvariantCulture), text);
                break;
            case (_, float f):
                Assert.Equal((double)f, double.Parse(text, CultureInfo.InvariantCulture));
                break;
            case (_, double d):
                Assert.Equal(d, double.Parse(text, CultureInfo.InvariantCulture));
                break;
            case (_, string s):
                Assert.Equal(s, text);
                break;
            case (_, byte[] bytes):
                Assert.Equal(DuckBlob(bytes), text);
                break;
            default:
                throw new Xunit.Sdk.XunitException($"{where}: unexpected {expected}");
        }
    }

    // DuckDB prints a blob's printable ASCII bytes as themselves and every other byte as \xHH.
    private static string DuckBlob(byte[] bytes)
    {
        var sb = new StringBuilder();
        foreach (byte b in bytes)
        {
            if (b >= 0x20 && b < 0x7F && b != (byte)'\\' && b != (byte)'\'' && b != (byte)'"')
                sb.Append((char)b);
            else
                sb.Append(CultureInfo.InvariantCulture, $"\\x{b:X2}");
        }
        return sb.ToString();
    }

    /// <summary>The writer's own summary against the rows and against the file as DuckDB sees it.</summary>
    private static void AssertResult(ReaderView view, ParquetColumn[] schema, List<object?[]> rows, ParquetFileResult result)
    {
        Assert.Equal(rows.Count, result.RowCount);
        Assert.Equal(view.Length, result.FileSizeBytes);
        JsonElement[] meta = view.DuckDb.GetProperty("metadata").EnumerateArray().ToArray();
        for (int c = 0; c < schema.Length; c++)
        {
            ParquetColumnResult r = result.Columns[c];
            Assert.Equal(schema[c].FieldId, r.FieldId);
            Assert.Equal(rows.Count, r.ValueCount);
            Assert.Equal(rows.Count(row => row[c] is null), r.NullCount);
            long compressed = meta.Where(m => m.GetProperty("column_id").GetString() == c.ToString(CultureInfo.InvariantCulture))
                .Sum(m => long.Parse(m.GetProperty("total_compressed_size").GetString()!, CultureInfo.InvariantCulture));
            Assert.Equal(compressed, r.CompressedBytes);
            var present = rows.Select(row => row[c]).Where(v => v is not null).ToList();
            (object min, object max) = MinMax(schema[c].Type, present!);
            Assert.Equal(Plain(min), r.Min);
            Assert.Equal(Plain(max), r.Max);
        }
    }

    private static byte[] Plain(object v) => v switch
    {
        bool b => [(byte)(b ? 1 : 0)],
        int i => ParquetFiles.Le(i),
        long l => ParquetFiles.Le(l),
        float f => BitConverter.GetBytes(f == 0 ? 0f : f),
        double d => BitConverter.GetBytes(d == 0 ? 0.0 : d),
        _ => Bytes(v),
    };
}
