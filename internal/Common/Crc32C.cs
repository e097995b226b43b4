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

    // The instruction takes three cycles to give its result but can start one every cycle, so one
    // chain of it runs at a third of its speed. Long inputs are cut into three lanes checksummed
    // side by side, then joined: the register is linear, so the checksum of A then B equals the
    // register after A moved past |B| zero bytes, xor the checksum of B from zero. Moving a register
    // past a fixed number of zero bytes is itself linear: four table lookups (ShiftTable).
    private const int LongLane = 8192;
    private const int ShortLane = 256;
    private static readonly uint[] s_shiftLong = ShiftTable(LongLane);
    private static readonly uint[] s_shiftShort = ShiftTable(ShortLane);

    internal static uint AppendHardware(uint state, ReadOnlySpan<byte> data)
    {
        if (BitConverter.IsLittleEndian)
        {
            while (data.Length >= 3 * LongLane)
            {
                state = ThreeLanes(state, data, LongLane, s_shiftLong);
                data = data.Slice(3 * LongLane);
            }
            while (data.Length >= 3 * ShortLane)
            {
                state = ThreeLanes(state, data, ShortLane, s_shiftShort);
                data = data.Slice(3 * ShortLane);
            }
        }
        return AppendOneLane(state, data);
    }

    /// <summary>The register after 3 x <paramref name="lane"/> bytes of <paramref name="data"/>, the lanes checksummed side by side.</summary>
    private static uint ThreeLanes(uint state, ReadOnlySpan<byte> data, int lane, uint[] shift)
    {
        int words = lane / sizeof(ulong);
        ReadOnlySpan<ulong> all = MemoryMarshal.Cast<byte, ulong>(data.Slice(0, 3 * lane));
        ReadOnlySpan<ulong> first = all.Slice(0, words), second = all.Slice(words, words), third = all.Slice(2 * words, words);
        uint a = state, b = 0, c = 0;
        for (int i = 0; i < first.Length && i < second.Length && i < third.Length; i++)
        {
            a = BitOperations.Crc32C(a, first[i]);
            b = BitOperations.Crc32C(b, second[i]);
            c = BitOperations.Crc32C(c, third[i]);
        }
        return Shift(shift, Shift(shift, a) ^ b) ^ c;
    }

    /// <summary>The register moved past the zero bytes <paramref name="table"/> stands for.</summary>
    private static uint Shift(uint[] table, uint register) =>
        table[register & 0xFF] ^ table[256 + ((register >> 8) & 0xFF)]
        ^ table[512 + ((register >> 16) & 0xFF)] ^ table[768 + (register >> 24)];

    /// <summary>
    /// Four 256-entry tables, one per byte of the register: entry b of table k is the register
    /// b &lt;&lt; 8k moved past <paramref name="zeroBytes"/> zero bytes. Built from the 32 one-bit
    /// registers by running them over the zeros.
    /// </summary>
    private static uint[] ShiftTable(int zeroBytes)
    {
        var zeros = new byte[zeroBytes];
        Span<uint> bits = stackalloc uint[32];
        for (int bit = 0; bit < 32; bit++)
            bits[bit] = s_hardware ? AppendOneLane(1u << bit, zeros) : AppendSoftware(1u << bit, zeros);
        var table = new uint[4 * 256];
        for (int k = 0; k < 4; k++)
        {
            for (int b = 0; b < 256; b++)
            {
                uint moved = 0;
                for (int i = 0; i < 8; i++)
                {
                    if (((b >> i) & 1) != 0) moved ^= bits[(8 * k) + i];
                }
                table[(k * 256) + b] = moved;
            }
        }
        return table;
    }

    internal static uint AppendOneLane(uint state, ReadOnlySpan<byte> data)
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
