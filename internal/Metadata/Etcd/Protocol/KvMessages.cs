// etcd's mvccpb messages and the KV service's (proto/mvccpb/kv.proto, proto/etcdserverpb/rpc.proto).
// Each field is written as "if set: write", in field-number order, and read by its full tag
// ((number << 3) | wire type); a tag not listed is skipped.

namespace KafScale.Metadata.Etcd.Protocol;

/// <summary>mvccpb.KeyValue.</summary>
internal sealed class KeyValue : IProtoMessage
{
    public ReadOnlyMemory<byte> Key { get; set; }

    public long CreateRevision { get; set; }

    public long ModRevision { get; set; }

    public long Version { get; set; }

    public ReadOnlyMemory<byte> Value { get; set; }

    public long Lease { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (!Key.IsEmpty) size += ProtoSize.LengthDelimitedField(1, Key.Length);
        if (CreateRevision != 0) size += ProtoSize.Int64Field(2, CreateRevision);
        if (ModRevision != 0) size += ProtoSize.Int64Field(3, ModRevision);
        if (Version != 0) size += ProtoSize.Int64Field(4, Version);
        if (!Value.IsEmpty) size += ProtoSize.LengthDelimitedField(5, Value.Length);
        if (Lease != 0) size += ProtoSize.Int64Field(6, Lease);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (!Key.IsEmpty) writer.WriteBytes(1, Key.Span);
        if (CreateRevision != 0) writer.WriteInt64(2, CreateRevision);
        if (ModRevision != 0) writer.WriteInt64(3, ModRevision);
        if (Version != 0) writer.WriteInt64(4, Version);
        if (!Value.IsEmpty) writer.WriteBytes(5, Value.Span);
        if (Lease != 0) writer.WriteInt64(6, Lease);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: Key = reader.ReadBytes(); break;
                case 2 << 3 | Wire.Varint: CreateRevision = reader.ReadInt64(); break;
                case 3 << 3 | Wire.Varint: ModRevision = reader.ReadInt64(); break;
                case 4 << 3 | Wire.Varint: Version = reader.ReadInt64(); break;
                case 5 << 3 | Wire.Len: Value = reader.ReadBytes(); break;
                case 6 << 3 | Wire.Varint: Lease = reader.ReadInt64(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>mvccpb.Event.EventType.</summary>
internal enum EventType
{
    Put = 0,
    Delete = 1,
}

/// <summary>mvccpb.Event.</summary>
internal sealed class Event : IProtoMessage
{
    public EventType Type { get; set; }

    public KeyValue? Kv { get; set; }

    public KeyValue? PrevKv { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (Type != 0) size += ProtoSize.EnumField(1, (int)Type);
        if (Kv is not null) size += ProtoSize.MessageField(2, Kv);
        if (PrevKv is not null) size += ProtoSize.MessageField(3, PrevKv);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Type != 0) writer.WriteEnum(1, (int)Type);
        if (Kv is not null) writer.WriteMessage(2, Kv);
        if (PrevKv is not null) writer.WriteMessage(3, PrevKv);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Varint: Type = (EventType)reader.ReadEnum(); break;
                case 2 << 3 | Wire.Len: reader.ReadMessage(Kv ??= new KeyValue()); break;
                case 3 << 3 | Wire.Len: reader.ReadMessage(PrevKv ??= new KeyValue()); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.ResponseHeader.</summary>
internal sealed class ResponseHeader : IProtoMessage
{
    public ulong ClusterId { get; set; }

    public ulong MemberId { get; set; }

    public long Revision { get; set; }

    public ulong RaftTerm { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (ClusterId != 0) size += ProtoSize.Tag(1) + ProtoSize.Varint(ClusterId);
        if (MemberId != 0) size += ProtoSize.Tag(2) + ProtoSize.Varint(MemberId);
        if (Revision != 0) size += ProtoSize.Int64Field(3, Revision);
        if (RaftTerm != 0) size += ProtoSize.Tag(4) + ProtoSize.Varint(RaftTerm);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (ClusterId != 0) writer.WriteUInt64(1, ClusterId);
        if (MemberId != 0) writer.WriteUInt64(2, MemberId);
        if (Revision != 0) writer.WriteInt64(3, Revision);
        if (RaftTerm != 0) writer.WriteUInt64(4, RaftTerm);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Varint: ClusterId = reader.ReadUInt64(); break;
                case 2 << 3 | Wire.Varint: MemberId = reader.ReadUInt64(); break;
                case 3 << 3 | Wire.Varint: Revision = reader.ReadInt64(); break;
                case 4 << 3 | Wire.Varint: RaftTerm = reader.ReadUInt64(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.RangeRequest (the fields KafScale uses).</summary>
internal sealed class RangeRequest : IProtoMessage
{
    public ReadOnlyMemory<byte> Key { get; set; }

    public ReadOnlyMemory<byte> RangeEnd { get; set; }

    public long Limit { get; set; }

    public long Revision { get; set; }

    public bool Serializable { get; set; }

    public bool KeysOnly { get; set; }

    public bool CountOnly { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (!Key.IsEmpty) size += ProtoSize.LengthDelimitedField(1, Key.Length);
        if (!RangeEnd.IsEmpty) size += ProtoSize.LengthDelimitedField(2, RangeEnd.Length);
        if (Limit != 0) size += ProtoSize.Int64Field(3, Limit);
        if (Revision != 0) size += ProtoSize.Int64Field(4, Revision);
        if (Serializable) size += ProtoSize.BoolField(7);
        if (KeysOnly) size += ProtoSize.BoolField(8);
        if (CountOnly) size += ProtoSize.BoolField(9);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (!Key.IsEmpty) writer.WriteBytes(1, Key.Span);
        if (!RangeEnd.IsEmpty) writer.WriteBytes(2, RangeEnd.Span);
        if (Limit != 0) writer.WriteInt64(3, Limit);
        if (Revision != 0) writer.WriteInt64(4, Revision);
        if (Serializable) writer.WriteBool(7, true);
        if (KeysOnly) writer.WriteBool(8, true);
        if (CountOnly) writer.WriteBool(9, true);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: Key = reader.ReadBytes(); break;
                case 2 << 3 | Wire.Len: RangeEnd = reader.ReadBytes(); break;
                case 3 << 3 | Wire.Varint: Limit = reader.ReadInt64(); break;
                case 4 << 3 | Wire.Varint: Revision = reader.ReadInt64(); break;
                case 7 << 3 | Wire.Varint: Serializable = reader.ReadBool(); break;
                case 8 << 3 | Wire.Varint: KeysOnly = reader.ReadBool(); break;
                case 9 << 3 | Wire.Varint: CountOnly = reader.ReadBool(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.RangeResponse.</summary>
internal sealed class RangeResponse : IProtoMessage
{
    private List<KeyValue>? _kvs;

    public ResponseHeader? Header { get; set; }

    public List<KeyValue> Kvs => _kvs ??= [];

    public bool More { get; set; }

    public long Count { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (Header is not null) size += ProtoSize.MessageField(1, Header);
        if (_kvs is not null) foreach (KeyValue kv in _kvs) size += ProtoSize.MessageField(2, kv);
        if (More) size += ProtoSize.BoolField(3);
        if (Count != 0) size += ProtoSize.Int64Field(4, Count);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
        if (_kvs is not null) foreach (KeyValue kv in _kvs) writer.WriteMessage(2, kv);
        if (More) writer.WriteBool(3, true);
        if (Count != 0) writer.WriteInt64(4, Count);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(Header ??= new ResponseHeader()); break;
                case 2 << 3 | Wire.Len: Kvs.Add(reader.ReadMessage<KeyValue>()); break;
                case 3 << 3 | Wire.Varint: More = reader.ReadBool(); break;
                case 4 << 3 | Wire.Varint: Count = reader.ReadInt64(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.PutRequest (the fields KafScale uses).</summary>
internal sealed class PutRequest : IProtoMessage
{
    public ReadOnlyMemory<byte> Key { get; set; }

    public ReadOnlyMemory<byte> Value { get; set; }

    public long Lease { get; set; }

    public bool PrevKv { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (!Key.IsEmpty) size += ProtoSize.LengthDelimitedField(1, Key.Length);
        if (!Value.IsEmpty) size += ProtoSize.LengthDelimitedField(2, Value.Length);
        if (Lease != 0) size += ProtoSize.Int64Field(3, Lease);
        if (PrevKv) size += ProtoSize.BoolField(4);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (!Key.IsEmpty) writer.WriteBytes(1, Key.Span);
        if (!Value.IsEmpty) writer.WriteBytes(2, Value.Span);
        if (Lease != 0) writer.WriteInt64(3, Lease);
        if (PrevKv) writer.WriteBool(4, true);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: Key = reader.ReadBytes(); break;
                case 2 << 3 | Wire.Len: Value = reader.ReadBytes(); break;
                case 3 << 3 | Wire.Varint: Lease = reader.ReadInt64(); break;
                case 4 << 3 | Wire.Varint: PrevKv = reader.ReadBool(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.PutResponse.</summary>
internal sealed class PutResponse : IProtoMessage
{
    public ResponseHeader? Header { get; set; }

    public KeyValue? PrevKv { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (Header is not null) size += ProtoSize.MessageField(1, Header);
        if (PrevKv is not null) size += ProtoSize.MessageField(2, PrevKv);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
        if (PrevKv is not null) writer.WriteMessage(2, PrevKv);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(Header ??= new ResponseHeader()); break;
                case 2 << 3 | Wire.Len: reader.ReadMessage(PrevKv ??= new KeyValue()); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.DeleteRangeRequest.</summary>
internal sealed class DeleteRangeRequest : IProtoMessage
{
    public ReadOnlyMemory<byte> Key { get; set; }

    public ReadOnlyMemory<byte> RangeEnd { get; set; }

    public bool PrevKv { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (!Key.IsEmpty) size += ProtoSize.LengthDelimitedField(1, Key.Length);
        if (!RangeEnd.IsEmpty) size += ProtoSize.LengthDelimitedField(2, RangeEnd.Length);
        if (PrevKv) size += ProtoSize.BoolField(3);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (!Key.IsEmpty) writer.WriteBytes(1, Key.Span);
        if (!RangeEnd.IsEmpty) writer.WriteBytes(2, RangeEnd.Span);
        if (PrevKv) writer.WriteBool(3, true);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: Key = reader.ReadBytes(); break;
                case 2 << 3 | Wire.Len: RangeEnd = reader.ReadBytes(); break;
                case 3 << 3 | Wire.Varint: PrevKv = reader.ReadBool(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.DeleteRangeResponse.</summary>
internal sealed class DeleteRangeResponse : IProtoMessage
{
    private List<KeyValue>? _prevKvs;

    public ResponseHeader? Header { get; set; }

    public long Deleted { get; set; }

    public List<KeyValue> PrevKvs => _prevKvs ??= [];

    public int CalculateSize()
    {
        int size = 0;
        if (Header is not null) size += ProtoSize.MessageField(1, Header);
        if (Deleted != 0) size += ProtoSize.Int64Field(2, Deleted);
        if (_prevKvs is not null) foreach (KeyValue kv in _prevKvs) size += ProtoSize.MessageField(3, kv);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
        if (Deleted != 0) writer.WriteInt64(2, Deleted);
        if (_prevKvs is not null) foreach (KeyValue kv in _prevKvs) writer.WriteMessage(3, kv);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(Header ??= new ResponseHeader()); break;
                case 2 << 3 | Wire.Varint: Deleted = reader.ReadInt64(); break;
                case 3 << 3 | Wire.Len: PrevKvs.Add(reader.ReadMessage<KeyValue>()); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>Which member of RequestOp's oneof "request" is set.</summary>
internal enum RequestOpCase
{
    None = 0,
    RequestRange = 1,
    RequestPut = 2,
    RequestDeleteRange = 3,
}

/// <summary>
/// etcdserverpb.RequestOp: a oneof of three messages. Setting a member replaces whichever was
/// set; setting the set member to null clears the oneof.
/// </summary>
internal sealed class RequestOp : IProtoMessage
{
    private IProtoMessage? _request;

    public RequestOpCase RequestCase => _request switch
    {
        RangeRequest => RequestOpCase.RequestRange,
        PutRequest => RequestOpCase.RequestPut,
        DeleteRangeRequest => RequestOpCase.RequestDeleteRange,
        _ => RequestOpCase.None,
    };

    public RangeRequest? RequestRange
    {
        get => _request as RangeRequest;
        set => _request = value;
    }

    public PutRequest? RequestPut
    {
        get => _request as PutRequest;
        set => _request = value;
    }

    public DeleteRangeRequest? RequestDeleteRange
    {
        get => _request as DeleteRangeRequest;
        set => _request = value;
    }

    public int CalculateSize() => _request is null ? 0 : ProtoSize.MessageField((int)RequestCase, _request);

    public void WriteTo(ref ProtoWriter writer)
    {
        if (_request is not null) writer.WriteMessage((int)RequestCase, _request);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(RequestRange ??= new RangeRequest()); break;
                case 2 << 3 | Wire.Len: reader.ReadMessage(RequestPut ??= new PutRequest()); break;
                case 3 << 3 | Wire.Len: reader.ReadMessage(RequestDeleteRange ??= new DeleteRangeRequest()); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>Which member of ResponseOp's oneof "response" is set.</summary>
internal enum ResponseOpCase
{
    None = 0,
    ResponseRange = 1,
    ResponsePut = 2,
    ResponseDeleteRange = 3,
}

/// <summary>etcdserverpb.ResponseOp: a oneof of three messages, like <see cref="RequestOp"/>.</summary>
internal sealed class ResponseOp : IProtoMessage
{
    private IProtoMessage? _response;

    public ResponseOpCase ResponseCase => _response switch
    {
        RangeResponse => ResponseOpCase.ResponseRange,
        PutResponse => ResponseOpCase.ResponsePut,
        DeleteRangeResponse => ResponseOpCase.ResponseDeleteRange,
        _ => ResponseOpCase.None,
    };

    public RangeResponse? ResponseRange
    {
        get => _response as RangeResponse;
        set => _response = value;
    }

    public PutResponse? ResponsePut
    {
        get => _response as PutResponse;
        set => _response = value;
    }

    public DeleteRangeResponse? ResponseDeleteRange
    {
        get => _response as DeleteRangeResponse;
        set => _response = value;
    }

    public int CalculateSize() => _response is null ? 0 : ProtoSize.MessageField((int)ResponseCase, _response);

    public void WriteTo(ref ProtoWriter writer)
    {
        if (_response is not null) writer.WriteMessage((int)ResponseCase, _response);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(ResponseRange ??= new RangeResponse()); break;
                case 2 << 3 | Wire.Len: reader.ReadMessage(ResponsePut ??= new PutResponse()); break;
                case 3 << 3 | Wire.Len: reader.ReadMessage(ResponseDeleteRange ??= new DeleteRangeResponse()); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.Compare.CompareResult.</summary>
internal enum CompareResult
{
    Equal = 0,
    Greater = 1,
    Less = 2,
    NotEqual = 3,
}

/// <summary>etcdserverpb.Compare.CompareTarget.</summary>
internal enum CompareTarget
{
    Version = 0,
    Create = 1,
    Mod = 2,
    Value = 3,
    Lease = 4,
}

/// <summary>Which member of Compare's oneof "target_union" is set; the values are the field numbers.</summary>
internal enum CompareTargetUnionCase
{
    None = 0,
    Version = 4,
    CreateRevision = 5,
    ModRevision = 6,
    Value = 7,
    Lease = 8,
}

/// <summary>
/// etcdserverpb.Compare. The oneof target_union holds one number (version, create_revision,
/// mod_revision or lease) or a value; setting a member selects it, even to 0 or empty, and it is
/// then written even at 0 or empty, as a oneof member is.
/// </summary>
internal sealed class Compare : IProtoMessage
{
    private long _number;
    private ReadOnlyMemory<byte> _value;

    public CompareResult Result { get; set; }

    public CompareTarget Target { get; set; }

    public ReadOnlyMemory<byte> Key { get; set; }

    public CompareTargetUnionCase TargetUnionCase { get; private set; }

    public long Version
    {
        get => TargetUnionCase == CompareTargetUnionCase.Version ? _number : 0;
        set => SetNumber(CompareTargetUnionCase.Version, value);
    }

    public long CreateRevision
    {
        get => TargetUnionCase == CompareTargetUnionCase.CreateRevision ? _number : 0;
        set => SetNumber(CompareTargetUnionCase.CreateRevision, value);
    }

    public long ModRevision
    {
        get => TargetUnionCase == CompareTargetUnionCase.ModRevision ? _number : 0;
        set => SetNumber(CompareTargetUnionCase.ModRevision, value);
    }

    public ReadOnlyMemory<byte> Value
    {
        get => TargetUnionCase == CompareTargetUnionCase.Value ? _value : default;
        set
        {
            _number = 0;
            _value = value;
            TargetUnionCase = CompareTargetUnionCase.Value;
        }
    }

    public long Lease
    {
        get => TargetUnionCase == CompareTargetUnionCase.Lease ? _number : 0;
        set => SetNumber(CompareTargetUnionCase.Lease, value);
    }

    public ReadOnlyMemory<byte> RangeEnd { get; set; }

    public void ClearTargetUnion()
    {
        _number = 0;
        _value = default;
        TargetUnionCase = CompareTargetUnionCase.None;
    }

    private void SetNumber(CompareTargetUnionCase which, long value)
    {
        _value = default;
        _number = value;
        TargetUnionCase = which;
    }

    public int CalculateSize()
    {
        int size = 0;
        if (Result != 0) size += ProtoSize.EnumField(1, (int)Result);
        if (Target != 0) size += ProtoSize.EnumField(2, (int)Target);
        if (!Key.IsEmpty) size += ProtoSize.LengthDelimitedField(3, Key.Length);
        switch (TargetUnionCase)
        {
            case CompareTargetUnionCase.None:
                break;
            case CompareTargetUnionCase.Value:
                size += ProtoSize.LengthDelimitedField(7, _value.Length);
                break;
            default:
                size += ProtoSize.Int64Field((int)TargetUnionCase, _number);
                break;
        }
        if (!RangeEnd.IsEmpty) size += ProtoSize.LengthDelimitedField(64, RangeEnd.Length);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Result != 0) writer.WriteEnum(1, (int)Result);
        if (Target != 0) writer.WriteEnum(2, (int)Target);
        if (!Key.IsEmpty) writer.WriteBytes(3, Key.Span);
        switch (TargetUnionCase)
        {
            case CompareTargetUnionCase.None:
                break;
            case CompareTargetUnionCase.Value:
                writer.WriteBytes(7, _value.Span);
                break;
            default:
                writer.WriteInt64((int)TargetUnionCase, _number);
                break;
        }
        if (!RangeEnd.IsEmpty) writer.WriteBytes(64, RangeEnd.Span);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Varint: Result = (CompareResult)reader.ReadEnum(); break;
                case 2 << 3 | Wire.Varint: Target = (CompareTarget)reader.ReadEnum(); break;
                case 3 << 3 | Wire.Len: Key = reader.ReadBytes(); break;
                case 4 << 3 | Wire.Varint: Version = reader.ReadInt64(); break;
                case 5 << 3 | Wire.Varint: CreateRevision = reader.ReadInt64(); break;
                case 6 << 3 | Wire.Varint: ModRevision = reader.ReadInt64(); break;
                case 7 << 3 | Wire.Len: Value = reader.ReadBytes(); break;
                case 8 << 3 | Wire.Varint: Lease = reader.ReadInt64(); break;
                case 64 << 3 | Wire.Len: RangeEnd = reader.ReadBytes(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.TxnRequest.</summary>
internal sealed class TxnRequest : IProtoMessage
{
    private List<Compare>? _compare;
    private List<RequestOp>? _success;
    private List<RequestOp>? _failure;

    public List<Compare> Compare => _compare ??= [];

    public List<RequestOp> Success => _success ??= [];

    public List<RequestOp> Failure => _failure ??= [];

    public int CalculateSize()
    {
        int size = 0;
        if (_compare is not null) foreach (Compare c in _compare) size += ProtoSize.MessageField(1, c);
        if (_success is not null) foreach (RequestOp op in _success) size += ProtoSize.MessageField(2, op);
        if (_failure is not null) foreach (RequestOp op in _failure) size += ProtoSize.MessageField(3, op);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (_compare is not null) foreach (Compare c in _compare) writer.WriteMessage(1, c);
        if (_success is not null) foreach (RequestOp op in _success) writer.WriteMessage(2, op);
        if (_failure is not null) foreach (RequestOp op in _failure) writer.WriteMessage(3, op);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: Compare.Add(reader.ReadMessage<Compare>()); break;
                case 2 << 3 | Wire.Len: Success.Add(reader.ReadMessage<RequestOp>()); break;
                case 3 << 3 | Wire.Len: Failure.Add(reader.ReadMessage<RequestOp>()); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.TxnResponse.</summary>
internal sealed class TxnResponse : IProtoMessage
{
    private List<ResponseOp>? _responses;

    public ResponseHeader? Header { get; set; }

    public bool Succeeded { get; set; }

    public List<ResponseOp> Responses => _responses ??= [];

    public int CalculateSize()
    {
        int size = 0;
        if (Header is not null) size += ProtoSize.MessageField(1, Header);
        if (Succeeded) size += ProtoSize.BoolField(2);
        if (_responses is not null) foreach (ResponseOp op in _responses) size += ProtoSize.MessageField(3, op);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
        if (Succeeded) writer.WriteBool(2, true);
        if (_responses is not null) foreach (ResponseOp op in _responses) writer.WriteMessage(3, op);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(Header ??= new ResponseHeader()); break;
                case 2 << 3 | Wire.Varint: Succeeded = reader.ReadBool(); break;
                case 3 << 3 | Wire.Len: Responses.Add(reader.ReadMessage<ResponseOp>()); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}
