using System.Text;
using KafScale.Protocol.HotPath;
using KafScale.Protocol.Messages;

namespace KafScale.Protocol.Tests;

/// <summary>The hand-written hot paths must agree byte for byte with the generated codec.</summary>
public class HotPathTests
{
    public static TheoryData<short> ProduceVersions() => Range(ProduceRequestReader.LowestVersion, ProduceRequestReader.HighestVersion);

    public static TheoryData<short> AllProduceResponseVersions() => Range(ProduceResponse.LowestSupportedVersion, ProduceResponse.HighestSupportedVersion);

    public static TheoryData<short> AllFetchResponseVersions() => Range(FetchResponse.LowestSupportedVersion, FetchResponse.HighestSupportedVersion);

    private static TheoryData<short> Range(short lo, short hi)
    {
        var data = new TheoryData<short>();
        for (short v = lo; v <= hi; v++)
        {
            data.Add(v);
        }

        return data;
    }

    private static byte[] Records(int length, byte seed) => Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed)).ToArray();

    private static ProduceRequest SampleProduce(string? transactionalId) => new()
    {
        TransactionalId = transactionalId,
        Acks = -1,
        TimeoutMs = 1500,
        TopicData =
        [
            new()
            {
                Name = "orders",
                PartitionData =
                [
                    new() { Index = 0, Records = Records(61, 1) },
                    new() { Index = 7, Records = null },
                    new() { Index = 3, Records = Array.Empty<byte>() },
                ],
            },
            new() { Name = "empty-topic", PartitionData = [] },
            new() { Name = "ünïcode", PartitionData = [new() { Index = 2, Records = Records(300, 9) }] },
        ],
    };

    private static byte[] Encode(IKafkaMessage message, short version)
    {
        using var writer = new KafkaWriter();
        message.Write(writer, version);
        return writer.ToArray();
    }

    private static void AssertReaderMatches(ProduceRequest expected, byte[] body, short version)
    {
        var reader = new ProduceRequestReader(body, version);
        Assert.Equal(expected.TransactionalId is null, reader.TransactionalIdIsNull);
        Assert.Equal(expected.TransactionalId ?? "", Encoding.UTF8.GetString(reader.TransactionalIdUtf8));
        Assert.Equal(expected.Acks, reader.Acks);
        Assert.Equal(expected.TimeoutMs, reader.TimeoutMs);
        Assert.Equal(expected.TopicData.Count, reader.TopicCount);
        foreach (ProduceRequest.TopicProduceData topic in expected.TopicData)
        {
            Assert.True(reader.NextTopic(out ReadOnlySpan<byte> name));
            Assert.Equal(topic.Name, Encoding.UTF8.GetString(name));
            Assert.Equal(topic.PartitionData.Count, reader.PartitionCount);
            foreach (ProduceRequest.PartitionProduceData partition in topic.PartitionData)
            {
                Assert.True(reader.NextPartition(out int index, out int offset, out int length));
                Assert.Equal(partition.Index, index);
                if (partition.Records is null)
                {
                    Assert.Equal((-1, -1), (offset, length));
                }
                else
                {
                    Assert.Equal(partition.Records.Value.ToArray(), body.AsSpan(offset, length).ToArray());
                }
            }

            Assert.False(reader.NextPartition(out _, out _, out _));
        }

        Assert.False(reader.NextTopic(out _));
        Assert.Equal(body.Length, reader.Position);
    }

    [Theory]
    [MemberData(nameof(ProduceVersions))]
    public void ProduceRequestReader_sees_what_the_generated_codec_wrote(short version)
    {
        foreach (string? transactionalId in new[] { null, "tx-1" })
        {
            ProduceRequest request = SampleProduce(transactionalId);
            byte[] body = Encode(request, version);

            // The generated reader agrees with itself, so the expectation below is the decoded form.
            var decoded = new ProduceRequest();
            var generated = new KafkaReader(body);
            decoded.Read(ref generated, version);
            AssertReaderMatches(decoded, body, version);
            AssertReaderMatches(request, body, version);
        }
    }

    [Theory]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(11)]
    public void ProduceRequestReader_skips_unknown_tagged_fields_like_the_generated_codec(short version)
    {
        // Hand-built: tagged fields after each partition, after the topic and after the request.
        using var w = new KafkaWriter();
        w.WriteNullableString(null, compact: true);
        w.WriteInt16(1);
        w.WriteInt32(100);
        w.WriteArrayLength(1, compact: true);
        w.WriteString("t", compact: true);
        w.WriteArrayLength(2, compact: true);
        w.WriteInt32(0);
        w.WriteBytes(new byte[] { 1, 2, 3 }, compact: true);
        WriteUnknownTags(w, 2);
        w.WriteInt32(1);
        w.WriteBytes(new byte[] { 4 }, compact: true);
        WriteUnknownTags(w, 1);
        WriteUnknownTags(w, 3);
        WriteUnknownTags(w, 1);
        byte[] body = w.ToArray();

        var decoded = new ProduceRequest();
        var generated = new KafkaReader(body);
        decoded.Read(ref generated, version);
        Assert.Equal(0, generated.Remaining);
        Assert.Equal(new byte[] { 4 }, decoded.TopicData[0].PartitionData[1].Records!.Value.ToArray());
        AssertReaderMatches(decoded, body, version);
    }

    private static void WriteUnknownTags(KafkaWriter w, int count)
    {
        w.WriteUnsignedVarInt((uint)count);
        for (int i = 0; i < count; i++)
        {
            int mark = w.BeginTaggedField((uint)(40 + i));
            w.WriteRaw(new byte[i + 1]);
            w.EndTaggedField(mark);
        }
    }

    [Fact]
    public void ProduceRequestReader_skips_partitions_the_caller_did_not_read()
    {
        byte[] body = Encode(SampleProduce("tx"), 9);
        var reader = new ProduceRequestReader(body, 9);
        var names = new List<string>();
        while (reader.NextTopic(out ReadOnlySpan<byte> name))
        {
            names.Add(Encoding.UTF8.GetString(name));
        }

        Assert.Equal(["orders", "empty-topic", "ünïcode"], names);
        Assert.Equal(body.Length, reader.Position);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(9)]
    public void ProduceRequestReader_throws_only_KafkaProtocolException_on_every_truncation(short version)
    {
        byte[] body = Encode(SampleProduce("tx"), version);
        for (int length = 0; length < body.Length; length++)
        {
            byte[] truncated = body[..length];
            Exception? error = Record.Exception(() =>
            {
                var reader = new ProduceRequestReader(truncated, version);
                while (reader.NextTopic(out _))
                {
                    while (reader.NextPartition(out _, out _, out _))
                    {
                    }
                }
            });
            Assert.True(error is KafkaProtocolException, $"length {length}: {error?.GetType().Name ?? "no exception"}");
        }
    }

    [Fact]
    public void ProduceRequestReader_refuses_versions_below_3()
    {
        byte[] body = Encode(SampleProduce(null), 2);
        var error = Assert.Throws<KafkaProtocolException>(() => new ProduceRequestReader(body, 2));
        Assert.Equal(ErrorCode.UnsupportedVersion, error.ErrorCode);
    }

    [Fact]
    public void ProduceRequestReader_allocates_nothing()
    {
        byte[] body = Encode(SampleProduce("tx"), 9);
        long sum = 0;
        Walk(body, ref sum); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Walk(body, ref sum);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(sum > 0);

        static void Walk(byte[] body, ref long sum)
        {
            var reader = new ProduceRequestReader(body, 9);
            while (reader.NextTopic(out ReadOnlySpan<byte> name))
            {
                sum += name.Length;
                while (reader.NextPartition(out int index, out _, out int length))
                {
                    sum += index + length;
                }
            }
        }
    }

    // ---- Produce response ----------------------------------------------------------------------

    private static byte[] GeneratedFrame(IKafkaMessage body, short apiKey, short version, int correlationId)
    {
        using var writer = new KafkaWriter();
        int mark = writer.BeginSizePrefix();
        KafkaRequestHeader.WriteResponseHeader(writer, apiKey, version, correlationId);
        body.Write(writer, version);
        writer.EndSizePrefix(mark);
        return writer.ToArray();
    }

    private static ProduceResponse SampleProduceResponse(int topics) => new()
    {
        ThrottleTimeMs = 12,
        Responses = Enumerable.Range(0, topics).Select(t => new ProduceResponse.TopicProduceResponse
        {
            Name = $"topic-{t}",
            PartitionResponses = Enumerable.Range(0, t % 3).Select(p => new ProduceResponse.PartitionProduceResponse
            {
                Index = p,
                ErrorCode = (short)(p == 1 ? 6 : 0),
                BaseOffset = 1000L * t + p,
                LogAppendTimeMs = p == 0 ? -1 : 1_700_000_000_000L,
                LogStartOffset = 5,
                RecordErrors = [],
                ErrorMessage = null,
            }).ToList(),
        }).ToList(),
    };

    private static void WriteWithHotPath(ProduceResponseWriter hot, ProduceResponse response, short version, int correlationId, bool announceCount)
    {
        hot.Begin(version, correlationId, announceCount ? response.Responses.Count : -1);
        foreach (ProduceResponse.TopicProduceResponse topic in response.Responses)
        {
            hot.BeginTopic(Encoding.UTF8.GetBytes(topic.Name), topic.PartitionResponses.Count);
            foreach (ProduceResponse.PartitionProduceResponse p in topic.PartitionResponses)
            {
                hot.Partition(p.Index, p.ErrorCode, p.BaseOffset, p.LogAppendTimeMs, p.LogStartOffset);
            }

            hot.EndTopic();
        }

        hot.End(response.ThrottleTimeMs);
    }

    [Theory]
    [MemberData(nameof(AllProduceResponseVersions))]
    public void ProduceResponseWriter_matches_the_generated_ProduceResponse(short version)
    {
        foreach (int topics in new[] { 0, 1, 4, 200 })
        {
            foreach (bool announceCount in new[] { true, false })
            {
                ProduceResponse response = SampleProduceResponse(topics);
                byte[] expected = GeneratedFrame(response, ApiKeys.Produce, version, correlationId: 31);

                using var writer = new KafkaWriter(64);
                WriteWithHotPath(new ProduceResponseWriter(writer), response, version, 31, announceCount);

                Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(writer.WrittenSpan));
            }
        }
    }

    [Fact]
    public void ProduceResponseWriter_appends_frames_and_checks_its_counts()
    {
        using var writer = new KafkaWriter();
        var hot = new ProduceResponseWriter(writer);
        WriteWithHotPath(hot, SampleProduceResponse(2), 9, 1, announceCount: true);
        int first = writer.WrittenCount;
        WriteWithHotPath(hot, SampleProduceResponse(2), 9, 2, announceCount: true);
        Assert.Equal(2 * first, writer.WrittenCount);

        hot.Begin(9, 3, topicCount: 1);
        hot.BeginTopic("t"u8, partitionCount: 1);
        Assert.Throws<InvalidOperationException>(() => hot.EndTopic());
        hot.Partition(0, 0, 0);
        Assert.Throws<InvalidOperationException>(() => hot.Partition(1, 0, 0));
        hot.EndTopic();
        hot.End();
    }

    // ---- Fetch response ------------------------------------------------------------------------

    private static FetchResponse SampleFetchResponse(short version, int topics)
    {
        bool ids = version >= 13;
        return new FetchResponse
        {
            ThrottleTimeMs = version >= 1 ? 3 : 0,
            ErrorCode = 0,
            SessionId = version >= 7 ? 77 : 0,
            Responses = Enumerable.Range(0, topics).Select(t => new FetchResponse.FetchableTopicResponse
            {
                Topic = ids ? "" : $"topic-{t}",
                TopicId = ids ? new Guid(t + 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11) : Guid.Empty,
                Partitions = Enumerable.Range(0, t % 4).Select(p => new FetchResponse.PartitionData
                {
                    PartitionIndex = p,
                    ErrorCode = (short)(p == 3 ? 1 : 0),
                    HighWatermark = 500 + p,
                    LastStableOffset = version >= 4 ? 499 + p : -1,
                    LogStartOffset = version >= 5 ? 10 : -1,
                    AbortedTransactions = version >= 4 ? null : [],
                    PreferredReadReplica = version >= 11 ? (p == 2 ? 4 : -1) : -1,
                    Records = p switch
                    {
                        0 => Records(1000 + t, (byte)t),
                        1 => ReadOnlyMemory<byte>.Empty,
                        2 => null,
                        _ => Records(3, 1),
                    },
                }).ToList(),
            }).ToList(),
        };
    }

    private static void WriteWithHotPath(FetchResponseWriter hot, FetchResponse response, short version, int correlationId, bool announceCount)
    {
        hot.Begin(version, correlationId, response.ThrottleTimeMs, response.ErrorCode, response.SessionId, announceCount ? response.Responses.Count : -1);
        foreach (FetchResponse.FetchableTopicResponse topic in response.Responses)
        {
            if (version >= 13)
            {
                hot.BeginTopic(topic.TopicId, topic.Partitions.Count);
            }
            else
            {
                hot.BeginTopic(Encoding.UTF8.GetBytes(topic.Topic), topic.Partitions.Count);
            }

            foreach (FetchResponse.PartitionData p in topic.Partitions)
            {
                int length = p.Records?.Length ?? -1;
                hot.Partition(p.PartitionIndex, p.ErrorCode, p.HighWatermark, p.LastStableOffset, p.LogStartOffset, p.PreferredReadReplica, length);
                if (p.Records is { } records)
                {
                    // In pieces, as a broker copies batches from several segments.
                    int half = records.Length / 2;
                    hot.WriteRecords(records.Span[..half]);
                    hot.WriteRecords(records.Span[half..]);
                }
            }

            hot.EndTopic();
        }

        hot.End();
    }

    [Theory]
    [MemberData(nameof(AllFetchResponseVersions))]
    public void FetchResponseWriter_matches_the_generated_FetchResponse(short version)
    {
        foreach (int topics in new[] { 0, 1, 5, 130 })
        {
            foreach (bool announceCount in new[] { true, false })
            {
                FetchResponse response = SampleFetchResponse(version, topics);
                byte[] expected = GeneratedFrame(response, ApiKeys.Fetch, version, correlationId: 8);

                using var writer = new KafkaWriter(64);
                WriteWithHotPath(new FetchResponseWriter(writer), response, version, 8, announceCount);

                Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(writer.WrittenSpan));

                // And the generated reader reads it back as the same response.
                var decoded = new FetchResponse();
                var reader = new KafkaReader(writer.WrittenMemory[(4 + (version >= 12 ? 5 : 4))..]);
                decoded.Read(ref reader, version);
                Assert.Null(Support.DeepCompare.FirstDifference(response, decoded));
            }
        }
    }

    [Fact]
    public void FetchResponseWriter_enforces_the_announced_record_length_and_topic_identity()
    {
        using var writer = new KafkaWriter();
        var hot = new FetchResponseWriter(writer);
        hot.Begin(16, 1, 0, 0, 0, topicCount: 1);
        Assert.Throws<InvalidOperationException>(() => hot.BeginTopic("by-name"u8, 1));
        hot.BeginTopic(Guid.NewGuid(), partitionCount: 1);
        hot.Partition(0, 0, 0, 0, 0, -1, recordsLength: 4);
        hot.WriteRecords(new byte[3]);
        Assert.Throws<InvalidOperationException>(() => hot.WriteRecords(new byte[2]));
        Assert.Throws<InvalidOperationException>(() => hot.EndTopic());
        hot.WriteRecords(new byte[1]);
        hot.EndTopic();
        hot.End();
    }

    [Fact]
    public void Response_writers_allocate_nothing_once_warm()
    {
        using var writer = new KafkaWriter();
        var fetch = new FetchResponseWriter(writer);
        var produce = new ProduceResponseWriter(writer);
        byte[] records = Records(4096, 3);
        byte[] topic = Encoding.UTF8.GetBytes("orders");

        void Once()
        {
            writer.Reset();
            fetch.Begin(12, 1, 0, 0, 0);
            fetch.BeginTopic(topic, 8);
            for (int p = 0; p < 8; p++)
            {
                fetch.Partition(p, 0, 100, 100, 0, -1, records.Length);
                fetch.WriteRecords(records);
            }

            fetch.EndTopic();
            fetch.End();
            produce.Begin(9, 2, 1);
            produce.BeginTopic(topic, 8);
            for (int p = 0; p < 8; p++)
            {
                produce.Partition(p, 0, 42, -1, 0);
            }

            produce.EndTopic();
            produce.End();
        }

        Once();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            Once();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
