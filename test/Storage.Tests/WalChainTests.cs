using KafScale.Records;
using KafScale.Storage.Wal;

namespace KafScale.Storage.Tests;

public class WalChainTests
{
    private static WalChunkRef C(string key, int epoch, long first, long last) =>
        new(key, new WalChunkInfo(Guid.Empty, "t", 0, epoch, first, last, 32, 61, 0, 0, (int)(last - first + 1)));

    private static (string Key, long From, long To)[] Links(IEnumerable<WalChunkRef> chunks, long from = 0, int minEpoch = -1) =>
        [.. WalChain.Build(chunks, from, minEpoch).Select(l => (l.Source.ObjectKey, l.FromOffset, l.ToOffset))];

    [Fact]
    public void Contiguous_chunks_of_one_epoch_chain_in_offset_order_whatever_the_input_order()
    {
        WalChunkRef[] chunks = [C("c", 1, 20, 29), C("a", 1, 0, 9), C("b", 1, 10, 19)];
        Assert.Equal([("a", 0L, 10L), ("b", 10L, 20L), ("c", 20L, 30L)], Links(chunks));
        Assert.Empty(Links([]));
    }

    [Fact]
    public void Where_epochs_overlap_the_higher_wins_and_a_lower_epoch_after_it_is_ignored()
    {
        // Epoch 1 wrote 0-19; epoch 2 took over at 5 and wrote 5-14: epoch 1's 5-19 never counted,
        // and its 15-19 (a deposed leader's late write) does not continue the log either.
        Assert.Equal([("old", 0L, 5L), ("new", 5L, 15L)], Links([C("old", 1, 0, 19), C("new", 2, 5, 14)]));
        // Both cover the cursor: the higher epoch wins even though the lower reaches further.
        Assert.Equal([("new", 0L, 10L)], Links([C("old", 1, 0, 19), C("new", 2, 0, 9)]));
    }

    [Fact]
    public void A_lower_epoch_chunk_after_a_higher_one_ends_the_chain()
    {
        Assert.Equal([("a", 0L, 10L)], Links([C("a", 2, 0, 9), C("late", 1, 10, 19)]));
        // The sealed segments' epoch bounds the first link too.
        Assert.Empty(Links([C("a", 1, 0, 9)], minEpoch: 2));
        Assert.Equal([("a", 0L, 10L)], Links([C("a", 2, 0, 9)], minEpoch: 2));
    }

    [Fact]
    public void A_chunk_of_an_epoch_never_counts_at_or_above_the_start_of_a_later_epoch()
    {
        // Epoch 1's leader was deposed with an upload of 364 in flight; epoch 2 began at 364 and
        // wrote nothing; the upload landed after epoch 2 had listed the store. Epoch 3 must not
        // take it: the fence starts where epoch 2 began.
        EpochStart[] starts = [new(1, 0), new(2, 364)];
        Assert.Empty(WalChain.Build([C("late", 1, 364, 364)], 364, 1, starts));
        Assert.Single(WalChain.Build([C("late", 1, 364, 364)], 364, 1)); // what happened without the record
        // A chunk of epoch 1 running across 364 counts up to it only; one of epoch 2 is not fenced.
        Assert.Equal([("a", 360L, 364L), ("b", 364L, 370L)],
            WalChain.Build([C("a", 1, 360, 367), C("b", 2, 364, 369)], 360, 1, starts).Select(l => (l.Source.ObjectKey, l.FromOffset, l.ToOffset)));
        Assert.Equal([("a", 360L, 364L)],
            WalChain.Build([C("a", 1, 360, 367)], 360, 1, starts).Select(l => (l.Source.ObjectKey, l.FromOffset, l.ToOffset)));
        // The earliest start of any later epoch is the fence, whatever order the record lists them in.
        Assert.Equal([("a", 360L, 362L)],
            WalChain.Build([C("a", 1, 360, 367)], 360, 1, [new(3, 362), new(2, 365)]).Select(l => (l.Source.ObjectKey, l.FromOffset, l.ToOffset)));
        // An epoch's own start and lower epochs' starts do not fence it.
        Assert.Equal([("a", 360L, 368L)],
            WalChain.Build([C("a", 2, 360, 367)], 360, 1, [new(1, 0), new(2, 360)]).Select(l => (l.Source.ObjectKey, l.FromOffset, l.ToOffset)));
    }

    [Fact]
    public void A_gap_ends_the_chain()
    {
        Assert.Equal([("a", 0L, 10L)], Links([C("a", 1, 0, 9), C("after-gap", 1, 11, 19)]));
        Assert.Empty(Links([C("a", 1, 1, 9)]));
    }

    [Fact]
    public void A_chunk_starting_before_from_is_entered_mid_way_and_chunks_ending_below_from_are_ignored()
    {
        Assert.Equal([("a", 5L, 10L), ("b", 10L, 15L)],
            Links([C("below", 9, 0, 4), C("a", 1, 0, 9), C("b", 1, 10, 14)], from: 5));
    }

    [Fact]
    public void A_higher_epoch_starting_inside_a_link_cuts_it_there()
    {
        // Rule 4: epoch 4 starts at 20 inside epoch 3's 10-29.
        Assert.Equal([("e3", 10L, 20L), ("e4", 20L, 40L)], Links([C("e3", 3, 10, 29), C("e4", 4, 20, 39)], from: 10));
        // Only a higher epoch cuts; an equal one inside does not.
        Assert.Equal([("e3", 10L, 30L), ("e3-dup", 30L, 40L)], Links([C("e3", 3, 10, 29), C("e3-dup", 3, 20, 39)], from: 10));
        // The first higher epoch to start inside is where the link ends, even if a later one is higher still.
        Assert.Equal([("e1", 0L, 5L), ("e2", 5L, 8L), ("e3", 8L, 20L)],
            Links([C("e1", 1, 0, 29), C("e3", 3, 8, 19), C("e2", 2, 5, 9)]));
    }

    [Fact]
    public void Ties_go_to_the_chunk_reaching_furthest_then_to_the_smaller_key()
    {
        Assert.Equal([("long", 0L, 20L)], Links([C("short", 1, 0, 9), C("long", 1, 0, 19)]));
        Assert.Equal([("a", 0L, 10L)], Links([C("b", 1, 0, 9), C("a", 1, 0, 9)]));
    }

    [Fact]
    public void Slice_returns_whole_batches_only_at_batch_boundaries()
    {
        // Batches 0-2, 3-7, 8-8.
        byte[] chunk = [.. Batches.Make(0, 3), .. Batches.Make(3, 5), .. Batches.Make(8, 1)];
        int first = Batches.Make(0, 3).Length, second = Batches.Make(3, 5).Length;
        Assert.Equal(chunk, WalChain.Slice(chunk, 0, 9)!.Value.ToArray());
        Assert.Equal(chunk[..first], WalChain.Slice(chunk, 0, 3)!.Value.ToArray());
        Assert.Equal(chunk[first..(first + second)], WalChain.Slice(chunk, 3, 8)!.Value.ToArray());
        Assert.Equal(chunk[first..], WalChain.Slice(chunk, 3, 9)!.Value.ToArray());
        Assert.Null(WalChain.Slice(chunk, 1, 9));   // inside the first batch
        Assert.Null(WalChain.Slice(chunk, 0, 5));   // ends inside the second
        Assert.Null(WalChain.Slice(chunk, 0, 10));  // past the end
        Assert.Null(WalChain.Slice(chunk, 9, 10));
        Assert.Null(WalChain.Slice(chunk, 3, 3));
        Assert.Null(WalChain.Slice(chunk.AsMemory(0, chunk.Length - 1), 8, 9)); // last batch cut
        byte[] bad = (byte[])chunk.Clone();
        bad[first + RecordBatch.MagicOffset] = 1;
        Assert.Null(WalChain.Slice(bad, 3, 8));
        Assert.Equal(chunk[..first], WalChain.Slice(bad, 0, 3)!.Value.ToArray()); // before the bad batch
        byte[] hole = [.. Batches.Make(0, 3), .. Batches.Make(4, 5)];
        Assert.Null(WalChain.Slice(hole, 0, 9));
        Assert.Null(WalChain.Slice(hole, 4, 9));
    }

    [Fact]
    public void A_partition_recovers_from_real_objects_of_two_leaders()
    {
        // Broker 1 (epoch 5) flushed 0-9 and 10-19; broker 2 (epoch 6) took over at 15 and
        // flushed 15-24. The log is 0-14 from broker 1, then broker 2's.
        Guid id = Guid.NewGuid();
        var objects = new List<(string Key, byte[] Bytes)>();
        void Flush(int broker, long created, int epoch, List<ReadOnlyMemory<byte>> batches)
        {
            var b = new WalObjectBuilder(broker, created, 0);
            b.AddChunk(id, "t", 0, epoch, batches);
            b.AddChunk(Guid.NewGuid(), "other", 0, 1, Batches.Chain(0, 1)); // another partition in the same object
            objects.Add((WalKeys.Key("default", created, 0, broker), b.Build().Bytes));
        }
        Flush(1, 1000, 5, Batches.Chain(0, 5, 5));
        Flush(1, 2000, 5, Batches.Chain(10, 5, 5));
        Flush(2, 3000, 6, Batches.Chain(15, 3, 7));

        var refs = new List<WalChunkRef>();
        foreach ((string key, byte[] bytes) in objects)
            refs.AddRange(WalReader.Open(bytes).Chunks.Where(c => c.TopicId == id && c.Partition == 0).Select(c => new WalChunkRef(key, c)));
        List<WalChainLink> links = WalChain.Build(refs, 0, -1);
        Assert.Equal([(0L, 10L), (10L, 15L), (15L, 25L)], links.Select(l => (l.FromOffset, l.ToOffset)));

        var log = new List<long>();
        foreach (WalChainLink link in links)
        {
            byte[] bytes = objects.Single(o => o.Key == link.Source.ObjectKey).Bytes;
            ReadOnlyMemory<byte> chunk = bytes.AsMemory((int)link.Source.Chunk.Position, link.Source.Chunk.Length);
            ReadOnlyMemory<byte> slice = WalChain.Slice(chunk, link.FromOffset, link.ToOffset)!.Value;
            foreach (KafScale.Records.Record r in RecordBatchReader.ReadAll(slice.Span))
                log.Add(r.Offset);
        }
        Assert.Equal(Enumerable.Range(0, 25).Select(i => (long)i), log);
    }
}
