using System.Buffers;

namespace KafScale.Broker;

/// <summary>
/// The broker's own buffer pools, bounded so that what they keep after a burst is small and
/// known: the process-wide shared pool would keep large arrays of a load peak for as long as
/// there is no memory pressure. Larger requests than a pool's largest array are allocated and
/// left to the GC.
/// </summary>
internal static class BufferPools
{
    /// <summary>Produce blobs waiting for their flush: at most 16 arrays per size class up to 4 MiB (about 128 MiB kept at worst).</summary>
    public static readonly ArrayPool<byte> Produce = ArrayPool<byte>.Create(maxArrayLength: 4 * 1024 * 1024, maxArraysPerBucket: 16);

    /// <summary>Response frames: at most 16 arrays per size class up to 1 MiB (about 32 MiB kept at worst).</summary>
    public static readonly ArrayPool<byte> Responses = ArrayPool<byte>.Create(maxArrayLength: 1024 * 1024, maxArraysPerBucket: 16);

    /// <summary>
    /// Ranged reads of sealed segments for Fetch (1 MiB windows; larger batches alone): at most 32
    /// arrays per size class up to 16 MiB, so a fetch of 16 partitions reuses its windows.
    /// </summary>
    public static readonly ArrayPool<byte> Reads = ArrayPool<byte>.Create(maxArrayLength: 16 * 1024 * 1024, maxArraysPerBucket: 32);

    /// <summary>Request frames read from sockets: at most 16 arrays per size class up to 4 MiB.</summary>
    public static readonly ArrayPool<byte> Requests = ArrayPool<byte>.Create(maxArrayLength: 4 * 1024 * 1024, maxArraysPerBucket: 16);
}
