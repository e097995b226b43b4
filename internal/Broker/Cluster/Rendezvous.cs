namespace KafScale.Broker.Clustering;

/// <summary>
/// Rendezvous (highest random weight) hashing: the desired leader of a partition is the live
/// broker with the highest score for (topic, partition, broker). Every broker computes the same
/// answer from the same live set, and adding or removing one broker moves only the partitions
/// it wins or held (about 1/N of them). The hash is fixed (FNV-1a, then a SplitMix64 finish)
/// so that brokers of any build agree.
/// </summary>
internal static class Rendezvous
{
    /// <summary>The pseudo-topic coordinator shards are hashed under.</summary>
    public const string CoordinatorTopic = "__consumer_offsets";

    public static ulong Score(string topic, int partition, int brokerId)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in topic)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        h ^= (uint)partition;
        h *= 1099511628211UL;
        h ^= (ulong)(uint)brokerId << 32;
        h *= 1099511628211UL;
        return Mix(h);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The desired leader among brokerIds, or -1 when there is none.</summary>
    public static int Pick(string topic, int partition, ReadOnlySpan<int> brokerIds)
    {
        int best = -1;
        ulong bestScore = 0;
        foreach (int id in brokerIds)
        {
            ulong s = Score(topic, partition, id);
            if (best < 0 || s > bestScore || (s == bestScore && id < best))
            {
                best = id;
                bestScore = s;
            }
        }
        return best;
    }
}
