using System.Buffers;

namespace KafScale.Records;

/// <summary>
/// The four RecordBatch codecs. Data passed in is the records section of a batch (bytes 61..end);
/// the formats are Kafka's: gzip (RFC 1952), snappy (raw block or the xerial-framed stream Java
/// producers write), lz4 (LZ4 frame format) and zstd (zstd frames).
/// </summary>
public static class RecordCompression
{
    /// <summary>Decompresses <paramref name="source"/> and appends the result to <paramref name="destination"/>.</summary>
    /// <exception cref="InvalidDataException">The data is not valid for the codec.</exception>
    /// <exception cref="CodecUnavailableException">The codec's system library is not installed.</exception>
    public static void Decompress(CompressionType codec, ReadOnlySpan<byte> source, IBufferWriter<byte> destination)
    {
        switch (codec)
        {
            case CompressionType.None:
                destination.Write(source);
                break;
            case CompressionType.Gzip:
                GzipCodec.Decompress(source, destination);
                break;
            case CompressionType.Snappy:
                SnappyCodec.Decompress(source, destination);
                break;
            case CompressionType.Lz4:
                Lz4Codec.Decompress(source, destination);
                break;
            case CompressionType.Zstd:
                ZstdCodec.Decompress(source, destination);
                break;
            default:
                throw new InvalidDataException($"unknown compression codec {(int)codec}");
        }
    }

    /// <summary>
    /// Compresses <paramref name="source"/> and appends the result to <paramref name="destination"/>.
    /// <paramref name="level"/> is codec-specific; null uses Kafka's defaults (gzip 6, lz4 fast, zstd 3).
    /// </summary>
    public static void Compress(CompressionType codec, ReadOnlySpan<byte> source, IBufferWriter<byte> destination, int? level = null)
    {
        switch (codec)
        {
            case CompressionType.None:
                destination.Write(source);
                break;
            case CompressionType.Gzip:
                GzipCodec.Compress(source, destination, level);
                break;
            case CompressionType.Snappy:
                SnappyCodec.Compress(source, destination);
                break;
            case CompressionType.Lz4:
                Lz4Codec.Compress(source, destination, level ?? 0);
                break;
            case CompressionType.Zstd:
                ZstdCodec.Compress(source, destination, level ?? ZstdCodec.DefaultLevel);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(codec), codec, "unknown compression codec");
        }
    }

    /// <summary>
    /// Throws <see cref="CodecUnavailableException"/> now if the codec cannot run on this machine
    /// (a missing liblz4 or libzstd); lets a tool fail early with the install hint.
    /// </summary>
    public static void EnsureAvailable(CompressionType codec)
    {
        if (codec == CompressionType.Lz4)
            Lz4Native.EnsureLoaded();
        else if (codec == CompressionType.Zstd)
            ZstdNative.EnsureLoaded();
    }
}

/// <summary>A codec's native library is missing; the message names the package to install.</summary>
public sealed class CodecUnavailableException(string message, Exception? inner = null) : NotSupportedException(message, inner);
