using System.Text;
using KafScale.Records;

namespace KafScale.Broker.Tests;

/// <summary>Record batches as a producer sends them: base offset 0, leader epoch -1, valid CRC.</summary>
internal static class Batches
{
    public const long Epoch2023 = 1_700_000_000_000;

    /// <summary>One batch of <paramref name="records"/> records; values carry <paramref name="tag"/> so blobs differ.</summary>
    public static byte[] Make(int records, string tag = "v", long timestampMs = Epoch2023, int valueBytes = 8)
    {
        using var b = new RecordBatchBuilder();
        for (int i = 0; i < records; i++)
        {
            string text = $"{tag}-{i}-".PadRight(Math.Max(valueBytes, tag.Length + 4), 'x');
            b.Add(null, Encoding.ASCII.GetBytes(text), timestampMs + i);
        }
        return b.Build();
    }

    /// <summary>A produce partition blob: several batches back to back.</summary>
    public static byte[] Blob(params byte[][] batches) => [.. batches.SelectMany(x => x)];

    /// <summary>A blob of one batch whose size is exactly <paramref name="totalBytes"/> (one record, padded value).</summary>
    public static byte[] OfSize(int totalBytes, string tag = "s", long timestampMs = Epoch2023)
    {
        // Grow the value until the framed batch has the requested size (varint lengths make it non-linear).
        for (int value = Math.Max(1, totalBytes - 80); value < totalBytes; value++)
        {
            using var b = new RecordBatchBuilder();
            b.Add(null, Encoding.ASCII.GetBytes(tag.PadRight(value, 'p')), timestampMs);
            byte[] batch = b.Build();
            if (batch.Length == totalBytes) return batch;
            if (batch.Length > totalBytes) break;
        }
        throw new ArgumentException($"cannot make a one-record batch of exactly {totalBytes} bytes", nameof(totalBytes));
    }

    /// <summary>Splits back-to-back batches into copies of each.</summary>
    public static List<byte[]> Split(ReadOnlySpan<byte> data)
    {
        var list = new List<byte[]>();
        var walk = RecordBatch.EnumerateBatches(data);
        while (walk.MoveNext()) list.Add(walk.Current.ToArray());
        if (walk.StoppedEarly) throw new InvalidOperationException($"{data.Length - walk.Consumed} trailing bytes are not a whole batch");
        return list;
    }

    public static RecordBatchHeader Header(byte[] batch) => new(batch);

    /// <summary>The batch's bytes with base offset and leader epoch as a producer sent them (what the broker must not change).</summary>
    public static byte[] AsProduced(byte[] stored)
    {
        byte[] copy = (byte[])stored.Clone();
        RecordBatch.PatchBaseOffset(copy, 0);
        RecordBatch.SetPartitionLeaderEpoch(copy, -1);
        return copy;
    }

    public static int Records(byte[] blob) => Split(blob).Sum(b => new RecordBatchHeader(b).RecordCount);
}
