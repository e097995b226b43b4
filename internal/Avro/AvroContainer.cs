using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using KafScale.Common;

namespace KafScale.Avro;

/// <summary>Block codecs: null, deflate (raw RFC 1951) and snappy (a snappy block followed by the big-endian CRC-32 of the uncompressed data).</summary>
public enum AvroCodec { Null, Deflate, Snappy }

/// <summary>
/// Writes an Avro object container file: magic "Obj\x01", the header map (avro.schema,
/// avro.codec and any extra metadata), a random 16-byte sync marker, then blocks of records
/// (record count, byte size, the encoded and possibly deflated records, the sync marker).
/// </summary>
public sealed class AvroContainerWriter
{
    private static readonly byte[] s_magic = [(byte)'O', (byte)'b', (byte)'j', 1];

    private readonly Stream _output;
    private readonly AvroSchema _schema;
    private readonly AvroCodec _codec;
    private readonly byte[] _sync = new byte[16];
    private readonly ArrayBufferWriter<byte> _block = new(4096);
    private readonly AvroEncoder _encoder;
    private readonly int _blockBytes;
    private long _blockCount;
    private bool _finished;

    /// <param name="metadata">Extra header entries (UTF-8 values); must not start with "avro.".</param>
    /// <param name="blockBytes">A block is flushed when its encoded records reach this size.</param>
    public AvroContainerWriter(Stream output, AvroSchema schema, AvroCodec codec = AvroCodec.Deflate,
        IEnumerable<KeyValuePair<string, string>>? metadata = null, int blockBytes = 64 * 1024)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(schema);
        _output = output;
        _schema = schema;
        _codec = codec;
        _blockBytes = Math.Max(1, blockBytes);
        _encoder = new AvroEncoder(_block);
        RandomNumberGenerator.Fill(_sync);

        var header = new ArrayBufferWriter<byte>(1024);
        var h = new AvroEncoder(header);
        h.WriteFixed(s_magic);
        var entries = new List<KeyValuePair<string, byte[]>>
        {
            new("avro.schema", Encoding.UTF8.GetBytes(schema.ToJson())),
            new("avro.codec", Encoding.UTF8.GetBytes(codec switch { AvroCodec.Deflate => "deflate", AvroCodec.Snappy => "snappy", _ => "null" })),
        };
        foreach (var kv in metadata ?? [])
        {
            if (kv.Key.StartsWith("avro.", StringComparison.Ordinal))
                throw new ArgumentException($"metadata key '{kv.Key}' is reserved for Avro", nameof(metadata));
            entries.Add(new(kv.Key, Encoding.UTF8.GetBytes(kv.Value)));
        }
        h.WriteLong(entries.Count);
        foreach (var kv in entries)
        {
            h.WriteString(kv.Key);
            h.WriteBytes(kv.Value);
        }
        h.WriteLong(0);
        h.WriteFixed(_sync);
        _output.Write(header.WrittenSpan);
    }

    public long RecordCount { get; private set; }

    /// <summary>Appends one datum (an <see cref="AvroRecord"/> or object?[] for record schemas).</summary>
    public void Append(object? datum)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        int before = _block.WrittenCount;
        try
        {
            _encoder.Write(_schema, datum);
        }
        catch
        {
            // Drop the partially encoded datum so the block stays valid.
            byte[] keep = _block.WrittenSpan[..before].ToArray();
            _block.Clear();
            _block.Write(keep);
            throw;
        }
        _blockCount++;
        RecordCount++;
        if (_block.WrittenCount >= _blockBytes)
            FlushBlock();
    }

    /// <summary>Writes the last block. The writer is unusable afterwards; the stream stays open.</summary>
    public void Finish()
    {
        if (_finished)
            return;
        FlushBlock();
        _output.Flush();
        _finished = true;
    }

    private void FlushBlock()
    {
        if (_blockCount == 0)
            return;
        ReadOnlySpan<byte> payload = _block.WrittenSpan;
        byte[]? compressed = null;
        if (_codec == AvroCodec.Deflate)
        {
            using var ms = new MemoryStream(payload.Length / 2 + 64);
            using (var deflate = new DeflateStream(ms, CompressionLevel.Optimal, leaveOpen: true))
                deflate.Write(payload);
            compressed = ms.ToArray();
            payload = compressed;
        }
        else if (_codec == AvroCodec.Snappy)
        {
            // One raw snappy block, then the big-endian CRC-32 (IEEE) of the uncompressed bytes.
            var snappy = new ArrayBufferWriter<byte>(payload.Length / 2 + 64);
            SnappyCodec.CompressBlock(payload, snappy);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(snappy.GetSpan(4), Crc32.Compute(payload));
            snappy.Advance(4);
            compressed = snappy.WrittenSpan.ToArray();
            payload = compressed;
        }
        var prefix = new ArrayBufferWriter<byte>(20);
        var p = new AvroEncoder(prefix);
        p.WriteLong(_blockCount);
        p.WriteLong(payload.Length);
        _output.Write(prefix.WrittenSpan);
        _output.Write(payload);
        _output.Write(_sync);
        _block.Clear();
        _blockCount = 0;
    }

    /// <summary>Encodes the records into a complete container file in memory.</summary>
    public static byte[] WriteAll(AvroSchema schema, IEnumerable<object?> records, AvroCodec codec = AvroCodec.Deflate,
        IEnumerable<KeyValuePair<string, string>>? metadata = null)
    {
        using var ms = new MemoryStream();
        var writer = new AvroContainerWriter(ms, schema, codec, metadata);
        foreach (object? r in records)
            writer.Append(r);
        writer.Finish();
        return ms.ToArray();
    }
}

/// <summary>A decoded Avro object container file.</summary>
public sealed class AvroContainerFile
{
    private static readonly byte[] s_magic = [(byte)'O', (byte)'b', (byte)'j', 1];

    private AvroContainerFile(AvroSchema schema, IReadOnlyDictionary<string, byte[]> metadata, IReadOnlyList<object?> records)
    {
        Schema = schema;
        Metadata = metadata;
        Records = records;
    }

    public AvroSchema Schema { get; }
    public IReadOnlyDictionary<string, byte[]> Metadata { get; }
    public IReadOnlyList<object?> Records { get; }

    /// <summary>A header entry as UTF-8 text, or null.</summary>
    public string? GetMetadata(string key) => Metadata.TryGetValue(key, out byte[]? v) ? Encoding.UTF8.GetString(v) : null;

    /// <summary>Reads a whole container file (codecs null, deflate and snappy), decoding every record by the writer's schema.</summary>
    public static AvroContainerFile Read(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4 || !data[..4].SequenceEqual(s_magic))
            throw new AvroException("not an Avro object container file (bad magic)");
        var d = new AvroDecoder(data[4..]);
        var metadata = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        while (true)
        {
            long count = d.ReadLong();
            if (count == 0)
                break;
            if (count < 0)
            {
                count = -count;
                d.ReadLong();
            }
            for (long i = 0; i < count; i++)
            {
                string key = d.ReadString();
                metadata[key] = d.ReadBytes().ToArray();
            }
        }
        byte[] sync = d.ReadFixed(16).ToArray();
        if (!metadata.TryGetValue("avro.schema", out byte[]? schemaBytes))
            throw new AvroException("the Avro header has no avro.schema");
        AvroSchema schema = AvroSchema.Parse(Encoding.UTF8.GetString(schemaBytes));
        string codec = metadata.TryGetValue("avro.codec", out byte[]? c) ? Encoding.UTF8.GetString(c) : "null";
        if (codec is not ("null" or "deflate" or "snappy"))
            throw new AvroException($"unsupported Avro codec '{codec}' (null, deflate and snappy are supported)");

        var records = new List<object?>();
        int offset = 4 + d.Position;
        while (offset < data.Length)
        {
            var block = new AvroDecoder(data[offset..]);
            long count = block.ReadLong();
            long size = block.ReadLong();
            if (count < 0 || size < 0 || size > data.Length)
                throw new AvroException("corrupt Avro block header");
            ReadOnlySpan<byte> payload = block.ReadFixed((int)size);
            if (!block.ReadFixed(16).SequenceEqual(sync))
                throw new AvroException("Avro block does not end with the file's sync marker");
            offset += block.Position;
            byte[]? inflated = null;
            if (codec == "deflate")
            {
                using var input = new MemoryStream(payload.ToArray());
                using var deflate = new DeflateStream(input, CompressionMode.Decompress);
                using var output = new MemoryStream();
                deflate.CopyTo(output);
                inflated = output.ToArray();
            }
            else if (codec == "snappy")
            {
                if (payload.Length < 4)
                    throw new AvroException("snappy Avro block is shorter than its checksum");
                var snappy = new ArrayBufferWriter<byte>(Math.Max(payload.Length * 2, 64));
                try
                {
                    SnappyCodec.DecompressBlock(payload[..^4], snappy);
                }
                catch (InvalidDataException e)
                {
                    throw new AvroException("corrupt snappy Avro block: " + e.Message);
                }
                inflated = snappy.WrittenSpan.ToArray();
                if (Crc32.Compute(inflated) != System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(payload[^4..]))
                    throw new AvroException("snappy Avro block fails its CRC-32 check");
            }
            var rd = new AvroDecoder(inflated ?? payload);
            for (long i = 0; i < count; i++)
                records.Add(rd.Read(schema));
        }
        return new AvroContainerFile(schema, metadata, records);
    }
}

/// <summary>CRC-32 (IEEE 802.3, reflected), as Avro's snappy codec appends it.</summary>
internal static class Crc32
{
    private static readonly uint[] s_table = BuildTable();

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data)
            crc = s_table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }
}
