// The Lease and Auth services' messages (proto/etcdserverpb/rpc.proto), written and read like KvMessages.cs.

namespace KafScale.Metadata.Etcd.Protocol;

/// <summary>etcdserverpb.LeaseGrantRequest.</summary>
internal sealed class LeaseGrantRequest : IProtoMessage
{
    /// <summary>Seconds.</summary>
    public long TTL { get; set; }

    /// <summary>0 lets etcd choose.</summary>
    public long ID { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (TTL != 0) size += ProtoSize.Int64Field(1, TTL);
        if (ID != 0) size += ProtoSize.Int64Field(2, ID);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (TTL != 0) writer.WriteInt64(1, TTL);
        if (ID != 0) writer.WriteInt64(2, ID);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Varint: TTL = reader.ReadInt64(); break;
                case 2 << 3 | Wire.Varint: ID = reader.ReadInt64(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.LeaseGrantResponse.</summary>
internal sealed class LeaseGrantResponse : IProtoMessage
{
    public ResponseHeader? Header { get; set; }

    public long ID { get; set; }

    public long TTL { get; set; }

    public string Error { get; set; } = "";

    public int CalculateSize()
    {
        int size = 0;
        if (Header is not null) size += ProtoSize.MessageField(1, Header);
        if (ID != 0) size += ProtoSize.Int64Field(2, ID);
        if (TTL != 0) size += ProtoSize.Int64Field(3, TTL);
        if (Error.Length != 0) size += ProtoSize.StringField(4, Error);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
        if (ID != 0) writer.WriteInt64(2, ID);
        if (TTL != 0) writer.WriteInt64(3, TTL);
        if (Error.Length != 0) writer.WriteString(4, Error);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(Header ??= new ResponseHeader()); break;
                case 2 << 3 | Wire.Varint: ID = reader.ReadInt64(); break;
                case 3 << 3 | Wire.Varint: TTL = reader.ReadInt64(); break;
                case 4 << 3 | Wire.Len: Error = reader.ReadString(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.LeaseRevokeRequest.</summary>
internal sealed class LeaseRevokeRequest : IProtoMessage
{
    public long ID { get; set; }

    public int CalculateSize() => ID != 0 ? ProtoSize.Int64Field(1, ID) : 0;

    public void WriteTo(ref ProtoWriter writer)
    {
        if (ID != 0) writer.WriteInt64(1, ID);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            if (tag == (1 << 3 | Wire.Varint)) ID = reader.ReadInt64();
            else reader.SkipField(tag);
        }
    }
}

/// <summary>etcdserverpb.LeaseRevokeResponse.</summary>
internal sealed class LeaseRevokeResponse : IProtoMessage
{
    public ResponseHeader? Header { get; set; }

    public int CalculateSize() => Header is not null ? ProtoSize.MessageField(1, Header) : 0;

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            if (tag == (1 << 3 | Wire.Len)) reader.ReadMessage(Header ??= new ResponseHeader());
            else reader.SkipField(tag);
        }
    }
}

/// <summary>etcdserverpb.LeaseKeepAliveRequest.</summary>
internal sealed class LeaseKeepAliveRequest : IProtoMessage
{
    public long ID { get; set; }

    public int CalculateSize() => ID != 0 ? ProtoSize.Int64Field(1, ID) : 0;

    public void WriteTo(ref ProtoWriter writer)
    {
        if (ID != 0) writer.WriteInt64(1, ID);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            if (tag == (1 << 3 | Wire.Varint)) ID = reader.ReadInt64();
            else reader.SkipField(tag);
        }
    }
}

/// <summary>etcdserverpb.LeaseKeepAliveResponse.</summary>
internal sealed class LeaseKeepAliveResponse : IProtoMessage
{
    public ResponseHeader? Header { get; set; }

    public long ID { get; set; }

    /// <summary>Seconds left; 0 or less for a lease etcd does not know.</summary>
    public long TTL { get; set; }

    public int CalculateSize()
    {
        int size = 0;
        if (Header is not null) size += ProtoSize.MessageField(1, Header);
        if (ID != 0) size += ProtoSize.Int64Field(2, ID);
        if (TTL != 0) size += ProtoSize.Int64Field(3, TTL);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
        if (ID != 0) writer.WriteInt64(2, ID);
        if (TTL != 0) writer.WriteInt64(3, TTL);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(Header ??= new ResponseHeader()); break;
                case 2 << 3 | Wire.Varint: ID = reader.ReadInt64(); break;
                case 3 << 3 | Wire.Varint: TTL = reader.ReadInt64(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.AuthenticateRequest.</summary>
internal sealed class AuthenticateRequest : IProtoMessage
{
    public string Name { get; set; } = "";

    public string Password { get; set; } = "";

    public int CalculateSize()
    {
        int size = 0;
        if (Name.Length != 0) size += ProtoSize.StringField(1, Name);
        if (Password.Length != 0) size += ProtoSize.StringField(2, Password);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Name.Length != 0) writer.WriteString(1, Name);
        if (Password.Length != 0) writer.WriteString(2, Password);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: Name = reader.ReadString(); break;
                case 2 << 3 | Wire.Len: Password = reader.ReadString(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}

/// <summary>etcdserverpb.AuthenticateResponse.</summary>
internal sealed class AuthenticateResponse : IProtoMessage
{
    public ResponseHeader? Header { get; set; }

    public string Token { get; set; } = "";

    public int CalculateSize()
    {
        int size = 0;
        if (Header is not null) size += ProtoSize.MessageField(1, Header);
        if (Token.Length != 0) size += ProtoSize.StringField(2, Token);
        return size;
    }

    public void WriteTo(ref ProtoWriter writer)
    {
        if (Header is not null) writer.WriteMessage(1, Header);
        if (Token.Length != 0) writer.WriteString(2, Token);
    }

    public void MergeFrom(ref ProtoReader reader)
    {
        while (reader.TryReadTag(out uint tag))
        {
            switch (tag)
            {
                case 1 << 3 | Wire.Len: reader.ReadMessage(Header ??= new ResponseHeader()); break;
                case 2 << 3 | Wire.Len: Token = reader.ReadString(); break;
                default: reader.SkipField(tag); break;
            }
        }
    }
}
