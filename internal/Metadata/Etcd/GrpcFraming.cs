using System.Buffers.Binary;
using KafScale.Metadata.Etcd.Protocol;

namespace KafScale.Metadata.Etcd;

/// <summary>
/// gRPC's length-prefixed messages: [u8 compressed = 0][u32 big-endian length][protobuf bytes].
/// We never ask for compression, so a compressed message is a protocol error.
/// </summary>
internal static class GrpcFraming
{
    public const int HeaderSize = 5;

    /// <summary>Far above anything etcd sends us (its own default request limit is 1.5 MiB).</summary>
    public const int MaxMessageSize = 64 << 20;

    /// <summary>The message, encoded straight into its frame: one array, exactly sized.</summary>
    public static byte[] Frame(IProtoMessage message)
    {
        int size = message.CalculateSize();
        var frame = new byte[HeaderSize + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)size);
        ProtoMessage.Write(message, frame.AsSpan(HeaderSize));
        return frame;
    }
}

/// <summary>Reads gRPC messages off a response body, one at a time.</summary>
internal sealed class GrpcFrameReader(Stream body)
{
    private readonly byte[] _header = new byte[GrpcFraming.HeaderSize];

    /// <summary>The next message, or null at the clean end of the body.</summary>
    public async ValueTask<byte[]?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        int got = await ReadFullyAsync(_header, cancellationToken).ConfigureAwait(false);
        if (got == 0) return null;
        if (got < _header.Length) throw new IOException("The gRPC response ended inside a message header.");
        if (_header[0] != 0) throw new IOException("The gRPC response holds a compressed message, which was not asked for.");
        uint length = BinaryPrimitives.ReadUInt32BigEndian(_header.AsSpan(1));
        if (length > GrpcFraming.MaxMessageSize) throw new IOException($"The gRPC response announces a message of {length} bytes, beyond the {GrpcFraming.MaxMessageSize}-byte limit.");
        var message = new byte[length];
        if (await ReadFullyAsync(message, cancellationToken).ConfigureAwait(false) < message.Length)
            throw new IOException("The gRPC response ended inside a message.");
        return message;
    }

    private async ValueTask<int> ReadFullyAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await body.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
