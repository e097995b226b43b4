using System.Text;
using BenchmarkDotNet.Attributes;
using KafScale.Parquet;

namespace KafScale.Benchmarks;

/// <summary>
/// One Parquet file of 100k rows in the shape the Iceberg processor writes (record_id, topic,
/// partition, offset, timestamp, key, ~1 KiB JSON-like value, headers), per compression. The file
/// goes to Stream.Null so only the writer is measured. Rows/s = 100_000 / mean; input MB/s =
/// InputBytes / mean (InputBytes is printed by the setup).
/// </summary>
[MemoryDiagnoser]
public class ParquetWriterBenchmarks
{
    public const int Rows = 100_000;

    private static readonly ParquetColumn[] Schema =
    [
        new("record_id", 1, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, Required: true),
        new("topic", 2, ParquetPhysicalType.ByteArray, ParquetLogicalType.String, Required: true),
        new("partition", 3, ParquetPhysicalType.Int32, Required: true),
        new("offset", 4, ParquetPhysicalType.Int64, Required: true),
        new("timestamp", 5, ParquetPhysicalType.Int64, ParquetLogicalType.TimestampMicrosUtc, Required: true),
        new("key", 6, ParquetPhysicalType.ByteArray),
        new("value", 7, ParquetPhysicalType.ByteArray),
        new("headers", 8, ParquetPhysicalType.ByteArray, ParquetLogicalType.Json),
    ];

    private byte[] _value = [];
    private readonly byte[] _key = new byte[16];
    private char[] _recordId = [];

    [Params(ParquetCompression.Uncompressed, ParquetCompression.Snappy, ParquetCompression.Zstd)]
    public ParquetCompression Compression { get; set; }

    /// <summary>Bytes handed to the writer per file (values as written: UTF-8 strings, 4/8-byte ints, raw bytes).</summary>
    public static long InputBytes { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        var sb = new StringBuilder("{\"order_id\":0000000000,\"customer\":\"customer-00000\",\"items\":[");
        var random = new Random(1);
        while (sb.Length < 1000)
            sb.Append("{\"sku\":\"SKU-").Append(random.Next(10000, 99999)).Append("\",\"qty\":").Append(random.Next(1, 9)).Append("},");
        sb.Append("{}]}");
        _value = Encoding.UTF8.GetBytes(sb.ToString());
        _recordId = "orders-00-00000000000000000000".ToCharArray();
        InputBytes = (long)Rows * (_recordId.Length + "orders".Length + 4 + 8 + 8 + _key.Length + _value.Length + HeadersJson.Length);
        Console.WriteLine($"// ParquetWriterBenchmarks: {Rows} rows, {InputBytes} input bytes per file, value {_value.Length} bytes");
    }

    private static ReadOnlySpan<byte> HeadersJson => "{\"trace\":\"abc\"}"u8;

    [Benchmark]
    public long WriteFile()
    {
        using var writer = new ParquetWriter(Stream.Null, Schema, new ParquetWriterOptions { Compression = Compression });
        for (int i = 0; i < Rows; i++)
        {
            int partition = i & 7;
            long offset = i >> 3;
            _recordId[7] = (char)('0' + partition);
            offset.TryFormat(_recordId.AsSpan(10), out _, "D20");
            // Row-specific bytes in the value and key, so every row is distinct.
            WriteDigits(_value.AsSpan(12, 10), i);
            WriteDigits(_value.AsSpan(44, 5), i % 100_000);
            WriteDigits(_key.AsSpan(0, 10), i);

            writer.WriteString(0, _recordId);
            writer.WriteBytes(1, "orders"u8);
            writer.WriteInt32(2, partition);
            writer.WriteInt64(3, offset);
            writer.WriteInt64(4, 1_763_000_000_000_000L + i * 1000L);
            writer.WriteBytes(5, _key);
            writer.WriteBytes(6, _value);
            writer.WriteBytes(7, HeadersJson);
            writer.EndRow();
        }
        return writer.Finish().FileSizeBytes;
    }

    private static void WriteDigits(Span<byte> destination, int value)
    {
        for (int i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }
}
