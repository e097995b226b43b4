using KafScale.Records;

namespace KafScale.Storage.Tests;

internal static class Batches
{
    public const string VectorBatchHex =
        "00000000000000000000003a0000000002bbcc41150000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff00000001100000000104686900";

    /// <summary>A batch of <paramref name="records"/> records whose base offset is already assigned.</summary>
    public static byte[] Make(long baseOffset, int records, CompressionType codec = CompressionType.None)
    {
        using var b = new RecordBatchBuilder(codec) { BaseOffset = baseOffset };
        for (int i = 0; i < records; i++)
            b.Add(null, System.Text.Encoding.ASCII.GetBytes($"value-{baseOffset + i}"), 1700000000000 + baseOffset + i);
        return b.Build();
    }

    /// <summary>Contiguous batches with the given record counts, starting at <paramref name="baseOffset"/>.</summary>
    public static List<ReadOnlyMemory<byte>> Chain(long baseOffset, params int[] recordCounts)
    {
        var list = new List<ReadOnlyMemory<byte>>();
        long next = baseOffset;
        foreach (int n in recordCounts)
        {
            list.Add(Make(next, n, (next % 3) switch { 0 => CompressionType.None, 1 => CompressionType.Zstd, _ => CompressionType.Gzip }));
            next += n;
        }
        return list;
    }
}
