using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using KafScale.Common;

namespace KafScale.Parquet;

/// <summary>
/// The distinct values of one column chunk, kept as their PLAIN encoding (which is the dictionary
/// page's body as it stands) plus an open-addressing hash table over those bytes, so a lookup
/// needs no allocation: the caller hands in the value's bytes (4/8 little-endian bytes for
/// fixed-width types, the raw bytes for ByteArray).
/// </summary>
internal sealed class ValueDictionary : IDisposable
{
    private readonly bool _lengthPrefixed;
    private readonly PooledBufferWriter _plain = new(16 * 1024);
    private int[] _offsets = new int[256];   // start of the value bytes (after any length prefix)
    private int[] _lengths = new int[256];
    private int[] _hashes = new int[256];
    private int[] _slots = new int[512];     // 0 = empty, else entry index + 1
    private int _count;

    public ValueDictionary(bool lengthPrefixed)
    {
        _lengthPrefixed = lengthPrefixed;
    }

    public int Count => _count;

    /// <summary>Bytes of the PLAIN-encoded entries (the dictionary page's uncompressed body).</summary>
    public int PlainBytes => _plain.WrittenCount;

    public ReadOnlySpan<byte> PlainSpan => _plain.WrittenSpan;

    /// <summary>The PLAIN encoding of entry <paramref name="index"/> (with the length prefix for ByteArray).</summary>
    public ReadOnlySpan<byte> PlainEntry(int index)
    {
        int prefix = _lengthPrefixed ? 4 : 0;
        return _plain.WrittenSpan.Slice(_offsets[index] - prefix, _lengths[index] + prefix);
    }

    /// <summary>The entry's index, or -1.</summary>
    public int Find(ReadOnlySpan<byte> value, int hash)
    {
        int mask = _slots.Length - 1;
        int slot = hash & mask;
        ReadOnlySpan<byte> all = _plain.WrittenSpan;
        while (true)
        {
            int e = _slots[slot];
            if (e == 0)
                return -1;
            e--;
            if (_hashes[e] == hash && _lengths[e] == value.Length && all.Slice(_offsets[e], value.Length).SequenceEqual(value))
                return e;
            slot = (slot + 1) & mask;
        }
    }

    /// <summary>Adds a value that <see cref="Find"/> did not find; returns its index.</summary>
    public int Add(ReadOnlySpan<byte> value, int hash)
    {
        if (_count == _offsets.Length)
        {
            int size = _count * 2;
            Array.Resize(ref _offsets, size);
            Array.Resize(ref _lengths, size);
            Array.Resize(ref _hashes, size);
        }
        if ((_count + 1) * 2 > _slots.Length)
            Rehash(_slots.Length * 2);

        if (_lengthPrefixed)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_plain.GetSpan(4), value.Length);
            _plain.Advance(4);
        }
        int offset = _plain.WrittenCount;
        _plain.Write(value);
        int index = _count++;
        _offsets[index] = offset;
        _lengths[index] = value.Length;
        _hashes[index] = hash;
        Insert(index, hash);
        return index;
    }

    public void Clear()
    {
        _plain.Clear();
        if (_count > 0)
            Array.Clear(_slots);
        _count = 0;
    }

    private void Insert(int index, int hash)
    {
        int mask = _slots.Length - 1;
        int slot = hash & mask;
        while (_slots[slot] != 0)
            slot = (slot + 1) & mask;
        _slots[slot] = index + 1;
    }

    private void Rehash(int size)
    {
        _slots = new int[size];
        for (int i = 0; i < _count; i++)
            Insert(i, _hashes[i]);
    }

    /// <summary>A fast non-cryptographic hash of a byte span (8 bytes a step, then a final mix).</summary>
    public static int Hash(ReadOnlySpan<byte> data)
    {
        const ulong K1 = 0x9E3779B97F4A7C15UL;
        const ulong K2 = 0xC2B2AE3D27D4EB4FUL;
        ulong h = K1 ^ ((ulong)data.Length * K2);
        while (data.Length >= 8)
        {
            ulong v = MemoryMarshal.Read<ulong>(data);
            h = BitOperations.RotateLeft(h ^ (v * K2), 31) * K1;
            data = data.Slice(8);
        }
        if (!data.IsEmpty)
        {
            ulong tail = 0;
            for (int i = 0; i < data.Length; i++)
                tail |= (ulong)data[i] << (8 * i);
            h = BitOperations.RotateLeft(h ^ (tail * K2), 31) * K1;
        }
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        return (int)h;
    }

    public void Dispose() => _plain.Dispose();
}
