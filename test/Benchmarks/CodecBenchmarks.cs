using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using BenchmarkDotNet.Attributes;
using KafScale.Common;

namespace KafScale.Benchmarks;

/// <summary>
/// The managed codecs of KafScale.Common against what they replaced: liblz4 and libzstd through
/// P/Invoke (the "native" rows; the bindings live only here, as the reference) and IronSnappy. One
/// 1 MiB batch of 1 KiB JSON-like records, compressed and decompressed as a produce or fetch would.
/// Run: dotnet run -c Release --project test/Benchmarks -- --filter '*CodecBenchmarks*' --job short
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private byte[] _batch = [];
    private byte[] _compressedManaged = [];
    private byte[] _compressedNative = [];
    private readonly PooledBufferWriter _output = new(4 << 20);
    private nint _dstream;

    [Params("lz4", "zstd", "snappy")]
    public string Codec { get; set; } = "lz4";

    [GlobalSetup]
    public void Setup()
    {
        _batch = KafkaLikeBatch(1 << 20, 1024);
        CompressManaged();
        _compressedManaged = _output.ToArray();
        CompressNative();
        _compressedNative = _output.ToArray();
        if (Codec == "zstd")
            _dstream = NativeZstd.ZSTD_createDStream();
        // Each side must read the other's output, or the comparison is of different formats.
        DecompressFrom(_compressedNative, managed: true);
        DecompressFrom(_compressedManaged, managed: false);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_dstream != 0)
            NativeZstd.ZSTD_freeDStream(_dstream);
        _output.Dispose();
    }

    /// <summary>1 KiB records of JSON with repeated field names and varying values, as producers send.</summary>
    internal static byte[] KafkaLikeBatch(int size, int recordSize)
    {
        var random = new Random(42);
        var batch = new byte[size];
        var record = new StringBuilder();
        for (int offset = 0, i = 0; offset < size; offset += recordSize, i++)
        {
            record.Clear();
            record.Append("{\"event_id\":\"").Append(Guid.NewGuid()).Append("\",\"user\":\"user-").Append(random.Next(10_000))
                  .Append("\",\"ts\":").Append(1_700_000_000_000L + i * 13).Append(",\"amount\":").Append(random.Next(100_000) / 100.0)
                  .Append(",\"tags\":[\"a\",\"b\",\"").Append(random.Next(50)).Append("\"],\"payload\":\"");
            while (record.Length < recordSize - 3)
                record.Append((char)('a' + random.Next(26)));
            record.Append("\"}\n");
            Encoding.ASCII.GetBytes(record.ToString(), batch.AsSpan(offset, Math.Min(recordSize, size - offset)));
        }
        return batch;
    }

    [Benchmark]
    public int CompressManaged()
    {
        _output.Clear();
        switch (Codec)
        {
            case "lz4": Lz4Codec.Compress(_batch, _output); break;
            case "zstd": ZstdCodec.Compress(_batch, _output, ZstdCodec.DefaultLevel); break;
            default: SnappyCodec.CompressKafka(_batch, _output); break;
        }
        return _output.WrittenCount;
    }

    [Benchmark]
    public int CompressNative()
    {
        _output.Clear();
        switch (Codec)
        {
            case "lz4": NativeLz4.CompressFrame(_batch, _output); break;
            case "zstd": NativeZstd.Compress(_batch, _output, ZstdCodec.DefaultLevel); break;
            default: IronSnappyXerial(_batch, _output); break;
        }
        return _output.WrittenCount;
    }

    [Benchmark]
    public int DecompressManaged() => DecompressFrom(_compressedManaged, managed: true);

    [Benchmark]
    public int DecompressNative() => DecompressFrom(_compressedNative, managed: false);

    private int DecompressFrom(byte[] compressed, bool managed)
    {
        _output.Clear();
        switch (Codec, managed)
        {
            case ("lz4", true): Lz4Codec.Decompress(compressed, _output); break;
            case ("zstd", true): ZstdCodec.Decompress(compressed, _output); break;
            case (_, true): SnappyCodec.DecompressKafka(compressed, _output); break;
            case ("lz4", false): NativeLz4.Decompress(compressed, _output); break;
            case ("zstd", false): NativeZstd.Decompress(_dstream, compressed, _output); break;
            default: IronSnappyXerialDecode(compressed, _output); break;
        }
        if (_output.WrittenCount != _batch.Length)
            throw new InvalidOperationException($"{Codec} ({(managed ? "managed" : "native")}) decoded {_output.WrittenCount} bytes, not {_batch.Length}");
        return _output.WrittenCount;
    }

    // The old SnappyCodec: xerial framing around IronSnappy blocks (which allocate an array each).
    private static void IronSnappyXerial(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        destination.Write(Convert.FromHexString("82534E41505059000000000100000001"));
        while (!source.IsEmpty)
        {
            ReadOnlySpan<byte> chunk = source[..Math.Min(32 * 1024, source.Length)];
            byte[] block = IronSnappy.Snappy.Encode(chunk);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(destination.GetSpan(4), block.Length);
            destination.Advance(4);
            destination.Write(block);
            source = source[chunk.Length..];
        }
    }

    private static void IronSnappyXerialDecode(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        ReadOnlySpan<byte> rest = source[16..];
        while (!rest.IsEmpty)
        {
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(rest);
            destination.Write(IronSnappy.Snappy.Decode(rest.Slice(4, length)));
            rest = rest[(4 + length)..];
        }
    }
}

/// <summary>liblz4's frame API, as the codec used it before the managed one (reference only).</summary>
internal static unsafe partial class NativeLz4
{
    private const string Library = "liblz4.so.1";

    [StructLayout(LayoutKind.Sequential)]
    private struct Preferences
    {
        public int BlockSizeId;
        public int BlockMode;
        public int ContentChecksumFlag;
        public int FrameType;
        public ulong ContentSize;
        public uint DictId;
        public int BlockChecksumFlag;
        public int CompressionLevel;
        public uint AutoFlush;
        public uint FavorDecSpeed;
        public uint Reserved0;
        public uint Reserved1;
        public uint Reserved2;
    }

    public static void CompressFrame(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        Preferences preferences = default;
        preferences.BlockSizeId = 4; // 64 KB
        preferences.BlockMode = 1;   // independent blocks
        nuint bound = LZ4F_compressFrameBound((nuint)source.Length, &preferences);
        Span<byte> output = destination.GetSpan((int)bound);
        nuint written;
        fixed (byte* src = source)
        fixed (byte* dst = output)
            written = LZ4F_compressFrame(dst, (nuint)output.Length, src, (nuint)source.Length, &preferences);
        if (LZ4F_isError(written) != 0)
            throw new InvalidOperationException("lz4 compress failed");
        destination.Advance((int)written);
    }

    public static void Decompress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        nint dctx = 0;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, 100)) != 0)
            throw new InvalidOperationException("lz4 context");
        try
        {
            fixed (byte* src = source)
            {
                int consumed = 0;
                while (consumed < source.Length)
                {
                    Span<byte> output = destination.GetSpan(64 * 1024);
                    nuint srcSize = (nuint)(source.Length - consumed);
                    nuint dstSize = (nuint)output.Length;
                    nuint hint;
                    fixed (byte* dst = output)
                        hint = LZ4F_decompress(dctx, dst, &dstSize, src + consumed, &srcSize, null);
                    if (LZ4F_isError(hint) != 0)
                        throw new InvalidDataException("lz4 decompress failed");
                    destination.Advance((int)dstSize);
                    consumed += (int)srcSize;
                    if (hint != 0 && srcSize == 0 && dstSize == 0)
                        throw new InvalidDataException("lz4 truncated");
                }
            }
        }
        finally
        {
            LZ4F_freeDecompressionContext(dctx);
        }
    }

    [LibraryImport(Library)]
    private static partial nuint LZ4F_createDecompressionContext(nint* dctx, uint version);

    [LibraryImport(Library)]
    private static partial nuint LZ4F_freeDecompressionContext(nint dctx);

    [LibraryImport(Library)]
    private static partial nuint LZ4F_decompress(nint dctx, byte* dst, nuint* dstSize, byte* src, nuint* srcSize, void* options);

    [LibraryImport(Library)]
    private static partial nuint LZ4F_compressFrameBound(nuint srcSize, Preferences* preferences);

    [LibraryImport(Library)]
    private static partial nuint LZ4F_compressFrame(byte* dst, nuint dstCapacity, byte* src, nuint srcSize, Preferences* preferences);

    [LibraryImport(Library)]
    private static partial uint LZ4F_isError(nuint code);
}

/// <summary>libzstd's one-shot compression and streaming decompression, as used before (reference only).</summary>
internal static unsafe partial class NativeZstd
{
    private const string Library = "libzstd.so.1";

    [StructLayout(LayoutKind.Sequential)]
    private struct Buffer
    {
        public byte* Data;
        public nuint Size;
        public nuint Pos;
    }

    public static void Compress(ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int level)
    {
        Span<byte> output = destination.GetSpan((int)ZSTD_compressBound((nuint)source.Length));
        nuint written;
        fixed (byte* src = source)
        fixed (byte* dst = output)
            written = ZSTD_compress(dst, (nuint)output.Length, src, (nuint)source.Length, level);
        if (ZSTD_isError(written) != 0)
            throw new InvalidOperationException("zstd compress failed");
        destination.Advance((int)written);
    }

    public static void Decompress(nint zds, ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        ZSTD_initDStream(zds);
        fixed (byte* src = source)
        {
            Buffer input = new() { Data = src, Size = (nuint)source.Length };
            while (true)
            {
                Span<byte> span = destination.GetSpan(128 * 1024);
                nuint remaining;
                Buffer output;
                fixed (byte* dst = span)
                {
                    output = new Buffer { Data = dst, Size = (nuint)span.Length };
                    remaining = ZSTD_decompressStream(zds, &output, &input);
                }
                if (ZSTD_isError(remaining) != 0)
                    throw new InvalidDataException("zstd decompress failed");
                destination.Advance((int)output.Pos);
                if (input.Pos == input.Size && (remaining == 0 || output.Pos < (nuint)span.Length))
                    return;
            }
        }
    }

    [LibraryImport(Library)]
    public static partial nint ZSTD_createDStream();

    [LibraryImport(Library)]
    public static partial nuint ZSTD_freeDStream(nint zds);

    [LibraryImport(Library)]
    private static partial nuint ZSTD_initDStream(nint zds);

    [LibraryImport(Library)]
    private static partial nuint ZSTD_decompressStream(nint zds, Buffer* output, Buffer* input);

    [LibraryImport(Library)]
    private static partial nuint ZSTD_compressBound(nuint srcSize);

    [LibraryImport(Library)]
    private static partial nuint ZSTD_compress(byte* dst, nuint dstCapacity, byte* src, nuint srcSize, int compressionLevel);

    [LibraryImport(Library)]
    private static partial uint ZSTD_isError(nuint code);
}
