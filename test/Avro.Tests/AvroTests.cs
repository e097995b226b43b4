using System.Buffers;
using System.Text;
using System.Text.Json;
using KafScale.TestSupport;

namespace KafScale.Avro.Tests;

public sealed class AvroEncodingTests
{
    [Theory]
    [InlineData(0L, "00")]
    [InlineData(-1L, "01")]
    [InlineData(1L, "02")]
    [InlineData(-64L, "7F")]
    [InlineData(64L, "8001")]
    [InlineData(long.MaxValue, "FEFFFFFFFFFFFFFFFF01")]
    [InlineData(long.MinValue, "FFFFFFFFFFFFFFFFFF01")]
    public void Longs_are_zigzag_varints(long value, string hex)
    {
        var buffer = new ArrayBufferWriter<byte>();
        new AvroEncoder(buffer).WriteLong(value);
        Assert.Equal(hex, Convert.ToHexString(buffer.WrittenSpan));
        var decoder = new AvroDecoder(buffer.WrittenSpan);
        Assert.Equal(value, decoder.ReadLong());
    }

    [Fact]
    public void Strings_and_bytes_are_length_prefixed()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var e = new AvroEncoder(buffer);
        e.WriteString("hé");
        e.WriteBytes([1, 2, 3]);
        Assert.Equal("0668C3A906010203", Convert.ToHexString(buffer.WrittenSpan));
    }

    [Fact]
    public void A_value_that_does_not_fit_the_schema_is_refused_with_its_path()
    {
        AvroSchema schema = AvroSchema.Record("r", [AvroField.WithId("a", AvroSchema.Optional(AvroSchema.Long), 1)]);
        var writer = new AvroContainerWriter(new MemoryStream(), schema);
        var e = Assert.Throws<AvroException>(() => writer.Append(new object?[] { "text" }));
        Assert.Contains("$.a", e.Message);
        // The writer is still usable and the bad datum left nothing behind.
        writer.Append(new object?[] { 5L });
        Assert.Equal(1, writer.RecordCount);
    }

    [Fact]
    public void Reserved_metadata_keys_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new AvroContainerWriter(new MemoryStream(), AvroSchema.Long, AvroCodec.Null, [new("avro.codec", "x")]));
    }

    [Fact]
    public void Schema_json_round_trips_with_attributes()
    {
        AvroSchema schema = Samples.Schema;
        string json = schema.ToJson();
        AvroSchema parsed = AvroSchema.Parse(json);
        Assert.Equal(json, parsed.ToJson());
        Assert.Contains("\"field-id\":7", json);
        Assert.Contains("\"element-id\":71", json);
        Assert.Contains("\"logicalType\":\"map\"", json);
    }

    [Theory]
    [InlineData(AvroCodec.Null)]
    [InlineData(AvroCodec.Deflate)]
    [InlineData(AvroCodec.Snappy)]
    public void Own_reader_reads_back_every_type(AvroCodec codec)
    {
        byte[] file = Samples.Write(codec);
        AvroContainerFile read = AvroContainerFile.Read(file);
        Assert.Equal("v1", read.GetMetadata("custom"));
        Assert.Equal(Samples.Count, read.Records.Count);
        for (int i = 0; i < Samples.Count; i++)
        {
            var r = (AvroRecord)read.Records[i]!;
            object?[] expected = Samples.Record(i);
            Assert.Equal(expected[0], r["id"]);
            Assert.Equal(expected[1], r["name"]);
            Assert.Equal(expected[2], r["maybe"]);
            Assert.Equal(expected[3], r["flag"]);
            Assert.Equal(expected[4], r["f"]);
            Assert.Equal(expected[5], r["d"]);
            Assert.Equal(expected[6], r["raw"]);
            Assert.Equal(((List<object?>)expected[7]!).Count, ((List<object?>)r["tags"]!).Count);
            Assert.Equal(expected[9], r["fx"]);
            Assert.Equal(expected[10], r["color"]);
            Assert.Equal(expected[11], r["small"]);
        }
    }

    [Fact]
    public void Deflate_blocks_are_smaller_and_the_file_has_several_blocks()
    {
        byte[] plain = Samples.Write(AvroCodec.Null);
        byte[] deflated = Samples.Write(AvroCodec.Deflate);
        Assert.True(deflated.Length < plain.Length, $"deflate {deflated.Length} >= null {plain.Length}");
    }

    [Fact]
    public void Crc32_is_the_ieee_checksum_and_a_corrupt_snappy_block_is_caught()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        byte[] file = Samples.Write(AvroCodec.Snappy);
        file[^20] ^= 0x55; // inside the last block's payload or checksum
        Assert.Throws<AvroException>(() => AvroContainerFile.Read(file));
    }

    [Fact]
    public void A_truncated_file_is_reported_not_misread()
    {
        byte[] file = Samples.Write(AvroCodec.Null);
        Assert.Throws<AvroException>(() => AvroContainerFile.Read(file.AsSpan(0, file.Length - 5)));
        Assert.Throws<AvroException>(() => AvroContainerFile.Read(Encoding.UTF8.GetBytes("PAR1....")));
    }
}

/// <summary>Files of every supported type, checked by avsc and python-avro.</summary>
public sealed class AvroIndependentReaderTests
{
    public static TheoryData<string, AvroCodec> Readers => new()
    {
        { "avsc", AvroCodec.Null }, { "avsc", AvroCodec.Deflate },
        { "python", AvroCodec.Null }, { "python", AvroCodec.Deflate }, { "python", AvroCodec.Snappy },
    };

    [Theory]
    [MemberData(nameof(Readers))]
    public async Task Independent_reader_sees_every_value(string reader, AvroCodec codec)
    {
        string dir = Directory.CreateTempSubdirectory("avro-").FullName;
        try
        {
            string path = Path.Combine(dir, "sample.avro");
            await File.WriteAllBytesAsync(path, Samples.Write(codec));
            ClientResult result = reader == "avsc"
                ? await ClientRunner.NodeAsync("avro-read.mjs", [path])
                : await ClientRunner.PythonAsync("avro-read.py", [path]);
            result.EnsureSuccess();
            JsonElement file = Assert.Single(result.Lines("file"));
            Assert.Equal(codec.ToString().ToLowerInvariant(), file.GetProperty("codec").GetString());
            Assert.Equal("v1", file.GetProperty("meta").GetProperty("custom").GetString());

            JsonElement fields = file.GetProperty("schema").GetProperty("fields");
            Assert.Equal(1, fields[0].GetProperty("field-id").GetInt32());
            Assert.Equal(71, fields[7].GetProperty("type").GetProperty("element-id").GetInt32());

            JsonElement records = file.GetProperty("records");
            Assert.Equal(Samples.Count, records.GetArrayLength());
            for (int i = 0; i < Samples.Count; i++)
            {
                JsonElement r = records[i];
                object?[] e = Samples.Record(i);
                Assert.Equal((long)e[0]!, Long(r.GetProperty("id")));
                Assert.Equal((string)e[1]!, r.GetProperty("name").GetString());
                if (e[2] is null)
                    Assert.Equal(JsonValueKind.Null, Unwrap(r.GetProperty("maybe")).ValueKind);
                else
                    Assert.Equal((long)e[2]!, Long(Unwrap(r.GetProperty("maybe"))));
                Assert.Equal((bool)e[3]!, r.GetProperty("flag").GetBoolean());
                Assert.Equal((float)e[4]!, r.GetProperty("f").GetSingle());
                Assert.Equal((double)e[5]!, r.GetProperty("d").GetDouble());
                Assert.Equal(Convert.ToHexString((byte[])e[6]!), r.GetProperty("raw").GetString()!.ToUpperInvariant());
                var tags = (List<object?>)e[7]!;
                Assert.Equal(tags.Count, r.GetProperty("tags").GetArrayLength());
                for (int k = 0; k < tags.Count; k++)
                {
                    var tag = (object?[])tags[k]!;
                    Assert.Equal((int)tag[0]!, r.GetProperty("tags")[k].GetProperty("key").GetInt32());
                    Assert.Equal((string)tag[1]!, r.GetProperty("tags")[k].GetProperty("value").GetString());
                }
                var map = (Dictionary<string, object?>)e[8]!;
                Assert.Equal(map.Count, r.GetProperty("attrs").EnumerateObject().Count());
                foreach (var kv in map)
                    Assert.Equal((long)kv.Value!, Long(r.GetProperty("attrs").GetProperty(kv.Key)));
                Assert.Equal(Convert.ToHexString((byte[])e[9]!), r.GetProperty("fx").GetString()!.ToUpperInvariant());
                Assert.Equal((string)e[10]!, r.GetProperty("color").GetString());
                Assert.Equal((int)e[11]!, r.GetProperty("small").GetInt32());
                Assert.Equal((int)((object?[])e[12]!)[0]!, r.GetProperty("nested").GetProperty("x").GetInt32());
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>avsc and python-avro both unwrap ["null", T] unions; tolerate a wrapped {"long": v} too.</summary>
    private static JsonElement Unwrap(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.EnumerateObject().Count() == 1 ? e.EnumerateObject().First().Value : e;

    internal static long Long(JsonElement e) => e.ValueKind == JsonValueKind.String ? long.Parse(e.GetString()!) : e.GetInt64();
}

internal static class Samples
{
    public const int Count = 3000;

    public static readonly AvroSchema Nested = AvroSchema.Record("nested_rec", [AvroField.WithId("x", AvroSchema.Int, 131)]);

    public static readonly AvroSchema Schema = AvroSchema.Record("sample",
    [
        AvroField.WithId("id", AvroSchema.Long, 1),
        AvroField.WithId("name", AvroSchema.String, 2),
        AvroField.WithId("maybe", AvroSchema.Optional(AvroSchema.Long), 3),
        AvroField.WithId("flag", AvroSchema.Boolean, 4),
        AvroField.WithId("f", AvroSchema.Float, 5),
        AvroField.WithId("d", AvroSchema.Double, 6),
        AvroField.WithId("raw", AvroSchema.Bytes, 7),
        AvroField.WithId("tags", AvroSchema.Array(AvroSchema.Record("k70_v72",
            [AvroField.WithId("key", AvroSchema.Int, 70), AvroField.WithId("value", AvroSchema.String, 72)]),
            AvroSchema.Prop("element-id", 71), AvroSchema.Prop("logicalType", "map")), 8),
        AvroField.WithId("attrs", AvroSchema.Map(AvroSchema.Long, AvroSchema.Prop("key-id", 91), AvroSchema.Prop("value-id", 92)), 9),
        AvroField.WithId("fx", AvroSchema.Fixed("four", 4), 10),
        AvroField.WithId("color", AvroSchema.Enum("color", ["RED", "GREEN", "BLUE"]), 11),
        AvroField.WithId("small", AvroSchema.Int, 12),
        AvroField.WithId("nested", Nested, 13),
    ]);

    public static object?[] Record(int i)
    {
        var tags = new List<object?>();
        for (int k = 0; k < i % 4; k++)
            tags.Add(new object?[] { k * 1000 - 5, $"t{k}-é😀" });
        var attrs = new Dictionary<string, object?>();
        for (int k = 0; k < i % 3; k++)
            attrs[$"a{k}"] = (long)k << 40;
        return
        [
            i % 2 == 0 ? (long)i * 4_611_686_018_427_387L : -(long)i,
            $"name-{i}-ü",
            i % 3 == 0 ? null : (long)i - 1_000_000_000_000L * i,
            i % 2 == 1,
            i * 0.5f,
            i / 3.0,
            Enumerable.Range(0, i % 7).Select(b => (byte)(b * 37 + i)).ToArray(),
            tags,
            attrs,
            BitConverter.GetBytes(i),
            (i % 3) switch { 0 => "RED", 1 => "GREEN", _ => "BLUE" },
            i % 5 == 0 ? int.MinValue + i : int.MaxValue - i,
            new object?[] { i * 7 },
        ];
    }

    public static byte[] Write(AvroCodec codec)
    {
        using var ms = new MemoryStream();
        var writer = new AvroContainerWriter(ms, Schema, codec, [new("custom", "v1")], blockBytes: 16 * 1024);
        for (int i = 0; i < Count; i++)
            writer.Append(Record(i));
        writer.Finish();
        return ms.ToArray();
    }
}
