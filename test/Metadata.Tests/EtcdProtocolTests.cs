using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using KafScale.Metadata.Etcd;
using Pb = KafScale.Metadata.Etcd.Protocol;
using R = KafScale.Metadata.Tests.Reference;

namespace KafScale.Metadata.Tests;

/// <summary>
/// The hand-written protobuf code in Etcd/Protocol against Google.Protobuf's classes generated
/// from the same .proto files: for random and representative messages, our bytes decode with
/// Google.Protobuf into an equal message and are the very bytes it writes; its bytes (plain,
/// concatenated, cut short, or laced with unknown fields at every depth) decode with ours into
/// equal values, or fail exactly where it fails.
/// </summary>
public sealed class EtcdProtocolTests
{
    private const int Iterations = 300;

    private static byte[] U(string s) => Encoding.UTF8.GetBytes(s);

    private static ByteString Bs(string s) => ByteString.CopyFromUtf8(s);

    // ---- random messages, both directions, every message type ----

    [Fact] public void Random_KeyValue() => Equivalent(ProtoGen.KeyValue, m => ToReference.Of(m)!, R.KeyValue.Parser);
    [Fact] public void Random_Event() => Equivalent(ProtoGen.Event, ToReference.Of, R.Event.Parser);
    [Fact] public void Random_ResponseHeader() => Equivalent(ProtoGen.Header, m => ToReference.Of(m)!, R.ResponseHeader.Parser);
    [Fact] public void Random_RangeRequest() => Equivalent(ProtoGen.RangeRequest, ToReference.Of, R.RangeRequest.Parser);
    [Fact] public void Random_RangeResponse() => Equivalent(ProtoGen.RangeResponse, ToReference.Of, R.RangeResponse.Parser);
    [Fact] public void Random_PutRequest() => Equivalent(ProtoGen.PutRequest, ToReference.Of, R.PutRequest.Parser);
    [Fact] public void Random_PutResponse() => Equivalent(ProtoGen.PutResponse, ToReference.Of, R.PutResponse.Parser);
    [Fact] public void Random_DeleteRangeRequest() => Equivalent(ProtoGen.DeleteRangeRequest, ToReference.Of, R.DeleteRangeRequest.Parser);
    [Fact] public void Random_DeleteRangeResponse() => Equivalent(ProtoGen.DeleteRangeResponse, ToReference.Of, R.DeleteRangeResponse.Parser);
    [Fact] public void Random_RequestOp() => Equivalent(ProtoGen.RequestOp, ToReference.Of, R.RequestOp.Parser);
    [Fact] public void Random_ResponseOp() => Equivalent(ProtoGen.ResponseOp, ToReference.Of, R.ResponseOp.Parser);
    [Fact] public void Random_Compare() => Equivalent(ProtoGen.Compare, ToReference.Of, R.Compare.Parser);
    [Fact] public void Random_TxnRequest() => Equivalent(ProtoGen.TxnRequest, ToReference.Of, R.TxnRequest.Parser);
    [Fact] public void Random_TxnResponse() => Equivalent(ProtoGen.TxnResponse, ToReference.Of, R.TxnResponse.Parser);
    [Fact] public void Random_WatchRequest() => Equivalent(ProtoGen.WatchRequest, ToReference.Of, R.WatchRequest.Parser);
    [Fact] public void Random_WatchCreateRequest() => Equivalent(ProtoGen.WatchCreateRequest, ToReference.Of, R.WatchCreateRequest.Parser);
    [Fact] public void Random_WatchCancelRequest() => Equivalent(ProtoGen.WatchCancelRequest, ToReference.Of, R.WatchCancelRequest.Parser);
    [Fact] public void Random_WatchProgressRequest() => Equivalent(ProtoGen.WatchProgressRequest, ToReference.Of, R.WatchProgressRequest.Parser);
    [Fact] public void Random_WatchResponse() => Equivalent(ProtoGen.WatchResponse, ToReference.Of, R.WatchResponse.Parser);
    [Fact] public void Random_LeaseGrantRequest() => Equivalent(ProtoGen.LeaseGrantRequest, ToReference.Of, R.LeaseGrantRequest.Parser);
    [Fact] public void Random_LeaseGrantResponse() => Equivalent(ProtoGen.LeaseGrantResponse, ToReference.Of, R.LeaseGrantResponse.Parser);
    [Fact] public void Random_LeaseRevokeRequest() => Equivalent(ProtoGen.LeaseRevokeRequest, ToReference.Of, R.LeaseRevokeRequest.Parser);
    [Fact] public void Random_LeaseRevokeResponse() => Equivalent(ProtoGen.LeaseRevokeResponse, ToReference.Of, R.LeaseRevokeResponse.Parser);
    [Fact] public void Random_LeaseKeepAliveRequest() => Equivalent(ProtoGen.LeaseKeepAliveRequest, ToReference.Of, R.LeaseKeepAliveRequest.Parser);
    [Fact] public void Random_LeaseKeepAliveResponse() => Equivalent(ProtoGen.LeaseKeepAliveResponse, ToReference.Of, R.LeaseKeepAliveResponse.Parser);
    [Fact] public void Random_AuthenticateRequest() => Equivalent(ProtoGen.AuthenticateRequest, ToReference.Of, R.AuthenticateRequest.Parser);
    [Fact] public void Random_AuthenticateResponse() => Equivalent(ProtoGen.AuthenticateResponse, ToReference.Of, R.AuthenticateResponse.Parser);

    private static void Equivalent<TOurs, TRef>(Func<ProtoGen, TOurs> generate, Func<TOurs, TRef> toReference, MessageParser<TRef> parser)
        where TOurs : Pb.IProtoMessage, new()
        where TRef : IMessage<TRef>
    {
        int seedBase = StableSeed(typeof(TOurs).Name);
        for (int i = 0; i < Iterations; i++)
        {
            int seed = seedBase + i;
            try
            {
                var g = new ProtoGen(seed);
                TOurs ours = generate(g);
                TRef expected = toReference(ours);

                // Ours -> Google: decodes into an equal message, and is byte for byte what Google writes.
                byte[] ourBytes = Pb.ProtoMessage.ToByteArray(ours);
                byte[] googleBytes = expected.ToByteArray();
                Assert.Equal(expected, parser.ParseFrom(ourBytes));
                Assert.Equal(googleBytes, ourBytes);
                Assert.Equal(expected.CalculateSize(), ours.CalculateSize());

                // Google -> ours: equal values, also when read from the middle of a larger buffer.
                Assert.Equal(expected, toReference(Pb.ProtoMessage.Parse<TOurs>(googleBytes)));
                var padded = new byte[googleBytes.Length + 7];
                googleBytes.CopyTo(padded, 3);
                Assert.Equal(expected, toReference(Pb.ProtoMessage.Parse<TOurs>(padded.AsMemory(3, googleBytes.Length))));

                // Two messages back to back merge (last scalar wins, lists append, messages merge, oneofs switch).
                TRef other = toReference(generate(g));
                byte[] both = [.. googleBytes, .. other.ToByteArray()];
                Assert.Equal(parser.ParseFrom(both), toReference(Pb.ProtoMessage.Parse<TOurs>(both)));

                // Unknown fields of every wire type, at the top and inside nested messages, are skipped.
                byte[] laced = WithUnknownFields(googleBytes, expected.Descriptor, g);
                Assert.Equal(expected, toReference(Pb.ProtoMessage.Parse<TOurs>(laced)));

                // Cut short: ours fails exactly where Google.Protobuf does, and agrees where both succeed.
                AgreeOnPrefixes(googleBytes, toReference, parser, g);
            }
            catch (Exception ex)
            {
                throw new InvalidOperationException($"{typeof(TOurs).Name}, seed {seed}: {ex.Message}", ex);
            }
        }
    }

    private static void AgreeOnPrefixes<TOurs, TRef>(byte[] bytes, Func<TOurs, TRef> toReference, MessageParser<TRef> parser, ProtoGen g)
        where TOurs : Pb.IProtoMessage, new()
        where TRef : IMessage<TRef>
    {
        int checks = Math.Min(bytes.Length, 48);
        for (int c = 0; c < checks; c++)
        {
            int length = bytes.Length <= 48 ? c : g.Next(bytes.Length);
            ReadOnlyMemory<byte> prefix = bytes.AsMemory(0, length);
            TRef? theirs = default;
            try
            {
                theirs = parser.ParseFrom(prefix.ToArray());
            }
            catch (InvalidProtocolBufferException)
            {
            }
            TOurs? ours = default;
            try
            {
                ours = Pb.ProtoMessage.Parse<TOurs>(prefix);
            }
            catch (Pb.InvalidProtobufException)
            {
            }
            Assert.True((theirs is null) == (ours is null), $"prefix of {length} of {bytes.Length} bytes: Google {(theirs is null ? "failed" : "parsed")}, ours {(ours is null ? "failed" : "parsed")}");
            if (theirs is not null) Assert.Equal(theirs, toReference(ours!));
        }
    }

    /// <summary>
    /// Copies a message field by field, putting unknown fields before, between and after them,
    /// and recursing into every nested message (found through the reference's descriptor).
    /// </summary>
    private static byte[] WithUnknownFields(byte[] message, MessageDescriptor descriptor, ProtoGen g)
    {
        using var buffer = new MemoryStream();
        var output = new CodedOutputStream(buffer, leaveOpen: true);
        var input = new CodedInputStream(message);
        WriteJunk(output, descriptor, g);
        while (true)
        {
            long start = input.Position;
            uint tag = input.ReadTag();
            if (tag == 0) break;
            FieldDescriptor? field = descriptor.FindFieldByNumber(WireFormat.GetTagFieldNumber(tag));
            if (field is { FieldType: FieldType.Message } && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                byte[] inner = WithUnknownFields(input.ReadBytes().ToByteArray(), field.MessageType, g);
                output.WriteTag(tag);
                output.WriteBytes(ByteString.CopyFrom(inner));
            }
            else
            {
                input.SkipLastField();
                output.Flush();
                buffer.Write(message, (int)start, (int)(input.Position - start));
            }
            WriteJunk(output, descriptor, g);
        }
        output.Flush();
        return buffer.ToArray();
    }

    private static void WriteJunk(CodedOutputStream output, MessageDescriptor descriptor, ProtoGen g)
    {
        if (!g.Chance(60)) return;
        switch (g.Next(9))
        {
            case 0: // an unknown varint, 1-byte tag
                output.WriteTag(15, WireFormat.WireType.Varint);
                output.WriteUInt64(150);
                break;
            case 1: // an unknown 10-byte varint, 2-byte tag
                output.WriteTag(16, WireFormat.WireType.Varint);
                output.WriteUInt64(ulong.MaxValue);
                break;
            case 2: // fixed64 on field 2: no field here is fixed64, so a declared number with a foreign wire type
                output.WriteTag(2, WireFormat.WireType.Fixed64);
                output.WriteFixed64(0x0102030405060708);
                break;
            case 3: // fixed32 on field 1, likewise
                output.WriteTag(1, WireFormat.WireType.Fixed32);
                output.WriteFixed32(0xDEADBEEF);
                break;
            case 4: // length-delimited on the highest field number (5-byte tag)
                output.WriteTag(536_870_911, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(ByteString.CopyFrom(new byte[] { 0x08, 0x96, 0x01, 0xFF }));
                break;
            case 5: // a group holding a varint and a nested group
                output.WriteTag(20, WireFormat.WireType.StartGroup);
                output.WriteTag(1, WireFormat.WireType.Varint);
                output.WriteUInt64(5);
                output.WriteTag(21, WireFormat.WireType.StartGroup);
                output.WriteTag(2, WireFormat.WireType.LengthDelimited);
                output.WriteBytes(Bs("in a group"));
                output.WriteTag(21, WireFormat.WireType.EndGroup);
                output.WriteTag(20, WireFormat.WireType.EndGroup);
                break;
            case 6 or 7: // one of this message's own field numbers with the other wire type
                IList<FieldDescriptor> fields = descriptor.Fields.InFieldNumberOrder();
                if (fields.Count == 0) break;
                FieldDescriptor field = fields[g.Next(fields.Count)];
                if (field.FieldType is FieldType.Bytes or FieldType.String or FieldType.Message)
                {
                    output.WriteTag(field.FieldNumber, WireFormat.WireType.Varint);
                    output.WriteUInt64(7);
                }
                else
                {
                    output.WriteTag(field.FieldNumber, WireFormat.WireType.LengthDelimited);
                    output.WriteBytes(Bs("x"));
                }
                break;
            default: // an empty group on field 1
                output.WriteTag(1, WireFormat.WireType.StartGroup);
                output.WriteTag(1, WireFormat.WireType.EndGroup);
                break;
        }
    }

    private static int StableSeed(string name)
    {
        int seed = 17;
        foreach (char c in name) seed = unchecked(seed * 31 + c);
        return seed & 0x0FFF_FFFF;
    }

    // ---- the bytes themselves, worked out by hand from the encoding spec ----

    [Fact]
    public void Fields_are_tagged_varints_and_length_prefixed_bytes()
    {
        var put = new Pb.PutRequest { Key = U("a"), Value = U("b"), Lease = 300 };
        Assert.Equal(new byte[] { 0x0A, 0x01, 0x61, 0x12, 0x01, 0x62, 0x18, 0xAC, 0x02 }, Pb.ProtoMessage.ToByteArray(put));
    }

    [Fact]
    public void A_negative_int64_takes_ten_bytes()
    {
        var keepAlive = new Pb.LeaseKeepAliveRequest { ID = -1 };
        Assert.Equal(new byte[] { 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, Pb.ProtoMessage.ToByteArray(keepAlive));
        Assert.Equal(-1, Pb.ProtoMessage.Parse<Pb.LeaseKeepAliveRequest>(Pb.ProtoMessage.ToByteArray(keepAlive)).ID);
    }

    [Fact]
    public void A_oneof_member_set_to_zero_is_written_and_field_64_has_a_two_byte_tag()
    {
        var compare = new Pb.Compare { Target = Pb.CompareTarget.Create, Key = U("k"), CreateRevision = 0, RangeEnd = U("z") };
        Assert.Equal(new byte[] { 0x10, 0x01, 0x1A, 0x01, 0x6B, 0x28, 0x00, 0x82, 0x04, 0x01, 0x7A }, Pb.ProtoMessage.ToByteArray(compare));
        var decoded = Pb.ProtoMessage.Parse<Pb.Compare>(Pb.ProtoMessage.ToByteArray(compare));
        Assert.Equal(Pb.CompareTargetUnionCase.CreateRevision, decoded.TargetUnionCase);
        Assert.Equal(U("z"), decoded.RangeEnd.ToArray());
    }

    [Fact]
    public void An_empty_nested_message_is_written_but_an_absent_one_is_not()
    {
        Assert.Equal(new byte[] { 0x0A, 0x00 }, Pb.ProtoMessage.ToByteArray(new Pb.WatchRequest { CreateRequest = new Pb.WatchCreateRequest() }));
        Assert.Empty(Pb.ProtoMessage.ToByteArray(new Pb.WatchRequest()));
        Assert.Empty(Pb.ProtoMessage.ToByteArray(new Pb.PutResponse()));
        Assert.NotNull(Pb.ProtoMessage.Parse<Pb.PutResponse>(new byte[] { 0x0A, 0x00 }).Header);
        Assert.Null(Pb.ProtoMessage.Parse<Pb.PutResponse>(Array.Empty<byte>()).Header);
    }

    [Fact]
    public void Nested_and_repeated_messages_decode_from_hand_written_bytes()
    {
        // header { revision: 5 }, kvs { key: "hi" value: "" }, kvs { key: "yo" mod_revision: 1 }, count: 2
        byte[] bytes = [0x0A, 0x02, 0x18, 0x05, 0x12, 0x04, 0x0A, 0x02, 0x68, 0x69, 0x12, 0x06, 0x0A, 0x02, 0x79, 0x6F, 0x18, 0x01, 0x20, 0x02];
        var response = Pb.ProtoMessage.Parse<Pb.RangeResponse>(bytes);
        Assert.Equal(5, response.Header!.Revision);
        Assert.Equal(2, response.Count);
        Assert.Equal(["hi", "yo"], response.Kvs.Select(kv => Encoding.UTF8.GetString(kv.Key.Span)));
        Assert.Equal(1, response.Kvs[1].ModRevision);
        Assert.True(response.Kvs[0].Value.IsEmpty);
    }

    [Fact]
    public void Varint_sizes_match_at_every_seven_bit_boundary()
    {
        for (int bits = 0; bits <= 64; bits++)
        {
            foreach (ulong value in new[] { bits == 64 ? ulong.MaxValue : (1UL << bits) - 1, bits < 64 ? 1UL << bits : ulong.MaxValue })
            {
                Assert.Equal(CodedOutputStream.ComputeUInt64Size(value), Pb.ProtoSize.Varint(value));
                var header = new Pb.ResponseHeader { ClusterId = value };
                Assert.Equal(new R.ResponseHeader { ClusterId = value }.ToByteArray(), Pb.ProtoMessage.ToByteArray(header));
                Assert.Equal(value, Pb.ProtoMessage.Parse<Pb.ResponseHeader>(Pb.ProtoMessage.ToByteArray(header)).ClusterId);
            }
        }
    }

    // ---- malformed input fails cleanly, where Google.Protobuf fails too ----

    public static TheoryData<string, byte[]> Malformed => new()
    {
        { "tag without a value", [0x08] },
        { "varint of 11 bytes", [0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01] },
        { "field number 0", [0x00, 0x01] },
        { "wire type 6", [0x0E, 0x01] },
        { "wire type 7", [0x0F, 0x01] },
        { "end group never started", [0x0C] },
        { "group never ended", [0x0B, 0x10, 0x01] },
        { "group ended by another group's end", [0x0B, 0x14] },
        { "length past the end", [0x0A, 0x05, 0x61] },
        { "length of 2^32", [0x0A, 0x80, 0x80, 0x80, 0x80, 0x10, 0x61] },
        { "truncated fixed32", [0x0D, 0x01, 0x02] },
        { "truncated fixed64", [0x09, 0x01, 0x02, 0x03] },
        { "truncated nested message", [0x0A, 0x02, 0x12, 0x05] },
        { "1000 nested groups", [.. Enumerable.Repeat((byte)0xA3, 1000).SelectMany(b => new byte[] { b, 0x06 }), .. Enumerable.Repeat((byte)0xA4, 1000).SelectMany(b => new byte[] { b, 0x06 })] },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_messages_are_rejected_by_both(string what, byte[] bytes)
    {
        Assert.NotNull(what);
        // A message whose field 1 is a nested message, so that nesting is exercised too.
        Assert.Throws<InvalidProtocolBufferException>(() => R.PutResponse.Parser.ParseFrom(bytes));
        var error = Assert.Throws<Pb.InvalidProtobufException>(() => Pb.ProtoMessage.Parse<Pb.PutResponse>(bytes));
        Assert.IsAssignableFrom<IOException>(error);
    }

    [Fact]
    public void A_few_nested_unknown_groups_are_skipped()
    {
        // group 100 { group 100 { group 100 { } } } then header { revision: 9 }
        byte[] open = [0xA3, 0x06], close = [0xA4, 0x06];
        byte[] bytes = [.. open, .. open, .. open, .. close, .. close, .. close, 0x0A, 0x02, 0x18, 0x09];
        Assert.Equal(9, R.PutResponse.Parser.ParseFrom(bytes).Header.Revision);
        Assert.Equal(9, Pb.ProtoMessage.Parse<Pb.PutResponse>(bytes).Header!.Revision);
    }

    // ---- what the store sends, decoded by Google.Protobuf, against messages built by hand ----

    [Fact]
    public void The_stores_txn_request_is_what_etcd_expects()
    {
        var request = new TxnRequest(
            [
                KafScale.Metadata.Compare.KeyMissing("/a"),
                KafScale.Metadata.Compare.ValueEquals("/b", U("v")),
                KafScale.Metadata.Compare.ModRevisionEquals("/c", 42),
                new KafScale.Metadata.Compare("/d", CompareTarget.Version, CompareResult.Greater, 3),
                new KafScale.Metadata.Compare("/e", CompareTarget.Lease, CompareResult.NotEqual, 0),
                new KafScale.Metadata.Compare("/f", CompareTarget.Value, CompareResult.Less, 0, []),
            ],
            [TxnOp.Put("/a", U("x"), 7_587_862_311_443_265_811), TxnOp.Delete("/b"), TxnOp.DeletePrefix("/p/"), TxnOp.Get("/c"), TxnOp.GetPrefix("/q/")],
            [TxnOp.GetPrefix(""), TxnOp.Put("/é", [])]);

        var expected = new R.TxnRequest();
        expected.Compare.Add(new R.Compare { Key = Bs("/a"), Target = R.Compare.Types.CompareTarget.Create, Result = R.Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        expected.Compare.Add(new R.Compare { Key = Bs("/b"), Target = R.Compare.Types.CompareTarget.Value, Result = R.Compare.Types.CompareResult.Equal, Value = Bs("v") });
        expected.Compare.Add(new R.Compare { Key = Bs("/c"), Target = R.Compare.Types.CompareTarget.Mod, Result = R.Compare.Types.CompareResult.Equal, ModRevision = 42 });
        expected.Compare.Add(new R.Compare { Key = Bs("/d"), Target = R.Compare.Types.CompareTarget.Version, Result = R.Compare.Types.CompareResult.Greater, Version = 3 });
        expected.Compare.Add(new R.Compare { Key = Bs("/e"), Target = R.Compare.Types.CompareTarget.Lease, Result = R.Compare.Types.CompareResult.NotEqual, Lease = 0 });
        expected.Compare.Add(new R.Compare { Key = Bs("/f"), Target = R.Compare.Types.CompareTarget.Value, Result = R.Compare.Types.CompareResult.Less, Value = ByteString.Empty });
        expected.Success.Add(new R.RequestOp { RequestPut = new R.PutRequest { Key = Bs("/a"), Value = Bs("x"), Lease = 7_587_862_311_443_265_811 } });
        expected.Success.Add(new R.RequestOp { RequestDeleteRange = new R.DeleteRangeRequest { Key = Bs("/b") } });
        expected.Success.Add(new R.RequestOp { RequestDeleteRange = new R.DeleteRangeRequest { Key = Bs("/p/"), RangeEnd = Bs("/p0") } });
        expected.Success.Add(new R.RequestOp { RequestRange = new R.RangeRequest { Key = Bs("/c") } });
        expected.Success.Add(new R.RequestOp { RequestRange = new R.RangeRequest { Key = Bs("/q/"), RangeEnd = Bs("/q0") } });
        expected.Failure.Add(new R.RequestOp { RequestRange = new R.RangeRequest { Key = ByteString.CopyFrom(0), RangeEnd = ByteString.CopyFrom(0) } });
        expected.Failure.Add(new R.RequestOp { RequestPut = new R.PutRequest { Key = Bs("/é") } });

        byte[] ours = Pb.ProtoMessage.ToByteArray(EtcdMetadataStore.ToProto(request));
        Assert.Equal(expected, R.TxnRequest.Parser.ParseFrom(ours));
        Assert.Equal(expected.ToByteArray(), ours);
    }

    [Fact]
    public void Requests_as_the_store_builds_them_are_what_etcd_expects()
    {
        (byte[] key, ReadOnlyMemory<byte> end) = EtcdKeys.Prefix("/kafscale/brokers/");
        var watch = new Pb.WatchRequest { CreateRequest = new Pb.WatchCreateRequest { Key = key, RangeEnd = end, StartRevision = 1234, ProgressNotify = true } };
        Assert.Equal(
            new R.WatchRequest { CreateRequest = new R.WatchCreateRequest { Key = Bs("/kafscale/brokers/"), RangeEnd = Bs("/kafscale/brokers0"), StartRevision = 1234, ProgressNotify = true } },
            R.WatchRequest.Parser.ParseFrom(Pb.ProtoMessage.ToByteArray(watch)));

        var probe = new Pb.RangeRequest { Key = EtcdKeys.Key("/kafscale"), CountOnly = true, Serializable = true };
        Assert.Equal(new R.RangeRequest { Key = Bs("/kafscale"), CountOnly = true, Serializable = true },
            R.RangeRequest.Parser.ParseFrom(Pb.ProtoMessage.ToByteArray(probe)));

        var auth = new Pb.AuthenticateRequest { Name = "kafscale", Password = "pässwörd 🔑" };
        Assert.Equal(new R.AuthenticateRequest { Name = "kafscale", Password = "pässwörd 🔑" },
            R.AuthenticateRequest.Parser.ParseFrom(Pb.ProtoMessage.ToByteArray(auth)));

        Assert.Equal(new R.LeaseGrantRequest { TTL = 10 }, R.LeaseGrantRequest.Parser.ParseFrom(Pb.ProtoMessage.ToByteArray(new Pb.LeaseGrantRequest { TTL = 10 })));
        Assert.Equal(new R.LeaseRevokeRequest { ID = 0x694d_8b6f_0c1a_2b3c }, R.LeaseRevokeRequest.Parser.ParseFrom(Pb.ProtoMessage.ToByteArray(new Pb.LeaseRevokeRequest { ID = 0x694d_8b6f_0c1a_2b3c })));
    }

    [Fact]
    public void A_request_is_framed_for_grpc_with_a_big_endian_length()
    {
        byte[] frame = GrpcFraming.Frame(new Pb.LeaseKeepAliveRequest { ID = 300 });
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00, 0x00, 0x03, 0x08, 0xAC, 0x02 }, frame);
    }

    // ---- what etcd answers, written by Google.Protobuf, read by ours ----

    private static readonly R.ResponseHeader EtcdHeader = new() { ClusterId = 14_841_639_068_965_178_418, MemberId = 10_276_657_743_932_975_437, Revision = 1_000_001, RaftTerm = 2 };

    [Fact]
    public void A_range_response_from_etcd_reads_into_key_values()
    {
        var answer = new R.RangeResponse { Header = EtcdHeader, Count = 2, More = true };
        answer.Kvs.Add(new R.KeyValue { Key = Bs("/kafscale/topics/ünïcode"), Value = ByteString.CopyFrom(new byte[] { 0, 1, 2, 255 }), CreateRevision = 5, ModRevision = 900_000, Version = 17, Lease = 7_587_862_311_443_265_811 });
        answer.Kvs.Add(new R.KeyValue { Key = ByteString.CopyFrom(0xFF, 0x41), CreateRevision = 6, ModRevision = 6, Version = 1 });

        var response = Pb.ProtoMessage.Parse<Pb.RangeResponse>(answer.ToByteArray());
        Assert.Equal(14_841_639_068_965_178_418UL, response.Header!.ClusterId);
        Assert.Equal(10_276_657_743_932_975_437UL, response.Header.MemberId);
        Assert.Equal(1_000_001, response.Header.Revision);
        Assert.Equal(2UL, response.Header.RaftTerm);
        Assert.True(response.More);
        Assert.Equal(2, response.Count);

        List<KeyValue> kvs = EtcdKeys.ToKeyValues(response.Kvs);
        Assert.Equal(new KeyValue("/kafscale/topics/ünïcode", kvs[0].Value, 5, 900_000, 17, 7_587_862_311_443_265_811), kvs[0]);
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, kvs[0].Value);
        Assert.Equal("\uFFFDA", kvs[1].Key); // not UTF-8: replacement character, as before
        Assert.Empty(kvs[1].Value);
    }

    [Fact]
    public void A_watch_response_from_etcd_reads_into_events()
    {
        var answer = new R.WatchResponse { Header = EtcdHeader, WatchId = 3 };
        answer.Events.Add(new R.Event { Type = R.Event.Types.EventType.Put, Kv = new R.KeyValue { Key = Bs("/w/a"), Value = Bs("1"), CreateRevision = 10, ModRevision = 10, Version = 1 } });
        answer.Events.Add(new R.Event { Type = R.Event.Types.EventType.Delete, Kv = new R.KeyValue { Key = Bs("/w/a"), ModRevision = 11 } });

        var response = Pb.ProtoMessage.Parse<Pb.WatchResponse>(answer.ToByteArray());
        Assert.Equal(3, response.WatchId);
        Assert.False(response.Created);
        Assert.Equal([Pb.EventType.Put, Pb.EventType.Delete], response.Events.Select(e => e.Type));
        Assert.Equal(10, response.Events[0].Kv!.ModRevision);
        Assert.Equal("1", Encoding.UTF8.GetString(response.Events[0].Kv!.Value.Span));
        Assert.Equal(11, response.Events[1].Kv!.ModRevision);
        Assert.Null(response.Events[1].PrevKv);

        var canceled = Pb.ProtoMessage.Parse<Pb.WatchResponse>(new R.WatchResponse
        {
            Header = EtcdHeader, Canceled = true, CompactRevision = 77, CancelReason = "mvcc: required revision has been compacted",
        }.ToByteArray());
        Assert.True(canceled.Canceled);
        Assert.Equal(77, canceled.CompactRevision);
        Assert.Equal("mvcc: required revision has been compacted", canceled.CancelReason);
        Assert.Empty(canceled.Events);
    }

    [Fact]
    public void Txn_lease_and_auth_responses_from_etcd_read_back()
    {
        var txn = new R.TxnResponse { Header = EtcdHeader, Succeeded = true };
        var range = new R.RangeResponse { Header = EtcdHeader, Count = 1 };
        range.Kvs.Add(new R.KeyValue { Key = Bs("/c"), Value = Bs("see"), ModRevision = 4 });
        txn.Responses.Add(new R.ResponseOp { ResponsePut = new R.PutResponse { Header = EtcdHeader } });
        txn.Responses.Add(new R.ResponseOp { ResponseRange = range });
        txn.Responses.Add(new R.ResponseOp { ResponseDeleteRange = new R.DeleteRangeResponse { Header = EtcdHeader, Deleted = 2 } });
        var ours = Pb.ProtoMessage.Parse<Pb.TxnResponse>(txn.ToByteArray());
        Assert.True(ours.Succeeded);
        Assert.Equal([Pb.ResponseOpCase.ResponsePut, Pb.ResponseOpCase.ResponseRange, Pb.ResponseOpCase.ResponseDeleteRange], ours.Responses.Select(r => r.ResponseCase));
        Assert.Equal("see", Encoding.UTF8.GetString(ours.Responses[1].ResponseRange!.Kvs[0].Value.Span));
        Assert.Null(ours.Responses[0].ResponseRange);
        Assert.Equal(2, ours.Responses[2].ResponseDeleteRange!.Deleted);

        var grant = Pb.ProtoMessage.Parse<Pb.LeaseGrantResponse>(new R.LeaseGrantResponse { Header = EtcdHeader, ID = 7_587_862_311_443_265_811, TTL = 5 }.ToByteArray());
        Assert.Equal((7_587_862_311_443_265_811L, 5L, ""), (grant.ID, grant.TTL, grant.Error));
        var refused = Pb.ProtoMessage.Parse<Pb.LeaseGrantResponse>(new R.LeaseGrantResponse { Header = EtcdHeader, Error = "lease already exists" }.ToByteArray());
        Assert.Equal("lease already exists", refused.Error);

        var keptAlive = Pb.ProtoMessage.Parse<Pb.LeaseKeepAliveResponse>(new R.LeaseKeepAliveResponse { Header = EtcdHeader, ID = 12, TTL = 9 }.ToByteArray());
        Assert.Equal((12L, 9L), (keptAlive.ID, keptAlive.TTL));
        var expired = Pb.ProtoMessage.Parse<Pb.LeaseKeepAliveResponse>(new R.LeaseKeepAliveResponse { Header = EtcdHeader, ID = 12, TTL = -1 }.ToByteArray());
        Assert.Equal(-1, expired.TTL);

        var auth = Pb.ProtoMessage.Parse<Pb.AuthenticateResponse>(new R.AuthenticateResponse { Header = EtcdHeader, Token = "xYzAbC.42" }.ToByteArray());
        Assert.Equal("xYzAbC.42", auth.Token);
        Assert.Equal(1_000_001, Pb.ProtoMessage.Parse<Pb.LeaseRevokeResponse>(new R.LeaseRevokeResponse { Header = EtcdHeader }.ToByteArray()).Header!.Revision);
    }
}
