using System.Text;

namespace KafScale.Parquet.Tests;

/// <summary>What the writer refuses, what stays usable after a refusal, and what it allocates.</summary>
public class WriterContractTests
{
    private static readonly ParquetColumn[] Schema =
    [
        new("id", 1, ParquetPhysicalType.Int64, Required: true),
        new("name", 2, ParquetPhysicalType.ByteArray, ParquetLogicalType.String),
        new("raw", 3, ParquetPhysicalType.ByteArray),
    ];

    [Fact]
    public void RefusedValuesLeaveTheRowIntact()
    {
        using var stream = new MemoryStream();
        using var writer = new ParquetWriter(stream, Schema, new ParquetWriterOptions { Compression = ParquetCompression.Uncompressed });

        Assert.Throws<ArgumentException>(() => writer.WriteNull(0));                       // required
        Assert.Throws<ArgumentException>(() => writer.WriteInt32(0, 1));                   // wrong type
        Assert.Throws<ArgumentException>(() => writer.WriteString(0, "x"));                // wrong type
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteInt64(3, 1));         // no such column
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteInt64(-1, 1));
        Assert.Throws<ArgumentException>(() => writer.WriteBytes(1, [0xC3, 0x28]));        // invalid UTF-8 for a string column
        writer.WriteBytes(2, [0xC3, 0x28]);                                                // fine for binary
        Assert.Throws<InvalidOperationException>(() => writer.WriteBytes(2, [1]));         // second value in the row
        writer.WriteInt64(0, 42);
        writer.WriteBytes(1, "ok"u8);
        writer.EndRow();
        Assert.Equal(1, writer.RowCount);
        ParquetFileResult result = writer.Finish();
        Assert.Equal(1, result.RowCount);
        Assert.Equal(stream.Length, result.FileSizeBytes);
        Assert.Equal(0, result.Columns[1].NullCount);
        Assert.Equal("ok"u8.ToArray(), result.Columns[1].Min);
        Assert.Equal(new byte[] { 0xC3, 0x28 }, result.Columns[2].Max);
        Assert.Throws<InvalidOperationException>(() => writer.WriteInt64(0, 1));          // finished
        Assert.Throws<InvalidOperationException>(() => writer.Finish());
    }

    [Fact]
    public void AMissingColumnFaultsTheWriter()
    {
        using var stream = new MemoryStream();
        using var writer = new ParquetWriter(stream, Schema);
        writer.WriteInt64(0, 1);
        writer.WriteNull(1);
        var e = Assert.Throws<InvalidOperationException>(() => writer.EndRow());
        Assert.Contains("'raw'", e.Message);
        Assert.Throws<InvalidOperationException>(() => writer.WriteInt64(0, 2));
        Assert.Throws<InvalidOperationException>(() => writer.Finish());
    }

    [Fact]
    public void FinishInTheMiddleOfARowIsRefused()
    {
        using var stream = new MemoryStream();
        using var writer = new ParquetWriter(stream, Schema);
        writer.WriteInt64(0, 1);
        Assert.Throws<InvalidOperationException>(() => writer.Finish());
    }

    [Fact]
    public void BadSchemasAndOptionsAreRefused()
    {
        using var stream = new MemoryStream();
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, []));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("a", 1, ParquetPhysicalType.Int32), new("a", 2, ParquetPhysicalType.Int32)]));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("a", 1, ParquetPhysicalType.Int32), new("b", 1, ParquetPhysicalType.Int32)]));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("a", 0, ParquetPhysicalType.Int32)]));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("", 1, ParquetPhysicalType.Int32)]));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("a", 1, ParquetPhysicalType.Int64, ParquetLogicalType.Date)]));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("a", 1, ParquetPhysicalType.Int32, ParquetLogicalType.TimestampMicrosUtc)]));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("a", 1, ParquetPhysicalType.Int32, ParquetLogicalType.String)]));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("a", 1, ParquetPhysicalType.Int32)], new ParquetWriterOptions { PageBytes = 0 }));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("a", 1, ParquetPhysicalType.Int32)], new ParquetWriterOptions { RowGroupBytes = -1 }));
        Assert.Throws<ArgumentException>(() => new ParquetWriter(stream, [new("a", 1, ParquetPhysicalType.Int32)], new ParquetWriterOptions { Compression = (ParquetCompression)9 }));
        Assert.Equal(0, stream.Length);  // nothing written for a refused schema
    }

    [Fact]
    public void FileStartsAndEndsWithTheMagicAndFooterLength()
    {
        using var stream = new MemoryStream();
        using (var writer = new ParquetWriter(stream, Schema, new ParquetWriterOptions { CreatedBy = "test version 1" }))
        {
            writer.WriteInt64(0, 7);
            writer.WriteString(1, "x");
            writer.WriteNull(2);
            writer.EndRow();
            writer.Finish();
        }
        byte[] file = stream.ToArray();
        Assert.Equal("PAR1"u8.ToArray(), file[..4]);
        Assert.Equal("PAR1"u8.ToArray(), file[^4..]);
        int footer = BitConverter.ToInt32(file, file.Length - 8);
        Assert.InRange(footer, 20, file.Length - 12);
        // The footer starts with FileMetaData field 1 (version = 1): 0x15 0x02.
        Assert.Equal(new byte[] { 0x15, 0x02 }, file[(file.Length - 8 - footer)..(file.Length - 8 - footer + 2)]);
        Assert.Contains("test version 1", Encoding.UTF8.GetString(file));
    }

    [Fact]
    public void SteadyStateRowsDoNotAllocate()
    {
        ParquetColumn[] schema =
        [
            new("record_id", 1, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, Required: true),
            new("topic", 2, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, Required: true),
            new("partition", 3, ParquetPhysicalType.Int32, Required: true),
            new("offset", 4, ParquetPhysicalType.Int64, Required: true),
            new("value", 5, ParquetPhysicalType.ByteArray),
            new("score", 6, ParquetPhysicalType.Double),
            new("flag", 7, ParquetPhysicalType.Boolean),
        ];
        using var stream = new MemoryStream();
        using var writer = new ParquetWriter(stream, schema, new ParquetWriterOptions
        {
            Compression = ParquetCompression.Uncompressed,
            RowGroupBytes = 256 * 1024,
            PageBytes = 16 * 1024,
        });
        byte[] value = new byte[100];
        char[] id = "record-0000000000".ToCharArray();
        void Rows(int from, int count)
        {
            for (int i = from; i < from + count; i++)
            {
                i.TryFormat(id.AsSpan(7), out _);
                writer.WriteString(0, id);
                writer.WriteString(1, "orders");
                writer.WriteInt32(2, i % 16);
                writer.WriteInt64(3, i);
                value[i % 100] = (byte)i;
                if (i % 10 == 0)
                    writer.WriteNull(4);
                else
                    writer.WriteBytes(4, value);
                writer.WriteDouble(5, i * 0.5);
                writer.WriteBoolean(6, i % 2 == 0);
                writer.EndRow();
            }
        }

        Rows(0, 20_000);   // warm-up: buffers and dictionaries reach their working sizes
        stream.Position = 0;
        stream.SetLength(0);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Rows(20_000, 20_000);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Per row group a little metadata is kept for the footer; nothing per row.
        Assert.True(allocated < 20_000 * 2, $"{allocated} bytes allocated for 20000 rows");
    }
}
