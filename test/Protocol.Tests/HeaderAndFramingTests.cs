using System.Buffers;
using KafScale.Protocol.Messages;

namespace KafScale.Protocol.Tests;

public class HeaderAndFramingTests
{
    [Theory]
    [InlineData(ApiKeys.Produce, 8, 1)]
    [InlineData(ApiKeys.Produce, 9, 2)]
    [InlineData(ApiKeys.Fetch, 11, 1)]
    [InlineData(ApiKeys.Fetch, 12, 2)]
    [InlineData(ApiKeys.Metadata, 8, 1)]
    [InlineData(ApiKeys.Metadata, 9, 2)]
    [InlineData(ApiKeys.ApiVersions, 2, 1)]
    [InlineData(ApiKeys.ApiVersions, 3, 2)]
    [InlineData(ApiKeys.ApiVersions, 99, 2)]
    [InlineData(ApiKeys.SaslHandshake, 1, 1)]
    [InlineData(7, 0, 0)] // ControlledShutdown v0, the one request with header v0
    [InlineData(7, 1, 1)]
    [InlineData(999, 0, 1)]
    public void Request_header_version_follows_flexibility(short apiKey, short version, short expected)
    {
        Assert.Equal(expected, ApiKeys.RequestHeaderVersion(apiKey, version));
    }

    [Theory]
    [InlineData(ApiKeys.Produce, 8, 0)]
    [InlineData(ApiKeys.Produce, 9, 1)]
    [InlineData(ApiKeys.Fetch, 12, 1)]
    [InlineData(ApiKeys.Metadata, 12, 1)]
    [InlineData(ApiKeys.ApiVersions, 0, 0)]
    [InlineData(ApiKeys.ApiVersions, 3, 0)] // always v0, even when the request was flexible
    [InlineData(ApiKeys.ApiVersions, 4, 0)]
    [InlineData(ApiKeys.SaslHandshake, 1, 0)]
    public void Response_header_version_follows_flexibility_except_for_ApiVersions(short apiKey, short version, short expected)
    {
        Assert.Equal(expected, ApiKeys.ResponseHeaderVersion(apiKey, version));
    }

    [Fact]
    public void Header_v1_has_a_nullable_client_id_and_no_tagged_fields()
    {
        byte[] frame = Convert.FromHexString("0000" + "0008" + "0000002A" + "FFFF" + "AB");
        KafkaRequestHeader header = KafkaRequestHeader.Parse(frame);
        Assert.Equal(ApiKeys.Produce, header.ApiKey);
        Assert.Equal(8, header.ApiVersion);
        Assert.Equal(42, header.CorrelationId);
        Assert.Equal(1, header.HeaderVersion);
        Assert.True(header.ClientIdIsNull);
        Assert.Null(header.GetClientId(frame));
        Assert.Equal(10, header.BodyOffset);
    }

    [Fact]
    public void Header_v2_skips_its_tagged_fields()
    {
        // Metadata v12, client id "c", one unknown tagged field (tag 5, 2 bytes).
        byte[] frame = Convert.FromHexString("0003" + "000C" + "00000001" + "0001" + "63" + "01" + "05" + "02" + "BEEF" + "00");
        KafkaRequestHeader header = KafkaRequestHeader.Parse(frame);
        Assert.Equal(2, header.HeaderVersion);
        Assert.Equal("c", header.GetClientId(frame));
        Assert.True(header.ClientIdUtf8(frame).SequenceEqual("c"u8));
        Assert.Equal(frame.Length - 1, header.BodyOffset);
    }

    [Fact]
    public void The_generated_RequestHeader_agrees_with_the_frame_parser()
    {
        for (short headerVersion = 1; headerVersion <= 2; headerVersion++)
        {
            using var writer = new KafkaWriter();
            short apiVersion = headerVersion == 2 ? (short)12 : (short)8;
            new RequestHeader { RequestApiKey = 3, RequestApiVersion = apiVersion, CorrelationId = 77, ClientId = "client-é" }.Write(writer, headerVersion);
            writer.WriteInt32(0x5A5A5A5A);
            byte[] frame = writer.ToArray();

            KafkaRequestHeader header = KafkaRequestHeader.Parse(frame);
            Assert.Equal(headerVersion, header.HeaderVersion);
            Assert.Equal(77, header.CorrelationId);
            Assert.Equal("client-é", header.GetClientId(frame));
            Assert.Equal(frame.Length - 4, header.BodyOffset);
        }
    }

    [Fact]
    public void A_truncated_header_throws_KafkaProtocolException_but_the_fixed_part_can_still_be_read()
    {
        byte[] frame = Convert.FromHexString("0012" + "0003" + "00000005" + "0009" + "6162");
        for (int length = 0; length < frame.Length; length++)
        {
            byte[] truncated = frame[..length];
            Assert.Throws<KafkaProtocolException>(() => KafkaRequestHeader.Parse(truncated));
        }

        Assert.True(KafkaRequestHeader.TryReadFixedPart(frame, out short apiKey, out short apiVersion, out int correlationId));
        Assert.Equal((18, 3, 5), (apiKey, apiVersion, correlationId));
        Assert.False(KafkaRequestHeader.TryReadFixedPart(frame.AsSpan(0, 7), out _, out _, out _));
    }

    [Fact]
    public void Response_header_is_the_correlation_id_plus_tagged_fields_when_flexible()
    {
        using var writer = new KafkaWriter();
        KafkaRequestHeader.WriteResponseHeader(writer, ApiKeys.Metadata, 12, 5);
        KafkaRequestHeader.WriteResponseHeader(writer, ApiKeys.ApiVersions, 3, 6);
        KafkaRequestHeader.WriteResponseHeader(writer, ApiKeys.Metadata, 8, 7);
        Assert.Equal("00000005" + "00" + "00000006" + "00000007", Convert.ToHexString(writer.WrittenSpan));
    }

    // ---- framing ------------------------------------------------------------------------------

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] data, Segment? previous)
        {
            Memory = data;
            if (previous is not null)
            {
                previous.Next = this;
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
            }
        }
    }

    private static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
    {
        var parts = new List<byte[]>();
        int start = 0;
        foreach (int cut in cuts.Append(bytes.Length))
        {
            parts.Add(bytes[start..cut]);
            start = cut;
        }

        var first = new Segment(parts[0], null);
        Segment last = first;
        foreach (byte[] part in parts.Skip(1))
        {
            last = new Segment(part, last);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    [Fact]
    public void Frames_are_read_across_segments_and_the_buffer_advances()
    {
        byte[] two = Convert.FromHexString("00000003" + "AABBCC" + "00000001" + "DD" + "0000");
        ReadOnlySequence<byte> buffer = Split(two, 2, 5, 9);

        Assert.Equal(FrameResult.Ok, KafkaFraming.TryReadFrame(ref buffer, 100, out ReadOnlySequence<byte> frame));
        Assert.Equal(new byte[] { 0xAA, 0xBB, 0xCC }, frame.ToArray());
        Assert.Equal(FrameResult.Ok, KafkaFraming.TryReadFrame(ref buffer, 100, out frame));
        Assert.Equal(new byte[] { 0xDD }, frame.ToArray());
        Assert.Equal(FrameResult.NeedMoreData, KafkaFraming.TryReadFrame(ref buffer, 100, out _));
        Assert.Equal(2, buffer.Length); // the partial size prefix stays buffered
    }

    [Fact]
    public void Incomplete_frames_need_more_data_and_consume_nothing()
    {
        ReadOnlySequence<byte> buffer = new(Convert.FromHexString("00000005" + "0102"));
        Assert.Equal(FrameResult.NeedMoreData, KafkaFraming.TryReadFrame(ref buffer, 100, out _));
        Assert.Equal(6, buffer.Length);
    }

    [Fact]
    public void Oversized_and_negative_sizes_are_reported_before_waiting_for_the_body()
    {
        ReadOnlySequence<byte> big = new(Convert.FromHexString("00100000"));
        Assert.Equal(FrameResult.TooLarge, KafkaFraming.TryReadFrame(ref big, 1024, out _));
        ReadOnlySequence<byte> negative = new(Convert.FromHexString("FFFFFFF0"));
        Assert.Equal(FrameResult.Invalid, KafkaFraming.TryReadFrame(ref negative, 1024, out _));
        Assert.Equal(0x100000, KafkaFraming.PeekFrameSize(big));
    }

    [Fact]
    public void A_multi_segment_frame_is_copied_into_a_rented_array_and_a_single_segment_is_not()
    {
        byte[] bytes = Convert.FromHexString("00000004" + "01020304");
        ReadOnlySequence<byte> split = Split(bytes, 6);
        Assert.Equal(FrameResult.Ok, KafkaFraming.TryReadFrame(ref split, 100, out ReadOnlySequence<byte> frame));
        ReadOnlyMemory<byte> memory = KafkaFraming.ToContiguous(frame, ArrayPool<byte>.Shared, out byte[]? rented);
        Assert.NotNull(rented);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, memory.ToArray());
        ArrayPool<byte>.Shared.Return(rented);

        ReadOnlySequence<byte> whole = new(bytes);
        Assert.Equal(FrameResult.Ok, KafkaFraming.TryReadFrame(ref whole, 100, out frame));
        memory = KafkaFraming.ToContiguous(frame, ArrayPool<byte>.Shared, out rented);
        Assert.Null(rented);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(memory, out ArraySegment<byte> segment));
        Assert.Same(bytes, segment.Array);
    }

    [Fact]
    public void An_empty_frame_is_a_frame()
    {
        ReadOnlySequence<byte> buffer = new(new byte[4]);
        Assert.Equal(FrameResult.Ok, KafkaFraming.TryReadFrame(ref buffer, 100, out ReadOnlySequence<byte> frame));
        Assert.True(frame.IsEmpty);
        Assert.True(buffer.IsEmpty);
    }
}
