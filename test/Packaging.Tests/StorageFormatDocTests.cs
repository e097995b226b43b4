using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;
using KafScale.Storage;

namespace KafScale.Packaging.Tests;

/// <summary>
/// docs/storage-format.md read as a third party would: its layout tables, the RecordBatch field
/// offsets and the record table decode its own test vector, and the repository's segment writer
/// produces exactly that vector.
/// </summary>
public sealed class StorageFormatDocTests
{
    private static readonly string Doc = Tool.RepoFile("docs/storage-format.md");
    private static readonly IReadOnlyList<Section> Sections = Markdown.Sections(Doc);

    private static byte[] Vector(string name) =>
        Convert.FromHexString(Regex.Match(Doc, $@"^- {Regex.Escape(name)}[^`\n]*`([0-9a-f]+)`", RegexOptions.Multiline).Groups[1].Value);

    private static long CreatedMs => long.Parse(Regex.Match(Doc, @"created (\d{13})").Groups[1].Value, CultureInfo.InvariantCulture);

    private static byte[] Batch => Vector("batch");

    private static (byte[] Segment, byte[] Index) Written()
    {
        ReadOnlyMemory<byte>[] batches = [Batch];
        SegmentPlan plan = SegmentWriter.Plan(batches);
        byte[] segment = new byte[plan.SegmentSize];
        byte[] index = new byte[plan.IndexSize];
        SegmentWriter.Write(batches, plan, CreatedMs, segment, index);
        return (segment, index);
    }

    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    private static IEnumerable<TableRow> TableUnder(string heading) => Sections.Single(s => s.Heading == heading).Rows();

    [Fact]
    public void The_segment_writer_produces_the_documented_vector()
    {
        var (segment, index) = Written();
        Assert.Equal(Convert.ToHexStringLower(Vector("header")), Convert.ToHexStringLower(segment[..32]));
        Assert.Equal(Convert.ToHexStringLower(Vector("footer")), Convert.ToHexStringLower(segment[^16..]));
        Assert.Equal(Convert.ToHexStringLower(Vector("index")), Convert.ToHexStringLower(index));
        int whole = int.Parse(Regex.Match(Doc, @"whole segment (\d+) bytes").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.Equal(whole, segment.Length);
        Assert.Equal(Batch, segment[32..^16]);
    }

    /// <summary>Every row of the `.kfs` table, at the offset and size it gives, holds what it says in the vector.</summary>
    [Fact]
    public void The_kfs_table_describes_the_bytes_of_the_vector()
    {
        byte[] segment = [.. Vector("header"), .. Batch, .. Vector("footer")];
        int n = Batch.Length;
        var expected = new Dictionary<string, Func<byte[], bool>>(StringComparer.Ordinal)
        {
            ["version"] = b => BinaryPrimitives.ReadInt16BigEndian(b) == 1,
            ["flags"] = b => BinaryPrimitives.ReadInt16BigEndian(b) == 0,
            ["base offset"] = b => BinaryPrimitives.ReadInt64BigEndian(b) == BinaryPrimitives.ReadInt64BigEndian(Batch),
            ["message count"] = b => BinaryPrimitives.ReadInt32BigEndian(b) == BinaryPrimitives.ReadInt32BigEndian(Batch.AsSpan(57)),
            ["created"] = b => BinaryPrimitives.ReadInt64BigEndian(b) == CreatedMs,
            ["reserved"] = b => b.All(x => x == 0),
            ["body"] = b => b.AsSpan().SequenceEqual(Batch),
            ["CRC"] = b => BinaryPrimitives.ReadUInt32BigEndian(b) == Crc32C(Batch),
            ["last offset"] = b => BinaryPrimitives.ReadInt64BigEndian(b) == BinaryPrimitives.ReadInt64BigEndian(Batch) + BinaryPrimitives.ReadInt32BigEndian(Batch.AsSpan(23)),
        };
        int covered = 0;
        foreach (TableRow row in TableUnder("`.kfs`"))
        {
            int offset = Position(row.Cells[0], n);
            int size = row.Cells[1] == "N" ? n : int.Parse(row.Cells[1], CultureInfo.InvariantCulture);
            byte[] bytes = segment[offset..(offset + size)];
            string field = row.Cells[2];
            bool ok = expected.TryGetValue(field, out var check) ? check(bytes) : MagicMatches(row.Cells[3], bytes);
            Assert.True(ok, $"the vector's bytes {Convert.ToHexString(bytes)} at {offset} do not match the row '{row.Line}'");
            covered += size;
        }

        Assert.Equal(segment.Length, covered);
    }

    [Fact]
    public void The_index_table_describes_the_bytes_of_the_vector()
    {
        byte[] index = Vector("index");
        int covered = 0;
        foreach (TableRow row in TableUnder("`.index`"))
        {
            int offset = int.Parse(row.Cells[0], CultureInfo.InvariantCulture);
            int count = BinaryPrimitives.ReadInt32BigEndian(index.AsSpan(6));
            int size = row.Cells[1].Contains('n') ? int.Parse(row.Cells[1].Split(' ')[0], CultureInfo.InvariantCulture) * count : int.Parse(row.Cells[1], CultureInfo.InvariantCulture);
            byte[] bytes = index[offset..(offset + size)];
            bool ok = row.Cells[2] switch
            {
                "magic" => MagicMatches(row.Cells[3], bytes),
                "version" => BinaryPrimitives.ReadInt16BigEndian(bytes) == 1,
                "entry count" => BinaryPrimitives.ReadInt32BigEndian(bytes) == 1,
                "interval" => BinaryPrimitives.ReadInt32BigEndian(bytes) == int.Parse(Regex.Match(row.Cells[3], @"\((\d+)\)").Groups[1].Value, CultureInfo.InvariantCulture),
                "reserved" => bytes.All(b => b == 0),
                // One entry: the batch's base offset, and its position right after the 32-byte header.
                "entries" => BinaryPrimitives.ReadInt64BigEndian(bytes) == BinaryPrimitives.ReadInt64BigEndian(Batch) && BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(8)) == 32,
                _ => false,
            };
            Assert.True(ok, $"the vector's bytes {Convert.ToHexString(bytes)} at {offset} do not match the row '{row.Line}'");
            covered += size;
        }

        Assert.Equal(index.Length, covered);
    }

    /// <summary>The RecordBatch field offsets the document lists ("name type @offset") hold the vector's values.</summary>
    [Fact]
    public void The_record_batch_field_offsets_decode_the_vector()
    {
        byte[] batch = Batch;
        var fields = Regex.Matches(Doc, @"(\w+)\s+(int8|int16|int32|int64|uint32)\s+@(\d+)")
            .ToDictionary(m => m.Groups[1].Value, m => (Type: m.Groups[2].Value, Offset: int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture)));
        long Read(string name)
        {
            var (type, offset) = fields[name];
            return type switch
            {
                "int8" => (sbyte)batch[offset],
                "int16" => BinaryPrimitives.ReadInt16BigEndian(batch.AsSpan(offset)),
                "int32" => BinaryPrimitives.ReadInt32BigEndian(batch.AsSpan(offset)),
                "uint32" => BinaryPrimitives.ReadUInt32BigEndian(batch.AsSpan(offset)),
                _ => BinaryPrimitives.ReadInt64BigEndian(batch.AsSpan(offset)),
            };
        }

        Assert.Equal(0, Read("baseOffset"));
        Assert.Equal(batch.Length - 12, Read("batchLength"));
        Assert.Equal(2, Read("magic"));
        Assert.Equal(Crc32C(batch.AsSpan(21)), (uint)Read("crc"));
        Assert.Equal(0, Read("attributes"));
        Assert.Equal(0, Read("lastOffsetDelta"));
        Assert.Equal(1700000000000, Read("baseTimestamp"));
        Assert.Equal(1700000000000, Read("maxTimestamp"));
        Assert.Equal(-1, Read("producerId"));
        Assert.Equal(-1, Read("producerEpoch"));
        Assert.Equal(-1, Read("baseSequence"));
        Assert.Equal(1, Read("recordCount"));
        Assert.Equal(61, int.Parse(Regex.Match(Doc, @"records (?:from )?@(\d+)").Groups[1].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>The record table, field by field with zigzag varints, decodes the vector's one record.</summary>
    [Fact]
    public void The_record_table_decodes_the_vectors_record()
    {
        byte[] records = Batch[61..];
        int position = 0;
        long Varint()
        {
            ulong raw = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = records[position++];
                raw |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    break;
                }
            }

            return (long)(raw >> 1) ^ -(long)(raw & 1);
        }

        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        long pendingLength = 0;
        int recordStart = 0;
        foreach (TableRow row in TableUnder("The records inside a batch"))
        {
            string field = row.Cells[0];
            string type = row.Cells[1];
            switch (type)
            {
                case "varint" or "varlong":
                    pendingLength = Varint();
                    values[field] = pendingLength;
                    if (field == "length")
                    {
                        recordStart = position;
                    }

                    break;
                case "int8":
                    values[field] = records[position++];
                    break;
                case "bytes":
                    values[field] = pendingLength < 0 ? null : Encoding.UTF8.GetString(records, position, (int)pendingLength);
                    position += pendingLength < 0 ? 0 : (int)pendingLength;
                    break;
                case "":
                    Assert.Equal("headers", field);
                    Assert.Equal(0L, values["headerCount"]);
                    break;
                default:
                    Assert.Fail($"unknown type '{type}' in the record table");
                    break;
            }
        }

        Assert.Null(values["key"]);
        Assert.Equal("hi", values["value"]);
        Assert.Equal(0L, values["timestampDelta"]);
        Assert.Equal(0L, values["offsetDelta"]);
        Assert.Equal((long)(position - recordStart), values["length"]);
        Assert.Equal(records.Length, position);
    }

    private static int Position(string cell, int n)
    {
        var m = Regex.Match(cell, @"^(\d+)(?:\+N)?$");
        Assert.True(m.Success, $"offset '{cell}'");
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) + (cell.EndsWith("+N", StringComparison.Ordinal) ? n : 0);
    }

    /// <summary>A magic cell names its bytes in hex, e.g. "`KAFS` (4B 41 46 53)" or "`49 44 58 00`".</summary>
    private static bool MagicMatches(string cell, byte[] bytes)
    {
        var hex = Regex.Matches(cell, @"\b[0-9A-Fa-f]{2}(?: [0-9A-Fa-f]{2}){3}\b").Select(m => m.Value.Replace(" ", "", StringComparison.Ordinal)).ToList();
        return hex.Count > 0 && hex.All(h => Convert.FromHexString(h).AsSpan().SequenceEqual(bytes));
    }
}
