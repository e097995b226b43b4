namespace KafScale.LoadGen;

/// <summary>Where one partition's reader is; the fetch loop writes the position, a committer reads it.</summary>
internal sealed class PartitionCursor(int partition, long position, long end)
{
    private long _position = position;

    public int Partition { get; } = partition;

    public long Position
    {
        get => Volatile.Read(ref _position);
        set => Volatile.Write(ref _position, value);
    }

    /// <summary>Where reading stops; long.MaxValue when following the tail.</summary>
    public long End { get; set; } = end;

    public bool Done => Position >= End;
}
