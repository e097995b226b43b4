using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace KafScale.Records;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of RecordBatch v2 and of the <c>.kfs</c> body. Uses the
/// hardware instruction through <see cref="BitOperations.Crc32C(uint, ulong)"/>.
/// </summary>
public static class Crc32C
{
    /// <summary>The CRC-32C of <paramref name="data"/> (initial value and final xor 0xFFFFFFFF).</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(0xFFFFFFFFu, data);

    /// <summary>
    /// Continues a running checksum. Start with 0xFFFFFFFF and invert the final value; use this
    /// to checksum data that arrives in pieces.
    /// </summary>
    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        if (BitConverter.IsLittleEndian)
        {
            // The instruction consumes the 8 bytes in memory order when read little-endian.
            ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
            foreach (ulong w in words)
                state = BitOperations.Crc32C(state, w);
            data = data.Slice(words.Length * sizeof(ulong));
        }
        foreach (byte b in data)
            state = BitOperations.Crc32C(state, b);
        return state;
    }

    /// <summary>Reads a big-endian uint32 checksum field.</summary>
    internal static uint ReadStored(ReadOnlySpan<byte> field) => BinaryPrimitives.ReadUInt32BigEndian(field);
}
