using System.Text;
using KafScale.Protocol.HotPath;
using KafScale.Protocol.Messages;

namespace KafScale.Protocol.Tests;

/// <summary>
/// <see cref="FetchRequestReader"/> must see exactly what the generated <see cref="FetchRequest"/>
/// decodes, for every version the broker serves (v4-v17), accept what it accepts and refuse what
/// it refuses, with <see cref="KafkaProtocolException"/> only.
/// </summary>
public class FetchRequestReaderTests
{
    public static TheoryData<short> Versions()
    {
        var data = new TheoryData<short>();
        for (short v = FetchRequestReader.LowestVersion; v <= FetchRequestReader.HighestVersion; v++)
        {
            data.Add(v);
        }

        return data;
    }

    private static readonly Guid OrdersId = Guid.Parse("0b6d1c52-8f3e-4a47-9b1e-3d2c5a7f9e10");
    private static readonly Guid EmptyTopicId = Guid.Parse("6a4f7e21-0c9d-4b83-a5e2-1f0d3c8b7a65");
    private static readonly Guid UnicodeId = Guid.Parse("d3e8a1f4-5b62-4c07-8e19-7a4b2c6d0f93");
    private static readonly Guid DirectoryId = Guid.Parse("f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9");

    /// <summary>Several topics (one without partitions, one with a non-ASCII name), partitions with every field set, forgotten topics.</summary>
    private static FetchRequest Sample(string? clusterId, int replicaId, long replicaEpoch, bool directoryIds) => new()
    {
        ClusterId = clusterId,
        ReplicaId = replicaId,
        ReplicaState = new FetchRequest.ReplicaStateData { ReplicaId = replicaId, ReplicaEpoch = replicaEpoch },
        MaxWaitMs = 500,
        MinBytes = 1,
        MaxBytes = 52_428_800,
        IsolationLevel = 1,
        SessionId = 123_456,
        SessionEpoch = 7,
        Topics =
        [
            new()
            {
                Topic = "orders",
                TopicId = OrdersId,
                Partitions =
                [
                    Partition(0, 1_000, directoryIds),
                    Partition(5, long.MaxValue - 3, directoryIds),
                    Partition(-1, -1, false),
                ],
            },
            new() { Topic = "empty-topic", TopicId = EmptyTopicId, Partitions = [] },
            new() { Topic = "ünïcode-tópic", TopicId = UnicodeId, Partitions = [Partition(2, 42, directoryIds)] },
        ],
        ForgottenTopicsData =
        [
            new() { Topic = "gone", TopicId = EmptyTopicId, Partitions = [3, 1, 4, 1, 5] },
            new() { Topic = "", TopicId = Guid.Empty, Partitions = [] },
        ],
        RackId = "eu-west-1a",
    };

    private static FetchRequest.FetchPartition Partition(int index, long offset, bool directoryId) => new()
    {
        Partition = index,
        CurrentLeaderEpoch = index + 10,
        FetchOffset = offset,
        LastFetchedEpoch = index + 9,
        LogStartOffset = offset / 2,
        PartitionMaxBytes = 1_048_576 + index,
        ReplicaDirectoryId = directoryId ? DirectoryId : Guid.Empty,
    };

    /// <summary>Consumer and follower forms, with the cluster id absent, empty and set.</summary>
    private static IEnumerable<FetchRequest> Samples()
    {
        yield return Sample(null, -1, -1, directoryIds: false);
        yield return Sample("", -1, -1, directoryIds: false);
        yield return Sample("kafscale-cluster-1", 3, 17, directoryIds: true);
        yield return Sample(null, 0, -1, directoryIds: true);
        yield return new FetchRequest { MaxWaitMs = 0, MinBytes = 0, RackId = "" };
    }

    private static byte[] Encode(FetchRequest request, short version)
    {
        using var writer = new KafkaWriter();
        request.Write(writer, version);
        return writer.ToArray();
    }

    private static FetchRequest Decode(byte[] body, short version, out int position)
    {
        var decoded = new FetchRequest();
        var reader = new KafkaReader(body);
        decoded.Read(ref reader, version);
        position = reader.Position;
        return decoded;
    }

    /// <summary>Walks the whole body with the reader and checks every field against the codec's decoding of it.</summary>
    private static void AssertReaderMatches(FetchRequest expected, byte[] body, short version, int expectedPosition)
    {
        var reader = new FetchRequestReader(body, version);
        Assert.Equal(version, reader.Version);
        if (version < 15)
        {
            Assert.Equal(expected.ReplicaId, reader.ReplicaId);
        }

        Assert.Equal(expected.MaxWaitMs, reader.MaxWaitMs);
        Assert.Equal(expected.MinBytes, reader.MinBytes);
        Assert.Equal(expected.MaxBytes, reader.MaxBytes);
        Assert.Equal(expected.IsolationLevel, reader.IsolationLevel);
        Assert.Equal(expected.SessionId, reader.SessionId);
        Assert.Equal(expected.SessionEpoch, reader.SessionEpoch);
        Assert.Equal(expected.Topics.Count, reader.TopicCount);
        Assert.Equal(version >= 13, reader.UsesTopicIds);
        foreach (FetchRequest.FetchTopic topic in expected.Topics)
        {
            Assert.True(reader.NextTopic(out ReadOnlySpan<byte> name, out Guid id));
            Assert.Equal(topic.Topic, Encoding.UTF8.GetString(name));
            Assert.Equal(topic.TopicId, id);
            Assert.Equal(topic.Partitions.Count, reader.PartitionCount);
            foreach (FetchRequest.FetchPartition partition in topic.Partitions)
            {
                Assert.True(reader.NextPartition(out FetchPartition p));
                Assert.Equal(partition.Partition, p.Partition);
                Assert.Equal(partition.CurrentLeaderEpoch, p.CurrentLeaderEpoch);
                Assert.Equal(partition.FetchOffset, p.FetchOffset);
                Assert.Equal(partition.LastFetchedEpoch, p.LastFetchedEpoch);
                Assert.Equal(partition.LogStartOffset, p.LogStartOffset);
                Assert.Equal(partition.PartitionMaxBytes, p.PartitionMaxBytes);
                Assert.Equal(partition.ReplicaDirectoryId, p.ReplicaDirectoryId);
            }

            Assert.False(reader.NextPartition(out _));
        }

        Assert.False(reader.NextTopic(out _, out _));
        Assert.False(reader.NextTopic(out _, out _));
        Assert.Equal(expected.ForgottenTopicsData.Count, reader.ForgottenTopicCount);
        foreach (FetchRequest.ForgottenTopic topic in expected.ForgottenTopicsData)
        {
            Assert.True(reader.NextForgottenTopic(out ReadOnlySpan<byte> name, out Guid id));
            Assert.Equal(topic.Topic, Encoding.UTF8.GetString(name));
            Assert.Equal(topic.TopicId, id);
            Assert.Equal(topic.Partitions.Count, reader.ForgottenPartitionCount);
            foreach (int partition in topic.Partitions)
            {
                Assert.True(reader.NextForgottenPartition(out int p));
                Assert.Equal(partition, p);
            }

            Assert.False(reader.NextForgottenPartition(out _));
        }

        Assert.False(reader.NextForgottenTopic(out _, out _));
        Assert.False(reader.IsFinished);
        reader.Finish();
        Assert.True(reader.IsFinished);
        Assert.Equal(version >= 15 ? expected.ReplicaState.ReplicaId : expected.ReplicaId, reader.ReplicaId);
        Assert.Equal(version >= 15 ? expected.ReplicaState.ReplicaEpoch : -1, reader.ReplicaEpoch);
        Assert.Equal(expected.ClusterId is null, reader.ClusterIdIsNull);
        Assert.Equal(expected.ClusterId ?? "", Encoding.UTF8.GetString(reader.ClusterIdUtf8));
        Assert.Equal(expected.RackId, Encoding.UTF8.GetString(reader.RackIdUtf8));
        Assert.Equal(expectedPosition, reader.Position);
        reader.Finish();
        Assert.Equal(expectedPosition, reader.Position);
    }

    /// <summary>The reader's whole walk, touching every field, for bodies that may not decode.</summary>
    private static void WalkAll(byte[] body, short version)
    {
        var reader = new FetchRequestReader(body, version);
        while (reader.NextTopic(out _, out _))
        {
            while (reader.NextPartition(out _))
            {
            }
        }

        while (reader.NextForgottenTopic(out _, out _))
        {
            while (reader.NextForgottenPartition(out _))
            {
            }
        }

        reader.Finish();
        _ = reader.ReplicaId;
    }

    /// <summary>
    /// Same outcome as the codec: both decode (and the reader sees what the codec decoded) or
    /// both refuse, the reader with <see cref="KafkaProtocolException"/> and nothing else.
    /// </summary>
    private static void AssertSameOutcome(byte[] body, short version, string what)
    {
        FetchRequest? decoded = null;
        int position = 0;
        Exception? codecError = Record.Exception(() => decoded = Decode(body, version, out position));
        Assert.True(codecError is null or KafkaProtocolException, $"{what}: the codec threw {codecError?.GetType().Name}");
        if (decoded is not null)
        {
            AssertReaderMatches(decoded, body, version, position);
            return;
        }

        Exception? error = Record.Exception(() => WalkAll(body, version));
        Assert.True(error is KafkaProtocolException, $"{what}: the codec refused the body but the reader {(error is null ? "accepted it" : "threw " + error.GetType().Name)}");
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Sees_every_field_the_generated_codec_wrote(short version)
    {
        foreach (FetchRequest request in Samples())
        {
            byte[] body = Encode(request, version);
            FetchRequest decoded = Decode(body, version, out int position);
            Assert.Equal(body.Length, position);
            AssertReaderMatches(decoded, body, version, body.Length);
        }

        // The samples do exercise the late fields where the version has them.
        FetchRequest follower = Decode(Encode(Sample("c", 3, 17, true), version), version, out _);
        Assert.Equal(version >= 15 ? 3 : -1, follower.ReplicaState.ReplicaId);
        Assert.Equal(version >= 17 ? DirectoryId : Guid.Empty, follower.Topics[0].Partitions[0].ReplicaDirectoryId);
        Assert.Equal(version >= 7 ? 2 : 0, follower.ForgottenTopicsData.Count);
        Assert.Equal(version >= 12 ? "c" : null, follower.ClusterId);
    }

    /// <summary>
    /// A hand-written encoder that can put what the generated writer never writes: unknown tags at
    /// every tagged-field section (including ReplicaState's own), tags that only later versions
    /// know (ReplicaDirectoryId before v17, ReplicaState before v15), and an explicitly null cluster id.
    /// </summary>
    private static byte[] HandEncode(FetchRequest r, short version, bool extraTags, bool nullClusterIdTag)
    {
        bool flexible = version >= 12;
        using var w = new KafkaWriter();
        if (version <= 14)
        {
            w.WriteInt32(r.ReplicaId);
        }

        w.WriteInt32(r.MaxWaitMs);
        w.WriteInt32(r.MinBytes);
        w.WriteInt32(r.MaxBytes);
        w.WriteInt8(r.IsolationLevel);
        if (version >= 7)
        {
            w.WriteInt32(r.SessionId);
            w.WriteInt32(r.SessionEpoch);
        }

        w.WriteArrayLength(r.Topics.Count, flexible);
        foreach (var topic in r.Topics)
        {
            TopicIdentity(w, topic.Topic, topic.TopicId, version, flexible);
            w.WriteArrayLength(topic.Partitions.Count, flexible);
            foreach (var p in topic.Partitions)
            {
                w.WriteInt32(p.Partition);
                if (version >= 9)
                {
                    w.WriteInt32(p.CurrentLeaderEpoch);
                }

                w.WriteInt64(p.FetchOffset);
                if (version >= 12)
                {
                    w.WriteInt32(p.LastFetchedEpoch);
                }

                if (version >= 5)
                {
                    w.WriteInt64(p.LogStartOffset);
                }

                w.WriteInt32(p.PartitionMaxBytes);
                if (flexible)
                {
                    // Tag 0 is ReplicaDirectoryId from v17; before, it is an unknown tag to skip.
                    bool directory = p.ReplicaDirectoryId != Guid.Empty && (version >= 17 || extraTags);
                    w.WriteUnsignedVarInt((uint)((directory ? 1 : 0) + (extraTags ? 2 : 0)));
                    if (directory)
                    {
                        int mark = w.BeginTaggedField(0);
                        w.WriteUuid(p.ReplicaDirectoryId);
                        w.EndTaggedField(mark);
                    }

                    if (extraTags)
                    {
                        UnknownTag(w, 7, 3);
                        UnknownTag(w, 300, 0);
                    }
                }
            }

            TaggedFields(w, flexible, extraTags);
        }

        if (version >= 7)
        {
            w.WriteArrayLength(r.ForgottenTopicsData.Count, flexible);
            foreach (var topic in r.ForgottenTopicsData)
            {
                TopicIdentity(w, topic.Topic, topic.TopicId, version, flexible);
                w.WriteArrayLength(topic.Partitions.Count, flexible);
                foreach (int p in topic.Partitions)
                {
                    w.WriteInt32(p);
                }

                TaggedFields(w, flexible, extraTags);
            }
        }

        if (version >= 11)
        {
            w.WriteString(r.RackId, flexible);
        }

        if (flexible)
        {
            bool clusterId = r.ClusterId is not null || nullClusterIdTag;
            // Tag 1 is ReplicaState from v15; before, an unknown tag to skip.
            bool replicaState = !r.ReplicaState.EqualsDefault() && (version >= 15 || extraTags);
            w.WriteUnsignedVarInt((uint)((clusterId ? 1 : 0) + (replicaState ? 1 : 0) + (extraTags ? 1 : 0)));
            if (clusterId)
            {
                int mark = w.BeginTaggedField(0);
                w.WriteNullableString(r.ClusterId, compact: true);
                w.EndTaggedField(mark);
            }

            if (replicaState)
            {
                int mark = w.BeginTaggedField(1);
                w.WriteInt32(r.ReplicaState.ReplicaId);
                w.WriteInt64(r.ReplicaState.ReplicaEpoch);
                TaggedFields(w, flexible: true, extraTags);
                w.EndTaggedField(mark);
            }

            if (extraTags)
            {
                UnknownTag(w, 99, 5);
            }
        }

        return w.ToArray();
    }

    private static void TopicIdentity(KafkaWriter w, string name, Guid id, short version, bool flexible)
    {
        if (version >= 13)
        {
            w.WriteUuid(id);
        }
        else
        {
            w.WriteString(name, flexible);
        }
    }

    private static void TaggedFields(KafkaWriter w, bool flexible, bool extraTags)
    {
        if (!flexible)
        {
            return;
        }

        if (!extraTags)
        {
            w.WriteUnsignedVarInt(0);
            return;
        }

        w.WriteUnsignedVarInt(2);
        UnknownTag(w, 2, 4);
        UnknownTag(w, 150, 1);
    }

    private static void UnknownTag(KafkaWriter w, uint tag, int size)
    {
        int mark = w.BeginTaggedField(tag);
        for (int i = 0; i < size; i++)
        {
            w.WriteInt8((sbyte)(0x5A + i));
        }

        w.EndTaggedField(mark);
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Skips_unknown_and_later_version_tags_and_reads_an_explicit_null_cluster_id_like_the_codec(short version)
    {
        foreach (FetchRequest request in Samples())
        {
            foreach (bool extraTags in new[] { false, true })
            {
                foreach (bool nullClusterIdTag in new[] { false, true })
                {
                    byte[] body = HandEncode(request, version, extraTags, nullClusterIdTag);
                    FetchRequest decoded = Decode(body, version, out int position);
                    Assert.Equal(body.Length, position);
                    if (!extraTags && !nullClusterIdTag)
                    {
                        // Without the extras the hand encoder writes what the generated one does.
                        Assert.Equal(Encode(request, version), body);
                    }

                    AssertReaderMatches(decoded, body, version, body.Length);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Every_truncation_throws_KafkaProtocolException_as_the_codec_refuses_it(short version)
    {
        foreach (byte[] body in new[] { Encode(Sample("c", 3, 17, true), version), HandEncode(Sample(null, 2, 5, true), version, extraTags: true, nullClusterIdTag: true) })
        {
            for (int length = 0; length < body.Length; length++)
            {
                byte[] truncated = body[..length];
                Assert.Throws<KafkaProtocolException>(() => Decode(truncated, version, out _));
                Exception? error = Record.Exception(() => WalkAll(truncated, version));
                Assert.True(error is KafkaProtocolException, $"v{version} length {length}: {error?.GetType().Name ?? "no exception"}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void A_corrupted_byte_anywhere_gets_the_codecs_outcome(short version)
    {
        // Every byte set to values that make lengths null, huge, negative or varints endless.
        byte[] body = HandEncode(Sample("c", 3, 17, true), version, extraTags: true, nullClusterIdTag: false);
        foreach (byte value in new byte[] { 0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF })
        {
            for (int i = 0; i < body.Length; i++)
            {
                byte[] corrupted = (byte[])body.Clone();
                corrupted[i] = value;
                AssertSameOutcome(corrupted, version, $"v{version} byte {i} = 0x{value:X2}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void The_smallest_encodings_pass_the_count_bounds(short version)
    {
        // The reader refuses a count whose elements could not fit in what remains, using the
        // smallest encoding of an element; with nothing after them, these bodies are exactly that
        // small, so a bound one byte too large refuses them.
        var manyTopics = new FetchRequest { RackId = "", Topics = [.. Enumerable.Range(0, 40).Select(_ => new FetchRequest.FetchTopic { Topic = "", Partitions = [] })] };
        var manyPartitions = new FetchRequest
        {
            RackId = "",
            Topics = [new() { Topic = "", Partitions = [.. Enumerable.Range(0, 40).Select(_ => new FetchRequest.FetchPartition())] }],
        };
        var manyForgotten = new FetchRequest { RackId = "", ForgottenTopicsData = [.. Enumerable.Range(0, 40).Select(_ => new FetchRequest.ForgottenTopic { Topic = "", Partitions = [] })] };
        foreach (FetchRequest request in new[] { manyTopics, manyPartitions, manyForgotten })
        {
            byte[] body = Encode(request, version);
            FetchRequest decoded = Decode(body, version, out int position);
            AssertReaderMatches(decoded, body, version, position);
        }
    }

    [Fact]
    public void Forged_counts_are_refused_before_they_are_walked()
    {
        // v12: a topic count of 2^31 - 2 in a body of a few bytes.
        using var w = new KafkaWriter();
        w.WriteInt32(-1);
        w.WriteInt32(0);
        w.WriteInt32(0);
        w.WriteInt32(0);
        w.WriteInt8(0);
        w.WriteInt32(0);
        w.WriteInt32(0);
        w.WriteUnsignedVarInt(int.MaxValue);
        byte[] body = w.ToArray();
        Assert.Throws<KafkaProtocolException>(() => new FetchRequestReader(body, 12));
        Assert.Throws<KafkaProtocolException>(() => Decode(body, 12, out _));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(18)]
    public void Versions_outside_4_to_17_are_refused(short version)
    {
        byte[] body = Encode(Sample(null, -1, -1, false), 4);
        var error = Assert.Throws<KafkaProtocolException>(() => new FetchRequestReader(body, version));
        Assert.Equal(ErrorCode.UnsupportedVersion, error.ErrorCode);
    }

    [Theory]
    [InlineData(14)]
    [InlineData(15)]
    [InlineData(17)]
    public void Finish_alone_skips_to_the_end_and_the_v15_replica_id_is_known_only_then(short version)
    {
        byte[] body = Encode(Sample("c", 3, 17, true), version);
        var reader = new FetchRequestReader(body, version);
        if (version >= 15)
        {
            bool threw = false;
            try
            {
                _ = reader.ReplicaId;
            }
            catch (InvalidOperationException)
            {
                threw = true;
            }

            Assert.True(threw, "ReplicaId of v15+ must not be read before Finish");
        }
        else
        {
            Assert.Equal(3, reader.ReplicaId);
        }

        Assert.True(reader.NextTopic(out ReadOnlySpan<byte> first, out Guid firstId));
        Assert.Equal(version >= 13 ? "" : "orders", Encoding.UTF8.GetString(first));
        Assert.Equal(version >= 13 ? OrdersId : Guid.Empty, firstId);
        reader.Finish();
        Assert.Equal(body.Length, reader.Position);
        Assert.Equal(3, reader.ReplicaId);
        Assert.Equal("eu-west-1a", Encoding.UTF8.GetString(reader.RackIdUtf8));
        Assert.False(reader.NextTopic(out _, out _));
        Assert.False(reader.NextForgottenTopic(out _, out _));
    }

    [Fact]
    public void Forgotten_topics_can_be_read_without_walking_the_topics()
    {
        byte[] body = Encode(Sample(null, -1, -1, false), 12);
        var reader = new FetchRequestReader(body, 12);
        var forgotten = new List<string>();
        while (reader.NextForgottenTopic(out ReadOnlySpan<byte> name, out _))
        {
            int sum = 0;
            while (reader.NextForgottenPartition(out int p))
            {
                sum += p;
            }

            forgotten.Add($"{Encoding.UTF8.GetString(name)}:{sum}");
        }

        Assert.Equal(["gone:14", ":0"], forgotten);
        Assert.False(reader.NextTopic(out _, out _));
        reader.Finish();
        Assert.Equal(body.Length, reader.Position);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(16)]
    [InlineData(17)]
    public void Walking_a_request_allocates_nothing(short version)
    {
        byte[] body = HandEncode(Sample("c", 3, 17, true), version, extraTags: true, nullClusterIdTag: false);
        long sum = Walk(body, version); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            sum += Walk(body, version);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.NotEqual(0, sum);

        static long Walk(byte[] body, short version)
        {
            long sum = 0;
            var reader = new FetchRequestReader(body, version);
            while (reader.NextTopic(out ReadOnlySpan<byte> name, out Guid id))
            {
                sum += name.Length + id.GetHashCode();
                while (reader.NextPartition(out FetchPartition p))
                {
                    sum += p.Partition + p.FetchOffset + p.ReplicaDirectoryId.GetHashCode();
                }
            }

            while (reader.NextForgottenTopic(out _, out _))
            {
                while (reader.NextForgottenPartition(out int p))
                {
                    sum += p;
                }
            }

            reader.Finish();
            return sum + reader.ReplicaId + reader.ClusterIdUtf8.Length + reader.RackIdUtf8.Length;
        }
    }
}
