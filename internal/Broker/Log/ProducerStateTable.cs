namespace KafScale.Broker.Log;

/// <summary>What an idempotent producer's batch gets: append it, answer it as a duplicate, or refuse it.</summary>
internal enum SequenceCheck { Append, Duplicate, OutOfOrder, InvalidEpoch, UnknownProducer, GapSinceEarlierTerm }

/// <summary>
/// Idempotent-producer state of one partition (KIP-98): per producer id, its epoch and the
/// sequence ranges and offsets of its last five batches, the number of requests a producer may
/// have in flight. A batch retried after a lost response matches one of those five and is
/// answered with its original offset instead of being written twice. The state is updated at
/// append time, in log order, and rebuilt from the segments when a partition is opened.
/// </summary>
internal sealed class ProducerStateTable
{
    public const int RetainedBatches = 5;

    private sealed class Entry
    {
        public short Epoch;
        public readonly (int FirstSeq, int LastSeq, long BaseOffset)[] Batches = new (int, int, long)[RetainedBatches];
        public int Count;
        public int Next;

        /// <summary>True once this term appended a batch of the producer; false while all it knows came from the log.</summary>
        public bool AppendedThisTerm;
        public int LastSeq => Batches[(Next + RetainedBatches - 1) % RetainedBatches].LastSeq;
        public long LastOffset;

        public void Add(int firstSeq, int lastSeq, long baseOffset)
        {
            Batches[Next] = (firstSeq, lastSeq, baseOffset);
            Next = (Next + 1) % RetainedBatches;
            if (Count < RetainedBatches) Count++;
        }

        public void Reset(short epoch)
        {
            Epoch = epoch;
            Count = 0;
            Next = 0;
        }
    }

    private readonly Dictionary<long, Entry> _producers = [];

    public int Count => _producers.Count;

    /// <summary>Adds the producers of an older part of the log that this state does not know.</summary>
    public void AddAbsent(ProducerStateTable older)
    {
        foreach (var (id, entry) in older._producers) _producers.TryAdd(id, entry);
    }

    /// <summary>
    /// Checks a batch of an idempotent producer against the state, without changing it. On
    /// Duplicate, duplicateBaseOffset is where the batch was written the first time.
    /// </summary>
    public SequenceCheck Check(long producerId, short epoch, int firstSeq, int lastSeq, out long duplicateBaseOffset)
    {
        duplicateBaseOffset = -1;
        if (!_producers.TryGetValue(producerId, out var entry))
            return firstSeq == 0 ? SequenceCheck.Append : SequenceCheck.UnknownProducer;
        if (epoch < entry.Epoch) return SequenceCheck.InvalidEpoch;
        if (epoch > entry.Epoch)
            return firstSeq == 0 ? SequenceCheck.Append : SequenceCheck.OutOfOrder;
        for (int i = 0; i < entry.Count; i++)
        {
            var b = entry.Batches[i];
            if (b.FirstSeq == firstSeq && b.LastSeq == lastSeq)
            {
                duplicateBaseOffset = b.BaseOffset;
                return SequenceCheck.Duplicate;
            }
        }
        if (entry.Count == 0) return firstSeq == 0 ? SequenceCheck.Append : SequenceCheck.OutOfOrder;
        // Sequences wrap from int.MaxValue to 0 (Kafka's DefaultRecordBatch.incrementSequence).
        int expected = entry.LastSeq == int.MaxValue ? 0 : entry.LastSeq + 1;
        if (firstSeq == expected) return SequenceCheck.Append;
        // Ahead of the log, and nothing of this producer appended in this term yet: the batches
        // in between were refused by an earlier term (or are still on their way to this one),
        // and the producer holds them (docs/architecture.md, "The write path").
        long ahead = ((long)firstSeq - expected + int.MaxValue + 1) % ((long)int.MaxValue + 1);
        return !entry.AppendedThisTerm && ahead < int.MaxValue / 2 ? SequenceCheck.GapSinceEarlierTerm : SequenceCheck.OutOfOrder;
    }

    /// <summary>Records a batch this term appended (after <see cref="Check"/> said Append).</summary>
    public void RecordAppended(long producerId, short epoch, int firstSeq, int lastSeq, long baseOffset, long lastOffset) =>
        Add(producerId, epoch, firstSeq, lastSeq, baseOffset, lastOffset).AppendedThisTerm = true;

    /// <summary>Records a batch of the log as it is replayed when a partition is opened.</summary>
    public void Record(long producerId, short epoch, int firstSeq, int lastSeq, long baseOffset, long lastOffset) =>
        Add(producerId, epoch, firstSeq, lastSeq, baseOffset, lastOffset);

    private Entry Add(long producerId, short epoch, int firstSeq, int lastSeq, long baseOffset, long lastOffset)
    {
        if (!_producers.TryGetValue(producerId, out var entry))
        {
            entry = new Entry { Epoch = epoch };
            _producers[producerId] = entry;
        }
        if (epoch != entry.Epoch) entry.Reset(epoch);
        entry.Add(firstSeq, lastSeq, baseOffset);
        entry.LastOffset = lastOffset;
        return entry;
    }

    /// <summary>The highest epoch seen for a producer, or -1.</summary>
    public short EpochOf(long producerId) => _producers.TryGetValue(producerId, out var e) ? e.Epoch : (short)-1;
}
