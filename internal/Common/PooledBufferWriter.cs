using System.Buffers;

namespace KafScale.Common;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over arrays rented from <see cref="ArrayPool{T}.Shared"/>.
/// Dispose returns the array; spans handed out before a later write may be stale after growth.
/// With a maximum length, writing past it throws <see cref="InvalidDataException"/> and the
/// buffer never grows beyond it plus <see cref="LimitSlack"/> (writers such as decompressors ask
/// for room in blocks before they know how much they will write).
/// </summary>
public sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    private const int MinimumGrowth = 256;

    /// <summary>Room granted past the maximum length for a writer that asks in blocks.</summary>
    public const int LimitSlack = 1 << 20;

    private readonly long _maxLength;
    private byte[] _buffer;
    private int _written;

    public PooledBufferWriter(int initialCapacity = 4096, int maxLength = int.MaxValue)
    {
        _maxLength = maxLength;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, 1));
    }

    public int WrittenCount => _written;
    public int Capacity => _buffer.Length;
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    /// <summary>The written bytes, writable (for in-place patching).</summary>
    public Span<byte> WrittenSpanMutable => _buffer.AsSpan(0, _written);

    /// <summary>Forgets the written bytes and keeps the buffer.</summary>
    public void Clear() => _written = 0;

    public void Advance(int count)
    {
        if ((uint)count > (uint)(_buffer.Length - _written))
            throw new ArgumentOutOfRangeException(nameof(count));
        if (_written + (long)count > _maxLength)
            throw new InvalidDataException($"more than {_maxLength} bytes written");
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        Ensure(data.Length);
        data.CopyTo(_buffer.AsSpan(_written));
        Advance(data.Length);
    }

    /// <summary>Copies the written bytes into a new exact-size array.</summary>
    public byte[] ToArray() => WrittenSpan.ToArray();

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1)
            sizeHint = 1;
        if (sizeHint <= _buffer.Length - _written)
            return;
        long ceiling = _maxLength + LimitSlack;
        if (_written + (long)sizeHint > ceiling)
            throw new InvalidDataException($"more than {_maxLength} bytes written");
        long needed = (long)_written + Math.Max(sizeHint, MinimumGrowth);
        long doubled = (long)_buffer.Length * 2;
        long size = Math.Min(Math.Max(needed, doubled), Math.Max(needed, ceiling));
        if (size > Array.MaxLength)
        {
            if (needed > Array.MaxLength)
                throw new InvalidOperationException($"buffer would exceed {Array.MaxLength} bytes");
            size = Array.MaxLength;
        }
        byte[] bigger = ArrayPool<byte>.Shared.Rent((int)size);
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        _written = 0;
        if (buffer.Length > 0)
            ArrayPool<byte>.Shared.Return(buffer);
    }
}
