using System.Buffers.Binary;
using KafScale.Common;
using KafScale.Storage.Wal;

namespace KafScale.Fuzz;

/// <summary>
/// A WAL object. Covers <see cref="WalReader"/> (the trailer, the footer table as a remote reader
/// parses it from a tail read, and the whole-object open), then for each chunk of an object that
/// opens: its CRC, the batch checks of <c>segments wal verify</c> and <see cref="WalChain.Slice"/>,
/// and <see cref="WalChain.Build"/> over all of them. The documented answer to a bad object is
/// <see cref="WalCorruptException"/>; nothing after a successful open may throw. The input also
/// runs with the batch CRCs in the chunk area and the footer CRC recomputed, so mutations get
/// past the checksums.
/// </summary>
internal static class WalTarget
{
    public static void Run(byte[] input)
    {
        Read(input);
        if (input.Length < WalFormat.MinimumObjectSize)
            return;
        uint footerLength = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(input.Length - WalFormat.TrailerSize));
        if (footerLength > input.Length - WalFormat.MinimumObjectSize)
            return;
        byte[] recomputed = (byte[])input.Clone();
        int footerStart = recomputed.Length - WalFormat.TrailerSize - (int)footerLength;
        RecordsTarget.RecomputeBatchCrcs(recomputed, WalFormat.HeaderSize, footerStart);
        BinaryPrimitives.WriteUInt32BigEndian(recomputed.AsSpan(recomputed.Length - 8), Crc32C.Compute(recomputed.AsSpan(footerStart, (int)footerLength)));
        Read(recomputed);
    }

    private static void Read(byte[] bytes)
    {
        WalVerifier.Inspect("default/!wal/00000000000000000000-00000000000000000000-0000000000.wal", bytes);

        // The remote reader's way: the tail, then the table, header fields from the key.
        try
        {
            byte[] tail = bytes.AsSpan(bytes.Length - WalReader.TailReadSize(bytes.Length)).ToArray();
            (int footerLength, uint crc) = WalReader.ReadTrailer(tail);
            if (footerLength <= tail.Length - WalFormat.TrailerSize)
                WalReader.ParseFooter(tail.AsSpan(tail.Length - WalFormat.TrailerSize - footerLength, footerLength), crc, bytes.Length, 0, 0, 0);
        }
        catch (WalCorruptException)
        {
        }

        WalFooter footer;
        try
        {
            footer = WalReader.Open(bytes);
        }
        catch (WalCorruptException)
        {
            return;
        }

        var refs = new List<WalChunkRef>(footer.Chunks.Count);
        foreach (WalChunkInfo chunk in footer.Chunks)
        {
            ReadOnlyMemory<byte> data = bytes.AsMemory((int)chunk.Position, chunk.Length);
            WalReader.VerifyChunk(data.Span, chunk);
            WalReader.DescribeBatchProblem(data.Span, chunk);
            if (WalChain.Slice(data, chunk.FirstOffset, chunk.LastOffset + 1) is { } whole)
            {
                foreach (ReadOnlySpan<byte> batch in KafScale.Records.RecordBatch.EnumerateBatches(whole.Span))
                    RecordsTarget.ReadViews(batch);
            }
            WalChain.Slice(data, chunk.FirstOffset + 1, chunk.LastOffset + 1);
            WalChain.Slice(data, chunk.FirstOffset, chunk.LastOffset);
            refs.Add(new WalChunkRef(chunk.Topic, chunk));
        }
        foreach (IGrouping<(Guid, int), WalChunkRef> partition in refs.GroupBy(r => (r.Chunk.TopicId, r.Chunk.Partition)))
        {
            long from = partition.Min(r => r.Chunk.FirstOffset);
            foreach (WalChainLink link in WalChain.Build(partition, from, -1))
            {
                if (link.FromOffset >= link.ToOffset)
                    throw new FuzzFindingException($"an empty chain link {link}");
            }
        }
    }
}
