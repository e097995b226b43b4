using KafScale.Protocol;
using KafScale.Records;

namespace KafScale.Client;

/// <summary>
/// What one partition returned. <see cref="Records"/> is whole record batches as the broker sent
/// them (the first may start before <see cref="FetchOffset"/>; a partial batch may trail at the
/// end when a size limit cut it), valid until the <see cref="FetchResult"/> is disposed.
/// </summary>
public sealed record FetchedPartition(
    string Topic,
    int Partition,
    long FetchOffset,
    ErrorCode ErrorCode,
    long HighWatermark,
    long LastStableOffset,
    long LogStartOffset,
    ReadOnlyMemory<byte> Records)
{
    public void ThrowIfError() => KafkaException.ThrowIfError((short)ErrorCode, $"Fetch {Topic}-{Partition} at offset {FetchOffset}");

    /// <summary>
    /// Copies out the records at or after <see cref="FetchOffset"/> (decompressing as needed);
    /// a trailing partial batch is skipped.
    /// </summary>
    public List<Record> ReadRecords()
    {
        var records = new List<Record>();
        var batches = RecordBatch.EnumerateBatches(Records.Span);
        while (batches.MoveNext())
        {
            using var reader = new RecordBatchReader(batches.Current);
            while (reader.TryReadNext(out RecordView record))
            {
                if (record.Offset >= FetchOffset)
                {
                    records.Add(record.ToRecord(reader.Header.TimestampType));
                }
            }
        }

        return records;
    }

    /// <summary>The offset after the last whole batch, where the next fetch should start (or <see cref="FetchOffset"/> if none).</summary>
    public long NextOffset
    {
        get
        {
            long next = FetchOffset;
            var batches = RecordBatch.EnumerateBatches(Records.Span);
            while (batches.MoveNext())
            {
                var header = new RecordBatchHeader(batches.Current);
                next = Math.Max(next, header.BaseOffset + header.LastOffsetDelta + 1);
            }

            return next;
        }
    }
}

/// <summary>The partitions of one <see cref="KafkaClient.FetchAsync(string, IReadOnlyList{FetchPosition}, FetchOptions?, CancellationToken)"/>; owns the response buffers.</summary>
public sealed class FetchResult : IDisposable
{
    private readonly List<FetchedPartition> _partitions = [];
    private readonly List<FetchResponseHandle> _handles = [];

    public IReadOnlyList<FetchedPartition> Partitions => _partitions;

    internal void Add(FetchedPartition partition)
    {
        lock (_partitions)
        {
            _partitions.Add(partition);
        }
    }

    internal void Own(FetchResponseHandle handle)
    {
        lock (_partitions)
        {
            _handles.Add(handle);
        }
    }

    public void Dispose()
    {
        lock (_partitions)
        {
            foreach (FetchResponseHandle handle in _handles)
            {
                handle.Dispose();
            }

            _handles.Clear();
        }
    }
}
