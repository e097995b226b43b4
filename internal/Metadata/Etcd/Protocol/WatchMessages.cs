// The Watch service's messages (proto/etcdserverpb/rpc.proto), written and read like KvMessages.cs.

namespace KafScale.Metadata.Etcd.Protocol;

/// <summary>Which member of WatchRequest's oneof "request_union" is set.</summary>
internal enum WatchRequestCase
{
    None = 0,
    CreateRequest = 1,
    CancelRequest = 2,
    ProgressRequest = 3,
}

/// <summary>etcdserverpb.WatchRequest: a oneof of three messages, like <see cref="RequestOp"/>.</summary>
internal sealed class WatchRequest : IProtoMessage
{
    private IProtoMessage? _request;

    public WatchRequestCase RequestUnionCase => _request switch
    {
        WatchCreateRequest => WatchRequestCase.CreateRequest,
        WatchCancelRequest => WatchRequestCase.CancelRequest,
        WatchProgressRequest => WatchRequestCase.ProgressRequest,
        _ => WatchRequestCase.None,
    };

    public WatchCreateRequest? CreateRequest
    {
        get => _request as WatchCreateRequest;
        set => _request = value;
    }

    public WatchCancelRequest? CancelRequest
    {
        get => _request as WatchCancelRequest;
        set => _request = value;
    }

    public WatchProgressRequest? ProgressRequest
    {
        get => _request as WatchProgressRequest;
        set => _request = value;
    }

    public int CalculateSize() => _request is null ? 0 : ProtoSize.MessageField((int)RequestUnionCase, _request);

    public void WriteTo(ref ProtoWriter writer)
    {
        if (_request is not null) writer.WriteMessage((int)RequestUnionCase, _request);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(CreateRequest ??= new WatchCreateRequest()); break;
                case 2 << 3 | Wire.Len: reader.ReadMessage(CancelRequest ??= new WatchCancelRequest()); break;
                case 3 << 3 | Wire.Len: reader.ReadMessage(ProgressRequest ??= new WatchProgressRequest()); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.WatchCreateRequest (the fields KafScale uses).</summary>
internal sealed class WatchCreateRequest : IProtoMessage
{
    public ReadOnlyMemory<byte> Key { get; set; }

    public ReadOnlyMemory<byte> RangeEnd { get; set; }

    public long StartRevision { get; set; }

    public bool ProgressNotify { get; set; }

    public bool PrevKv { get; set; }

    public long WatchId { get; set; }

    public bool Fragment { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (!Key.IsEmpty) size += ProtoSize.LengthDelimitedField(1, Key.Length);
        if (!RangeEnd.IsEmpty) size += ProtoSize.LengthDelimitedField(2, RangeEnd.Length);
        if (StartRevision != 0) size += ProtoSize.Int64Field(3, StartRevision);
        if (ProgressNotify) size += ProtoSize.BoolField(4);
        if (PrevKv) size += ProtoSize.BoolField(6);
        if (WatchId != 0) size += ProtoSize.Int64Field(7, WatchId);
        if (Fragment) size += ProtoSize.BoolField(8);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (!Key.IsEmpty) writer.WriteBytes(1, Key.Span);
        if (!RangeEnd.IsEmpty) writer.WriteBytes(2, RangeEnd.Span);
        if (StartRevision != 0) writer.WriteInt64(3, StartRevision);
        if (ProgressNotify) writer.WriteBool(4, true);
        if (PrevKv) writer.WriteBool(6, true);
        if (WatchId != 0) writer.WriteInt64(7, WatchId);
        if (Fragment) writer.WriteBool(8, true);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: Key = reader.ReadBytes(); break;
                case 2 << 3 | Wire.Len: RangeEnd = reader.ReadBytes(); break;
                case 3 << 3 | Wire.Varint: StartRevision = reader.ReadInt64(); break;
                case 4 << 3 | Wire.Varint: ProgressNotify = reader.ReadBool(); break;
                case 6 << 3 | Wire.Varint: PrevKv = reader.ReadBool(); break;
                case 7 << 3 | Wire.Varint: WatchId = reader.ReadInt64(); break;
                case 8 << 3 | Wire.Varint: Fragment = reader.ReadBool(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.WatchCancelRequest.</summary>
internal sealed class WatchCancelRequest : IProtoMessage
{
    public long WatchId { get; set; }

    public int CalculateSize() => WatchId != 0 ? ProtoSize.Int64Field(1, WatchId) : 0;

    public void WriteTo(ref ProtoWriter writer)
    {
        if (WatchId != 0) writer.WriteInt64(1, WatchId);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            if (tag == (1 << 3 | Wire.Varint)) WatchId = reader.ReadInt64();
            else reader.SkipField(tag);
        }
    }
}

/// <summary>etcdserverpb.WatchProgressRequest: no fields.</summary>
internal sealed class WatchProgressRequest : IProtoMessage
{
    public int CalculateSize() => 0;

    public void WriteTo(ref ProtoWriter writer)
    {
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag)) reader.SkipField(tag);
    }
}

/// <summary>etcdserverpb.WatchResponse (the fields KafScale uses).</summary>
internal sealed class WatchResponse : IProtoMessage
{
    private List<Event>? _events;

    public ResponseHeader? Header { get; set; }

    public long WatchId { get; set; }

    public bool Created { get; set; }

    public bool Canceled { get; set; }

    public long CompactRevision { get; set; }

    public string CancelReason { get; set; } = "";

    public bool Fragment { get; set; }

    public List<Event> Events => _events ??= [];

    public int CalculateSize()
    {
        int size = 0;
        if (Header is not null) size += ProtoSize.MessageField(1, Header);
        if (WatchId != 0) size += ProtoSize.Int64Field(2, WatchId);
        if (Created) size += ProtoSize.BoolField(3);
        if (Canceled) size += ProtoSize.BoolField(4);
        if (CompactRevision != 0) size += ProtoSize.Int64Field(5, CompactRevision);
        if (CancelReason.Length != 0) size += ProtoSize.StringField(6, CancelReason);
        if (Fragment) size += ProtoSize.BoolField(7);
        if (_events is not null) foreach (Event e in _events) size += ProtoSize.MessageField(11, e);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
        if (WatchId != 0) writer.WriteInt64(2, WatchId);
        if (Created) writer.WriteBool(3, true);
        if (Canceled) writer.WriteBool(4, true);
        if (CompactRevision != 0) writer.WriteInt64(5, CompactRevision);
        if (CancelReason.Length != 0) writer.WriteString(6, CancelReason);
        if (Fragment) writer.WriteBool(7, true);
        if (_events is not null) foreach (Event e in _events) writer.WriteMessage(11, e);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(Header ??= new ResponseHeader()); break;
                case 2 << 3 | Wire.Varint: WatchId = reader.ReadInt64(); break;
                case 3 << 3 | Wire.Varint: Created = reader.ReadBool(); break;
                case 4 << 3 | Wire.Varint: Canceled = reader.ReadBool(); break;
                case 5 << 3 | Wire.Varint: CompactRevision = reader.ReadInt64(); break;
                case 6 << 3 | Wire.Len: CancelReason = reader.ReadString(); break;
                case 7 << 3 | Wire.Varint: Fragment = reader.ReadBool(); break;
                case 11 << 3 | Wire.Len: Events.Add(reader.ReadMessage<Event>()); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}
