using KafScale.Records;

namespace KafScale.Fuzz;

/// <summary>
/// A Produce partition blob (record batches back to back). The validator must answer every
/// input with a result and never throw; the reader (every codec) may throw only
/// <see cref="InvalidDataException"/>. The input runs twice: as it is, and with every whole
/// batch's CRC-32C recomputed, so mutations of the records also get past the CRC check.
/// </summary>
internal static class RecordsTarget
{
    public static void Run(byte[] blob)
    {
        Walk(blob);
        byte[] recomputed = (byte[])blob.Clone();
        if (RecomputeBatchCrcs(recomputed, 0, recomputed.Length) > 0)
            Walk(recomputed);
    }

    /// <summary>Recomputes the CRC of each whole batch in data[start..end); returns how many.</summary>
    internal static int RecomputeBatchCrcs(byte[] data, int start, int end)
    {
        int count = 0;
        int position = start;
        while (position < end)
        {
            int size = RecordBatch.PeekTotalSize(data.AsSpan(position, end - position));
            if (size < RecordBatch.HeaderSize || size > end - position)
                break;
            RecordBatch.UpdateCrc(data.AsSpan(position, size));
            position += size;
            count++;
        }
        return count;
    }

    private static void Walk(byte[] blob)
    {
        RecordBatchValidator.Validate(blob, out _);
        try
        {
            RecordBatchReader.ReadAll(blob);
        }
        catch (InvalidDataException)
        {
        }

        foreach (ReadOnlySpan<byte> batch in RecordBatch.EnumerateBatches(blob))
        {
            RecordBatchValidator.ValidateOne(batch, out _);
            ReadViews(batch);
        }
    }

    /// <summary>The in-place views the fetch and processor paths use, headers included.</summary>
    internal static void ReadViews(ReadOnlySpan<byte> batch)
    {
        try
        {
            using var reader = new RecordBatchReader(batch);
            while (reader.TryReadNext(out RecordView record))
            {
                foreach (RecordHeaderView header in record.Headers)
                    _ = header.Value.Length;
            }
        }
        catch (InvalidDataException)
        {
        }
    }
}
