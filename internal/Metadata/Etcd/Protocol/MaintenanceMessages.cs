// The Maintenance service's Snapshot messages (proto/etcdserverpb/rpc.proto), written and read like KvMessages.cs.

namespace KafScale.Metadata.Etcd.Protocol;

/// <summary>etcdserverpb.SnapshotRequest: no fields.</summary>
internal sealed class SnapshotRequest : IProtoMessage
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

/// <summary>etcdserverpb.SnapshotResponse: one chunk of the backend database, streamed.</summary>
internal sealed class SnapshotResponse : IProtoMessage
{
    public ResponseHeader? Header { get; set; }

    /// <summary>Bytes still to come after this chunk (0 on the last one).</summary>
    public ulong RemainingBytes { get; set; }

    public ReadOnlyMemory<byte> Blob { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (Header is not null) size += ProtoSize.MessageField(1, Header);
        if (RemainingBytes != 0) size += ProtoSize.Tag(2) + ProtoSize.Varint(RemainingBytes);
        if (!Blob.IsEmpty) size += ProtoSize.LengthDelimitedField(3, Blob.Length);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
        if (RemainingBytes != 0) writer.WriteUInt64(2, RemainingBytes);
        if (!Blob.IsEmpty) writer.WriteBytes(3, Blob.Span);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(Header ??= new ResponseHeader()); break;
                case 2 << 3 | Wire.Varint: RemainingBytes = reader.ReadUInt64(); break;
                case 3 << 3 | Wire.Len: Blob = reader.ReadBytes(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}
