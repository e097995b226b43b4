using Google.Protobuf;
using Pb = KafScale.Metadata.Etcd.Protocol;
using R = KafScale.Metadata.Tests.Reference;

namespace KafScale.Metadata.Tests;

/// <summary>
/// Random values of every hand-written etcd message, biased towards what breaks encoders:
/// defaults (which proto3 leaves out), varint length boundaries, negative int64s (10 bytes),
/// unknown and negative enum values, empty vs absent nested messages, oneof members set to 0
/// or empty, multi-byte UTF-8, and bytes that are slices of a larger array.
/// </summary>
internal sealed class ProtoGen(int seed)
{
    private static readonly long[] Interesting =
    [
        1, 2, 127, 128, 255, 256, 16_383, 16_384, 2_097_151, 2_097_152, int.MaxValue, (long)int.MaxValue + 1,
        uint.MaxValue, (1L << 56) - 1, 1L << 56, (1L << 62), long.MaxValue,
        -1, -2, -127, -128, int.MinValue, long.MinValue, long.MinValue + 1,
    ];

    private static readonly string[] Pieces = ["a", "Z", "0", "/", " ", "é", "ß", "日本", "€", "😀", "\u0000", "\u007F", "\u0080", "\u07FF", "\u0800", "\uFFFD"];

    private readonly Random _rng = new(seed);

    public int Depth { get; set; }

    public bool Chance(int percent) => _rng.Next(100) < percent;

    public int Next(int max) => _rng.Next(max);

    public long Int64()
    {
        int pick = _rng.Next(10);
        return pick switch
        {
            < 3 => 0,
            < 5 => _rng.Next(1, 128),
            < 7 => Interesting[_rng.Next(Interesting.Length)],
            < 9 => _rng.NextInt64(long.MinValue, long.MaxValue),
            _ => -_rng.NextInt64(1, 1_000_000),
        };
    }

    public ulong UInt64() => (ulong)Int64();

    public bool Bool() => _rng.Next(2) == 0;

    /// <summary>Mostly a defined value; sometimes an unknown one, positive or negative, which must survive as a number.</summary>
    public int Enum(int defined)
    {
        int pick = _rng.Next(20);
        return pick switch
        {
            < 17 => _rng.Next(defined),
            18 => _rng.Next(defined, 1_000_000),
            _ => -_rng.Next(1, 1_000_000),
        };
    }

    public ReadOnlyMemory<byte> Bytes()
    {
        if (Chance(30)) return ReadOnlyMemory<byte>.Empty;
        int length = _rng.Next(10) switch
        {
            < 7 => _rng.Next(1, 17),
            7 => 127,
            8 => 128,
            _ => _rng.Next(129, 400),
        };
        // Often a slice in the middle of a larger array, to catch offset mistakes.
        int before = Chance(50) ? _rng.Next(1, 8) : 0;
        int after = Chance(50) ? _rng.Next(1, 8) : 0;
        var array = new byte[before + length + after];
        _rng.NextBytes(array);
        return array.AsMemory(before, length);
    }

    public string String()
    {
        if (Chance(30)) return "";
        int count = _rng.Next(10) == 0 ? _rng.Next(40, 90) : _rng.Next(1, 12);
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < count; i++) text.Append(Pieces[_rng.Next(Pieces.Length)]);
        return text.ToString();
    }

    /// <summary>Absent (null) a third of the time; the rest may still be an empty message.</summary>
    public T? Maybe<T>(Func<ProtoGen, T> make) where T : class => Chance(33) ? null : make(this);

    public void Fill<T>(List<T> list, Func<ProtoGen, T> make, int max = 4)
    {
        int count = Depth > 1 ? _rng.Next(3) : _rng.Next(max + 1);
        Depth++;
        for (int i = 0; i < count; i++) list.Add(make(this));
        Depth--;
    }

    // ---- generators, one per message ----

    public static Pb.KeyValue KeyValue(ProtoGen g) => new()
    {
        Key = g.Bytes(),
        CreateRevision = g.Int64(),
        ModRevision = g.Int64(),
        Version = g.Int64(),
        Value = g.Bytes(),
        Lease = g.Int64(),
    };

    public static Pb.Event Event(ProtoGen g) => new()
    {
        Type = (Pb.EventType)g.Enum(2),
        Kv = g.Maybe(KeyValue),
        PrevKv = g.Maybe(KeyValue),
    };

    public static Pb.ResponseHeader Header(ProtoGen g) => new()
    {
        ClusterId = g.UInt64(),
        MemberId = g.UInt64(),
        Revision = g.Int64(),
        RaftTerm = g.UInt64(),
    };

    public static Pb.RangeRequest RangeRequest(ProtoGen g) => new()
    {
        Key = g.Bytes(),
        RangeEnd = g.Bytes(),
        Limit = g.Int64(),
        Revision = g.Int64(),
        Serializable = g.Bool(),
        KeysOnly = g.Bool(),
        CountOnly = g.Bool(),
    };

    public static Pb.RangeResponse RangeResponse(ProtoGen g)
    {
        var m = new Pb.RangeResponse { Header = g.Maybe(Header), More = g.Bool(), Count = g.Int64() };
        g.Fill(m.Kvs, KeyValue);
        return m;
    }

    public static Pb.PutRequest PutRequest(ProtoGen g) => new()
    {
        Key = g.Bytes(),
        Value = g.Bytes(),
        Lease = g.Int64(),
        PrevKv = g.Bool(),
    };

    public static Pb.PutResponse PutResponse(ProtoGen g) => new() { Header = g.Maybe(Header), PrevKv = g.Maybe(KeyValue) };

    public static Pb.DeleteRangeRequest DeleteRangeRequest(ProtoGen g) => new()
    {
        Key = g.Bytes(),
        RangeEnd = g.Bytes(),
        PrevKv = g.Bool(),
    };

    public static Pb.DeleteRangeResponse DeleteRangeResponse(ProtoGen g)
    {
        var m = new Pb.DeleteRangeResponse { Header = g.Maybe(Header), Deleted = g.Int64() };
        g.Fill(m.PrevKvs, KeyValue);
        return m;
    }

    public static Pb.RequestOp RequestOp(ProtoGen g) => g.Next(4) switch
    {
        0 => new Pb.RequestOp(),
        1 => new Pb.RequestOp { RequestRange = RangeRequest(g) },
        2 => new Pb.RequestOp { RequestPut = PutRequest(g) },
        _ => new Pb.RequestOp { RequestDeleteRange = DeleteRangeRequest(g) },
    };

    public static Pb.ResponseOp ResponseOp(ProtoGen g) => g.Next(4) switch
    {
        0 => new Pb.ResponseOp(),
        1 => new Pb.ResponseOp { ResponseRange = RangeResponse(g) },
        2 => new Pb.ResponseOp { ResponsePut = PutResponse(g) },
        _ => new Pb.ResponseOp { ResponseDeleteRange = DeleteRangeResponse(g) },
    };

    public static Pb.Compare Compare(ProtoGen g)
    {
        var m = new Pb.Compare
        {
            Result = (Pb.CompareResult)g.Enum(4),
            Target = (Pb.CompareTarget)g.Enum(5),
            Key = g.Bytes(),
            RangeEnd = g.Bytes(),
        };
        switch (g.Next(6))
        {
            case 0: break;
            case 1: m.Version = g.Int64(); break;
            case 2: m.CreateRevision = g.Int64(); break;
            case 3: m.ModRevision = g.Int64(); break;
            case 4: m.Value = g.Bytes(); break;
            default: m.Lease = g.Int64(); break;
        }
        return m;
    }

    public static Pb.TxnRequest TxnRequest(ProtoGen g)
    {
        var m = new Pb.TxnRequest();
        g.Fill(m.Compare, Compare);
        g.Fill(m.Success, RequestOp);
        g.Fill(m.Failure, RequestOp);
        return m;
    }

    public static Pb.TxnResponse TxnResponse(ProtoGen g)
    {
        var m = new Pb.TxnResponse { Header = g.Maybe(Header), Succeeded = g.Bool() };
        g.Fill(m.Responses, ResponseOp);
        return m;
    }

    public static Pb.WatchCreateRequest WatchCreateRequest(ProtoGen g) => new()
    {
        Key = g.Bytes(),
        RangeEnd = g.Bytes(),
        StartRevision = g.Int64(),
        ProgressNotify = g.Bool(),
        PrevKv = g.Bool(),
        WatchId = g.Int64(),
        Fragment = g.Bool(),
    };

    public static Pb.WatchCancelRequest WatchCancelRequest(ProtoGen g) => new() { WatchId = g.Int64() };

    public static Pb.WatchProgressRequest WatchProgressRequest(ProtoGen g) => new();

    public static Pb.WatchRequest WatchRequest(ProtoGen g) => g.Next(4) switch
    {
        0 => new Pb.WatchRequest(),
        1 => new Pb.WatchRequest { CreateRequest = WatchCreateRequest(g) },
        2 => new Pb.WatchRequest { CancelRequest = WatchCancelRequest(g) },
        _ => new Pb.WatchRequest { ProgressRequest = new Pb.WatchProgressRequest() },
    };

    public static Pb.WatchResponse WatchResponse(ProtoGen g)
    {
        var m = new Pb.WatchResponse
        {
            Header = g.Maybe(Header),
            WatchId = g.Int64(),
            Created = g.Bool(),
            Canceled = g.Bool(),
            CompactRevision = g.Int64(),
            CancelReason = g.String(),
            Fragment = g.Bool(),
        };
        g.Fill(m.Events, Event);
        return m;
    }

    public static Pb.LeaseGrantRequest LeaseGrantRequest(ProtoGen g) => new() { TTL = g.Int64(), ID = g.Int64() };

    public static Pb.LeaseGrantResponse LeaseGrantResponse(ProtoGen g) => new()
    {
        Header = g.Maybe(Header),
        ID = g.Int64(),
        TTL = g.Int64(),
        Error = g.String(),
    };

    public static Pb.LeaseRevokeRequest LeaseRevokeRequest(ProtoGen g) => new() { ID = g.Int64() };

    public static Pb.LeaseRevokeResponse LeaseRevokeResponse(ProtoGen g) => new() { Header = g.Maybe(Header) };

    public static Pb.LeaseKeepAliveRequest LeaseKeepAliveRequest(ProtoGen g) => new() { ID = g.Int64() };

    public static Pb.LeaseKeepAliveResponse LeaseKeepAliveResponse(ProtoGen g) => new()
    {
        Header = g.Maybe(Header),
        ID = g.Int64(),
        TTL = g.Int64(),
    };

    public static Pb.AuthenticateRequest AuthenticateRequest(ProtoGen g) => new() { Name = g.String(), Password = g.String() };

    public static Pb.AuthenticateResponse AuthenticateResponse(ProtoGen g) => new() { Header = g.Maybe(Header), Token = g.String() };
}

/// <summary>
/// Our messages as the classes Google.Protobuf generates from the same .proto files, field by
/// field and name by name, so that comparing with the reference's own Equals compares every
/// field, presence of nested messages and the member set in each oneof.
/// </summary>
internal static class ToReference
{
    private static ByteString B(ReadOnlyMemory<byte> bytes) => ByteString.CopyFrom(bytes.Span);

    public static R.KeyValue? Of(Pb.KeyValue? m) => m is null ? null : new R.KeyValue
    {
        Key = B(m.Key),
        CreateRevision = m.CreateRevision,
        ModRevision = m.ModRevision,
        Version = m.Version,
        Value = B(m.Value),
        Lease = m.Lease,
    };

    public static R.Event Of(Pb.Event m) => new()
    {
        Type = (R.Event.Types.EventType)(int)m.Type,
        Kv = Of(m.Kv),
        PrevKv = Of(m.PrevKv),
    };

    public static R.ResponseHeader? Of(Pb.ResponseHeader? m) => m is null ? null : new R.ResponseHeader
    {
        ClusterId = m.ClusterId,
        MemberId = m.MemberId,
        Revision = m.Revision,
        RaftTerm = m.RaftTerm,
    };

    public static R.RangeRequest Of(Pb.RangeRequest m) => new()
    {
        Key = B(m.Key),
        RangeEnd = B(m.RangeEnd),
        Limit = m.Limit,
        Revision = m.Revision,
        Serializable = m.Serializable,
        KeysOnly = m.KeysOnly,
        CountOnly = m.CountOnly,
    };

    public static R.RangeResponse Of(Pb.RangeResponse m)
    {
        var r = new R.RangeResponse { Header = Of(m.Header), More = m.More, Count = m.Count };
        r.Kvs.Add(m.Kvs.Select(kv => Of(kv)!));
        return r;
    }

    public static R.PutRequest Of(Pb.PutRequest m) => new() { Key = B(m.Key), Value = B(m.Value), Lease = m.Lease, PrevKv = m.PrevKv };

    public static R.PutResponse Of(Pb.PutResponse m) => new() { Header = Of(m.Header), PrevKv = Of(m.PrevKv) };

    public static R.DeleteRangeRequest Of(Pb.DeleteRangeRequest m) => new() { Key = B(m.Key), RangeEnd = B(m.RangeEnd), PrevKv = m.PrevKv };

    public static R.DeleteRangeResponse Of(Pb.DeleteRangeResponse m)
    {
        var r = new R.DeleteRangeResponse { Header = Of(m.Header), Deleted = m.Deleted };
        r.PrevKvs.Add(m.PrevKvs.Select(kv => Of(kv)!));
        return r;
    }

    public static R.RequestOp Of(Pb.RequestOp m) => m.RequestCase switch
    {
        Pb.RequestOpCase.None => new R.RequestOp(),
        Pb.RequestOpCase.RequestRange => new R.RequestOp { RequestRange = Of(m.RequestRange!) },
        Pb.RequestOpCase.RequestPut => new R.RequestOp { RequestPut = Of(m.RequestPut!) },
        Pb.RequestOpCase.RequestDeleteRange => new R.RequestOp { RequestDeleteRange = Of(m.RequestDeleteRange!) },
        _ => throw new ArgumentOutOfRangeException(nameof(m)),
    };

    public static R.ResponseOp Of(Pb.ResponseOp m) => m.ResponseCase switch
    {
        Pb.ResponseOpCase.None => new R.ResponseOp(),
        Pb.ResponseOpCase.ResponseRange => new R.ResponseOp { ResponseRange = Of(m.ResponseRange!) },
        Pb.ResponseOpCase.ResponsePut => new R.ResponseOp { ResponsePut = Of(m.ResponsePut!) },
        Pb.ResponseOpCase.ResponseDeleteRange => new R.ResponseOp { ResponseDeleteRange = Of(m.ResponseDeleteRange!) },
        _ => throw new ArgumentOutOfRangeException(nameof(m)),
    };

    public static R.Compare Of(Pb.Compare m)
    {
        var r = new R.Compare
        {
            Result = (R.Compare.Types.CompareResult)(int)m.Result,
            Target = (R.Compare.Types.CompareTarget)(int)m.Target,
            Key = B(m.Key),
            RangeEnd = B(m.RangeEnd),
        };
        switch (m.TargetUnionCase)
        {
            case Pb.CompareTargetUnionCase.None: break;
            case Pb.CompareTargetUnionCase.Version: r.Version = m.Version; break;
            case Pb.CompareTargetUnionCase.CreateRevision: r.CreateRevision = m.CreateRevision; break;
            case Pb.CompareTargetUnionCase.ModRevision: r.ModRevision = m.ModRevision; break;
            case Pb.CompareTargetUnionCase.Value: r.Value = B(m.Value); break;
            case Pb.CompareTargetUnionCase.Lease: r.Lease = m.Lease; break;
            default: throw new ArgumentOutOfRangeException(nameof(m));
        }
        return r;
    }

    public static R.TxnRequest Of(Pb.TxnRequest m)
    {
        var r = new R.TxnRequest();
        r.Compare.Add(m.Compare.Select(Of));
        r.Success.Add(m.Success.Select(Of));
        r.Failure.Add(m.Failure.Select(Of));
        return r;
    }

    public static R.TxnResponse Of(Pb.TxnResponse m)
    {
        var r = new R.TxnResponse { Header = Of(m.Header), Succeeded = m.Succeeded };
        r.Responses.Add(m.Responses.Select(Of));
        return r;
    }

    public static R.WatchCreateRequest Of(Pb.WatchCreateRequest m) => new()
    {
        Key = B(m.Key),
        RangeEnd = B(m.RangeEnd),
        StartRevision = m.StartRevision,
        ProgressNotify = m.ProgressNotify,
        PrevKv = m.PrevKv,
        WatchId = m.WatchId,
        Fragment = m.Fragment,
    };

    public static R.WatchCancelRequest Of(Pb.WatchCancelRequest m) => new() { WatchId = m.WatchId };

    public static R.WatchProgressRequest Of(Pb.WatchProgressRequest m) => new();

    public static R.WatchRequest Of(Pb.WatchRequest m) => m.RequestUnionCase switch
    {
        Pb.WatchRequestCase.None => new R.WatchRequest(),
        Pb.WatchRequestCase.CreateRequest => new R.WatchRequest { CreateRequest = Of(m.CreateRequest!) },
        Pb.WatchRequestCase.CancelRequest => new R.WatchRequest { CancelRequest = Of(m.CancelRequest!) },
        Pb.WatchRequestCase.ProgressRequest => new R.WatchRequest { ProgressRequest = Of(m.ProgressRequest!) },
        _ => throw new ArgumentOutOfRangeException(nameof(m)),
    };

    public static R.WatchResponse Of(Pb.WatchResponse m)
    {
        var r = new R.WatchResponse
        {
            Header = Of(m.Header),
            WatchId = m.WatchId,
            Created = m.Created,
            Canceled = m.Canceled,
            CompactRevision = m.CompactRevision,
            CancelReason = m.CancelReason,
            Fragment = m.Fragment,
        };
        r.Events.Add(m.Events.Select(Of));
        return r;
    }

    public static R.LeaseGrantRequest Of(Pb.LeaseGrantRequest m) => new() { TTL = m.TTL, ID = m.ID };

    public static R.LeaseGrantResponse Of(Pb.LeaseGrantResponse m) => new() { Header = Of(m.Header), ID = m.ID, TTL = m.TTL, Error = m.Error };

    public static R.LeaseRevokeRequest Of(Pb.LeaseRevokeRequest m) => new() { ID = m.ID };

    public static R.LeaseRevokeResponse Of(Pb.LeaseRevokeResponse m) => new() { Header = Of(m.Header) };

    public static R.LeaseKeepAliveRequest Of(Pb.LeaseKeepAliveRequest m) => new() { ID = m.ID };

    public static R.LeaseKeepAliveResponse Of(Pb.LeaseKeepAliveResponse m) => new() { Header = Of(m.Header), ID = m.ID, TTL = m.TTL };

    public static R.AuthenticateRequest Of(Pb.AuthenticateRequest m) => new() { Name = m.Name, Password = m.Password };

    public static R.AuthenticateResponse Of(Pb.AuthenticateResponse m) => new() { Header = Of(m.Header), Token = m.Token };
}
