using System.Buffers.Binary;
using System.Text;
using KafScale.Common;
using KafScale.Records;

namespace KafScale.Storage.Wal;

/// <summary>
/// Builds one WAL object (docs/storage-format.md, "WAL objects"): the pending record batches of
/// every partition a broker flushes at once, one chunk per partition. Not thread-safe; one per
/// flush. The batch memories are kept, not copied, until <see cref="Build"/>: the caller must not
/// change them before then.
/// </summary>
public sealed class WalObjectBuilder
{
    private readonly int _brokerId;
    private readonly long _createdAtMs;
    private readonly long _sequence;
    private readonly List<PendingChunk> _chunks = [];
    private long _chunkBytes;
    private long _footerBytes;

    private readonly record struct PendingChunk(WalChunkInfo Info, int TopicNameBytes, ReadOnlyMemory<byte>[] Batches);

    /// <param name="brokerId">The writing broker's id (0 or more).</param>
    /// <param name="createdAtMs">Unix milliseconds of the flush; also in the object's key.</param>
    /// <param name="sequence">The writer's per-process counter (0 or more), which keeps keys of one millisecond apart.</param>
    public WalObjectBuilder(int brokerId, long createdAtMs, long sequence)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(brokerId);
        ArgumentOutOfRangeException.ThrowIfNegative(createdAtMs);
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        _brokerId = brokerId;
        _createdAtMs = createdAtMs;
        _sequence = sequence;
    }

    /// <summary>Chunks added so far.</summary>
    public int ChunkCount => _chunks.Count;

    /// <summary>Bytes the object will have when built now.</summary>
    public long Length => WalFormat.HeaderSize + _chunkBytes + _footerBytes + WalFormat.TrailerSize;

    /// <summary>
    /// Adds one chunk: <paramref name="batches"/> are one or more whole RecordBatch v2 blobs of
    /// one partition, back to back, with offsets already assigned (each memory holds whole
    /// batches; empty memories are skipped). First and last offset, max timestamp, record count
    /// and CRC-32C come from the batch headers and bytes.
    /// </summary>
    /// <exception cref="ArgumentException">No batch, a malformed batch (length, magic, offsets), offsets that do not follow each other, a bad topic name, or an object that would exceed the largest array.</exception>
    public void AddChunk(Guid topicId, string topic, int partition, int leaderEpoch, IReadOnlyList<ReadOnlyMemory<byte>> batches)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        int nameBytes = Encoding.UTF8.GetByteCount(topic);
        if (nameBytes > ushort.MaxValue)
            throw new ArgumentException($"a topic name of {nameBytes} UTF-8 bytes does not fit the footer's u16 length", nameof(topic));

        long first = -1, last = -1, maxTimestamp = -1, length = 0;
        int records = 0, count = 0;
        uint crc = 0xFFFFFFFFu;
        var kept = new ReadOnlyMemory<byte>[batches.Count];
        for (int m = 0; m < batches.Count; m++)
        {
            ReadOnlySpan<byte> blob = batches[m].Span;
            kept[m] = batches[m];
            int position = 0;
            while (position < blob.Length)
            {
                ReadOnlySpan<byte> rest = blob.Slice(position);
                int size = RecordBatch.PeekTotalSize(rest);
                if (size < RecordBatch.HeaderSize || size > rest.Length)
                    throw new ArgumentException($"memory {m} of {topic}-{partition}: the bytes at position {position} are not a whole record batch", nameof(batches));
                var h = new RecordBatchHeader(rest);
                if (h.Magic != RecordBatch.CurrentMagic || h.BaseOffset < 0 || h.LastOffsetDelta < 0 || h.RecordCount < 0 || h.LastOffset == long.MaxValue)
                    throw new ArgumentException($"memory {m} of {topic}-{partition}: the batch at position {position} has magic {h.Magic}, base offset {h.BaseOffset}, last offset delta {h.LastOffsetDelta}, record count {h.RecordCount}", nameof(batches));
                if (count > 0 && h.BaseOffset != last + 1)
                    throw new ArgumentException($"{topic}-{partition}: a batch starts at offset {h.BaseOffset} after one ending at {last}; a chunk's offsets must follow each other", nameof(batches));
                if (count == 0)
                    first = h.BaseOffset;
                last = h.LastOffset;
                maxTimestamp = Math.Max(maxTimestamp, h.MaxTimestamp);
                records = checked(records + h.RecordCount);
                position += size;
                count++;
            }
            crc = Crc32C.Append(crc, blob);
            length += blob.Length;
        }
        if (count == 0)
            throw new ArgumentException($"{topic}-{partition}: a chunk needs at least one record batch", nameof(batches));
        if (length > int.MaxValue || Length + length + WalFormat.FooterEntrySize(nameBytes) > Array.MaxLength)
            throw new ArgumentException($"{topic}-{partition}: a chunk of {length} bytes does not fit one WAL object", nameof(batches));

        var info = new WalChunkInfo(topicId, topic, partition, leaderEpoch, first, last,
            WalFormat.HeaderSize + _chunkBytes, (int)length, ~crc, maxTimestamp, records);
        _chunks.Add(new PendingChunk(info, nameBytes, kept));
        _chunkBytes += length;
        _footerBytes += WalFormat.FooterEntrySize(nameBytes);
    }

    /// <summary>
    /// The whole object in a fresh array (not pooled: the broker keeps slices of it alive to serve
    /// reads) and its footer entries, whose Position and Length point into that array. May be
    /// called again; each call builds a new array.
    /// </summary>
    public (byte[] Bytes, IReadOnlyList<WalChunkInfo> Chunks) Build()
    {
        byte[] bytes = new byte[Length];
        Span<byte> span = bytes;
        WalFormat.WriteHeader(span, _brokerId, _createdAtMs, _sequence, _chunks.Count);
        int position = WalFormat.HeaderSize;
        var infos = new WalChunkInfo[_chunks.Count];
        for (int i = 0; i < _chunks.Count; i++)
        {
            infos[i] = _chunks[i].Info;
            foreach (ReadOnlyMemory<byte> batch in _chunks[i].Batches)
            {
                batch.Span.CopyTo(span.Slice(position));
                position += batch.Length;
            }
        }
        WriteFooterAndTrailer(span.Slice(position));
        return (bytes, infos);
    }

    /// <summary>
    /// The same object as parts for a gathered write: the header, then each chunk's batches in an
    /// exactly-sized array of its own, then the footer and trailer; written back to back they are
    /// the bytes <see cref="Build"/> returns. A chunk's array is its own so that whoever keeps a
    /// chunk (the broker, until it is sealed) keeps only that partition's bytes, not the object;
    /// chunk arrays are allocated on the pinned-object heap.
    /// Part i + 1 is chunk i. May be called again; each call builds new arrays.
    /// </summary>
    public (ReadOnlyMemory<byte>[] Parts, IReadOnlyList<WalChunkInfo> Chunks) BuildParts()
    {
        var parts = new ReadOnlyMemory<byte>[_chunks.Count + 2];
        byte[] header = new byte[WalFormat.HeaderSize];
        WalFormat.WriteHeader(header, _brokerId, _createdAtMs, _sequence, _chunks.Count);
        parts[0] = header;
        var infos = new WalChunkInfo[_chunks.Count];
        for (int i = 0; i < _chunks.Count; i++)
        {
            infos[i] = _chunks[i].Info;
            // On the pinned-object heap, whatever the size: a chunk lives until its partition is
            // sealed (seconds to minutes), and there the young-generation collections never copy
            // it, as they would copy a small array on its way to the old generation
            // (docs/decisions.md, "Unsealed chunks outside the young generations").
            byte[] chunk = GC.AllocateUninitializedArray<byte>(infos[i].Length, pinned: true);
            int position = 0;
            foreach (ReadOnlyMemory<byte> batch in _chunks[i].Batches)
            {
                batch.Span.CopyTo(chunk.AsSpan(position));
                position += batch.Length;
            }
            parts[i + 1] = chunk;
        }
        byte[] footer = new byte[_footerBytes + WalFormat.TrailerSize];
        WriteFooterAndTrailer(footer);
        parts[^1] = footer;
        return (parts, infos);
    }

    /// <summary>The footer entries, then the trailer (footer length, footer CRC-32C, magic).</summary>
    private void WriteFooterAndTrailer(Span<byte> span)
    {
        int position = 0;
        foreach (PendingChunk chunk in _chunks)
            position += WriteEntry(span.Slice(position), chunk.Info, chunk.TopicNameBytes);
        BinaryPrimitives.WriteUInt32BigEndian(span.Slice(position), (uint)position);
        BinaryPrimitives.WriteUInt32BigEndian(span.Slice(position + 4), Crc32C.Compute(span.Slice(0, position)));
        BinaryPrimitives.WriteUInt32BigEndian(span.Slice(position + 8), WalFormat.TrailerMagic);
    }

    private static int WriteEntry(Span<byte> d, in WalChunkInfo c, int nameBytes)
    {
        // Kafka's UUID byte order: the 16 bytes of the UUID's big-endian form, as on the wire.
        c.TopicId.TryWriteBytes(d, bigEndian: true, out _);
        BinaryPrimitives.WriteUInt16BigEndian(d.Slice(16), (ushort)nameBytes);
        Encoding.UTF8.GetBytes(c.Topic, d.Slice(18));
        Span<byte> f = d.Slice(18 + nameBytes);
        BinaryPrimitives.WriteInt32BigEndian(f, c.Partition);
        BinaryPrimitives.WriteInt32BigEndian(f.Slice(4), c.LeaderEpoch);
        BinaryPrimitives.WriteInt64BigEndian(f.Slice(8), c.FirstOffset);
        BinaryPrimitives.WriteInt64BigEndian(f.Slice(16), c.LastOffset);
        BinaryPrimitives.WriteInt64BigEndian(f.Slice(24), c.Position);
        BinaryPrimitives.WriteInt32BigEndian(f.Slice(32), c.Length);
        BinaryPrimitives.WriteUInt32BigEndian(f.Slice(36), c.Crc32C);
        BinaryPrimitives.WriteInt64BigEndian(f.Slice(40), c.MaxTimestamp);
        BinaryPrimitives.WriteInt32BigEndian(f.Slice(48), c.RecordCount);
        return WalFormat.FooterEntrySize(nameBytes);
    }
}
