
namespace KafScale.Records.Tests;

internal static class TestBatches
{
    /// <summary>The 70-byte batch of the storage-format test vector.</summary>
    public const string VectorBatchHex =
        "00000000000000000000003a0000000002bbcc41150000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff00000001100000000104686900";

    public const long VectorTimestamp = 1700000000000;

    public static byte[] VectorBatch() => Convert.FromHexString(VectorBatchHex);

    /// <summary>A batch with varied records: null and empty keys/values, headers (one with a null value).</summary>
    public static byte[] Mixed(CompressionType codec, long baseOffset = 0, int records = 5, int valueSize = 20)
    {
        using var b = new RecordBatchBuilder(codec) { BaseOffset = baseOffset };
        for (int i = 0; i < records; i++)
        {
            byte[]? key = i % 3 == 0 ? null : i % 3 == 1 ? [] : System.Text.Encoding.UTF8.GetBytes("key-" + i);
            byte[]? value = i % 4 == 3 ? null : Payload(i, valueSize);
            RecordHeader[] headers = i % 2 == 0 ? [] : [new("trace", [1, 2, (byte)i]), new("empty", null)];
            b.Add(key, value, VectorTimestamp + i * 7 - (i == 2 ? 50 : 0), headers);
        }
        return b.Build();
    }

    public static byte[] Payload(int seed, int size)
    {
        var bytes = new byte[size];
        for (int i = 0; i < size; i++)
            bytes[i] = (byte)("abcdefghij"[(i + seed) % 10] + (i / 1000 % 3));
        return bytes;
    }
}
