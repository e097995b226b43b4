using System.Buffers;

namespace KafScale.Parquet;

/// <summary>
/// An append-only byte buffer made of pooled 1 MiB segments: growing never copies, and a
/// column chunk of 100 MiB never needs one 100 MiB array. Segments are kept across
/// <see cref="Clear"/> (the next row group reuses them) and returned on <see cref="Dispose"/>.
/// </summary>
internal sealed class SegmentedBuffer : IDisposable
{
    private const int SegmentSize = 1024 * 1024;

    // Up to 64 MiB of segments stay pooled between files (the shared pool keeps only a few arrays
    // of a size); anything beyond is allocated and left to the GC.
    private static readonly ArrayPool<byte> s_pool = ArrayPool<byte>.Create(SegmentSize, 64);
    private readonly List<byte[]> _segments = new();
    private int _segment;      // index of the segment being written
    private int _offset;       // bytes used in it

    public long Length { get; private set; }

    public void Write(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            if (_segment == _segments.Count)
                _segments.Add(s_pool.Rent(SegmentSize));
            byte[] current = _segments[_segment];
            int n = Math.Min(data.Length, SegmentSize - _offset);
            data.Slice(0, n).CopyTo(current.AsSpan(_offset));
            _offset += n;
            Length += n;
            data = data.Slice(n);
            if (_offset == SegmentSize)
            {
                _segment++;
                _offset = 0;
            }
        }
    }

    public void WriteTo(Stream output)
    {
        for (int i = 0; i < _segment; i++)
            output.Write(_segments[i], 0, SegmentSize);
        if (_offset > 0)
            output.Write(_segments[_segment], 0, _offset);
    }

    public void Clear()
    {
        _segment = 0;
        _offset = 0;
        Length = 0;
    }

    public void Dispose()
    {
        foreach (byte[] segment in _segments)
            s_pool.Return(segment);
        _segments.Clear();
        Clear();
    }
}
