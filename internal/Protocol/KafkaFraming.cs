using System.Buffers;
using System.Buffers.Binary;

namespace KafScale.Protocol;

public enum FrameResult
{
    /// <summary>A whole frame was read; the buffer was advanced past it.</summary>
    Ok,

    /// <summary>The size prefix or the frame is not complete yet; nothing was consumed.</summary>
    NeedMoreData,

    /// <summary>The declared size exceeds the limit; the connection should be closed.</summary>
    TooLarge,

    /// <summary>The declared size is negative; the connection should be closed.</summary>
    Invalid,
}

/// <summary>Kafka frames: a 4-byte big-endian size, then that many bytes (header and body).</summary>
public static class KafkaFraming
{
    public const int SizePrefixLength = 4;

    /// <summary>
    /// Reads one frame from the front of <paramref name="buffer"/>. On <see cref="FrameResult.Ok"/>,
    /// <paramref name="frame"/> is the frame without its size prefix and <paramref name="buffer"/>
    /// starts after it. The size is checked against <paramref name="maxFrameBytes"/> before waiting
    /// for the bytes, so an oversized frame is refused without buffering it.
    /// </summary>
    public static FrameResult TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        if (buffer.Length < SizePrefixLength)
        {
            return FrameResult.NeedMoreData;
        }

        int size;
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= SizePrefixLength)
        {
            size = BinaryPrimitives.ReadInt32BigEndian(first);
        }
        else
        {
            Span<byte> prefix = stackalloc byte[SizePrefixLength];
            buffer.Slice(0, SizePrefixLength).CopyTo(prefix);
            size = BinaryPrimitives.ReadInt32BigEndian(prefix);
        }

        if (size < 0)
        {
            return FrameResult.Invalid;
        }

        if (size > maxFrameBytes)
        {
            return FrameResult.TooLarge;
        }

        if (buffer.Length - SizePrefixLength < size)
        {
            return FrameResult.NeedMoreData;
        }

        frame = buffer.Slice(SizePrefixLength, size);
        buffer = buffer.Slice(frame.End);
        return FrameResult.Ok;
    }

    /// <summary>
    /// The frame as one block of memory, which <see cref="KafkaReader"/> and
    /// <see cref="KafkaRequestHeader.Parse"/> need. A single-segment frame is returned as is (no copy);
    /// otherwise it is copied into an array rented from <paramref name="pool"/>, returned in
    /// <paramref name="rented"/> for the caller to give back once the request is done.
    /// </summary>
    public static ReadOnlyMemory<byte> ToContiguous(in ReadOnlySequence<byte> frame, ArrayPool<byte> pool, out byte[]? rented)
    {
        if (frame.IsSingleSegment)
        {
            rented = null;
            return frame.First;
        }

        int length = checked((int)frame.Length);
        rented = pool.Rent(length);
        frame.CopyTo(rented);
        return new ReadOnlyMemory<byte>(rented, 0, length);
    }

    /// <summary>The declared size of the frame at the front of the buffer, or -1 if fewer than 4 bytes are buffered.</summary>
    public static long PeekFrameSize(in ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < SizePrefixLength)
        {
            return -1;
        }

        Span<byte> prefix = stackalloc byte[SizePrefixLength];
        buffer.Slice(0, SizePrefixLength).CopyTo(prefix);
        return BinaryPrimitives.ReadInt32BigEndian(prefix);
    }
}
