using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace KafScale.Common;

/// <summary>
/// CRC-32C (Castagnoli): the checksum of Kafka's RecordBatch v2, of the <c>.kfs</c> body and of the
/// embedded metadata store's log and snapshot. Not the IEEE CRC-32 of zip and Ethernet.
/// </summary>
public static class Crc32C
{
    // BitOperations.Crc32C is one instruction where the CPU has one and a byte-at-a-time table
    // walk elsewhere; on such CPUs our slicing-by-8 table is several times faster.
    private static readonly bool s_hardware = Sse42.IsSupported || Crc32.IsSupported;

    private const uint Polynomial = 0x82F63B78u; // reflected Castagnoli polynomial

    private static readonly uint[] s_table = BuildTable();

    /// <summary>The CRC-32C of <paramref name="data"/> (initial value and final xor 0xFFFFFFFF).</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(0xFFFFFFFFu, data);

    /// <summary>
    /// Continues a running checksum. Start with 0xFFFFFFFF and invert the final value; use this
    /// to checksum data that arrives in pieces.
    /// </summary>
    public static uint Append(uint state, ReadOnlySpan<byte> data) =>
        s_hardware ? AppendHardware(state, data) : AppendSoftware(state, data);

    internal static uint AppendHardware(uint state, ReadOnlySpan<byte> data)
    {
        // The 8-byte instruction consumes the bytes in memory order read as a little-endian word.
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
        if (BitConverter.IsLittleEndian)
        {
            foreach (ulong w in words)
                state = BitOperations.Crc32C(state, w);
        }
        else
        {
            foreach (ulong w in words)
                state = BitOperations.Crc32C(state, BinaryPrimitives.ReverseEndianness(w));
        }
        foreach (byte b in data.Slice(words.Length * sizeof(ulong)))
            state = BitOperations.Crc32C(state, b);
        return state;
    }

    /// <summary>Slicing-by-8: eight table lookups per 8 bytes, for CPUs without the instruction.</summary>
    internal static uint AppendSoftware(uint state, ReadOnlySpan<byte> data)
    {
        uint[] t = s_table;
        while (data.Length >= 8)
        {
            uint low = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ state;
            uint high = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(4));
            state = t[7 * 256 + (low & 0xFF)] ^ t[6 * 256 + ((low >> 8) & 0xFF)]
                  ^ t[5 * 256 + ((low >> 16) & 0xFF)] ^ t[4 * 256 + (low >> 24)]
                  ^ t[3 * 256 + (high & 0xFF)] ^ t[2 * 256 + ((high >> 8) & 0xFF)]
                  ^ t[1 * 256 + ((high >> 16) & 0xFF)] ^ t[high >> 24];
            data = data.Slice(8);
        }
        foreach (byte b in data)
            state = t[(state ^ b) & 0xFF] ^ (state >> 8);
        return state;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[8 * 256];
        for (uint i = 0; i < 256; i++)
        {
            uint crc = i;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ Polynomial : crc >> 1;
            table[i] = crc;
        }
        // Row k is the CRC of a byte followed by k zero bytes.
        for (int row = 1; row < 8; row++)
        {
            for (int i = 0; i < 256; i++)
            {
                uint previous = table[(row - 1) * 256 + i];
                table[row * 256 + i] = (previous >> 8) ^ table[previous & 0xFF];
            }
        }
        return table;
    }
}
